//! The store recovers by itself when Redis comes back: stopped Redis → `Unavailable`, restarted
//! Redis → working again with the same `RedisStore` (deadpool's recycle check replaces the
//! broken connections; the restarted server's empty script cache exercises the EVALSHA → EVAL
//! fallback).
//!
//! This test runs its own throwaway `redis-server` on a free port (never touching the shared
//! one). Set `YZ_TEST_REDIS_SERVER` to the binary if it is not `redis-server` on the PATH.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use domain::{CaptchaId, CaptchaText, Mobile, SendLimits, Timestamp};
use ports::{CaptchaStore, RateLimiter, StoreError};
use redis_captcha::{RedisOptions, RedisStore};

struct Server {
    child: Child,
}

impl Server {
    fn start(port: u16) -> Self {
        let bin = std::env::var("YZ_TEST_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(&bin)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin} (set YZ_TEST_REDIS_SERVER): {e}"));
        Self { child }
    }

    fn stop(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Wait until a server answers PING on `url` (polling; no timing assertion).
async fn wait_until_up(url: &str) {
    for _ in 0..200 {
        if let Ok(client) = deadpool_redis::redis::Client::open(url) {
            if let Ok(mut c) = client.get_multiplexed_async_connection().await {
                let pong: Result<String, _> =
                    deadpool_redis::redis::cmd("PING").query_async(&mut c).await;
                if pong.is_ok() {
                    return;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("test redis-server on {url} did not come up");
}

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
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    let granted = store
        .acquire_send(&m, ip, &SendLimits::default(), Timestamp(now))
        .await?;
    assert!(granted.is_ok());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_recovers_when_redis_comes_back() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let store = RedisStore::connect(
        &url,
        RedisOptions {
            pool_size: 4,
            timeout: Duration::from_secs(2),
            ..RedisOptions::default()
        },
    )
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
    // The first request after the restart already works: pooled connections to the old
    // server are recycled away, the scripts are reloaded.
    use_it(&store, 3_000_000).await.unwrap();
    store.ping().await.unwrap();
}
