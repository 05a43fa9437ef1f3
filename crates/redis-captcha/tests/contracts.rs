//! The shared port contracts (`port_contracts::stores`) against the Redis adapter, each suite
//! on its own key prefix.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use common::TestStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn captcha_store_contract() {
    let t = TestStore::new();
    port_contracts::stores::captcha_store(t.store.clone()).await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn code_store_contract() {
    let t = TestStore::new();
    port_contracts::stores::code_store(t.store.clone()).await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rate_limiter_contract() {
    let t = TestStore::new();
    port_contracts::stores::rate_limiter(t.store.clone()).await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn session_store_contract() {
    let t = TestStore::new();
    port_contracts::stores::session_store(t.store.clone()).await;
    t.cleanup().await;
}
