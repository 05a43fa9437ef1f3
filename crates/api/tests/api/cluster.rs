//! Black-box: two `api` instances on a Redis Cluster of 3 masters + 3 replicas (SPEC §6a) when
//! a master is killed: the service answers DBERR within its store timeout while the replica is
//! promoted, and works again afterwards without a restart. The test starts a private cluster it
//! can break. (That every send limit is as exact on a cluster as on one server is tested in
//! `limits`, on the shared cluster at `YZ_TEST_REDIS_CLUSTER_URL`.)

use std::time::{Duration, Instant};

use crate::helpers::*;
use crate::limits::{mobile, send_via, two_replicas};
use redis_captcha::testing::Cluster;

/// A whole send — its captcha issued, then the send — through `app`, from client `xff`: the
/// errno of whichever step answered last (the captcha's issue fails as DBERR too when its
/// keys were on the lost master).
async fn attempt(app: &TestApp, mobile: &str, xff: &str) -> Answer {
    let id = uuid::Uuid::new_v4().to_string();
    let captcha = app
        .bare
        .get(app.url(&format!("/api/v1.0/image_codes/{id}")))
        .header("X-Forwarded-For", xff)
        .send()
        .await
        .unwrap();
    if captcha.headers()["content-type"] != "image/png" {
        return Answer::of(captcha).await;
    }
    let send = app
        .bare
        .post(app.url("/api/v1.0/sms_codes"))
        .header("X-Forwarded-For", xff)
        .json(&serde_json::json!({"mobile": mobile, "image_code": "abcd", "image_code_id": id}))
        .send()
        .await
        .unwrap();
    Answer::of(send).await
}

/// A master that holds a hot mobile's keys is killed (SIGKILL) under two running instances:
/// sends for that mobile answer DBERR within the store's timeout (a bounded wait, never a
/// hang) while its replica is promoted, then succeed again on the same instances.
#[tokio::test]
async fn a_killed_master_is_dberr_within_the_store_timeout_and_the_service_recovers() {
    let cluster = Cluster::start();
    let prefix = RedisPrefix::new();
    let timeout = Duration::from_millis(800);
    let url = cluster.url().to_owned();
    let (a, b) = two_replicas(&prefix, move |s| {
        s.store.url = secrecy::SecretString::from(url.clone());
        s.store.timeout_ms = u64::try_from(timeout.as_millis()).unwrap();
        s.server.trust_forwarded_for = true;
    })
    .await;
    // Warm: both instances have connections and the slot map.
    assert!(send_via(&a, &mobile(1), "10.3.0.1").await.is_ok());
    assert!(send_via(&b, &mobile(2), "10.3.0.2").await.is_ok());

    let hot = "13900139200";
    cluster.kill_master_of(&format!("{}:{{m:{hot}}}:code", prefix.as_str()));
    for (n, app) in [&a, &b].into_iter().enumerate() {
        let started = Instant::now();
        let reply = attempt(app, hot, &format!("10.3.1.{n}")).await;
        let took = started.elapsed();
        assert_eq!(
            reply.errno, "4001",
            "DBERR while the master is gone: {reply:?}"
        );
        // The first store operation that meets the lost master fails, within the timeout.
        // Generous, as the machine is shared: the point is "bounded, no hang".
        assert!(took < timeout * 3 + Duration::from_secs(2), "took {took:?}");
    }

    let mut recovered = None;
    for n in 0..120 {
        let reply = attempt([&a, &b][n % 2], hot, "10.3.2.1").await;
        if reply.is_ok() {
            recovered = Some(n);
            break;
        }
        assert_eq!(
            reply.errno, "4001",
            "only DBERR until it recovers: {reply:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        recovered.is_some(),
        "the service works again once the replica is promoted"
    );
    // The limits still hold on the promoted replica: the cooldown of the send just made.
    send_via(&b, hot, "10.3.2.2")
        .await
        .assert_limited("发送过于频繁");
}
