//! Redis stops under a running service: sends and a password reset answer DBERR (bounded by
//! `store.timeout_ms`, never a hang), `/readyz` answers 503 naming the store within its bound,
//! and the service recovers by itself when Redis returns. Uses a private redis-server on a free
//! port, never the shared one.

use std::time::Duration;

use crate::helpers::*;
use redis_captcha::testing::{free_port, wait_until_up, Server};
use secrecy::SecretString;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_redis_is_dberr_and_the_service_recovers() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let server = Server::start(port);
    wait_until_up(&url).await;
    let app = spawn_app_with(|s| {
        s.store.url = SecretString::from(url.clone());
        s.store.timeout_ms = 1000;
        s.limits.mobile_cooldown_secs = 1;
    })
    .await;
    assert_eq!(app.send_code("13900139000").await["errno"], "0");
    assert_eq!(app.send_code(TEST_MOBILE).await["errno"], "0");
    let reg = json!({"mobile": TEST_MOBILE, "sms_code": TEST_CODE,
        "password": "secret1", "password2": "secret1"});
    assert_eq!(
        errno_json(app.post_json("/api/v1.0/users", &reg).await).await["errno"],
        "0"
    );

    assert_eq!(readyz(&app).await, (200, "ok".to_owned()));

    server.stop();
    let started = std::time::Instant::now();
    assert_eq!(readyz(&app).await.0, 503);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "readyz took {:?}",
        started.elapsed()
    );
    let res = app
        .client
        .get(app.url("/api/v1.0/image_codes/outage"))
        .send()
        .await
        .unwrap();
    let reply = errno_json(res).await;
    assert_eq!(reply["errno"], "4001", "{reply}");
    let reply = app
        .post_json(
            "/api/v1.0/sms_codes",
            &json!({"mobile": "13900139001", "image_code": "ABCD", "image_code_id": "outage"}),
        )
        .await;
    assert_eq!(errno_json(reply).await["errno"], "4001");

    // The captcha's reservation and the send's captcha both failed, and were counted.
    let scrape = app.get_text("/metrics").await;
    for port in ["rate_limiter", "captcha_store"] {
        let line = format!("yanzheng_dependency_errors_total{{port=\"{port}\"}} 1");
        assert!(
            scrape.lines().any(|l| l == line),
            "`{line}` missing:\n{scrape}"
        );
    }

    // A password reset: DBERR too (SPEC §5a: no half-done reset; the old password stays, below).
    let reset = json!({"mobile": TEST_MOBILE, "sms_code": TEST_CODE,
        "password": "brand-new", "password2": "brand-new"});
    let reply = errno_json(app.post_json("/api/v1.0/password_resets", &reset).await).await;
    assert_eq!(reply["errno"], "4001", "{reply}");

    let _server = Server::start(port);
    wait_until_up(&url).await;
    // The first request after the restart may still meet a connection to the old server;
    // within a few tries the pool has replaced them all.
    let mut last = serde_json::Value::Null;
    for _ in 0..5 {
        last = app.send_code("13900139002").await;
        if last["errno"] == "0" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(last["errno"], "0", "recovered: {last}");
    // (The restarted Redis is empty: the code and the sessions are gone, the users are not.)
    for (password, errno) in [("brand-new", "4004"), ("secret1", "0")] {
        let login = json!({"mobile": TEST_MOBILE, "password": password});
        let reply = errno_json(app.post_json("/api/v1.0/sessions", &login).await).await;
        assert_eq!(reply["errno"], errno, "{password}: {reply}");
    }
    assert_eq!(readyz(&app).await, (200, "ok".to_owned()));
}

/// `/readyz`: the status and what it says of the store.
async fn readyz(app: &TestApp) -> (u16, String) {
    let res = app.client.get(app.url("/readyz")).send().await.unwrap();
    let status = res.status().as_u16();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "ok", "{body}");
    let store = body["checks"]["store"].as_str().unwrap().to_owned();
    if status == 503 {
        assert!(matches!(store.as_str(), "error" | "timeout"), "{body}");
    }
    (status, store)
}
