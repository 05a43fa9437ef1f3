//! Black-box: the send-code endpoints over HTTP, one test per errno path of SPEC §3.

use crate::helpers::*;
use api::configuration::SettingsFile;
use serde_json::{json, Value};
use wiremock::ResponseTemplate;

fn body(mobile: &str, text: &str, id: &str) -> Value {
    json!({"mobile": mobile, "image_code": text, "image_code_id": id})
}

#[tokio::test]
async fn the_captcha_is_a_png_and_sets_the_csrf_cookie() {
    let app = spawn_app().await;
    let res = app.captcha("0b4c7f2e-9a4d-4a9c-8d0e-3e2f1a5b6c7d").await;
    assert_eq!(res.headers()["content-type"], "image/png");
    let set_cookie: Vec<_> = res.headers().get_all("set-cookie").iter().collect();
    assert!(
        set_cookie
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("csrf_token=")),
        "{set_cookie:?}"
    );
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    let token = app.csrf();
    assert!(token.chars().last().unwrap().is_ascii_alphanumeric());
}

#[tokio::test]
async fn a_bad_captcha_id_is_paramerr_json() {
    let app = spawn_app().await;
    for id in ["bad.id", &"x".repeat(65), "%E4%BD%A0"] {
        let res = app
            .client
            .get(app.url(&format!("/api/v1.0/image_codes/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(errno_json(res).await["errno"], "4103", "{id}");
    }
}

#[tokio::test]
async fn a_solved_captcha_sends_a_code() {
    let app = spawn_app().await;
    let reply = app.send_code("13900139000").await;
    assert_eq!(reply["errno"], "0", "{reply}");
}

#[tokio::test]
async fn the_get_form_of_the_ihome_front_end_works() {
    let app = spawn_app().await;
    app.captcha("get-form").await;
    let res = app
        .client
        .get(app.url("/api/v1.0/sms_codes/13900139000?image_code=AbCd&image_code_id=get-form"))
        .send()
        .await
        .unwrap();
    assert_eq!(errno_json(res).await["errno"], "0");
    // Some copies name the guess `image_code_text`.
    app.captcha("get-form-2").await;
    let res =
        app.client
            .get(app.url(
                "/api/v1.0/sms_codes/13900139001?image_code_text=abcd&image_code_id=get-form-2",
            ))
            .send()
            .await
            .unwrap();
    assert_eq!(errno_json(res).await["errno"], "0");
    let res = app
        .client
        .get(app.url("/api/v1.0/sms_codes/13900139000x?image_code=AbCd&image_code_id=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(errno_json(res).await["errno"], "4103");
}

#[tokio::test]
async fn malformed_requests_are_paramerr_with_http_200() {
    let app = spawn_app().await;
    app.captcha("c1").await;
    let post = |body: String, ct: &'static str| {
        app.client
            .post(app.url("/api/v1.0/sms_codes"))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("not JSON", "{mobile: 1".into(), "application/json"),
        ("not an object", "[1, 2, 3]".into(), "application/json"),
        ("a string", "\"13800138000\"".into(), "application/json"),
        ("null", "null".into(), "application/json"),
        ("wrong type", json!({"mobile": 13900139000u64, "image_code": "ABCD", "image_code_id": "c1"}).to_string(), "application/json"),
        ("missing field", json!({"mobile": "13900139000", "image_code": "ABCD"}).to_string(), "application/json"),
        ("empty field", body("13900139000", "", "c1").to_string(), "application/json"),
        ("trailing garbage", body("13800138000x", "ABCD", "c1").to_string(), "application/json"),
        ("leading garbage", body("x13800138000", "ABCD", "c1").to_string(), "application/json"),
        ("bad prefix", body("12800138000", "ABCD", "c1").to_string(), "application/json"),
        ("bad id", body("13900139000", "ABCD", "c/1").to_string(), "application/json"),
        ("wrong content type", body("13900139000", "ABCD", "c1").to_string(), "text/plain"),
        ("form body", "mobile=13900139000".into(), "application/x-www-form-urlencoded"),
        ("oversized", json!({"mobile": "13900139000", "image_code": "A".repeat(40_000), "image_code_id": "c1"}).to_string(), "application/json"),
    ];
    for (what, raw, ct) in cases {
        let reply = errno_json(post(raw, ct).await.unwrap()).await;
        assert_eq!(reply["errno"], "4103", "{what}: {reply}");
    }
    // None of that consumed the captcha.
    let reply = errno_json(
        app.post_json("/api/v1.0/sms_codes", &body("13900139000", "ABCD", "c1"))
            .await,
    )
    .await;
    assert_eq!(reply["errno"], "0", "{reply}");
}

#[tokio::test]
async fn captcha_failures_are_nodata_or_dataerr_and_say_click_to_refresh() {
    let app = spawn_app().await;
    let missing = errno_json(
        app.post_json(
            "/api/v1.0/sms_codes",
            &body("13900139000", "ABCD", "never-issued"),
        )
        .await,
    )
    .await;
    assert_eq!(missing["errno"], "4002");
    assert!(missing["errmsg"]
        .as_str()
        .unwrap()
        .contains("请点击图片刷新"));

    app.captcha("c2").await;
    let wrong = errno_json(
        app.post_json("/api/v1.0/sms_codes", &body("13900139000", "WXYZ", "c2"))
            .await,
    )
    .await;
    assert_eq!(wrong["errno"], "4004");
    assert!(wrong["errmsg"].as_str().unwrap().contains("请点击图片刷新"));

    let reused = errno_json(
        app.post_json("/api/v1.0/sms_codes", &body("13900139000", "ABCD", "c2"))
            .await,
    )
    .await;
    assert_eq!(
        reused["errno"], "4002",
        "a captcha is single use, even after a wrong guess"
    );
}

#[tokio::test]
async fn a_captcha_raced_by_twenty_requests_succeeds_once() {
    let app = spawn_app().await;
    app.captcha("race").await;
    let b = body("13900139000", "ABCD", "race");
    let replies = futures::future::join_all(
        (0..20).map(|_| async { errno_json(app.post_json("/api/v1.0/sms_codes", &b).await).await }),
    )
    .await;
    let ok = replies.iter().filter(|r| r["errno"] == "0").count();
    let nodata = replies.iter().filter(|r| r["errno"] == "4002").count();
    assert_eq!((ok, nodata), (1, 19), "{replies:?}");
}

#[tokio::test]
async fn a_second_send_within_the_cooldown_is_reqerr_with_retry_after() {
    let app = spawn_app().await;
    assert_eq!(app.send_code("13900139000").await["errno"], "0");
    let id = "cool";
    app.captcha(id).await;
    let res = app
        .post_json("/api/v1.0/sms_codes", &body("13900139000", "ABCD", id))
        .await;
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((59..=60).contains(&retry_after), "{retry_after}");
    let reply = errno_json(res).await;
    assert_eq!(reply["errno"], "4201");
    assert_eq!(reply["data"]["retry_after"], retry_after);
    assert!(
        reply["errmsg"].as_str().unwrap().contains("秒后再试"),
        "{reply}"
    );
}

#[tokio::test]
async fn a_registered_mobile_is_dataexist() {
    let app = spawn_app().await;
    app.visit().await;
    assert_eq!(app.send_code(TEST_MOBILE).await["errno"], "0");
    let reg = json!({"mobile": TEST_MOBILE, "sms_code": TEST_CODE, "password": "secret1", "password2": "secret1"});
    let reply = errno_json(app.post_json("/api/v1.0/users", &reg).await).await;
    assert_eq!(reply["errno"], "0", "{reply}");
    let again = app.send_code(TEST_MOBILE).await;
    assert_eq!(again["errno"], "4003", "{again}");
}

#[tokio::test]
async fn the_silent_policy_hides_registered_mobiles() {
    let app = spawn_app_with(|s| {
        s.security.registered_mobile = "silent".into();
        s.limits.mobile_cooldown_secs = 1;
    })
    .await;
    app.visit().await;
    app.send_code(TEST_MOBILE).await;
    let reg = json!({"mobile": TEST_MOBILE, "sms_code": TEST_CODE, "password": "secret1", "password2": "secret1"});
    assert_eq!(
        errno_json(app.post_json("/api/v1.0/users", &reg).await).await["errno"],
        "0"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(app.send_code(TEST_MOBILE).await["errno"], "0");
}

/// The Ronglian peer at `base`, given 1 s to answer.
fn use_ronglian_1s(s: &mut SettingsFile, base: String) {
    use_ronglian(s, base);
    s.sms.ronglian.timeout_ms = 1000;
}

#[tokio::test]
async fn a_provider_failure_is_thirderr_and_the_mobile_can_retry_at_once() {
    let server = ronglian_answering(ResponseTemplate::new(500)).await;
    let app = spawn_app_with(|s| use_ronglian_1s(s, server.uri())).await;
    assert_eq!(app.send_code("13900139000").await["errno"], "4301");
    let again = app.send_code("13900139000").await;
    assert_eq!(
        again["errno"], "4301",
        "no cooldown after a failure: {again}"
    );
}

#[tokio::test]
async fn a_hanging_provider_is_thirderr_within_the_timeout() {
    let server = ronglian_answering(
        ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(30)),
    )
    .await;
    let app = spawn_app_with(|s| use_ronglian_1s(s, server.uri())).await;
    assert_eq!(app.send_code("13900139000").await["errno"], "4301");
}

#[tokio::test]
async fn a_provider_rate_limit_is_reqerr() {
    let server = ronglian_answering(
        ResponseTemplate::new(200)
            .set_body_json(json!({"statusCode": "160038", "statusMsg": "too often"})),
    )
    .await;
    let app = spawn_app_with(|s| use_ronglian_1s(s, server.uri())).await;
    let res = app.send_code("13900139000").await;
    assert_eq!(res["errno"], "4201", "{res}");
}

#[tokio::test]
async fn an_unreachable_store_is_dberr() {
    let app = spawn_app_with(|s| {
        s.store.url = secrecy::SecretString::from("redis://127.0.0.1:1/0");
        s.store.timeout_ms = 500;
    })
    .await;
    let res = app
        .client
        .get(app.url("/api/v1.0/image_codes/abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(errno_json(res).await["errno"], "4001");
    let reply = errno_json(
        app.post_json("/api/v1.0/sms_codes", &body("13900139000", "ABCD", "abc"))
            .await,
    )
    .await;
    assert_eq!(reply["errno"], "4001");
}
