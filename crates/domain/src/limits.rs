use std::time::Duration;

/// The SMS-send limits of SPEC §4. Windows are sliding: "5 per hour" means at most 5 sends in
/// any 60-minute span, so there is no burst at a window edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendLimits {
    pub mobile_cooldown: Duration,
    pub mobile_per_hour: u32,
    pub mobile_per_day: u32,
    pub ip_per_hour: u32,
    pub global_per_hour: u32,
}

impl Default for SendLimits {
    fn default() -> Self {
        Self {
            mobile_cooldown: Duration::from_secs(60),
            mobile_per_hour: 5,
            mobile_per_day: 10,
            ip_per_hour: 20,
            global_per_hour: 1000,
        }
    }
}

/// Sign-in lockout: `max_failures` failed sign-ins from one IP within `window` lock that IP out
/// until the window (which starts at the first failure) ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginLimits {
    pub max_failures: u32,
    pub window: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            max_failures: 5,
            window: Duration::from_secs(600),
        }
    }
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitKind {
    MobileCooldown,
    MobileHourly,
    MobileDaily,
    IpHourly,
    GlobalHourly,
    LoginLockout,
    /// The SMS provider itself said "too many".
    Provider,
}

impl LimitKind {
    /// A stable label for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::MobileCooldown => "mobile_cooldown",
            LimitKind::MobileHourly => "mobile_hourly",
            LimitKind::MobileDaily => "mobile_daily",
            LimitKind::IpHourly => "ip_hourly",
            LimitKind::GlobalHourly => "global_hourly",
            LimitKind::LoginLockout => "login_lockout",
            LimitKind::Provider => "provider",
        }
    }
}

/// A refused request: which limit, and how long until trying again can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub limit: LimitKind,
    pub retry_after: Duration,
}

impl Refusal {
    /// Whole seconds for `Retry-After`, rounded up and at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        let ms = self.retry_after.as_millis() as u64;
        ms.div_ceil(1000).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let r = |ms| Refusal {
            limit: LimitKind::MobileCooldown,
            retry_after: Duration::from_millis(ms),
        };
        assert_eq!(r(0).retry_after_secs(), 1);
        assert_eq!(r(1).retry_after_secs(), 1);
        assert_eq!(r(1000).retry_after_secs(), 1);
        assert_eq!(r(1001).retry_after_secs(), 2);
        assert_eq!(r(59_999).retry_after_secs(), 60);
    }
}
