//! The shared store contract suites against a Redis Cluster of 3 masters + 3 replicas (the
//! third adapter configuration, beside the memory store and one Redis server), and what only a
//! cluster shows: the keys of one mobile in one slot, a master lost and the store recovering
//! on its own once its replica has taken over.
//!
//! The suites use the cluster at `YZ_TEST_REDIS_CLUSTER_URL` (`.ci/run` starts one with
//! `bash .ci/redis-cluster start DIR`); the failover test starts a private one it can break.

use std::future::Future;
use std::time::Duration;

use domain::{CaptchaId, CaptchaText, ClientNet, CodeDigest, Mobile, SendLimits, Timestamp};
use ports::{CaptchaStore, NewCode, RateLimiter, StoreError};
use redis_captcha::testing::Cluster;
use redis_captcha::{RedisOptions, RedisStore, RedisUrl};

use crate::common::{options, random_prefix};

fn cluster_url() -> String {
    std::env::var("YZ_TEST_REDIS_CLUSTER_URL").expect(
        "YZ_TEST_REDIS_CLUSTER_URL: the store contract suites run against a Redis Cluster too; \
         start one with `bash .ci/redis-cluster start /tmp/yz-cluster` and export the URL it \
         prints (bash .ci/run does this)",
    )
}

async fn with_store<F, Fut>(rule: F)
where
    F: FnOnce(RedisStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let url = RedisUrl::parse(&cluster_url()).unwrap();
    assert!(url.is_cluster());
    // Every rule under its own prefix; the cluster is thrown away afterwards, so nothing is
    // cleaned up here (every key has a TTL anyway).
    let store = RedisStore::connect(&url, options(&random_prefix()))
        .await
        .unwrap();
    rule(store).await;
}

mod contracts {
    use super::with_store;
    port_contracts::store_contract_tests!(with_store);
}

/// A master dies: operations on its slots fail as `Unavailable` within the store's timeout
/// (never hang) while the other masters' slots keep working, and once its replica is promoted
/// they work again on the same store value — no restart, no new store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_master_is_unavailable_within_the_timeout_then_its_replica_takes_over() {
    let cluster = Cluster::start();
    let timeout = Duration::from_millis(500);
    // A prefix whose global send window lives on another master than the hot captcha's.
    let prefix = std::iter::repeat_with(random_prefix)
        .find(|p| {
            cluster.master_port_of(&format!("{p}:global:hour"))
                != cluster.master_port_of(&format!("{p}:captcha:hot-captcha"))
        })
        .unwrap();
    let opts = RedisOptions {
        timeout,
        ..options(&prefix)
    };
    let store = RedisStore::connect(&RedisUrl::parse(cluster.url()).unwrap(), opts.clone())
        .await
        .unwrap();
    let id = CaptchaId::parse("hot-captcha").unwrap();
    let text = CaptchaText::parse("AB3D").unwrap();
    let put = |store: RedisStore| {
        let (id, text) = (id.clone(), text.clone());
        async move { CaptchaStore::put(&store, &id, &text, Duration::from_secs(60)).await }
    };
    put(store.clone()).await.unwrap();

    let key = |id: &str| format!("{}:captcha:{id}", opts.key_prefix);
    let killed = cluster.master_port_of(&key("hot-captcha"));
    let elsewhere = (0..)
        .map(|n| format!("cold-{n}"))
        .find(|id| cluster.master_port_of(&key(id)) != killed)
        .unwrap();
    let elsewhere = CaptchaId::parse(&elsewhere).unwrap();
    // A mobile whose keys are on the master to be lost, one whose keys are not, and a client
    // whose window is not either.
    let on = |m: &str| cluster.master_port_of(&format!("{}:{{m:{m}}}:code", opts.key_prefix));
    let mobiles = (0..100u64).map(|n| format!("{}", 13_800_000_000 + n));
    let (lost, live): (Vec<String>, Vec<String>) = mobiles.partition(|m| on(m) == killed);
    let (lost, live) = (
        Mobile::parse(&lost[0]).unwrap(),
        Mobile::parse(&live[0]).unwrap(),
    );
    let client = (1..=250u8)
        .map(|n| ClientNet::of(std::net::IpAddr::from([10, 9, 0, n]), 64))
        .find(|c| cluster.master_port_of(&format!("{}:ip:{c}:hour", opts.key_prefix)) != killed)
        .unwrap();
    let one_send = SendLimits {
        ip_per_hour: 1,
        global_per_hour: 1,
        ..SendLimits::default()
    };
    let code = NewCode {
        digest: CodeDigest([7; 32]),
        ttl: Duration::from_secs(60),
    };
    let send = |m: Mobile| {
        let (store, one_send, code) = (store.clone(), one_send.clone(), code);
        async move {
            store
                .acquire_send(&m, client, &one_send, Timestamp(1_750_000_000_000), &code)
                .await
        }
    };
    assert_eq!(cluster.kill_master_of(&key("hot-captcha")), killed);
    // While the replica has not taken over: refused within the bound (plus scheduling slack).
    let started = std::time::Instant::now();
    let during = put(store.clone()).await;
    assert!(
        matches!(during, Err(StoreError::Unavailable(_))),
        "a lost master's slots are unavailable: {during:?}"
    );
    assert!(
        started.elapsed() < timeout * 4,
        "answered within the store timeout, not hung: {:?}",
        started.elapsed()
    );
    // A send whose windows (on live masters) reserved but whose mobile's slot is lost fails,
    // and gives the windows back: with caps of one, another mobile's send from the same client
    // is admitted (once the give-back, which runs in the background, is done).
    let failed = send(lost.clone()).await;
    assert!(
        matches!(failed, Err(StoreError::Unavailable(_))),
        "{failed:?}"
    );
    let mut admitted = false;
    for _ in 0..40 {
        if let Ok(Ok(_)) = send(live.clone()).await {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        admitted,
        "a failed send's window reservations are given back, not left counted for an hour"
    );
    // The other masters' slots keep working meanwhile, on the same connections.
    let mut served = false;
    for _ in 0..3 {
        if CaptchaStore::put(&store, &elsewhere, &text, Duration::from_secs(60))
            .await
            .is_ok()
        {
            served = true;
            break;
        }
    }
    assert!(
        served,
        "a live master's slots are served while another master is down"
    );
    // Then it recovers on its own.
    let mut recovered = false;
    for _ in 0..120 {
        if put(store.clone()).await.is_ok() {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        recovered,
        "the store works again once the replica is promoted"
    );
    assert_eq!(store.take(&id).await.unwrap(), Some(text));
    // The keys one script is given share a slot: a mobile's by its `{m:…}` hash tag.
    let slot = cluster.slot_of("yz:{m:13800138000}:code");
    for what in ["cool", "sends", "login"] {
        assert_eq!(
            cluster.slot_of(&format!("yz:{{m:13800138000}}:{what}")),
            slot
        );
    }
}
