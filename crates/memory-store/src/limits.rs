//! The limiter's state and rules: sliding-window logs per mobile, per client and for the
//! whole process, captcha logs per client, and the sign-in windows per client and per account.
//! Everything is judged from the `now` the caller passes, exactly as documented on
//! [`ports::RateLimiter`]; one `LimitState` sits under one lock, so each check-and-count is one
//! atomic step.

use std::collections::VecDeque;
use std::hash::Hash;
use std::time::Duration;

use domain::{
    millis, ClientNet, LimitKind, LoginLimits, Mobile, Refusal, SendLimits, CAPTCHA_WINDOW, DAY_MS,
    HOUR_MS,
};

use crate::expiring_map::ExpiringMap;

/// Reservation times, sorted ascending.
#[derive(Default)]
pub(crate) struct SendLog(VecDeque<u64>);

impl SendLog {
    /// Drop entries at least `window` old.
    fn prune(&mut self, now: u64, window: u64) {
        while self
            .0
            .front()
            .is_some_and(|&t| t.saturating_add(window) <= now)
        {
            self.0.pop_front();
        }
    }

    /// How long until fewer than `cap` entries are in the `window` ending at `now`, if that is
    /// not already the case.
    fn wait(&self, now: u64, window: u64, cap: u32) -> Option<u64> {
        // Entries with `now - t < window`, i.e. `t + window > now`: a suffix of the sorted log.
        let first_in = self.0.partition_point(|&t| t.saturating_add(window) <= now);
        let in_window = self.0.len() - first_in;
        let cap = usize::try_from(cap).unwrap_or(usize::MAX);
        if in_window < cap {
            return None;
        }
        if cap == 0 {
            // A cap of zero never admits; a whole window is the honest upper bound to report.
            return Some(window);
        }
        // The count drops below `cap` when the (in_window - cap)-th in-window entry leaves.
        // Capped at one window: replicas' clocks disagree a little, so an entry can be stamped
        // slightly after this caller's `now`.
        let leaving = self.0[first_in + (in_window - cap)];
        Some((leaving.saturating_add(window) - now).min(window))
    }

    fn record(&mut self, t: u64) {
        let at = self.0.partition_point(|&x| x <= t);
        self.0.insert(at, t);
    }

    fn newest(&self) -> u64 {
        self.0.back().copied().unwrap_or(0)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

/// One mobile's state: a day of reservations and the time of the cooldown reservation.
#[derive(Default)]
pub(crate) struct MobileSends {
    log: SendLog,
    cooldown_from: Option<u64>,
}

/// A fixed sign-in window: attempts counted since `started`.
pub(crate) struct LoginWindow {
    started: u64,
    attempts: u32,
}

#[derive(Default)]
pub(crate) struct LimitState {
    pub(crate) mobiles: ExpiringMap<Mobile, MobileSends>,
    pub(crate) ips: ExpiringMap<ClientNet, SendLog>,
    pub(crate) global: SendLog,
    pub(crate) captchas: ExpiringMap<ClientNet, SendLog>,
    pub(crate) client_logins: ExpiringMap<ClientNet, LoginWindow>,
    pub(crate) mobile_logins: ExpiringMap<Mobile, LoginWindow>,
}

/// Record a reservation at `now` in `key`'s log of one `window`, which then lives until its
/// newest entry leaves the window.
fn record_in<K: Eq + Hash + Clone>(
    logs: &mut ExpiringMap<K, SendLog>,
    key: K,
    now: u64,
    window: u64,
) {
    let mut log = logs.remove(&key, now).unwrap_or_default();
    log.prune(now, window);
    log.record(now);
    let expires = log.newest().saturating_add(window);
    logs.insert(key, log, expires);
}

/// How long `key` is locked out for, if it is: its window holds `cap` attempts already.
fn login_wait<K: Eq + Hash + Clone>(
    windows: &ExpiringMap<K, LoginWindow>,
    key: &K,
    cap: u32,
    window: u64,
    now: u64,
) -> Option<u64> {
    if cap == 0 {
        return Some(window);
    }
    windows
        .get(key, now)
        .filter(|w| w.attempts >= cap)
        .map(|w| (w.started.saturating_add(window) - now).min(window))
}

/// Count one attempt under `key`, starting a window if none is live; returns the window's start.
fn count_attempt<K: Eq + Hash + Clone>(
    windows: &mut ExpiringMap<K, LoginWindow>,
    key: &K,
    window: u64,
    now: u64,
) -> u64 {
    if let Some(w) = windows.get_mut(key, now) {
        w.attempts = w.attempts.saturating_add(1);
        return w.started;
    }
    let w = LoginWindow {
        started: now,
        attempts: 1,
    };
    windows.insert(key.clone(), w, now.saturating_add(window));
    now
}

/// Take one attempt back out of the window that started at `started`, if it is still live.
fn uncount_attempt<K: Eq + Hash + Clone>(
    windows: &mut ExpiringMap<K, LoginWindow>,
    key: &K,
    started: u64,
) {
    if let Some(w) = windows.peek_mut(key) {
        if w.started == started {
            w.attempts = w.attempts.saturating_sub(1);
        }
    }
}

impl LimitState {
    /// Check every send limit at `now` and, if none refuses, record the reservation in all of
    /// them (the rules on [`ports::RateLimiter`]).
    pub(crate) fn acquire_send(
        &mut self,
        mobile: &Mobile,
        client: ClientNet,
        limits: &SendLimits,
        now: u64,
    ) -> Result<(), Refusal> {
        self.sweep(now);
        if let Some(refusal) = self.refusal(mobile, client, limits, now) {
            return Err(refusal);
        }
        self.record(mobile, client, limits, now);
        Ok(())
    }

    /// Count a captcha for `client` unless `per_minute` were issued in the last minute.
    pub(crate) fn acquire_captcha(
        &mut self,
        client: ClientNet,
        per_minute: u32,
        now: u64,
    ) -> Result<(), Refusal> {
        let window = millis(CAPTCHA_WINDOW);
        self.sweep(now);
        let empty = SendLog::default();
        let log = self.captchas.get(&client, now).unwrap_or(&empty);
        if let Some(wait) = log.wait(now, window, per_minute) {
            return Err(Refusal {
                limit: LimitKind::CaptchaPerMinute,
                retry_after: Duration::from_millis(wait),
            });
        }
        record_in(&mut self.captchas, client, now, window);
        Ok(())
    }

    /// Lift the cooldown reserved at `reserved_at`, if it is still that one. Whether the entry
    /// has expired does not matter: clearing a stale cooldown is harmless.
    pub(crate) fn release_cooldown(&mut self, mobile: &Mobile, reserved_at: u64) {
        if let Some(sends) = self.mobiles.peek_mut(mobile) {
            if sends.cooldown_from == Some(reserved_at) {
                sends.cooldown_from = None;
            }
        }
    }

    /// Admit a sign-in attempt and count it in the client's and the account's windows, or
    /// refuse it (the rules on [`ports::RateLimiter`]). Returns the two windows' starts.
    pub(crate) fn acquire_login(
        &mut self,
        client: ClientNet,
        mobile: &Mobile,
        limits: &LoginLimits,
        now: u64,
    ) -> Result<(u64, u64), Refusal> {
        let window = millis(limits.window);
        self.sweep(now);
        let candidates = [
            (
                LimitKind::LoginLockout,
                login_wait(&self.client_logins, &client, limits.per_ip, window, now),
            ),
            (
                LimitKind::AccountLockout,
                login_wait(&self.mobile_logins, mobile, limits.per_mobile, window, now),
            ),
        ];
        if let Some(refusal) = longest(candidates) {
            return Err(refusal);
        }
        Ok((
            count_attempt(&mut self.client_logins, &client, window, now),
            count_attempt(&mut self.mobile_logins, mobile, window, now),
        ))
    }

    /// Take an admitted attempt back out of the windows it was counted in.
    pub(crate) fn release_login(
        &mut self,
        client: ClientNet,
        mobile: &Mobile,
        client_window: u64,
        mobile_window: u64,
    ) {
        uncount_attempt(&mut self.client_logins, &client, client_window);
        uncount_attempt(&mut self.mobile_logins, mobile, mobile_window);
    }

    fn sweep(&mut self, now: u64) {
        self.mobiles.sweep(now);
        self.ips.sweep(now);
        self.global.prune(now, HOUR_MS);
        self.captchas.sweep(now);
        self.client_logins.sweep(now);
        self.mobile_logins.sweep(now);
    }

    /// The refusal, if any, per the rules on [`RateLimiter`].
    fn refusal(
        &self,
        mobile: &Mobile,
        client: ClientNet,
        limits: &SendLimits,
        now: u64,
    ) -> Option<Refusal> {
        let sends = self.mobiles.get(mobile, now);
        // A zero cooldown never refuses, and a wait never exceeds the cooldown, even when a
        // concurrent caller's reservation carries a slightly later clock reading than `now`.
        let cooldown_ms = millis(limits.mobile_cooldown);
        let cooldown = sends.and_then(|s| s.cooldown_from).and_then(|from| {
            let until = from.saturating_add(cooldown_ms);
            (now < until && cooldown_ms > 0).then(|| (until - now).min(cooldown_ms))
        });
        // Absent state is an empty log (a cap of zero still refuses).
        let empty = SendLog::default();
        let mobile_log = sends.map_or(&empty, |s| &s.log);
        let hourly = mobile_log.wait(now, HOUR_MS, limits.mobile_per_hour);
        let daily = mobile_log.wait(now, DAY_MS, limits.mobile_per_day);
        let ip_wait =
            self.ips
                .get(&client, now)
                .unwrap_or(&empty)
                .wait(now, HOUR_MS, limits.ip_per_hour);
        let global = self.global.wait(now, HOUR_MS, limits.global_per_hour);

        longest([
            (LimitKind::MobileCooldown, cooldown),
            (LimitKind::MobileHourly, hourly),
            (LimitKind::MobileDaily, daily),
            (LimitKind::IpHourly, ip_wait),
            (LimitKind::GlobalHourly, global),
        ])
    }

    fn record(&mut self, mobile: &Mobile, client: ClientNet, limits: &SendLimits, now: u64) {
        let mut sends = self.mobiles.remove(mobile, now).unwrap_or_default();
        sends.log.prune(now, DAY_MS);
        sends.log.record(now);
        sends.cooldown_from = Some(now);
        let expires = sends
            .log
            .newest()
            .saturating_add(DAY_MS)
            .max(now.saturating_add(millis(limits.mobile_cooldown)));
        self.mobiles.insert(mobile.clone(), sends, expires);

        record_in(&mut self.ips, client, now, HOUR_MS);
        self.global.record(now);
    }
}

/// The refusal with the longest wait among the limits that refuse (ties: the earlier one).
fn longest<const N: usize>(candidates: [(LimitKind, Option<u64>); N]) -> Option<Refusal> {
    let mut worst: Option<Refusal> = None;
    for (limit, wait) in candidates {
        if let Some(wait) = wait {
            let retry_after = Duration::from_millis(wait);
            // Strictly longer only: ties go to the earlier limit in the list.
            if worst.is_none_or(|w| retry_after > w.retry_after) {
                worst = Some(Refusal { limit, retry_after });
            }
        }
    }
    worst
}
