//! The shared store contract suites, one test per rule, against the Redis adapter; each rule
//! on its own key prefix, deleted afterwards.

use std::future::Future;

use crate::common::TestStore;
use redis_captcha::RedisStore;

async fn with_store<F, Fut>(rule: F)
where
    F: FnOnce(RedisStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let t = TestStore::new().await;
    rule(t.store.clone()).await;
    t.cleanup().await;
}

port_contracts::store_contract_tests!(with_store);
