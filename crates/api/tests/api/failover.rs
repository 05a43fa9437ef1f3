//! Black-box: several SMS providers (SPEC §6a) over HTTP — Ronglian first, Tencent second, both
//! wiremock peers. An unavailable provider hands the same code to the next; a provider's own
//! rate limit or refusal ends the send there; when every provider is down the send is THIRDERR,
//! gives the cooldown back and counts once toward the hourly cap; and a provider that keeps
//! failing is skipped by its breaker until one trial send reaches it again. The memory store is
//! enough: what is tested is which provider gets the code, not where the limits live.

use std::time::Duration;

use api::configuration::SettingsFile;
use secrecy::SecretString;
use serde_json::{json, Value};
use wiremock::{MockServer, ResponseTemplate};

use crate::helpers::*;

/// A Ronglian status reply (HTTP 200).
fn ronglian_status(status: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"statusCode": status, "statusMsg": "no"}))
}

/// Ronglian then Tencent, at these peers; `tweak` last.
async fn ronglian_then_tencent(
    ronglian: &MockServer,
    tencent: &MockServer,
    tweak: impl FnOnce(&mut SettingsFile),
) -> TestApp {
    spawn_app_with(|s| {
        use_ronglian(s, ronglian.uri());
        let t = &mut s.sms.tencent;
        t.base_url = tencent.uri();
        t.secret_id = Some("AKIDtest".into());
        t.secret_key = Some(SecretString::from("tencent-key"));
        t.sdk_app_id = Some("1400006666".into());
        t.sign_name = Some("验证".into());
        t.template_id = Some("1234567".into());
        s.sms.providers = Some(vec!["ronglian".into(), "tencent".into()]);
        // Generous, but bounded: a slow machine must not turn a reply into a failover.
        s.sms.ronglian.timeout_ms = 10_000;
        s.sms.tencent.timeout_ms = 10_000;
        tweak(s);
    })
    .await
}

/// A Ronglian peer answering every send with `ronglian`, a Tencent peer answering with
/// `tencent`, and the service sending through them in that order; `tweak` last.
async fn peers_and_app(
    ronglian: ResponseTemplate,
    tencent: ResponseTemplate,
    tweak: impl FnOnce(&mut SettingsFile),
) -> (MockServer, MockServer, TestApp) {
    let ronglian = ronglian_answering(ronglian).await;
    let tencent = tencent_answering(tencent).await;
    let app = ronglian_then_tencent(&ronglian, &tencent, tweak).await;
    (ronglian, tencent, app)
}

/// The bodies `peer` received, as JSON.
async fn bodies(peer: &MockServer) -> Vec<Value> {
    peer.received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

/// The code of each send `peer` received: Ronglian's `datas[0]`, Tencent's
/// `TemplateParamSet[0]`.
async fn codes(peer: &MockServer) -> Vec<String> {
    bodies(peer)
        .await
        .iter()
        .map(|b| {
            let code = b["datas"][0].as_str().or(b["TemplateParamSet"][0].as_str());
            code.unwrap().to_owned()
        })
        .collect()
}

async fn requests(peer: &MockServer) -> usize {
    peer.received_requests().await.unwrap().len()
}

#[tokio::test]
async fn an_unavailable_provider_hands_the_same_code_to_the_next() {
    let (ronglian, tencent, app) =
        peers_and_app(ResponseTemplate::new(503), tencent_sent(), |_| {}).await;
    let r = app.send_code_answer("13700137000").await;
    assert!(r.is_ok(), "{r:?}");
    let (first, second) = (codes(&ronglian).await, codes(&tencent).await);
    assert_eq!(first.len(), 1);
    assert_eq!(first, second, "the same code went to both");
    let tencent_body = &bodies(&tencent).await[0];
    assert_eq!(tencent_body["PhoneNumberSet"], json!(["+8613700137000"]));
    assert_eq!(tencent_body["TemplateParamSet"][1], "5", "the minutes");

    // The code that Tencent delivered is the one that registers.
    let reg = json!({"mobile": "13700137000", "sms_code": second[0],
        "password": "secret1", "password2": "secret1"});
    let reply = errno_json(app.post_json("/api/v1.0/users", &reg).await).await;
    assert_eq!(reply["errno"], "0", "{reply}");

    let text = scrape(&app).await;
    has(
        &text,
        r#"yanzheng_sms_sends_total{provider="ronglian",outcome="unavailable"} 1"#,
    );
    has(
        &text,
        r#"yanzheng_sms_sends_total{provider="tencent",outcome="sent"} 1"#,
    );
    has(
        &text,
        r#"yanzheng_sms_failovers_total{provider="ronglian"} 1"#,
    );
    has(&text, r#"yanzheng_sms_breaker_open{provider="ronglian"} 0"#);
    has(&text, r#"yanzheng_sms_breaker_open{provider="tencent"} 0"#);
}

#[tokio::test]
async fn a_provider_that_hangs_past_its_timeout_hands_over_to_the_next() {
    let (ronglian, tencent, app) = peers_and_app(
        ronglian_sent().set_delay(Duration::from_secs(5)),
        tencent_sent(),
        |s| {
            s.sms.ronglian.timeout_ms = 300;
        },
    )
    .await;
    let r = app.send_code_answer("13700137001").await;
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(requests(&tencent).await, 1);
    assert_eq!(codes(&ronglian).await, codes(&tencent).await);
}

#[tokio::test]
async fn a_first_provider_that_sends_is_the_only_one_asked() {
    let (ronglian, tencent, app) = peers_and_app(ronglian_sent(), tencent_sent(), |_| {}).await;
    assert!(app.send_code_answer("13700137002").await.is_ok());
    assert_eq!(requests(&ronglian).await, 1);
    assert_eq!(requests(&tencent).await, 0);
}

#[tokio::test]
async fn a_provider_rate_limit_is_reqerr_and_never_fails_over() {
    let (ronglian, tencent, app) =
        peers_and_app(ronglian_status("160038"), tencent_sent(), |_| {}).await;
    let r = app.send_code_answer("13700137003").await;
    r.assert_limited("频繁");
    assert_eq!(requests(&ronglian).await, 1);
    assert_eq!(
        requests(&tencent).await,
        0,
        "a rate limit is not failed over"
    );
}

#[tokio::test]
async fn a_provider_refusal_is_thirderr_and_never_fails_over() {
    let (ronglian, tencent, app) =
        peers_and_app(ronglian_status("160042"), tencent_sent(), |_| {}).await;
    let r = app.send_code_answer("13700137004").await;
    assert_eq!(r.errno, "4301", "{r:?}");
    assert!(r.retry_after.is_none(), "{r:?}");
    assert_eq!(requests(&ronglian).await, 1);
    assert_eq!(requests(&tencent).await, 0, "a refusal is not failed over");
}

#[tokio::test]
async fn an_unknown_provider_status_fails_over() {
    let (ronglian, tencent, app) =
        peers_and_app(ronglian_status("999999"), tencent_sent(), |_| {}).await;
    let r = app.send_code_answer("13700137005").await;
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(codes(&ronglian).await, codes(&tencent).await);
}

#[tokio::test]
async fn when_every_provider_is_down_the_send_is_thirderr_and_counts_once() {
    let (ronglian, tencent, app) =
        peers_and_app(ResponseTemplate::new(500), tencent_error(), |s| {
            s.limits.mobile_per_hour = 2;
        })
        .await;
    let m = "13700137006";
    for i in 1..=2 {
        let r = app.send_code_answer(m).await;
        assert_eq!(r.errno, "4301", "send {i}: {r:?}");
        assert!(
            r.retry_after.is_none(),
            "send {i}: the cooldown was given back: {r:?}"
        );
    }
    assert_eq!(requests(&ronglian).await, 2);
    assert_eq!(requests(&tencent).await, 2);
    let refused = app.send_code_answer(m).await;
    let secs = refused.assert_limited("一小时");
    assert!(secs > 60 && secs <= 3600, "{refused:?}");
    assert_eq!(
        requests(&ronglian).await + requests(&tencent).await,
        4,
        "the refused send reached no provider"
    );

    // The withdrawn code does not register.
    let code = &codes(&tencent).await[1];
    let reg = json!({"mobile": m, "sms_code": code, "password": "secret1", "password2": "secret1"});
    let reply = errno_json(app.post_json("/api/v1.0/users", &reg).await).await;
    assert_eq!(reply["errno"], "4002", "no code is stored: {reply}");
}

#[tokio::test]
async fn a_failing_provider_is_skipped_while_its_breaker_is_open_then_tried_once() {
    // Three failures, then Ronglian is back.
    let ronglian = ronglian_failing_then_sent(3, ResponseTemplate::new(503)).await;
    let tencent = tencent_answering(tencent_sent()).await;
    let app = ronglian_then_tencent(&ronglian, &tencent, |s| {
        s.sms.breaker_failures = 2;
        // Open for 3 s: long enough that the sends meant to meet it open are not raced by
        // the window's end on a loaded machine.
        s.sms.breaker_open_secs = 3;
    })
    .await;
    // A new number each time: a successful send starts that number's 60 s cooldown.
    let mut n = 0;
    let mut send_one = || {
        n += 1;
        let mobile = format!("1370013{n:04}");
        let app = &app;
        async move {
            let r = app.send_code_answer(&mobile).await;
            assert!(r.is_ok(), "send {n}: {r:?}");
        }
    };

    send_one().await;
    send_one().await;
    assert_eq!(requests(&ronglian).await, 2, "two failures open it");
    assert_eq!(requests(&tencent).await, 2);
    has(
        &scrape(&app).await,
        r#"yanzheng_sms_breaker_open{provider="ronglian"} 1"#,
    );

    send_one().await;
    send_one().await;
    assert_eq!(requests(&ronglian).await, 2, "skipped while open");
    assert_eq!(requests(&tencent).await, 4);

    tokio::time::sleep(Duration::from_millis(3100)).await;
    send_one().await;
    assert_eq!(
        requests(&ronglian).await,
        3,
        "one trial after the open period"
    );
    assert_eq!(requests(&tencent).await, 5, "the failed trial failed over");
    send_one().await;
    assert_eq!(
        requests(&ronglian).await,
        3,
        "the failed trial opened it again"
    );
    assert_eq!(requests(&tencent).await, 6);

    let text = scrape(&app).await;
    has(
        &text,
        r#"yanzheng_sms_skipped_total{provider="ronglian"} 3"#,
    );
    has(
        &text,
        r#"yanzheng_sms_failovers_total{provider="ronglian"} 3"#,
    );

    tokio::time::sleep(Duration::from_millis(3100)).await;
    send_one().await;
    assert_eq!(requests(&ronglian).await, 4, "the trial that succeeds");
    assert_eq!(requests(&tencent).await, 6, "and needs no failover");
    send_one().await;
    assert_eq!(requests(&ronglian).await, 5, "closed again: Ronglian first");
    assert_eq!(requests(&tencent).await, 6);
    has(
        &scrape(&app).await,
        r#"yanzheng_sms_breaker_open{provider="ronglian"} 0"#,
    );
}

#[tokio::test]
async fn when_every_breaker_is_open_the_send_is_thirderr_without_a_call() {
    let ronglian = ronglian_answering(ResponseTemplate::new(503)).await;
    let app = spawn_app_with(|s| {
        use_ronglian(s, ronglian.uri());
        s.sms.ronglian.timeout_ms = 10_000;
        s.sms.breaker_failures = 1;
    })
    .await;
    let first = app.send_code_answer("13700137010").await;
    assert_eq!(first.errno, "4301", "{first:?}");
    assert_eq!(requests(&ronglian).await, 1, "one failure opens it");

    let m = "13700137011";
    let skipped = app.send_code_answer(m).await;
    assert_eq!(skipped.errno, "4301", "{skipped:?}");
    assert!(skipped.retry_after.is_none(), "{skipped:?}");
    assert_eq!(requests(&ronglian).await, 1, "no provider was called");
    // The cooldown of that number was given back: the next send is not refused by it.
    let again = app.send_code_answer(m).await;
    assert_eq!(again.errno, "4301", "{again:?}");
    assert!(again.retry_after.is_none(), "{again:?}");
    assert_eq!(requests(&ronglian).await, 1);
    has(
        &scrape(&app).await,
        r#"yanzheng_sms_skipped_total{provider="ronglian"} 2"#,
    );
}

#[tokio::test]
async fn the_minutes_sent_are_the_code_lifetime_rounded_up() {
    let ronglian = ronglian_answering(ronglian_sent()).await;
    let app = spawn_app_with(|s| {
        use_ronglian(s, ronglian.uri());
        s.sms.code_ttl_secs = 241;
    })
    .await;
    let r = app.send_code_answer("13700137012").await;
    assert!(r.is_ok(), "{r:?}");
    let body = &bodies(&ronglian).await[0];
    assert_eq!(body["datas"][1], "5", "241 s is 5 minutes, rounded up");
}
