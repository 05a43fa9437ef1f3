use std::time::Duration;

/// Milliseconds since the Unix epoch, as read from the clock port. Plain data so that limits
/// can be computed and tested without a real clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub fn millis(self) -> u64 {
        self.0
    }
}

/// `d` in whole milliseconds, saturating at `u64::MAX` (no lifetime or window is that long).
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// One hour in milliseconds: the window of the hourly send limits.
pub const HOUR_MS: u64 = 3_600_000;
/// One day in milliseconds: the window of the daily send limit.
pub const DAY_MS: u64 = 86_400_000;
