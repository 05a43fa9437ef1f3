//! What `TencentSms` writes to the log on failure: the masked mobile and Tencent's codes,
//! never the full number, the code, the secret key, the signature or the `Authorization` value.
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
use wiremock::{MockServer, ResponseTemplate};

/// Sends once through a strict peer answering `reply`; the `Authorization` values it got.
async fn send_via(reply: ResponseTemplate, timeout: Duration) -> Vec<String> {
    let server = MockServer::start().await;
    let seen = expect_one_request(&server, Expected::for_server(&server), reply).await;
    let failed = sender_with(server.uri(), timeout)
        .send_code(
            &Mobile::parse(MOBILE).unwrap(),
            &SmsCode::parse(CODE).unwrap(),
            5,
        )
        .await
        .is_err();
    assert!(failed);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    seen
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
    let mut authorizations = Vec::new();

    // A message that echoes the number and the code: both are masked before logging.
    authorizations.extend(
        send_via(
            status_reply(
                "FailedOperation.PhoneNumberInBlacklist",
                &format!("{PHONE} 在黑名单中, code {CODE}"),
            ),
            normal,
        )
        .await,
    );
    authorizations.extend(
        send_via(
            status_reply(
                "LimitExceeded.PhoneNumberDailyLimit",
                "单个手机号日下发短信条数超过设定的上限",
            ),
            normal,
        )
        .await,
    );
    authorizations.extend(
        send_via(
            error_reply(
                "FailedOperation.InsufficientBalanceInSmsPackage",
                "套餐包余量不足",
            ),
            normal,
        )
        .await,
    );
    authorizations.extend(send_via(ResponseTemplate::new(503), normal).await);
    authorizations.extend(
        send_via(
            ok_reply().set_delay(Duration::from_secs(30)),
            Duration::from_millis(300),
        )
        .await,
    );
    authorizations.extend(
        send_via(
            ResponseTemplate::new(307).insert_header("Location", "http://127.0.0.1:9/elsewhere"),
            normal,
        )
        .await,
    );
    authorizations.extend(
        send_via(
            ResponseTemplate::new(200).set_body_raw(vec![b' '; 1024 * 1024], "application/json"),
            normal,
        )
        .await,
    );

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    for expected in [
        "138****8000",
        "+86138****8000 在黑名单中, code ******",
        "FailedOperation.PhoneNumberInBlacklist",
        "LimitExceeded.PhoneNumberDailyLimit",
        "FailedOperation.InsufficientBalanceInSmsPackage",
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
    let signatures: Vec<String> = authorizations
        .iter()
        .map(|auth| auth.rsplit("Signature=").next().unwrap().to_owned())
        .collect();
    assert_eq!(signatures.len(), 7);
    for secret in [MOBILE, CODE, SECRET_KEY, "Signature="]
        .into_iter()
        .chain(authorizations.iter().map(String::as_str))
        .chain(signatures.iter().map(String::as_str))
    {
        assert!(
            !text.contains(secret),
            "{secret:?} leaked into logs:\n{text}"
        );
    }
}
