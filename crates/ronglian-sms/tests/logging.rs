//! What `RonglianSms` writes to the log on failure: the masked mobile and the provider's status,
//! never the full number, the code, the token, the signature or the `Authorization` value.
//!
//! Its own test binary on purpose: tracing caches per-callsite interest globally, so a test in
//! the same process that hits the same callsite without a subscriber can make a thread-scoped
//! subscriber miss events.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions panic on setup failure by design"
)]

mod common;

use common::*;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::{Mobile, SmsCode};
use ports::SmsSender;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn server_replying(reply: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/2013-12-26/Accounts/{SID}/SMS/TemplateSMS")))
        .respond_with(reply)
        .expect(1)
        .mount(&server)
        .await;
    server
}

fn status_reply(code: &str, msg: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "statusCode": code, "statusMsg": msg }))
}

async fn send_via(server: &MockServer, timeout: Duration) -> bool {
    sender_with(server.uri(), timeout)
        .send_code(
            &Mobile::parse(MOBILE).unwrap(),
            &SmsCode::parse(CODE).unwrap(),
            5,
        )
        .await
        .is_err()
}

/// Collects formatted log lines.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn failures_are_logged_masked_and_without_secrets() {
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let normal = Duration::from_secs(5);

    // A message that echoes the number and the code: both are masked before logging.
    let echoing = format!("{MOBILE} 号码格式有误, code {CODE}");
    let rejecting = server_replying(status_reply("160042", &echoing)).await;
    assert!(send_via(&rejecting, normal).await);

    let limiting = server_replying(status_reply("160038", "短信验证码发送过频繁")).await;
    assert!(send_via(&limiting, normal).await);

    let failing = server_replying(ResponseTemplate::new(503)).await;
    assert!(send_via(&failing, normal).await);

    let slow = server_replying(status_reply("000000", "").set_delay(Duration::from_secs(30))).await;
    assert!(send_via(&slow, Duration::from_millis(300)).await);

    // A redirect whose Location carries the signature (as a gateway echoing the URL would):
    // neither is followed nor logged.
    let location = format!("http://127.0.0.1:9/elsewhere?sig={}", expected_sig());
    let redirecting =
        server_replying(ResponseTemplate::new(307).insert_header("Location", location.as_str()))
            .await;
    assert!(send_via(&redirecting, normal).await);

    let oversized = server_replying(
        ResponseTemplate::new(200).set_body_raw(vec![b' '; 1024 * 1024], "application/json"),
    )
    .await;
    assert!(send_via(&oversized, normal).await);

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    for expected in [
        "138****8000",
        "160042",
        "号码格式有误",
        "138****8000 号码格式有误, code ******",
        "160038",
        "短信验证码发送过频繁",
        "HTTP 503",
        "timed out",
        "HTTP 307",
        "longer than",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from logs:\n{text}"
        );
    }
    for secret in [
        MOBILE,
        CODE,
        TOKEN,
        &expected_sig(),
        &expected_authorization(),
    ] {
        assert!(
            !text.contains(secret),
            "{secret:?} leaked into logs:\n{text}"
        );
    }
}
