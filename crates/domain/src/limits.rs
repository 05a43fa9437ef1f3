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

/// Sign-in lockout (SPEC §4a): `per_ip` failed sign-ins from one client, or `per_mobile` for one
/// account, within `window` lock that client or account out until the window (which starts at
/// the first failure) ends. Every attempt counts as a failure from the moment it is admitted
/// until it succeeds, so concurrent attempts cannot overrun a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginLimits {
    pub per_ip: u32,
    pub per_mobile: u32,
    pub window: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            per_ip: 5,
            per_mobile: 10,
            window: Duration::from_secs(600),
        }
    }
}

/// Captchas issued per client per minute (SPEC §4a), sliding like the send windows.
pub const CAPTCHA_WINDOW: Duration = Duration::from_secs(60);

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitKind {
    MobileCooldown,
    MobileHourly,
    MobileDaily,
    IpHourly,
    GlobalHourly,
    /// Too many failed sign-ins from this client.
    LoginLockout,
    /// Too many failed sign-ins for this account.
    AccountLockout,
    /// Too many captchas for this client in the last minute.
    CaptchaPerMinute,
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
            LimitKind::AccountLockout => "account_lockout",
            LimitKind::CaptchaPerMinute => "captcha_per_minute",
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
