//! Shared helpers for the Redis adapter tests: every test gets its own random key prefix on the
//! local Redis (`YZ_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`), so tests run in
//! parallel, and deletes its keys when it ends.

use std::time::Duration;

use deadpool_redis::redis::{self, aio::MultiplexedConnection, AsyncCommands};
use redis_captcha::{RedisOptions, RedisStore, RedisUrl};

pub fn redis_url() -> String {
    std::env::var("YZ_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

pub fn parse_url(url: &str) -> RedisUrl {
    RedisUrl::parse(url).unwrap()
}

/// A fresh prefix like `yztest-5f3a9c0e1b2d4a67`.
pub fn random_prefix() -> String {
    format!("yztest-{:016x}", rand::random::<u64>())
}

/// Options for tests: a generous timeout, since the machine is shared and noisy.
pub fn options(prefix: &str) -> RedisOptions {
    RedisOptions {
        key_prefix: prefix.to_owned(),
        pool_size: 8,
        timeout: Duration::from_secs(5),
    }
}

/// A raw connection for inspecting keys.
pub async fn raw(url: &str) -> MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Every key under `prefix`, sorted.
pub async fn keys_under(conn: &mut MultiplexedConnection, prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut iter: redis::AsyncIter<'_, String> =
        conn.scan_match(format!("{prefix}:*")).await.unwrap();
    while let Some(k) = iter.next_item().await {
        out.push(k.unwrap());
    }
    out.sort();
    out
}

/// A store on the test Redis under a fresh prefix; `cleanup` deletes what it wrote.
pub struct TestStore {
    pub store: RedisStore,
    pub prefix: String,
    pub url: String,
}

impl TestStore {
    pub async fn new() -> Self {
        let url = redis_url();
        let prefix = random_prefix();
        let store = RedisStore::connect(&parse_url(&url), options(&prefix))
            .await
            .unwrap();
        Self { store, prefix, url }
    }

    pub async fn cleanup(&self) {
        let mut conn = raw(&self.url).await;
        let keys = keys_under(&mut conn, &self.prefix).await;
        if !keys.is_empty() {
            let _: () = conn.del(keys).await.unwrap();
        }
    }
}
