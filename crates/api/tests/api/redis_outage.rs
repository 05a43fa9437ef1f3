//! Redis stops under a running service: sends answer DBERR (bounded by `store.timeout_ms`, never
//! a hang) and the service recovers by itself when Redis returns. Uses a private redis-server on
//! a free port, never the shared one.

use std::time::Duration;

use crate::helpers::*;
use redis_captcha::testing::{free_port, wait_until_up, Server};
use secrecy::SecretString;

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

    server.stop();
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
            &serde_json::json!({"mobile": "13900139001", "image_code": "ABCD", "image_code_id": "outage"}),
        )
        .await;
    assert_eq!(errno_json(reply).await["errno"], "4001");

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
}
