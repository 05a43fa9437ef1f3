//! The store recovers by itself when Redis comes back: stopped Redis → `Unavailable`, restarted
//! Redis → working again with the same `RedisStore` (an operation that meets the closed
//! connection forgets it and the next one reconnects; the restarted server's empty script cache
//! exercises the EVALSHA → EVAL fallback).
//!
//! This test runs its own throwaway `redis-server` on a free port (never touching the shared
//! one). Set `YZ_TEST_REDIS_SERVER` to the binary if it is not `redis-server` on the PATH.

use std::time::Duration;

use domain::{CaptchaId, CaptchaText, ClientNet, CodeDigest, Mobile, SendLimits, Timestamp};
use ports::{CaptchaStore, NewCode, RateLimiter, StoreError};
use redis_captcha::testing::{free_port, wait_until_up, Server};
use redis_captcha::{RedisOptions, RedisStore, RedisUrl};

async fn use_it(store: &RedisStore, now: u64) -> Result<(), StoreError> {
    let id = CaptchaId::parse("recovery").unwrap();
    store
        .put(
            &id,
            &CaptchaText::parse("ABCD").unwrap(),
            Duration::from_secs(60),
        )
        .await?;
    assert_eq!(
        store.take(&id).await?.as_ref().map(CaptchaText::as_str),
        Some("ABCD")
    );
    let m = Mobile::parse("13800138000").unwrap();
    let ip = ClientNet::of("192.0.2.1".parse().unwrap(), 64);
    let granted = store
        .acquire_send(
            &m,
            ip,
            &SendLimits::default(),
            Timestamp(now),
            &NewCode {
                digest: CodeDigest([1; 32]),
                ttl: Duration::from_secs(60),
            },
        )
        .await?;
    assert!(granted.is_ok());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_recovers_when_redis_comes_back() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let store = RedisStore::connect(
        &RedisUrl::parse(&url).unwrap(),
        RedisOptions {
            pool_size: 4,
            timeout: Duration::from_secs(2),
            ..RedisOptions::default()
        },
    )
    .await
    .unwrap();

    // Built before the server exists: requests fail, construction did not.
    assert!(matches!(
        store.ping().await,
        Err(StoreError::Unavailable(_))
    ));

    let server = Server::start(port);
    wait_until_up(&url).await;
    use_it(&store, 1_000_000).await.unwrap();

    server.stop();
    assert!(matches!(
        use_it(&store, 2_000_000).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.ping().await,
        Err(StoreError::Unavailable(_))
    ));

    let _server = Server::start(port);
    wait_until_up(&url).await;
    // The first request after the restart already works: the operations that failed during
    // the outage forgot the connection to the old server, and the scripts are reloaded.
    use_it(&store, 3_000_000).await.unwrap();
    store.ping().await.unwrap();
}
