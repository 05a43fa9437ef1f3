//! Black-box: registration, sign-in, sessions and CSRF over HTTP (SPEC §2, §5, §7).

use crate::helpers::*;
use serde_json::json;

async fn register(app: &TestApp) -> serde_json::Value {
    app.visit().await;
    assert_eq!(app.send_code(TEST_MOBILE).await["errno"], "0");
    let reg = json!({"mobile": TEST_MOBILE, "sms_code": TEST_CODE, "password": "secret1", "password2": "secret1"});
    errno_json(app.post_json("/api/v1.0/users", &reg).await).await
}

#[tokio::test]
async fn register_session_sign_out_sign_in() {
    let app = spawn_app().await;
    let reply = register(&app).await;
    assert_eq!(reply["errno"], "0", "{reply}");
    assert!(app.cookie("session").is_some(), "registration signs in");

    let s = app.session().await;
    assert_eq!(
        (s["errno"].as_str(), s["errmsg"].as_str()),
        (Some("0"), Some("true"))
    );
    assert_eq!(s["data"]["name"], TEST_MOBILE);

    let profile = app.get_json("/api/v1.0/user").await;
    assert_eq!(profile["data"]["mobile"], TEST_MOBILE);

    assert_eq!(app.sign_out().await["errno"], "0");
    let s = app.session().await;
    assert_eq!(
        (s["errno"].as_str(), s["errmsg"].as_str()),
        (Some("4101"), Some("false"))
    );
    let profile = app.get_json("/api/v1.0/user").await;
    assert_eq!(profile["errno"], "4101");

    let login = json!({"mobile": TEST_MOBILE, "password": "secret1"});
    assert_eq!(
        errno_json(app.post_json("/api/v1.0/sessions", &login).await).await["errno"],
        "0"
    );
    assert_eq!(app.session().await["data"]["name"], TEST_MOBILE);
}

#[tokio::test]
async fn the_session_cookie_is_httponly_and_lax() {
    let app = spawn_app().await;
    app.visit().await;
    app.send_code(TEST_MOBILE).await;
    let reg = json!({"mobile": TEST_MOBILE, "sms_code": TEST_CODE, "password": "secret1", "password2": "secret1"});
    let res = app.post_json("/api/v1.0/users", &reg).await;
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("session="))
        .expect("a session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "not Secure in local: {cookie}");
}

#[tokio::test]
async fn state_changing_posts_need_the_csrf_header() {
    let app = spawn_app().await;
    app.visit().await;
    let login = json!({"mobile": TEST_MOBILE, "password": "secret1"});
    for token in [None, Some("wrong")] {
        let mut req = app.client.post(app.url("/api/v1.0/sessions")).json(&login);
        if let Some(t) = token {
            req = req.header("X-CSRFToken", t);
        }
        let reply = errno_json(req.send().await.unwrap()).await;
        assert_eq!(reply["errno"], "4201", "{token:?}: {reply}");
        assert!(reply["errmsg"].as_str().unwrap().contains("CSRF"));
    }
    let reply = errno_json(app.post_json("/api/v1.0/sessions", &login).await).await;
    assert_eq!(
        reply["errno"], "4004",
        "with the header the request reaches the use case"
    );
}

/// The check belongs to the route, so a path that routing decodes to a protected route is
/// protected too, and the refusal hands a cookie-less client its `csrf_token` like any reply.
#[tokio::test]
async fn the_csrf_check_follows_routing_not_the_raw_path() {
    let app = spawn_app().await;
    let login = json!({"mobile": TEST_MOBILE, "password": "secret1"});
    for path in [
        "/api/v1.0/session%73",
        "/api/v1.0/%75sers",
        "/passport/logi%6E",
    ] {
        let res = reqwest::Client::new()
            .post(app.url(path))
            .json(&login)
            .send()
            .await
            .unwrap();
        let sets_cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|v| v.to_str().unwrap().starts_with("csrf_token="));
        let reply = errno_json(res).await;
        assert_eq!(reply["errno"], "4201", "{path}: {reply}");
        assert!(sets_cookie, "{path}: the refusal sets csrf_token");
    }
}

#[tokio::test]
async fn registration_input_is_checked() {
    let app = spawn_app().await;
    app.visit().await;
    let cases = [
        json!({"mobile": TEST_MOBILE, "sms_code": TEST_CODE, "password": "secret1", "password2": "secret2"}),
        json!({"mobile": TEST_MOBILE, "sms_code": TEST_CODE, "password": "12345", "password2": "12345"}),
        json!({"mobile": TEST_MOBILE, "sms_code": "12ab56", "password": "secret1", "password2": "secret1"}),
        json!({"mobile": TEST_MOBILE, "password": "secret1", "password2": "secret1"}),
        json!(["not", "an", "object"]),
    ];
    for case in cases {
        let reply = errno_json(app.post_json("/api/v1.0/users", &case).await).await;
        assert_eq!(reply["errno"], "4103", "{case}: {reply}");
    }
    let no_code = json!({"mobile": TEST_MOBILE, "sms_code": TEST_CODE, "password": "secret1", "password2": "secret1"});
    assert_eq!(
        errno_json(app.post_json("/api/v1.0/users", &no_code).await).await["errno"],
        "4002"
    );
}

#[tokio::test]
async fn a_code_registers_once_and_wrong_guesses_burn_it() {
    let app = spawn_app_with(|s| s.limits.code_max_attempts = 3).await;
    app.visit().await;
    app.send_code(TEST_MOBILE).await;
    let with = |code: &str| json!({"mobile": TEST_MOBILE, "sms_code": code, "password": "secret1", "password2": "secret1"});
    for _ in 0..3 {
        assert_eq!(
            errno_json(app.post_json("/api/v1.0/users", &with("000000")).await).await["errno"],
            "4004"
        );
    }
    assert_eq!(
        errno_json(app.post_json("/api/v1.0/users", &with(TEST_CODE)).await).await["errno"],
        "4002",
        "burned: dead even for the right code"
    );
}

#[tokio::test]
async fn unknown_mobile_and_wrong_password_look_the_same_and_lock_out() {
    let app = spawn_app_with(|s| s.limits.login_failures_per_ip = 3).await;
    assert_eq!(register(&app).await["errno"], "0");
    let unknown = errno_json(
        app.post_json(
            "/api/v1.0/sessions",
            &json!({"mobile": "13912345678", "password": "secret1"}),
        )
        .await,
    )
    .await;
    let wrong = errno_json(
        app.post_json(
            "/api/v1.0/sessions",
            &json!({"mobile": TEST_MOBILE, "password": "secret2"}),
        )
        .await,
    )
    .await;
    assert_eq!(unknown, wrong);
    assert_eq!(unknown["errno"], "4004");
    errno_json(
        app.post_json(
            "/api/v1.0/sessions",
            &json!({"mobile": TEST_MOBILE, "password": "secret3"}),
        )
        .await,
    )
    .await;
    let res = app
        .post_json(
            "/api/v1.0/sessions",
            &json!({"mobile": TEST_MOBILE, "password": "secret1"}),
        )
        .await;
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(
        errno_json(res).await["errno"],
        "4202",
        "the IP is locked out"
    );
}

#[tokio::test]
async fn the_news_site_routes_share_the_use_cases() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/passport/image_code?imageCodeId=news-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "image/png");
    let res = app
        .client
        .get(app.url("/passport/image_code?cur_id=news-2&pre_id=news-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let gone = errno_json(
        app.post_json(
            "/passport/sms_code",
            &json!({"mobile": TEST_MOBILE, "image_code": "ABCD", "image_code_id": "news-1"}),
        )
        .await,
    )
    .await;
    assert_eq!(gone["errno"], "4002", "pre_id was discarded");
    let sent = errno_json(
        app.post_json(
            "/passport/smscode",
            &json!({"mobile": TEST_MOBILE, "image_code": "ABCD", "image_code_id": "news-2"}),
        )
        .await,
    )
    .await;
    assert_eq!(sent["errno"], "0", "{sent}");
    let reg = errno_json(
        app.post_json(
            "/passport/register",
            &json!({"mobile": TEST_MOBILE, "smscode": TEST_CODE, "password": "secret1"}),
        )
        .await,
    )
    .await;
    assert_eq!(reg["errno"], "0", "{reg}");
    let out = errno_json(app.post_json("/passport/logout", &json!({})).await).await;
    assert_eq!(out["errno"], "0");
    assert_eq!(app.session().await["errno"], "4101");
    let login = errno_json(
        app.post_json(
            "/passport/login",
            &json!({"mobile": TEST_MOBILE, "password": "secret1"}),
        )
        .await,
    )
    .await;
    assert_eq!(login["errno"], "0");
    assert_eq!(app.session().await["errno"], "0");

    // The other spellings: `GET /passport/logout`, and `code_id=` for the captcha id.
    assert_eq!(app.get_json("/passport/logout").await["errno"], "0");
    assert_eq!(app.session().await["errno"], "4101");
    let res = app
        .client
        .get(app.url("/passport/image_code?code_id=news-3"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "image/png");
    let sent = errno_json(
        app.post_json(
            "/passport/sms_code",
            &json!({"mobile": "13900139000", "image_code": "ABCD", "image_code_id": "news-3"}),
        )
        .await,
    )
    .await;
    assert_eq!(sent["errno"], "0", "the code_id captcha was stored: {sent}");
}

#[tokio::test]
async fn the_demo_page_is_served_with_a_csrf_cookie() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(app.cookie("csrf_token").is_some());
}

#[tokio::test]
async fn ihome_variants_phone_num_and_plural_sign_out_work() {
    let app = spawn_app().await;
    app.visit().await;
    assert_eq!(app.send_code(TEST_MOBILE).await["errno"], "0");
    let reg = json!({"phone_num": TEST_MOBILE, "sms_code": TEST_CODE, "password": "secret1", "password2": "secret1"});
    let reply = errno_json(app.post_json("/api/v1.0/users", &reg).await).await;
    assert_eq!(reply["errno"], "0", "{reply}");
    let res = app
        .client
        .delete(app.url("/api/v1.0/sessions"))
        .header("X-CSRFTOKEN", app.csrf())
        .send()
        .await
        .unwrap();
    assert_eq!(errno_json(res).await["errno"], "0");
    assert_eq!(app.session().await["errno"], "4101");
}
