//! `RonglianSms` against a wiremock server that checks every part of the request exactly.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions panic on setup failure by design"
)]

mod common;

use common::*;
use std::time::Duration;

use domain::{Mobile, SmsCode};
use ports::{SmsError, SmsSender};
use ronglian_sms::{RonglianConfig, RonglianSms, MAX_REPLY_BYTES};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{any, body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn sender(server: &MockServer) -> RonglianSms {
    sender_with(server.uri(), Duration::from_secs(5))
}

/// Answers `reply` to exactly one request that matches the protocol in every detail.
async fn expect_one_request(server: &MockServer, reply: ResponseTemplate) {
    let sig = expected_sig();
    let whole_query = format!("sig={sig}");
    Mock::given(method("POST"))
        .and(path(format!("/2013-12-26/Accounts/{SID}/SMS/TemplateSMS")))
        .and(query_param("sig", sig.as_str()))
        .and(move |req: &Request| req.url.query() == Some(whole_query.as_str()))
        .and(header("Authorization", expected_authorization().as_str()))
        .and(header("Accept", "application/json"))
        .and(header("Content-Type", "application/json;charset=utf-8"))
        .and(body_json(json!({
            "to": MOBILE,
            "appId": APP_ID,
            "templateId": TEMPLATE_ID,
            "datas": [CODE, "5"],
        })))
        .respond_with(reply)
        .expect(1)
        .mount(server)
        .await;
}

fn status_reply(code: &str, msg: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "statusCode": code, "statusMsg": msg }))
}

async fn send(sms: &RonglianSms) -> Result<(), SmsError> {
    sms.send_code(
        &Mobile::parse(MOBILE).unwrap(),
        &SmsCode::parse(CODE).unwrap(),
        5,
    )
    .await
}

fn chain(e: &SmsError) -> String {
    match e {
        SmsError::Unavailable(cause) => format!("{cause:#}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn status_000000_is_success() {
    let server = MockServer::start().await;
    expect_one_request(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({
            "statusCode": "000000",
            "templateSMS": { "dateCreated": "20240305140708", "smsMessageSid": "ff8080813c373cab" },
        })),
    )
    .await;

    send(&sender(&server)).await.unwrap();
}

#[tokio::test]
async fn a_trailing_slash_on_the_base_url_is_ignored() {
    let server = MockServer::start().await;
    expect_one_request(&server, status_reply("000000", "")).await;

    let sms = sender_with(format!("{}/", server.uri()), Duration::from_secs(5));
    send(&sms).await.unwrap();
}

#[tokio::test]
async fn valid_minutes_is_sent_as_an_integer_string() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_json(json!({
            "to": MOBILE,
            "appId": APP_ID,
            "templateId": "7",
            "datas": [CODE, "10"],
        })))
        .respond_with(status_reply("000000", ""))
        .expect(1)
        .mount(&server)
        .await;
    let config = RonglianConfig {
        base_url: server.uri(),
        template_id: "7".to_owned(),
        ..RonglianConfig::new(SID, SecretString::from(TOKEN), APP_ID)
    };
    let sms = common::sender(config);

    sms.send_code(
        &Mobile::parse(MOBILE).unwrap(),
        &SmsCode::parse(CODE).unwrap(),
        10,
    )
    .await
    .unwrap();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    RateLimited,
    Rejected,
    Unavailable,
}

/// SPEC §6a, row by row: every status Ronglian's tables name, and statuses in none of them.
const STATUS_TABLE: &[(&str, Kind)] = &[
    ("160038", Kind::RateLimited),
    ("160039", Kind::RateLimited),
    ("160040", Kind::RateLimited),
    ("160041", Kind::RateLimited),
    ("111111", Kind::RateLimited),
    ("160042", Kind::Rejected),
    ("160034", Kind::Rejected),
    ("112317", Kind::Rejected),
    ("160051", Kind::Rejected),
    ("160068", Kind::Rejected),
    ("160072", Kind::Rejected),
    ("160073", Kind::Rejected),
    ("160074", Kind::Rejected),
    ("160061", Kind::Rejected),
    ("160062", Kind::Rejected),
    ("111109", Kind::Unavailable),
    ("111106", Kind::Unavailable),
    ("111113", Kind::Unavailable),
    ("160032", Kind::Unavailable),
    ("160043", Kind::Unavailable),
    ("113302", Kind::Unavailable),
    ("111142", Kind::Unavailable),
    ("160014", Kind::Unavailable),
    ("160000", Kind::Unavailable),
    ("160050", Kind::Unavailable),
    ("160063", Kind::Unavailable),
    ("160064", Kind::Unavailable),
    // In no table we could confirm: unknown, so unavailable.
    ("112314", Kind::Unavailable),
    // Unknown statuses.
    ("999999", Kind::Unavailable),
    ("160999", Kind::Unavailable),
];

#[tokio::test]
async fn every_status_is_classified_as_the_spec_says() {
    for &(status, kind) in STATUS_TABLE {
        let server = MockServer::start().await;
        let msg = format!("message for {status}");
        expect_one_request(&server, status_reply(status, &msg)).await;

        let result = send(&sender(&server)).await;
        match (kind, result) {
            (Kind::RateLimited, Err(SmsError::RateLimited { status: got })) => {
                assert_eq!(got, status);
            }
            (
                Kind::Rejected,
                Err(SmsError::Rejected {
                    status: got,
                    message,
                }),
            ) => {
                assert_eq!(got, status);
                assert_eq!(message, msg);
            }
            (Kind::Unavailable, Err(e @ SmsError::Unavailable(_))) => {
                let shown = chain(&e);
                assert!(
                    shown.contains(&format!("statusCode {status}: {msg}")),
                    "{shown}"
                );
            }
            (kind, other) => panic!("{status}: expected {kind:?}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_rejection_carries_the_providers_message() {
    let server = MockServer::start().await;
    expect_one_request(&server, status_reply("160042", "号码格式有误")).await;

    match send(&sender(&server)).await {
        Err(SmsError::Rejected { status, message }) => {
            assert_eq!(status, "160042");
            assert_eq!(message, "号码格式有误");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
}

#[tokio::test]
async fn http_500_is_unavailable_even_with_a_success_body() {
    let server = MockServer::start().await;
    expect_one_request(
        &server,
        ResponseTemplate::new(500)
            .set_body_json(json!({ "statusCode": "000000", "statusMsg": "内部错误" })),
    )
    .await;

    let err = send(&sender(&server)).await.unwrap_err();
    let shown = chain(&err);
    assert!(shown.contains("HTTP 500"), "{shown}");
    assert!(shown.contains("statusCode 000000: 内部错误"), "{shown}");
}

#[tokio::test]
async fn a_non_json_body_is_unavailable() {
    let server = MockServer::start().await;
    expect_one_request(
        &server,
        ResponseTemplate::new(200).set_body_string("<html>502 Bad Gateway</html>"),
    )
    .await;

    let err = send(&sender(&server)).await.unwrap_err();
    assert!(chain(&err).contains("not JSON"), "{err:?}");
}

#[tokio::test]
async fn json_without_a_status_code_is_unavailable() {
    let server = MockServer::start().await;
    expect_one_request(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({ "statusMsg": "?" })),
    )
    .await;

    let err = send(&sender(&server)).await.unwrap_err();
    assert!(chain(&err).contains("no statusCode"), "{err:?}");
}

#[tokio::test]
async fn a_slow_provider_times_out_as_unavailable() {
    let server = MockServer::start().await;
    expect_one_request(
        &server,
        status_reply("000000", "").set_delay(Duration::from_secs(30)),
    )
    .await;

    let sms = sender_with(server.uri(), Duration::from_millis(300));
    let err = send(&sms).await.unwrap_err();
    let shown = chain(&err);
    assert!(shown.contains("timed out"), "{shown}");
    // The request URL carries the signature; errors must not.
    assert!(!shown.contains(&expected_sig()), "{shown}");
}

#[tokio::test]
async fn an_unreachable_provider_is_unavailable() {
    // Bind then drop a listener: nothing listens on that port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sms = sender_with(format!("http://127.0.0.1:{port}"), Duration::from_secs(5));

    let err = send(&sms).await.unwrap_err();
    let shown = chain(&err);
    assert!(!shown.contains(&expected_sig()), "{shown}");
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_is_unavailable() {
    for status in [301, 302, 303, 307, 308] {
        // Where the redirect points: a peer that would accept the code if it were re-sent.
        let elsewhere = MockServer::start().await;
        Mock::given(any())
            .respond_with(status_reply("000000", ""))
            .expect(0)
            .mount(&elsewhere)
            .await;
        let server = MockServer::start().await;
        let location = format!(
            "{}/2013-12-26/Accounts/{SID}/SMS/TemplateSMS?sig={}",
            elsewhere.uri(),
            expected_sig()
        );
        expect_one_request(
            &server,
            ResponseTemplate::new(status).insert_header("Location", location.as_str()),
        )
        .await;

        let err = send(&sender(&server)).await.unwrap_err();
        let shown = chain(&err);
        assert!(shown.contains(&format!("HTTP {status}")), "{shown}");
        assert!(shown.contains("redirect"), "{shown}");
        assert!(!shown.contains(&expected_sig()), "{shown}");
        let reached = elsewhere.received_requests().await.unwrap();
        assert!(reached.is_empty(), "{status}: followed to {reached:?}");
    }
}

/// A JSON success reply padded with spaces (legal JSON whitespace) to `len` bytes.
fn padded_success(len: usize) -> Vec<u8> {
    let mut body = br#"{"statusCode":"000000"}"#.to_vec();
    body.resize(len, b' ');
    body
}

#[tokio::test]
async fn a_reply_of_exactly_the_cap_is_read() {
    let server = MockServer::start().await;
    expect_one_request(
        &server,
        ResponseTemplate::new(200)
            .set_body_raw(padded_success(MAX_REPLY_BYTES), "application/json"),
    )
    .await;

    send(&sender(&server)).await.unwrap();
}

#[tokio::test]
async fn a_reply_over_the_cap_is_unavailable() {
    for len in [MAX_REPLY_BYTES + 1, 8 * 1024 * 1024] {
        let server = MockServer::start().await;
        expect_one_request(
            &server,
            ResponseTemplate::new(200).set_body_raw(padded_success(len), "application/json"),
        )
        .await;

        let err = send(&sender(&server)).await.unwrap_err();
        let shown = chain(&err);
        assert!(shown.contains("longer than"), "{len}: {shown}");
    }
}
