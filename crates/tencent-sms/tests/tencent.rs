//! `TencentSms` against a strict wiremock peer that recomputes the TC3 signature of every
//! request it receives and refuses anything that is not exactly right.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions panic on setup failure by design"
)]

mod common;

use common::*;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use domain::{Mobile, SmsCode};
use ports::{SmsError, SmsSender};
use serde_json::{json, Value};
use tencent_sms::{TencentSms, MAX_REPLY_BYTES};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn sender(server: &MockServer) -> TencentSms {
    sender_with(server.uri(), Duration::from_secs(5))
}

async fn send(sms: &TencentSms) -> Result<(), SmsError> {
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

/// One strict peer answering `reply`; the send's result.
async fn send_against(reply: ResponseTemplate) -> Result<(), SmsError> {
    let server = MockServer::start().await;
    expect_one_request(&server, Expected::for_server(&server), reply).await;
    send(&sender(&server)).await
}

// ----- the test's own signer and the peer --------------------------------------------------------

#[test]
fn the_test_signer_reproduces_tencents_worked_example() {
    // Tencent's "签名方法 v3 / Signature v3" worked example, values as published in
    // https://www.tencentcloud.com/zh/document/api/1021/34193 (see the crate's unit test).
    let auth = tc3_authorization(
        "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
        "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        &Signed {
            method: "POST",
            path: "/",
            query: "",
            content_type: "application/json; charset=utf-8",
            host: "cvm.tencentcloudapi.com",
            body: br#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#,
            timestamp: 1_551_113_065,
            service: "cvm",
        },
    );
    assert_eq!(
        auth,
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, \
         SignedHeaders=content-type;host, \
         Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    );
    // RFC 4231 test case 2, for the hand-written HMAC.
    assert_eq!(
        sha256_hex(&[]),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
    assert_eq!(
        mac.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    assert_eq!(utc_date(0), "1970-01-01");
    assert_eq!(utc_date(951_782_400), "2000-02-29");
    assert_eq!(utc_date(TS), DATE);
}

/// A request built by hand, field by field, so one byte of it can be changed.
#[derive(Clone)]
struct Raw {
    target: String,
    content_type: String,
    host: String,
    action: String,
    version: String,
    region: String,
    timestamp: String,
    authorization: String,
    body: Vec<u8>,
}

impl Raw {
    /// Exactly what the peer wants, signed by the test's signer.
    fn signed(expected: &Expected) -> Self {
        let body = serde_json::to_vec(&expected.body).unwrap();
        let authorization = tc3_authorization(
            SECRET_ID,
            SECRET_KEY,
            &Signed {
                method: "POST",
                path: "/",
                query: "",
                content_type: CONTENT_TYPE,
                host: &expected.host,
                body: &body,
                timestamp: expected.timestamp,
                service: "sms",
            },
        );
        Self {
            target: "/".to_owned(),
            content_type: CONTENT_TYPE.to_owned(),
            host: expected.host.clone(),
            action: "SendSms".to_owned(),
            version: "2021-01-11".to_owned(),
            region: expected.region.clone(),
            timestamp: expected.timestamp.to_string(),
            authorization,
            body,
        }
    }

    /// Sends it to `server` and returns the JSON reply.
    async fn send(self, server: &MockServer) -> Value {
        let reply = reqwest::Client::new()
            .post(format!("{}{}", server.uri(), self.target))
            .header("Content-Type", self.content_type)
            .header("Host", self.host)
            .header("X-TC-Action", self.action)
            .header("X-TC-Version", self.version)
            .header("X-TC-Region", self.region)
            .header("X-TC-Timestamp", self.timestamp)
            .header("Authorization", self.authorization)
            .body(self.body)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        reply.json().await.unwrap()
    }
}

fn bump_last(s: &mut String) {
    let last = s.pop().unwrap();
    s.push(if last == 'a' { 'b' } else { 'a' });
}

#[tokio::test]
async fn the_peer_accepts_an_exact_request_and_refuses_any_one_byte_change() {
    let server = MockServer::start().await;
    let expected = Expected::for_server(&server);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    Mock::given(any())
        .respond_with(StrictPeer {
            expected: expected.clone(),
            reply: ok_reply(),
            seen_authorizations: seen,
        })
        .mount(&server)
        .await;

    let exact = Raw::signed(&expected);
    let reply = exact.clone().send(&server).await;
    assert_eq!(
        reply["Response"]["SendStatusSet"][0]["Code"], "Ok",
        "{reply}"
    );

    let changed_body = |change: fn(&mut Vec<u8>)| {
        let mut raw = exact.clone();
        change(&mut raw.body);
        raw
    };
    let mutations: Vec<(&str, Raw)> = vec![
        ("body byte after signing", {
            let mut raw = exact.clone();
            let at = raw.body.iter().position(|&b| b == b'5').unwrap();
            raw.body[at] = b'6';
            raw
        }),
        (
            "body whitespace after signing",
            changed_body(|b| b.push(b' ')),
        ),
        ("signature hex digit", {
            let mut raw = exact.clone();
            bump_last(&mut raw.authorization);
            raw
        }),
        ("SecretId", {
            let mut raw = exact.clone();
            raw.authorization = raw.authorization.replacen("AKIDt", "AKIDu", 1);
            raw
        }),
        ("credential date", {
            let mut raw = exact.clone();
            raw.authorization = raw.authorization.replacen(DATE, "2019-02-26", 1);
            raw
        }),
        ("signed headers", {
            let mut raw = exact.clone();
            raw.authorization =
                raw.authorization
                    .replacen("content-type;host", "content-type;hosT", 1);
            raw
        }),
        ("timestamp", {
            let mut raw = exact.clone();
            raw.timestamp = (TS + 1).to_string();
            raw
        }),
        ("content type", {
            let mut raw = exact.clone();
            raw.content_type = "application/json;charset=utf-8".to_owned();
            raw
        }),
        ("host", {
            let mut raw = exact.clone();
            raw.host = raw.host.replacen("127.0.0.1", "127.0.0.2", 1);
            raw
        }),
        ("region", {
            let mut raw = exact.clone();
            bump_last(&mut raw.region);
            raw
        }),
        ("action", {
            let mut raw = exact.clone();
            raw.action = "SendSmS".to_owned();
            raw
        }),
        ("version", {
            let mut raw = exact.clone();
            raw.version = "2021-01-12".to_owned();
            raw
        }),
        ("path", {
            let mut raw = exact.clone();
            raw.target = "/x".to_owned();
            raw
        }),
        ("query", {
            let mut raw = exact.clone();
            raw.target = "/?".to_owned() + "a";
            raw
        }),
    ];
    for (what, raw) in mutations {
        let reply = raw.send(&server).await;
        assert_eq!(
            reply["Response"]["Error"]["Code"], SIGNATURE_FAILURE,
            "{what}: {reply}"
        );
    }
}

// ----- sent ---------------------------------------------------------------------------------------

#[tokio::test]
async fn ok_is_sent_with_every_header_and_the_signature_exactly_right() {
    send_against(ok_reply()).await.unwrap();
}

#[tokio::test]
async fn a_trailing_slash_on_the_base_url_is_ignored() {
    let server = MockServer::start().await;
    expect_one_request(&server, Expected::for_server(&server), ok_reply()).await;

    let sms = sender_with(format!("{}/", server.uri()), Duration::from_secs(5));
    send(&sms).await.unwrap();
}

#[tokio::test]
async fn minutes_template_and_region_reach_the_request() {
    let server = MockServer::start().await;
    let mut expected = Expected::for_server(&server);
    expected.region = "ap-beijing".to_owned();
    expected.body["TemplateId"] = json!("7");
    expected.body["TemplateParamSet"] = json!([CODE, "10"]);
    expect_one_request(&server, expected, ok_reply()).await;
    let mut config = config(server.uri(), Duration::from_secs(5));
    config.region = "ap-beijing".to_owned();
    config.template_id = "7".to_owned();

    common::sender(config)
        .send_code(
            &Mobile::parse(MOBILE).unwrap(),
            &SmsCode::parse(CODE).unwrap(),
            10,
        )
        .await
        .unwrap();
}

// ----- classification (SPEC §6a) ----------------------------------------------------------------

#[tokio::test]
async fn per_number_limits_are_rate_limited() {
    for code in [
        "LimitExceeded.PhoneNumberDailyLimit",
        "LimitExceeded.PhoneNumberThirtySecondLimit",
        "LimitExceeded.PhoneNumberOneHourLimit",
        "LimitExceeded.PhoneNumberSameContentDailyLimit",
        "LimitExceeded.DeliveryFrequencyLimit",
    ] {
        match send_against(status_reply(code, "too often")).await {
            Err(SmsError::RateLimited { status }) => assert_eq!(status, code),
            other => panic!("{code}: expected RateLimited, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn bad_or_blacklisted_numbers_are_rejected_with_the_message() {
    for code in [
        "InvalidParameterValue.IncorrectPhoneNumber",
        "FailedOperation.PhoneNumberInBlacklist",
    ] {
        match send_against(status_reply(code, "手机号不可用")).await {
            Err(SmsError::Rejected { status, message }) => {
                assert_eq!(status, code);
                assert_eq!(message, "手机号不可用");
            }
            other => panic!("{code}: expected Rejected, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn response_errors_are_unavailable() {
    for code in [
        "AuthFailure.SecretIdNotFound",
        "AuthFailure.SignatureExpire",
        "FailedOperation.InsufficientBalanceInSmsPackage",
        "InternalError.Timeout",
        "LimitExceeded.AppDailyLimit",
        // Per-number codes arriving as a request error still mean "not sent here".
        "LimitExceeded.PhoneNumberDailyLimit",
        "Something.NobodyHasSeen",
    ] {
        let err = send_against(error_reply(code, "m")).await.unwrap_err();
        let shown = chain(&err);
        assert!(shown.contains(code), "{code}: {shown}");
    }
}

#[tokio::test]
async fn unknown_per_number_codes_are_unavailable() {
    for code in [
        "FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
        "LimitExceeded.AppDailyLimit",
        "Something.New",
        "ok",
        "",
    ] {
        let err = send_against(status_reply(code, "m")).await.unwrap_err();
        let shown = chain(&err);
        assert!(shown.contains("did not send"), "{code}: {shown}");
    }
}

#[tokio::test]
async fn a_missing_empty_or_ambiguous_send_status_set_is_unavailable() {
    let entry = json!({ "Code": "Ok", "Message": "send success", "PhoneNumber": PHONE });
    for response in [
        json!({ "RequestId": "r" }),
        json!({ "SendStatusSet": [], "RequestId": "r" }),
        json!({ "SendStatusSet": null, "RequestId": "r" }),
        json!({ "SendStatusSet": [entry, entry], "RequestId": "r" }),
    ] {
        let reply = ResponseTemplate::new(200).set_body_json(json!({ "Response": response }));
        let err = send_against(reply).await.unwrap_err();
        chain(&err);
    }
}

// ----- transport and garbage ----------------------------------------------------------------------

#[tokio::test]
async fn garbage_bodies_are_unavailable() {
    for body in [
        &b""[..],
        b"<html>502 Bad Gateway</html>",
        b"null",
        b"{\"Response\":",
        b"{\"Response\":{\"SendStatusSet\":[{\"Code\":1}]}}",
        b"{\"Response\":[]}",
        b"\xff\xfe\x00garbage",
    ] {
        let reply = ResponseTemplate::new(200).set_body_raw(body.to_vec(), "application/json");
        let err = send_against(reply).await.unwrap_err();
        chain(&err);
    }
}

#[tokio::test]
async fn http_errors_are_unavailable_even_with_a_success_body() {
    for status in [400, 500, 502, 503] {
        let err = send_against(
            ResponseTemplate::new(status).set_body_json(status_body("Ok", "send success")),
        )
        .await
        .unwrap_err();
        let shown = chain(&err);
        assert!(shown.contains(&format!("HTTP {status}")), "{shown}");
    }
    let err = send_against(
        ResponseTemplate::new(502).set_body_json(error_body("InternalError.Timeout", "busy")),
    )
    .await
    .unwrap_err();
    let shown = chain(&err);
    assert!(shown.contains("HTTP 502"), "{shown}");
    assert!(shown.contains("InternalError.Timeout: busy"), "{shown}");
}

#[tokio::test]
async fn a_hanging_peer_is_unavailable_within_the_timeout() {
    let server = MockServer::start().await;
    expect_one_request(
        &server,
        Expected::for_server(&server),
        ok_reply().set_delay(Duration::from_secs(30)),
    )
    .await;

    let sms = sender_with(server.uri(), Duration::from_millis(300));
    let started = Instant::now();
    let err = send(&sms).await.unwrap_err();
    let took = started.elapsed();
    let shown = chain(&err);
    assert!(shown.contains("timed out"), "{shown}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test]
async fn an_unreachable_peer_is_unavailable() {
    // Bind then drop a listener: nothing listens on that port any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sms = sender_with(format!("http://127.0.0.1:{port}"), Duration::from_secs(5));

    let err = send(&sms).await.unwrap_err();
    chain(&err);
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_is_unavailable() {
    for status in [301, 302, 303, 307, 308] {
        // Where the redirect points: a peer that would accept the code if it were re-sent.
        let elsewhere = MockServer::start().await;
        Mock::given(any())
            .respond_with(ok_reply())
            .expect(0)
            .mount(&elsewhere)
            .await;
        let server = MockServer::start().await;
        let location = format!("{}/", elsewhere.uri());
        expect_one_request(
            &server,
            Expected::for_server(&server),
            ResponseTemplate::new(status).insert_header("Location", location.as_str()),
        )
        .await;

        let err = send(&sender(&server)).await.unwrap_err();
        let shown = chain(&err);
        assert!(shown.contains(&format!("HTTP {status}")), "{shown}");
        assert!(shown.contains("redirect"), "{shown}");
        let reached = elsewhere.received_requests().await.unwrap();
        assert!(reached.is_empty(), "{status}: followed to {reached:?}");
    }
}

/// A JSON success reply padded with spaces (legal JSON whitespace) to `len` bytes.
fn padded_success(len: usize) -> Vec<u8> {
    let mut body = serde_json::to_vec(&json!({
        "Response": { "SendStatusSet": [{ "Code": "Ok", "Message": "send success" }], "RequestId": "r" }
    }))
    .unwrap();
    body.resize(len, b' ');
    body
}

#[tokio::test]
async fn a_reply_of_exactly_the_cap_is_read() {
    let reply = ResponseTemplate::new(200)
        .set_body_raw(padded_success(MAX_REPLY_BYTES), "application/json");
    send_against(reply).await.unwrap();
}

#[tokio::test]
async fn a_reply_over_the_cap_is_unavailable() {
    for len in [MAX_REPLY_BYTES + 1, 8 * 1024 * 1024] {
        let reply =
            ResponseTemplate::new(200).set_body_raw(padded_success(len), "application/json");
        let err = send_against(reply).await.unwrap_err();
        let shown = chain(&err);
        assert!(shown.contains("longer than"), "{len}: {shown}");
    }
}
