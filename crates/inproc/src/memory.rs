//! The in-process state store: captchas, SMS codes, rate-limit state and sessions in memory.
//!
//! # Design
//!
//! [`MemoryStore`] is a cheap handle (`Arc`) over four independent `std::sync::Mutex`es —
//! captchas, codes, sessions, and the rate limiter — so that the ports' "one atomic step"
//! rules (take-once, verify-and-consume, check-and-count) hold simply because each operation
//! runs entirely under one lock. Critical sections are a few hash-map and B-tree operations,
//! never an `.await`, so a plain blocking mutex is the right tool.
//!
//! Every keyed collection is an [`ExpiringMap`]: a `HashMap` of entries, each with an expiry
//! time, plus a `BTreeMap` index ordered by expiry. Reads treat an entry whose expiry has come
//! as absent. Every operation first sweeps at most [`SWEEP_BUDGET`] of the oldest expired
//! entries off the front of the index, so expired entries never pile up and no single call
//! does unbounded work: each insert adds one entry and removes up to `SWEEP_BUDGET` dead ones.
//!
//! Expiry of captchas, codes and sessions is judged with the injected [`Clock`]. The rate
//! limiter judges everything with the `now` its caller passes, exactly as documented on
//! [`RateLimiter`]: each mobile keeps a sorted log of its reservation times (one day's worth)
//! and the time of its cooldown reservation; each IP and the whole process keep sorted logs of
//! one hour's worth of reservations. A limit with cap `N` refuses while `N` or more log entries
//! are in the window, and its `retry_after` is when the entry that must leave for the count to
//! drop below `N` leaves.
//!
//! One process only: with several replicas, use the Redis adapter (same contract suites).

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use domain::{
    CaptchaId, CaptchaText, CodeDigest, LimitKind, LoginLimits, Mobile, Refusal, SendLimits,
    SessionToken, Timestamp, UserId,
};
use ports::{
    CaptchaStore, Clock, CodeCheck, CodeStore, RateLimiter, SendPermit, SessionStore, StoreError,
};
use subtle::ConstantTimeEq;

/// Most expired entries removed from one map by one operation.
const SWEEP_BUDGET: usize = 16;
const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 86_400_000;

/// Captchas, codes, rate limits and sessions in process memory; see the [module docs](self).
///
/// Clones share the same state.
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    clock: Arc<dyn Clock>,
    captchas: Mutex<ExpiringMap<CaptchaId, CaptchaText>>,
    codes: Mutex<ExpiringMap<Mobile, LiveCode>>,
    sessions: Mutex<ExpiringMap<SessionToken, UserId>>,
    limits: Mutex<LimitState>,
}

impl MemoryStore {
    /// An empty store judging captcha, code and session expiry by `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(Inner {
                clock,
                captchas: Mutex::new(ExpiringMap::default()),
                codes: Mutex::new(ExpiringMap::default()),
                sessions: Mutex::new(ExpiringMap::default()),
                limits: Mutex::new(LimitState::default()),
            }),
        }
    }

    fn now(&self) -> u64 {
        self.inner.clock.now().millis()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

/// A panic inside a critical section cannot leave these maps half-updated in a way that
/// matters more than losing the process, so a poisoned lock is simply taken over.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

// ---------------------------------------------------------------------------------------------
// ExpiringMap

struct Slot<V> {
    value: V,
    expires_at: u64,
    seq: u64,
}

/// A hash map whose entries carry an expiry time, with an index by expiry for sweeping.
/// Invariant: every entry has exactly one index entry `(expires_at, seq) → key`.
struct ExpiringMap<K, V> {
    entries: HashMap<K, Slot<V>>,
    by_expiry: BTreeMap<(u64, u64), K>,
    next_seq: u64,
}

impl<K, V> Default for ExpiringMap<K, V> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            by_expiry: BTreeMap::new(),
            next_seq: 0,
        }
    }
}

impl<K: Eq + Hash + Clone, V> ExpiringMap<K, V> {
    /// Remove up to [`SWEEP_BUDGET`] entries whose expiry is at or before `now`.
    fn sweep(&mut self, now: u64) {
        for _ in 0..SWEEP_BUDGET {
            match self.by_expiry.first_entry() {
                Some(first) if first.key().0 <= now => {
                    let key = first.remove();
                    self.entries.remove(&key);
                }
                _ => break,
            }
        }
    }

    /// Insert or replace `key`, live until `expires_at` (exclusive).
    fn insert(&mut self, key: K, value: V, expires_at: u64) {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let slot = Slot {
            value,
            expires_at,
            seq,
        };
        if let Some(old) = self.entries.insert(key.clone(), slot) {
            self.by_expiry.remove(&(old.expires_at, old.seq));
        }
        self.by_expiry.insert((expires_at, seq), key);
    }

    /// The live value under `key` (an expired entry counts as absent).
    fn get<Q>(&self, key: &Q, now: u64) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries
            .get(key)
            .filter(|s| s.expires_at > now)
            .map(|s| &s.value)
    }

    fn get_mut<Q>(&mut self, key: &Q, now: u64) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries
            .get_mut(key)
            .filter(|s| s.expires_at > now)
            .map(|s| &mut s.value)
    }

    /// Remove `key` whether live or expired; returns the live value only.
    fn remove<Q>(&mut self, key: &Q, now: u64) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let slot = self.entries.remove(key)?;
        self.by_expiry.remove(&(slot.expires_at, slot.seq));
        (slot.expires_at > now).then_some(slot.value)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        debug_assert_eq!(self.entries.len(), self.by_expiry.len());
        self.entries.len()
    }
}

// ---------------------------------------------------------------------------------------------
// CaptchaStore

impl CaptchaStore for MemoryStore {
    async fn put(
        &self,
        id: &CaptchaId,
        text: &CaptchaText,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let mut map = lock(&self.inner.captchas);
        map.sweep(now);
        map.insert(id.clone(), text.clone(), now.saturating_add(ms(ttl)));
        Ok(())
    }

    async fn take(&self, id: &CaptchaId) -> Result<Option<CaptchaText>, StoreError> {
        let now = self.now();
        let mut map = lock(&self.inner.captchas);
        map.sweep(now);
        Ok(map.remove(id, now))
    }

    async fn discard(&self, id: &CaptchaId) -> Result<(), StoreError> {
        let now = self.now();
        let mut map = lock(&self.inner.captchas);
        map.sweep(now);
        map.remove(id, now);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// CodeStore

struct LiveCode {
    digest: [u8; 32],
    mismatches: u32,
}

fn same_digest(a: &[u8; 32], b: &CodeDigest) -> bool {
    a[..].ct_eq(&b.0[..]).into()
}

impl CodeStore for MemoryStore {
    async fn put(
        &self,
        mobile: &Mobile,
        digest: &CodeDigest,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let mut map = lock(&self.inner.codes);
        map.sweep(now);
        let code = LiveCode {
            digest: digest.0,
            mismatches: 0,
        };
        map.insert(mobile.clone(), code, now.saturating_add(ms(ttl)));
        Ok(())
    }

    async fn withdraw(&self, mobile: &Mobile, digest: &CodeDigest) -> Result<(), StoreError> {
        let now = self.now();
        let mut map = lock(&self.inner.codes);
        map.sweep(now);
        if map
            .get(mobile, now)
            .is_some_and(|code| same_digest(&code.digest, digest))
        {
            map.remove(mobile, now);
        }
        Ok(())
    }

    async fn verify(
        &self,
        mobile: &Mobile,
        candidate: &CodeDigest,
        max_attempts: u32,
    ) -> Result<CodeCheck, StoreError> {
        let now = self.now();
        let mut map = lock(&self.inner.codes);
        map.sweep(now);
        let Some(code) = map.get_mut(mobile, now) else {
            return Ok(CodeCheck::Missing);
        };
        let check = if same_digest(&code.digest, candidate) {
            CodeCheck::Accepted
        } else {
            code.mismatches = code.mismatches.saturating_add(1);
            CodeCheck::Mismatch {
                attempts_left: max_attempts.saturating_sub(code.mismatches),
            }
        };
        if matches!(
            check,
            CodeCheck::Accepted | CodeCheck::Mismatch { attempts_left: 0 }
        ) {
            map.remove(mobile, now);
        }
        Ok(check)
    }
}

// ---------------------------------------------------------------------------------------------
// RateLimiter

/// Reservation times, sorted ascending.
#[derive(Default)]
struct SendLog(VecDeque<u64>);

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
}

/// One mobile's state: a day of reservations and the time of the cooldown reservation.
#[derive(Default)]
struct MobileSends {
    log: SendLog,
    cooldown_from: Option<u64>,
}

struct LoginWindow {
    started: u64,
    failures: u32,
}

#[derive(Default)]
struct LimitState {
    mobiles: ExpiringMap<Mobile, MobileSends>,
    ips: ExpiringMap<IpAddr, SendLog>,
    global: SendLog,
    logins: ExpiringMap<IpAddr, LoginWindow>,
}

impl LimitState {
    fn sweep(&mut self, now: u64) {
        self.mobiles.sweep(now);
        self.ips.sweep(now);
        self.global.prune(now, HOUR_MS);
        self.logins.sweep(now);
    }

    /// The refusal, if any, per the rules on [`RateLimiter`].
    fn refusal(
        &self,
        mobile: &Mobile,
        ip: IpAddr,
        limits: &SendLimits,
        now: u64,
    ) -> Option<Refusal> {
        let sends = self.mobiles.get(mobile, now);
        // A zero cooldown never refuses, and a wait never exceeds the cooldown, even when a
        // concurrent caller's reservation carries a slightly later clock reading than `now`.
        let cooldown_ms = ms(limits.mobile_cooldown);
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
                .get(&ip, now)
                .unwrap_or(&empty)
                .wait(now, HOUR_MS, limits.ip_per_hour);
        let global = self.global.wait(now, HOUR_MS, limits.global_per_hour);

        let candidates = [
            (LimitKind::MobileCooldown, cooldown),
            (LimitKind::MobileHourly, hourly),
            (LimitKind::MobileDaily, daily),
            (LimitKind::IpHourly, ip_wait),
            (LimitKind::GlobalHourly, global),
        ];
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

    fn record(&mut self, mobile: &Mobile, ip: IpAddr, limits: &SendLimits, now: u64) {
        let mut sends = self.mobiles.remove(mobile, now).unwrap_or_default();
        sends.log.prune(now, DAY_MS);
        sends.log.record(now);
        sends.cooldown_from = Some(now);
        let expires = sends
            .log
            .newest()
            .saturating_add(DAY_MS)
            .max(now.saturating_add(ms(limits.mobile_cooldown)));
        self.mobiles.insert(mobile.clone(), sends, expires);

        let mut log = self.ips.remove(&ip, now).unwrap_or_default();
        log.prune(now, HOUR_MS);
        log.record(now);
        let expires = log.newest().saturating_add(HOUR_MS);
        self.ips.insert(ip, log, expires);

        self.global.record(now);
    }
}

impl RateLimiter for MemoryStore {
    async fn acquire_send(
        &self,
        mobile: &Mobile,
        ip: IpAddr,
        limits: &SendLimits,
        now: Timestamp,
    ) -> Result<Result<SendPermit, Refusal>, StoreError> {
        let t = now.millis();
        let mut state = lock(&self.inner.limits);
        state.sweep(t);
        if let Some(refusal) = state.refusal(mobile, ip, limits, t) {
            return Ok(Err(refusal));
        }
        state.record(mobile, ip, limits, t);
        Ok(Ok(SendPermit {
            mobile: mobile.clone(),
            reserved_at: now,
        }))
    }

    async fn release_cooldown(&self, permit: &SendPermit) -> Result<(), StoreError> {
        let mut state = lock(&self.inner.limits);
        // Whether the entry has expired does not matter: clearing a stale cooldown is harmless.
        if let Some(slot) = state.mobiles.entries.get_mut(&permit.mobile) {
            if slot.value.cooldown_from == Some(permit.reserved_at.millis()) {
                slot.value.cooldown_from = None;
            }
        }
        Ok(())
    }

    async fn login_lockout(
        &self,
        ip: IpAddr,
        limits: &LoginLimits,
        now: Timestamp,
    ) -> Result<Option<Refusal>, StoreError> {
        let t = now.millis();
        let mut state = lock(&self.inner.limits);
        state.sweep(t);
        let refusal = state.logins.get(&ip, t).and_then(|w| {
            let ends = w.started.saturating_add(ms(limits.window));
            (t < ends && w.failures >= limits.max_failures).then(|| Refusal {
                limit: LimitKind::LoginLockout,
                retry_after: Duration::from_millis(ends - t),
            })
        });
        Ok(refusal)
    }

    async fn record_login_failure(
        &self,
        ip: IpAddr,
        limits: &LoginLimits,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let t = now.millis();
        let window = ms(limits.window);
        let mut state = lock(&self.inner.limits);
        state.sweep(t);
        match state.logins.get_mut(&ip, t) {
            Some(w) if t < w.started.saturating_add(window) => {
                w.failures = w.failures.saturating_add(1);
            }
            _ => {
                let w = LoginWindow {
                    started: t,
                    failures: 1,
                };
                state.logins.insert(ip, w, t.saturating_add(window));
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// SessionStore

impl SessionStore for MemoryStore {
    async fn create(
        &self,
        token: &SessionToken,
        user: UserId,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let mut map = lock(&self.inner.sessions);
        map.sweep(now);
        map.insert(token.clone(), user, now.saturating_add(ms(ttl)));
        Ok(())
    }

    async fn get(&self, token: &SessionToken) -> Result<Option<UserId>, StoreError> {
        let now = self.now();
        let mut map = lock(&self.inner.sessions);
        map.sweep(now);
        Ok(map.get(token, now).copied())
    }

    async fn delete(&self, token: &SessionToken) -> Result<(), StoreError> {
        let now = self.now();
        let mut map = lock(&self.inner.sessions);
        map.sweep(now);
        map.remove(token, now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    const T0: u64 = 1_700_000_000_000;

    struct FakeClock(AtomicU64);

    impl Clock for FakeClock {
        fn now(&self) -> Timestamp {
            Timestamp(self.0.load(Ordering::SeqCst))
        }
    }

    fn store() -> (MemoryStore, Arc<FakeClock>) {
        let clock = Arc::new(FakeClock(AtomicU64::new(T0)));
        (MemoryStore::new(clock.clone()), clock)
    }

    fn set(clock: &FakeClock, t: u64) {
        clock.0.store(t, Ordering::SeqCst);
    }

    fn id(n: usize) -> CaptchaId {
        CaptchaId::parse(&format!("id-{n}")).unwrap()
    }

    fn mobile(n: u64) -> Mobile {
        Mobile::parse(&format!("{}", 13_800_000_000 + n)).unwrap()
    }

    fn text() -> CaptchaText {
        CaptchaText::parse("AB3D").unwrap()
    }

    #[tokio::test]
    async fn captcha_lives_until_exactly_its_ttl() {
        let (s, clock) = store();
        let ttl = Duration::from_millis(1_000);
        CaptchaStore::put(&s, &id(1), &text(), ttl).await.unwrap();
        set(&clock, T0 + 999);
        assert_eq!(s.take(&id(1)).await.unwrap(), Some(text()));

        set(&clock, T0);
        CaptchaStore::put(&s, &id(1), &text(), ttl).await.unwrap();
        set(&clock, T0 + 1_000);
        assert_eq!(s.take(&id(1)).await.unwrap(), None);
    }

    #[tokio::test]
    async fn code_expires_by_the_injected_clock_and_expiry_is_missing() {
        let (s, clock) = store();
        let m = mobile(1);
        let d = CodeDigest([1; 32]);
        CodeStore::put(&s, &m, &d, Duration::from_secs(300))
            .await
            .unwrap();
        set(&clock, T0 + 299_999);
        assert_eq!(
            s.verify(&m, &CodeDigest([2; 32]), 5).await.unwrap(),
            CodeCheck::Mismatch { attempts_left: 4 }
        );
        set(&clock, T0 + 300_000);
        assert_eq!(s.verify(&m, &d, 5).await.unwrap(), CodeCheck::Missing);
    }

    #[tokio::test]
    async fn max_attempts_of_one_burns_on_the_first_mismatch() {
        let (s, _) = store();
        let m = mobile(2);
        CodeStore::put(&s, &m, &CodeDigest([1; 32]), Duration::from_secs(300))
            .await
            .unwrap();
        assert_eq!(
            s.verify(&m, &CodeDigest([2; 32]), 1).await.unwrap(),
            CodeCheck::Mismatch { attempts_left: 0 }
        );
        assert_eq!(
            s.verify(&m, &CodeDigest([1; 32]), 1).await.unwrap(),
            CodeCheck::Missing
        );
    }

    #[tokio::test]
    async fn session_expires_by_the_injected_clock() {
        let (s, clock) = store();
        let token = SessionToken::parse(&"k".repeat(43)).unwrap();
        s.create(&token, UserId(7), Duration::from_secs(60))
            .await
            .unwrap();
        set(&clock, T0 + 59_999);
        assert_eq!(s.get(&token).await.unwrap(), Some(UserId(7)));
        set(&clock, T0 + 60_000);
        assert_eq!(s.get(&token).await.unwrap(), None);
    }

    #[tokio::test]
    async fn clones_share_state() {
        let (s, _) = store();
        let other = s.clone();
        CaptchaStore::put(&s, &id(1), &text(), Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(other.take(&id(1)).await.unwrap(), Some(text()));
        assert_eq!(s.take(&id(1)).await.unwrap(), None);
    }

    #[tokio::test]
    async fn expired_captchas_are_swept_by_later_inserts() {
        let (s, clock) = store();
        for n in 0..1_000 {
            CaptchaStore::put(&s, &id(n), &text(), Duration::from_secs(1))
                .await
                .unwrap();
        }
        assert_eq!(lock(&s.inner.captchas).len(), 1_000);
        set(&clock, T0 + 2_000);
        // Each operation removes up to SWEEP_BUDGET dead entries.
        for n in 1_000..1_100 {
            CaptchaStore::put(&s, &id(n), &text(), Duration::from_secs(1))
                .await
                .unwrap();
        }
        assert_eq!(
            lock(&s.inner.captchas).len(),
            100,
            "100 inserts sweep up to 1600 expired entries"
        );
        // Replacing and taking keep the expiry index in step with the entries.
        CaptchaStore::put(&s, &id(1_000), &text(), Duration::from_secs(9))
            .await
            .unwrap();
        s.take(&id(1_001)).await.unwrap();
        s.discard(&id(1_002)).await.unwrap();
        assert_eq!(lock(&s.inner.captchas).len(), 98);
        set(&clock, T0 + 3_000);
        for _ in 0..10 {
            s.take(&id(5_000)).await.unwrap();
        }
        assert_eq!(
            lock(&s.inner.captchas).len(),
            1,
            "only the entry with the 9 s TTL is left"
        );
    }

    #[tokio::test]
    async fn sweeping_never_removes_live_entries_early() {
        let (s, clock) = store();
        for n in 0..100 {
            CaptchaStore::put(&s, &id(n), &text(), Duration::from_millis(1_000 + n as u64))
                .await
                .unwrap();
        }
        set(&clock, T0 + 1_050);
        for _ in 0..20 {
            s.discard(&id(9_999)).await.unwrap();
        }
        assert_eq!(lock(&s.inner.captchas).len(), 49);
        assert_eq!(s.take(&id(50)).await.unwrap(), None, "expired exactly now");
        assert_eq!(s.take(&id(51)).await.unwrap(), Some(text()));
    }

    #[tokio::test]
    async fn limiter_state_is_swept_after_its_windows() {
        let (s, _) = store();
        let limits = SendLimits::default();
        let login = LoginLimits::default();
        for n in 0..200u64 {
            let ip = IpAddr::from([10, 0, (n / 256) as u8, (n % 256) as u8]);
            s.acquire_send(&mobile(n), ip, &limits, Timestamp(T0))
                .await
                .unwrap()
                .unwrap();
            s.record_login_failure(ip, &login, Timestamp(T0))
                .await
                .unwrap();
        }
        {
            let st = lock(&s.inner.limits);
            assert_eq!(
                (
                    st.mobiles.len(),
                    st.ips.len(),
                    st.logins.len(),
                    st.global.0.len()
                ),
                (200, 200, 200, 200)
            );
        }
        // After an hour the IP logs, login windows and global log have expired; mobiles keep
        // their daily log.
        let later = Timestamp(T0 + HOUR_MS);
        for _ in 0..20 {
            s.login_lockout(IpAddr::from([10, 9, 9, 9]), &login, later)
                .await
                .unwrap();
        }
        {
            let st = lock(&s.inner.limits);
            assert_eq!(st.ips.len(), 0);
            assert_eq!(st.logins.len(), 0);
            assert_eq!(st.global.0.len(), 0);
            assert_eq!(st.mobiles.len(), 200);
        }
        let next_day = Timestamp(T0 + DAY_MS);
        for _ in 0..20 {
            s.login_lockout(IpAddr::from([10, 9, 9, 9]), &login, next_day)
                .await
                .unwrap();
        }
        assert_eq!(lock(&s.inner.limits).mobiles.len(), 0);
    }

    #[tokio::test]
    async fn a_cap_of_zero_refuses_with_a_whole_window() {
        let (s, _) = store();
        let limits = SendLimits {
            ip_per_hour: 0,
            ..SendLimits::default()
        };
        let r = s
            .acquire_send(
                &mobile(1),
                IpAddr::from([10, 0, 0, 1]),
                &limits,
                Timestamp(T0),
            )
            .await
            .unwrap();
        assert_eq!(
            r,
            Err(Refusal {
                limit: LimitKind::IpHourly,
                retry_after: Duration::from_millis(HOUR_MS)
            })
        );
    }

    #[tokio::test]
    async fn the_limiter_ignores_the_injected_clock() {
        let (s, clock) = store();
        let m = mobile(3);
        let ip = IpAddr::from([10, 0, 0, 3]);
        let limits = SendLimits::default();
        set(&clock, 0);
        s.acquire_send(&m, ip, &limits, Timestamp(T0))
            .await
            .unwrap()
            .unwrap();
        set(&clock, T0 + DAY_MS * 5);
        let r = s
            .acquire_send(&m, ip, &limits, Timestamp(T0 + 1))
            .await
            .unwrap();
        assert_eq!(
            r.unwrap_err(),
            Refusal {
                limit: LimitKind::MobileCooldown,
                retry_after: Duration::from_millis(59_999)
            }
        );
    }
}
