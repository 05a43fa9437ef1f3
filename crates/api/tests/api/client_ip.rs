//! Black-box: a forged `X-Forwarded-For` does not escape the per-IP send limit (SPEC §4a). The
//! header is read only when `server.trust_forwarded_for` is on and the socket peer (here the
//! test client, 127.0.0.1) is one of `server.trusted_proxies`; it is walked from the right.
//!
//! Each test sends codes for distinct mobiles (so only the per-IP cap can refuse) with
//! `limits.ip_per_hour = 3`, rotating whatever the client controls, and shows both sides: what a
//! forger rotates does not buy a fourth send, and what the rule does take as the client does
//! (so the refusals are the header being judged, not the header being ignored by accident).

use crate::helpers::*;
use api::configuration::SettingsFile;
use serde_json::{json, Value};

const CAP: usize = 3;

async fn app(tweak: impl FnOnce(&mut SettingsFile)) -> TestApp {
    spawn_app_with(|s| {
        s.limits.ip_per_hour = u32::try_from(CAP).unwrap();
        s.server.trust_forwarded_for = true;
        tweak(s);
    })
    .await
}

/// A distinct valid mobile per `i`.
fn mobile(i: usize) -> String {
    format!("1390000{i:04}")
}

/// Send a code for `mobile` with a fresh captcha and these `X-Forwarded-For` header lines.
async fn send(app: &TestApp, mobile: &str, forwarded_for: &[&str]) -> Value {
    let id = uuid::Uuid::new_v4().to_string();
    app.captcha(&id).await;
    let mut req = app
        .client
        .post(app.url("/api/v1.0/sms_codes"))
        .json(&json!({"mobile": mobile, "image_code": "abcd", "image_code_id": id}));
    for line in forwarded_for {
        req = req.header("X-Forwarded-For", *line);
    }
    errno_json(req.send().await.unwrap()).await
}

#[track_caller]
fn assert_ok(reply: &Value) {
    assert_eq!(reply["errno"], "0", "{reply}");
}

/// The per-IP refusal: REQERR naming the network.
#[track_caller]
fn assert_ip_limited(reply: &Value) {
    assert_eq!(reply["errno"], "4201", "{reply}");
    let msg = reply["errmsg"].as_str().unwrap();
    assert!(msg.contains("网络"), "{reply}");
}

#[tokio::test]
async fn a_rotated_left_most_entry_does_not_escape_the_limit_behind_a_fixed_client() {
    // The client writes `X-Forwarded-For: <spoof>`; our (trusted, loopback) proxy appends the
    // address it saw: 203.0.113.7.
    let app = app(|_| {}).await;
    for i in 0..CAP {
        let xff = format!("198.51.100.{}, 203.0.113.7", i + 1);
        assert_ok(&send(&app, &mobile(i), &[&xff]).await);
    }
    assert_ip_limited(&send(&app, &mobile(10), &["198.51.100.99, 203.0.113.7"]).await);
    // Also when the spoof comes as its own header line before the proxy's.
    assert_ip_limited(&send(&app, &mobile(11), &["198.51.100.98", "203.0.113.7"]).await);
    // The right-most untrusted entry is the client: another one is another client.
    assert_ok(&send(&app, &mobile(12), &["198.51.100.99, 203.0.113.8"]).await);
}

#[tokio::test]
async fn an_entry_that_does_not_parse_makes_the_trusted_peer_the_client() {
    // `<spoof>, unknown`: the walk stops at `unknown`; the last trusted hop is the peer itself.
    let app = app(|_| {}).await;
    for i in 0..CAP {
        let xff = format!("198.51.100.{}, unknown", i + 1);
        assert_ok(&send(&app, &mobile(i), &[&xff]).await);
    }
    assert_ip_limited(&send(&app, &mobile(10), &["198.51.100.99, unknown"]).await);
    for (i, junk) in ["198.51.100.97, ", "198.51.100.96, not-an-address"]
        .into_iter()
        .enumerate()
    {
        assert_ip_limited(&send(&app, &mobile(20 + i), &[junk]).await);
    }
    // Those sends were counted against the peer: without the header it is refused too.
    assert_ip_limited(&send(&app, &mobile(12), &[]).await);
    // A well-formed header still names another client.
    assert_ok(&send(&app, &mobile(13), &["198.51.100.99"]).await);
}

#[tokio::test]
async fn the_header_is_ignored_when_the_peer_is_not_a_trusted_proxy() {
    // Loopback (the test client) is not among the trusted proxies: it is a client reaching the
    // replica directly, and picks nothing.
    let app = app(|s| s.server.trusted_proxies = vec!["10.0.0.0/8".into()]).await;
    for i in 0..CAP {
        let xff = format!("198.51.100.{}", i + 1);
        assert_ok(&send(&app, &mobile(i), &[&xff]).await);
    }
    for (i, xff) in ["198.51.100.99", "198.51.100.9, 203.0.113.7", "10.0.0.1"]
        .into_iter()
        .enumerate()
    {
        assert_ip_limited(&send(&app, &mobile(10 + i), &[xff]).await);
    }
    assert_ip_limited(&send(&app, &mobile(20), &[]).await);
}
