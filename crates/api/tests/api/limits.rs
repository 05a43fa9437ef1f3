//! Black-box: the send limits of SPEC §4 over HTTP — per-mobile cooldown, hourly and daily caps,
//! the per-IP cap (socket address, or `X-Forwarded-For` only when trusted), the global breaker,
//! and how provider outcomes interact with them.
//!
//! Most tests run against Redis (`YZ_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`), each
//! under its own random key prefix so they can run in parallel, and most start two `api`
//! instances on that one prefix to show that replicas enforce one limit; the main ones run on
//! a Redis Cluster too (`YZ_TEST_REDIS_CLUSTER_URL`, see [`Redis`]). No assertion depends
//! on timing: tests sleep just past a 1 s cooldown where they need it, and only count replies.

use std::time::Duration;

use crate::helpers::*;
use api::configuration::SettingsFile;
use serde_json::json;
use wiremock::matchers::{body_partial_json, method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Just past a 1 s cooldown.
const PAST_COOLDOWN: Duration = Duration::from_millis(1100);

/// How many concurrent sends the load tests fire.
const CONCURRENT: usize = 30;

/// Start an instance. Store and database timeouts are generous: these tests are about limits,
/// and a busy two-core machine must not turn a slow reply into DBERR. Its requests go through
/// `bare` (a fresh connection each, and sending a code needs no cookie).
async fn node(tweak: impl FnOnce(&mut SettingsFile)) -> TestApp {
    spawn_app_with(|s| {
        s.store.timeout_ms = 10_000;
        s.database.connect_timeout_ms = 10_000;
        s.database.query_timeout_ms = 10_000;
        tweak(s);
    })
    .await
}

/// Two `api` instances (replicas) on one Redis key prefix with the same code secret, each with
/// its own SQLite file. `tweak` applies to both.
pub(crate) async fn two_replicas(
    prefix: &RedisPrefix,
    tweak: impl Fn(&mut SettingsFile),
) -> (TestApp, TestApp) {
    let a = node(|s| {
        prefix.apply(s);
        tweak(s);
    })
    .await;
    let b = node(|s| {
        prefix.apply(s);
        tweak(s);
    })
    .await;
    (a, b)
}

/// Ask `by` for a captcha under a fresh id and return the id (its text is `CAPTCHA`).
async fn issue_captcha(by: &TestApp) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    let res = by
        .bare
        .get(by.url(&format!("/api/v1.0/image_codes/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    id
}

/// POST a send for `mobile` to `to` with a solved captcha `id`, optionally with an
/// `X-Forwarded-For` header.
async fn post_send(to: &TestApp, mobile: &str, id: &str, forwarded_for: Option<&str>) -> Answer {
    let mut req = to
        .bare
        .post(to.url("/api/v1.0/sms_codes"))
        .json(&json!({"mobile": mobile, "image_code": "abcd", "image_code_id": id}));
    if let Some(xff) = forwarded_for {
        req = req.header("X-Forwarded-For", xff);
    }
    Answer::of(req.send().await.unwrap()).await
}

/// A captcha issued by `app` and a send to `app`.
pub(crate) async fn send(app: &TestApp, mobile: &str) -> Answer {
    let id = issue_captcha(app).await;
    post_send(app, mobile, &id, None).await
}

/// The same with an `X-Forwarded-For` header on the send.
pub(crate) async fn send_via(app: &TestApp, mobile: &str, forwarded_for: &str) -> Answer {
    let id = issue_captcha(app).await;
    post_send(app, mobile, &id, Some(forwarded_for)).await
}

/// A distinct valid mobile per `i`.
pub(crate) fn mobile(i: usize) -> String {
    format!("1390000{i:04}")
}

/// Fire `CONCURRENT` sends at once, split across `apps`: captcha `i` is issued by
/// `apps[i % n]` and its send goes to `apps[(i / n) % n]`, so with two replicas half of the
/// sends solve a captcha the other replica issued. `mobile_of(i)` and `xff_of(i)` pick each
/// send's mobile and `X-Forwarded-For`.
pub(crate) async fn concurrent_sends(
    apps: &[&TestApp],
    mobile_of: impl Fn(usize) -> String,
    xff_of: impl Fn(usize) -> Option<String>,
) -> Vec<Answer> {
    let n = apps.len();
    let ids = futures::future::join_all((0..CONCURRENT).map(|i| issue_captcha(apps[i % n]))).await;
    let mobile_of = &mobile_of;
    let xff_of = &xff_of;
    futures::future::join_all(ids.iter().enumerate().map(|(i, id)| async move {
        let xff = xff_of(i);
        post_send(apps[(i / n) % n], &mobile_of(i), id, xff.as_deref()).await
    }))
    .await
}

/// Assert exactly `ok` successes and that every other reply is a refusal naming `words`.
#[track_caller]
pub(crate) fn assert_exactly_ok(replies: &[Answer], ok: usize, words: &str) {
    let granted = replies.iter().filter(|r| r.is_ok()).count();
    assert_eq!(granted, ok, "successes among {replies:#?}");
    for r in replies.iter().filter(|r| !r.is_ok()) {
        r.assert_limited(words);
    }
}

/// The Redis the replicas share: one server (`YZ_TEST_REDIS_URL`), or the Redis Cluster of
/// 3 masters + 3 replicas at `YZ_TEST_REDIS_CLUSTER_URL` (SPEC §6a; `.ci/run` starts one) —
/// every cap is as exact on either. Each test has its own key prefix.
#[derive(Clone, Copy, Debug)]
enum Redis {
    One,
    Cluster,
}

/// The URL of the shared Redis Cluster.
fn shared_cluster() -> String {
    std::env::var("YZ_TEST_REDIS_CLUSTER_URL").expect(
        "YZ_TEST_REDIS_CLUSTER_URL: these tests run on a Redis Cluster; start one with \
         `bash .ci/redis-cluster start /tmp/yz-cluster` and export the URL it prints \
         (bash .ci/run does this)",
    )
}

impl Redis {
    /// For [`two_replicas`]: the store on this Redis (after the prefix's), then `tweak`.
    fn with(self, tweak: impl Fn(&mut SettingsFile)) -> impl Fn(&mut SettingsFile) {
        let url = match self {
            Redis::One => None,
            Redis::Cluster => Some(shared_cluster()),
        };
        move |s: &mut SettingsFile| {
            if let Some(url) = &url {
                s.store.url = secrecy::SecretString::from(url.clone());
            }
            tweak(s);
        }
    }
}

/// One `#[tokio::test]` per [`Redis`] for each `async fn case(redis: Redis)` named:
/// `case::one_redis` and `case::cluster`.
macro_rules! on_each_redis {
    ($($case:ident),+ $(,)?) => {$(
        mod $case {
            #[tokio::test]
            async fn one_redis() {
                super::$case(super::Redis::One).await;
            }

            #[tokio::test]
            async fn cluster() {
                super::$case(super::Redis::Cluster).await;
            }
        }
    )+};
}

// ---------------------------------------------------------------------------------------------
// Two replicas on one Redis or a cluster, under concurrent load.

async fn two_replicas_grant_one_of_thirty_concurrent_sends_for_a_mobile(redis: Redis) {
    let prefix = RedisPrefix::new();
    let (a, b) = two_replicas(&prefix, redis.with(|_| {})).await;
    let replies = concurrent_sends(&[&a, &b], |_| "13900139000".into(), |_| None).await;
    // Every refusal is the cooldown's. (Its Retry-After is not compared with the 60 s: each
    // request reads the clock before its atomic step, so one that read it a moment before the
    // winner's can be told to wait 61 s.)
    assert_exactly_ok(&replies, 1, "发送过于频繁");
}

#[tokio::test]
async fn the_memory_store_grants_one_of_thirty_concurrent_sends_for_a_mobile() {
    let app = node(|_| {}).await;
    let replies = concurrent_sends(&[&app], |_| "13900139000".into(), |_| None).await;
    assert_exactly_ok(&replies, 1, "发送过于频繁");
}

#[tokio::test]
async fn two_replicas_hold_the_hourly_cap_exactly_under_concurrent_load() {
    // Without a cooldown only the hourly cap stands between concurrent sends for one mobile.
    let prefix = RedisPrefix::new();
    let (a, b) = two_replicas(&prefix, |s| {
        s.limits.mobile_cooldown_secs = 0;
        s.limits.mobile_per_hour = 4;
    })
    .await;
    let m = "13900139000";
    let burst = concurrent_sends(&[&a, &b], |_| m.into(), |_| None).await;
    let granted = burst.iter().filter(|r| r.is_ok()).count();
    assert!(
        (1..=4).contains(&granted),
        "never more than the cap: {burst:#?}"
    );
    // Each request reads the clock before its atomic step, so under load one can arrive just
    // after a send stamped a moment later than its own clock reading: with a zero cooldown
    // that is still refused as the cooldown (for about 1 s). Any other refusal is the hourly cap's.
    for r in burst.iter().filter(|r| !r.is_ok()) {
        if r.errmsg.contains("发送过于频繁") {
            r.assert_limited("发送过于频繁");
        } else {
            r.assert_limited("一小时");
        }
    }
    // One at a time, the replicas grant exactly what the burst left of the cap, then refuse.
    let mut total = granted;
    for i in 0.. {
        let r = send([&a, &b][i % 2], m).await;
        if !r.is_ok() {
            r.assert_limited("一小时");
            break;
        }
        total += 1;
        assert!(total <= 4, "more than the cap: {r:?}");
    }
    assert_eq!(total, 4);
}

async fn two_replicas_hold_the_ip_cap_exactly_under_concurrent_load(redis: Redis) {
    let prefix = RedisPrefix::new();
    let (a, b) = two_replicas(&prefix, redis.with(|s| s.limits.ip_per_hour = 5)).await;
    let replies = concurrent_sends(&[&a, &b], mobile, |_| None).await;
    assert_exactly_ok(&replies, 5, "网络");
}

async fn two_replicas_trip_the_global_breaker_exactly_under_concurrent_load(redis: Redis) {
    let prefix = RedisPrefix::new();
    let (a, b) = two_replicas(
        &prefix,
        redis.with(|s| {
            s.server.trust_forwarded_for = true;
            s.limits.global_per_hour = 7;
        }),
    )
    .await;
    let replies = concurrent_sends(&[&a, &b], mobile, |i| Some(format!("10.1.0.{}", i + 1))).await;
    assert_exactly_ok(&replies, 7, "繁忙");
}

// ---------------------------------------------------------------------------------------------
// Each limit on Redis (one or a cluster), one send at a time, alternating between two replicas.

async fn the_hourly_cap_holds_at_mobile_per_hour_across_replicas(redis: Redis) {
    let prefix = RedisPrefix::new();
    let (a, b) = two_replicas(
        &prefix,
        redis.with(|s| {
            s.limits.mobile_cooldown_secs = 1;
            s.limits.mobile_per_hour = 3;
        }),
    )
    .await;
    let m = "13700137000";
    for (i, app) in [&a, &b, &a].into_iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(PAST_COOLDOWN).await;
        }
        let r = send(app, m).await;
        assert!(r.is_ok(), "send {} of 3: {r:?}", i + 1);
    }
    tokio::time::sleep(PAST_COOLDOWN).await;
    let refused = send(&b, m).await;
    let secs = refused.assert_limited("一小时");
    assert!(
        secs > 60 && secs <= 3600,
        "until the first send is an hour old: {refused:?}"
    );
    // The cap is per mobile: another mobile still sends, and this one stays refused.
    assert!(send(&a, "13700137001").await.is_ok());
    send(&a, m).await.assert_limited("一小时");
}

async fn the_daily_cap_holds_at_mobile_per_day_across_replicas(redis: Redis) {
    let prefix = RedisPrefix::new();
    let (a, b) = two_replicas(
        &prefix,
        redis.with(|s| {
            s.limits.mobile_cooldown_secs = 1;
            s.limits.mobile_per_hour = 3;
            s.limits.mobile_per_day = 2;
        }),
    )
    .await;
    let m = "13700137000";
    assert!(send(&a, m).await.is_ok());
    tokio::time::sleep(PAST_COOLDOWN).await;
    assert!(send(&b, m).await.is_ok());
    tokio::time::sleep(PAST_COOLDOWN).await;
    let refused = send(&a, m).await;
    let secs = refused.assert_limited("今日");
    assert!(
        secs > 3600 && secs <= 86_400,
        "until the first send is a day old: {refused:?}"
    );
}

on_each_redis!(
    two_replicas_grant_one_of_thirty_concurrent_sends_for_a_mobile,
    two_replicas_hold_the_ip_cap_exactly_under_concurrent_load,
    two_replicas_trip_the_global_breaker_exactly_under_concurrent_load,
    the_hourly_cap_holds_at_mobile_per_hour_across_replicas,
    the_daily_cap_holds_at_mobile_per_day_across_replicas,
);

#[tokio::test]
async fn the_ip_cap_holds_across_distinct_mobiles_and_replicas() {
    let prefix = RedisPrefix::new();
    let (a, b) = two_replicas(&prefix, |s| s.limits.ip_per_hour = 3).await;
    for (i, app) in [&a, &b, &a].into_iter().enumerate() {
        let r = send(app, &mobile(i)).await;
        assert!(r.is_ok(), "send {} of 3: {r:?}", i + 1);
    }
    let refused = send(&b, &mobile(3)).await;
    let secs = refused.assert_limited("网络");
    assert!(secs > 60 && secs <= 3600, "{refused:?}");
}

#[tokio::test]
async fn trusted_forwarded_for_values_count_as_distinct_ips() {
    let prefix = RedisPrefix::new();
    let (a, b) = two_replicas(&prefix, |s| {
        s.server.trust_forwarded_for = true;
        // Only the peer (the test client) is a proxy, so the 10.x entries are clients.
        s.server.trusted_proxies = vec!["127.0.0.1".into()];
        s.limits.ip_per_hour = 2;
    })
    .await;
    assert!(send_via(&a, &mobile(0), "10.0.0.1").await.is_ok());
    assert!(send_via(&b, &mobile(1), "10.0.0.1").await.is_ok());
    send_via(&a, &mobile(2), "10.0.0.1")
        .await
        .assert_limited("网络");
    // Another forwarded address is another client.
    assert!(send_via(&b, &mobile(3), "10.0.0.2").await.is_ok());
    // The right-most address (the one our proxy appended) counts, not what the client put
    // in front of it.
    send_via(&a, &mobile(4), "203.0.113.9, 10.0.0.1")
        .await
        .assert_limited("网络");
    assert!(send_via(&b, &mobile(5), "10.0.0.1, 10.0.0.3").await.is_ok());
    // Without the header the socket address counts, which is yet another client.
    assert!(send(&a, &mobile(6)).await.is_ok());
}

#[tokio::test]
async fn untrusted_forwarded_for_values_do_not_dodge_the_ip_cap() {
    let prefix = RedisPrefix::new();
    let (a, b) = two_replicas(&prefix, |s| {
        s.server.trust_forwarded_for = false;
        s.limits.ip_per_hour = 2;
    })
    .await;
    assert!(send_via(&a, &mobile(0), "10.0.0.1").await.is_ok());
    assert!(send_via(&b, &mobile(1), "10.0.0.2").await.is_ok());
    send_via(&a, &mobile(2), "10.0.0.3")
        .await
        .assert_limited("网络");
    send(&b, &mobile(3)).await.assert_limited("网络");
}

#[tokio::test]
async fn the_global_breaker_trips_at_global_per_hour_across_mobiles_ips_and_replicas() {
    let prefix = RedisPrefix::new();
    let (a, b) = two_replicas(&prefix, |s| {
        s.server.trust_forwarded_for = true;
        s.limits.global_per_hour = 3;
    })
    .await;
    for (i, app) in [&a, &b, &a].into_iter().enumerate() {
        let r = send_via(app, &mobile(i), &format!("10.2.0.{}", i + 1)).await;
        assert!(r.is_ok(), "send {} of 3: {r:?}", i + 1);
    }
    for (i, app) in [(3, &b), (4, &a)] {
        let refused = send_via(app, &mobile(i), &format!("10.2.0.{}", i + 1)).await;
        let secs = refused.assert_limited("繁忙");
        assert!(secs > 60 && secs <= 3600, "{refused:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// The provider's outcomes and the limits, over HTTP with a Ronglian peer.

/// Which state store an app runs on.
#[derive(Clone, Copy, Debug)]
enum Store {
    Memory,
    Redis,
}

/// One instance on `store` sending through the Ronglian peer at `base`.
async fn node_with_ronglian(
    store: Store,
    prefix: &RedisPrefix,
    base: String,
    tweak: impl FnOnce(&mut SettingsFile),
) -> TestApp {
    node(|s| {
        if let Store::Redis = store {
            prefix.apply(s);
        }
        use_ronglian(s, base);
        s.sms.ronglian.connect_timeout_ms = 10_000;
        s.sms.ronglian.timeout_ms = 10_000;
        tweak(s);
    })
    .await
}

async fn provider_failures_lift_the_cooldown_but_count_toward_the_hourly_cap(store: Store) {
    let prefix = RedisPrefix::new();
    let peer = ronglian_answering(ResponseTemplate::new(503)).await;
    let app = node_with_ronglian(store, &prefix, peer.uri(), |s| {
        s.limits.mobile_per_hour = 3;
    })
    .await;
    let m = "13700137000";
    for i in 0..3 {
        let r = send(&app, m).await;
        assert_eq!(r.errno, "4301", "failure {} retries at once: {r:?}", i + 1);
        assert!(r.retry_after.is_none(), "{r:?}");
    }
    let refused = send(&app, m).await;
    let secs = refused.assert_limited("一小时");
    assert!(secs > 60 && secs <= 3600, "{refused:?}");
    assert_eq!(
        peer.received_requests().await.unwrap().len(),
        3,
        "the refused send never reached the provider"
    );
}

#[tokio::test]
async fn provider_failures_lift_the_cooldown_but_count_toward_the_hourly_cap_on_redis() {
    provider_failures_lift_the_cooldown_but_count_toward_the_hourly_cap(Store::Redis).await;
}

#[tokio::test]
async fn provider_failures_lift_the_cooldown_but_count_toward_the_hourly_cap_in_memory() {
    provider_failures_lift_the_cooldown_but_count_toward_the_hourly_cap(Store::Memory).await;
}

#[tokio::test]
async fn provider_failures_count_toward_the_daily_cap() {
    let prefix = RedisPrefix::new();
    let peer = ronglian_answering(ResponseTemplate::new(500)).await;
    let app = node_with_ronglian(Store::Redis, &prefix, peer.uri(), |s| {
        s.limits.mobile_per_hour = 5;
        s.limits.mobile_per_day = 2;
    })
    .await;
    let m = "13700137000";
    assert_eq!(send(&app, m).await.errno, "4301");
    assert_eq!(send(&app, m).await.errno, "4301");
    send(&app, m).await.assert_limited("今日");
}

async fn after_a_failure_the_mobile_sends_at_once_and_after_a_success_it_waits(store: Store) {
    let prefix = RedisPrefix::new();
    // The first request fails, every later one succeeds.
    let peer = ronglian_failing_then_sent(1, ResponseTemplate::new(502)).await;
    let app = node_with_ronglian(store, &prefix, peer.uri(), |_| {}).await;
    let m = "13700137000";
    let failed = send(&app, m).await;
    assert_eq!(failed.errno, "4301", "{failed:?}");
    let sent = send(&app, m).await;
    assert!(sent.is_ok(), "no cooldown after a failure: {sent:?}");
    let refused = send(&app, m).await;
    let secs = refused.assert_limited("发送过于频繁");
    // The 60 s cooldown, less the moment since the success (generously bounded: a loaded
    // machine may take a while between the two requests).
    assert!(
        (30..=60).contains(&secs),
        "the 60 s cooldown after a success: {refused:?}"
    );
    assert_eq!(peer.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn after_a_failure_the_mobile_sends_at_once_and_after_a_success_it_waits_on_redis() {
    after_a_failure_the_mobile_sends_at_once_and_after_a_success_it_waits(Store::Redis).await;
}

#[tokio::test]
async fn after_a_failure_the_mobile_sends_at_once_and_after_a_success_it_waits_in_memory() {
    after_a_failure_the_mobile_sends_at_once_and_after_a_success_it_waits(Store::Memory).await;
}

#[tokio::test]
async fn a_provider_refusal_is_thirderr_and_lifts_the_cooldown() {
    let prefix = RedisPrefix::new();
    let peer = ronglian_answering(
        ResponseTemplate::new(200)
            .set_body_json(json!({"statusCode": "160042", "statusMsg": "号码格式有误"})),
    )
    .await;
    let app = node_with_ronglian(Store::Redis, &prefix, peer.uri(), |_| {}).await;
    for _ in 0..2 {
        let r = send(&app, "13700137000").await;
        assert_eq!(r.errno, "4301", "{r:?}");
    }
}

#[tokio::test]
async fn provider_rate_limit_statuses_are_reqerr_with_retry_after() {
    let prefix = RedisPrefix::new();
    let peer = MockServer::start().await;
    let statuses = ["160038", "160039", "160040", "160041", "111111"];
    for (i, status) in statuses.iter().enumerate() {
        Mock::given(method("POST"))
            .and(path_regex(RONGLIAN_PATH))
            .and(body_partial_json(json!({"to": mobile(i)})))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"statusCode": status, "statusMsg": "too often"})),
            )
            .mount(&peer)
            .await;
    }
    let app = node_with_ronglian(Store::Redis, &prefix, peer.uri(), |_| {}).await;
    for (i, status) in statuses.iter().enumerate() {
        let r = send(&app, &mobile(i)).await;
        assert_eq!(r.errno, "4201", "status {status}: {r:?}");
        r.assert_limited("频繁");
    }
    assert_eq!(
        peer.received_requests().await.unwrap().len(),
        statuses.len()
    );
}
