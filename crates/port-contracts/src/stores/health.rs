//! Contract suite for [`Health`] on a store: the readiness probe's question.
//! (A store that is down answers `Err` within its timeout: each adapter's own outage tests.)

use ports::Health;

use super::ok;

/// A reachable store answers its health check, and keeps answering.
pub async fn a_reachable_store_answers_its_health_check<S: Health>(store: S) {
    for _ in 0..3 {
        ok(store.check().await, "health check");
    }
}
