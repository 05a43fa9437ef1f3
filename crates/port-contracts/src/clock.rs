use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use domain::Timestamp;
use ports::Clock;

/// A clock that moves only when a test says so: [`FakeClock::set`] or [`FakeClock::advance`].
#[derive(Debug)]
pub struct FakeClock(AtomicU64);

impl FakeClock {
    /// A clock reading `t` until told otherwise.
    pub fn at(t: Timestamp) -> Self {
        Self(AtomicU64::new(t.millis()))
    }

    pub fn set(&self, t: Timestamp) {
        self.0.store(t.millis(), Ordering::SeqCst);
    }

    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(domain::millis(d), Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}
