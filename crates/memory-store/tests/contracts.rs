//! The shared store contract suites, one test per rule, against [`MemoryStore`] with the real
//! clock (the TTL rules sleep).

use std::future::Future;
use std::sync::Arc;

use memory_store::MemoryStore;
use platform::SystemClock;

async fn with_store<F, Fut>(rule: F)
where
    F: FnOnce(MemoryStore) -> Fut,
    Fut: Future<Output = ()>,
{
    rule(MemoryStore::new(Arc::new(SystemClock))).await;
}

port_contracts::store_contract_tests!(with_store);
