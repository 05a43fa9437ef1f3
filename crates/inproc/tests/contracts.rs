//! The shared store contract suites, run against [`MemoryStore`] with the real clock.

use std::sync::Arc;

use inproc::{MemoryStore, SystemClock};
use port_contracts::stores;

fn store() -> MemoryStore {
    MemoryStore::new(Arc::new(SystemClock))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn captcha_store_contract() {
    stores::captcha_store(store()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn code_store_contract() {
    stores::code_store(store()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rate_limiter_contract() {
    stores::rate_limiter(store()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn session_store_contract() {
    stores::session_store(store()).await;
}
