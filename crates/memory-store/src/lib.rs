//! The in-process state store — the embedded default: captchas, SMS codes, rate-limit state
//! and sessions in process memory. The twin of `redis-captcha`: the same four ports, the same
//! contract suites, laid out the same way (`lib.rs` the store, `ports_impl.rs` the ports, and
//! beside them what Redis does for its twin: `expiring_map.rs` for key TTLs, `limits.rs` for the
//! rate-limit scripts).
//!
//! # Design
//!
//! [`MemoryStore`] is a cheap handle (`Arc`) over four independent `std::sync::Mutex`es —
//! captchas, codes, sessions, and the rate limiter — so that the ports' "one atomic step"
//! rules (take-once, verify-and-consume, check-and-count) hold simply because each operation
//! runs entirely under one lock; an admitted `acquire_send` / `acquire_captcha` stores its code
//! or captcha while still holding the limiter's lock (always in that order: limiter, then codes
//! or captchas). Critical sections are a few hash-map and B-tree operations, never an
//! `.await`, so a plain blocking mutex is the right tool.
//!
//! Every keyed collection is an `ExpiringMap`: a `HashMap` of entries, each with an expiry
//! time, plus a `BTreeMap` index ordered by expiry. Reads treat an entry whose expiry has come
//! as absent. Every operation first sweeps a few of the oldest expired entries off the front of
//! the index, so expired entries never pile up and no single call does unbounded work.
//!
//! Expiry of captchas, codes and sessions is judged with the injected [`Clock`]: a cookie
//! session ends its ttl after it was created, an app session its ttl after its last recorded
//! use. A session's `created_at` and `last_used_at`, and whether a `get` is due to record a use
//! ([`ports::SessionStore`]), come from the `now` its caller passes. Each user's sessions are
//! kept in creation order beside them, for `max_per_user`, `list`, `end` and `end_all`. The rate
//! limiter judges everything with the `now` its caller passes, exactly as documented on
//! [`ports::RateLimiter`]: each mobile keeps a sorted log of its reservation times (one day's
//! worth) and the time of its cooldown reservation; each IP and the whole process keep sorted
//! logs of one hour's worth of reservations. A limit with cap `N` refuses while `N` or more log
//! entries are in the window, and its `retry_after` is when the entry that must leave for the
//! count to drop below `N` leaves.
//!
//! One process only: with several replicas, use the Redis adapter (same contract suites).

mod expiring_map;
mod limits;
mod ports_impl;

use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use domain::{CaptchaId, CaptchaText, Mobile};
use ports::Clock;

use crate::expiring_map::ExpiringMap;
use crate::limits::LimitState;
use crate::ports_impl::{LiveCode, Sessions};

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
    sessions: Mutex<Sessions>,
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
                sessions: Mutex::new(Sessions::default()),
                limits: Mutex::new(LimitState::default()),
            }),
        }
    }

    /// `state` locked, with what has expired swept off its front, and the time that was judged
    /// at: how every captcha, code and session operation starts.
    fn swept<'a, T: Sweep>(&self, state: &'a Mutex<T>) -> (MutexGuard<'a, T>, u64) {
        let now = self.inner.clock.now().millis();
        let mut state = lock(state);
        state.sweep(now);
        (state, now)
    }
}

/// State whose expired entries are removed a few at a time, at the start of every operation.
trait Sweep {
    fn sweep(&mut self, now: u64);
}

impl<K: Eq + Hash + Clone, V> Sweep for ExpiringMap<K, V> {
    fn sweep(&mut self, now: u64) {
        ExpiringMap::sweep(self, now);
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

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::time::Duration;

    use domain::{
        ClientNet, CodeDigest, LimitKind, LoginLimits, Refusal, SendLimits, SessionId, SessionKind,
        SessionToken, Timestamp, UserId, DAY_MS, HOUR_MS,
    };
    use port_contracts::FakeClock;
    use ports::{
        CaptchaStore, CodeCheck, CodeStore, NewCaptcha, NewCode, NewSession, RateLimiter,
        SessionStore,
    };

    use super::*;

    const T0: u64 = 1_700_000_000_000;

    fn store() -> (MemoryStore, Arc<FakeClock>) {
        let clock = Arc::new(FakeClock::at(Timestamp(T0)));
        (MemoryStore::new(clock.clone()), clock)
    }

    fn set(clock: &FakeClock, t: u64) {
        clock.set(Timestamp(t));
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

    fn client(ip: IpAddr) -> ClientNet {
        ClientNet::of(ip, 64)
    }

    fn new_code() -> NewCode {
        NewCode {
            digest: CodeDigest([9; 32]),
            ttl: Duration::from_secs(300),
        }
    }

    fn new_captcha() -> NewCaptcha<'static> {
        static ID: std::sync::LazyLock<CaptchaId> =
            std::sync::LazyLock::new(|| CaptchaId::parse("limited").unwrap());
        static TEXT: std::sync::LazyLock<CaptchaText> = std::sync::LazyLock::new(text);
        NewCaptcha {
            id: &ID,
            text: &TEXT,
            ttl: Duration::from_secs(60),
        }
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
    async fn a_restore_for_under_a_millisecond_puts_nothing_back() {
        let (s, _) = store();
        let m = mobile(4);
        let d = CodeDigest([4; 32]);
        CodeStore::put(&s, &m, &d, Duration::from_secs(300))
            .await
            .unwrap();
        let CodeCheck::Accepted(taken) = s.verify(&m, &d, 5).await.unwrap() else {
            panic!("the stored code must verify");
        };
        // As in Redis, where a TTL is whole milliseconds: nothing is put back, and none is
        // reported put back.
        assert!(!s
            .restore(&m, &taken, Duration::from_micros(999))
            .await
            .unwrap());
        assert_eq!(s.verify(&m, &d, 5).await.unwrap(), CodeCheck::Missing);
        assert!(s
            .restore(&m, &taken, Duration::from_millis(1))
            .await
            .unwrap());
    }

    fn new_session<'a>(
        token: &'a SessionToken,
        id: &'a SessionId,
        kind: SessionKind,
        ttl: Duration,
    ) -> NewSession<'a> {
        NewSession {
            token,
            id,
            user: UserId(7),
            kind,
            user_agent: None,
            now: Timestamp(T0),
            ttl,
            max_per_user: 10,
        }
    }

    #[tokio::test]
    async fn a_cookie_session_ends_by_the_injected_clock_whatever_its_uses() {
        let (s, clock) = store();
        let token = SessionToken::parse(&"k".repeat(43)).unwrap();
        let id = SessionId::parse(&"1".repeat(32)).unwrap();
        let ttl = Duration::from_secs(120);
        s.create(new_session(&token, &id, SessionKind::Cookie, ttl))
            .await
            .unwrap();
        set(&clock, T0 + 60_000);
        let used = Timestamp(T0 + 60_000);
        let got = s.get(&token, used).await.unwrap().unwrap();
        assert_eq!(got.last_used_at, used, "the use is recorded");
        set(&clock, T0 + 119_999);
        assert!(s
            .get(&token, Timestamp(T0 + 119_999))
            .await
            .unwrap()
            .is_some());
        set(&clock, T0 + 120_000);
        assert_eq!(s.get(&token, Timestamp(T0 + 120_000)).await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_app_session_lives_its_ttl_from_its_last_recorded_use_by_the_injected_clock() {
        let (s, clock) = store();
        let token = SessionToken::parse(&"a".repeat(43)).unwrap();
        let id = SessionId::parse(&"2".repeat(32)).unwrap();
        let ttl = Duration::from_secs(120);
        s.create(new_session(&token, &id, SessionKind::App, ttl))
            .await
            .unwrap();
        // Too soon to record: the lifetime still runs from creation...
        set(&clock, T0 + 59_999);
        s.get(&token, Timestamp(T0 + 59_999))
            .await
            .unwrap()
            .unwrap();
        // ... and a recorded use starts it again, by the store's clock, whatever `now` says.
        set(&clock, T0 + 100_000);
        let got = s
            .get(&token, Timestamp(T0 + 60_000))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.last_used_at, Timestamp(T0 + 60_000));
        set(&clock, T0 + 219_999);
        assert!(s
            .get(&token, Timestamp(T0 + 60_001))
            .await
            .unwrap()
            .is_some());
        assert_eq!(
            s.list(UserId(7)).await.unwrap().len(),
            1,
            "its user still lists it"
        );
        set(&clock, T0 + 220_000);
        assert_eq!(s.get(&token, Timestamp(T0 + 220_000)).await.unwrap(), None);
        assert_eq!(s.list(UserId(7)).await.unwrap(), []);
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
            let ip = client(IpAddr::from([10, 0, (n / 256) as u8, (n % 256) as u8]));
            s.acquire_send(&mobile(n), ip, &limits, Timestamp(T0), &new_code())
                .await
                .unwrap()
                .unwrap();
            s.acquire_login(ip, &mobile(n), &login, Timestamp(T0))
                .await
                .unwrap()
                .unwrap();
            s.acquire_captcha(ip, 30, Timestamp(T0), new_captcha())
                .await
                .unwrap()
                .unwrap();
        }
        {
            let st = lock(&s.inner.limits);
            assert_eq!(
                (
                    st.mobiles.len(),
                    st.ips.len(),
                    st.client_logins.len(),
                    st.mobile_logins.len(),
                    st.captchas.len(),
                    st.global.len()
                ),
                (200, 200, 200, 200, 200, 200)
            );
        }
        // After an hour the IP and captcha logs, login windows and global log have expired;
        // mobiles keep their daily log.
        let later = Timestamp(T0 + HOUR_MS);
        let other = client(IpAddr::from([10, 9, 9, 9]));
        for _ in 0..20 {
            s.acquire_captcha(other, 1_000, later, new_captcha())
                .await
                .unwrap()
                .unwrap();
        }
        {
            let st = lock(&s.inner.limits);
            assert_eq!(st.ips.len(), 0);
            assert_eq!(st.client_logins.len(), 0);
            assert_eq!(st.mobile_logins.len(), 0);
            assert_eq!(st.captchas.len(), 1);
            assert_eq!(st.global.len(), 0);
            assert_eq!(st.mobiles.len(), 200);
        }
        let next_day = Timestamp(T0 + DAY_MS);
        for _ in 0..20 {
            s.acquire_captcha(other, 1_000, next_day, new_captcha())
                .await
                .unwrap()
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
                client(IpAddr::from([10, 0, 0, 1])),
                &limits,
                Timestamp(T0),
                &new_code(),
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
        let ip = client(IpAddr::from([10, 0, 0, 3]));
        let limits = SendLimits::default();
        set(&clock, 0);
        s.acquire_send(&m, ip, &limits, Timestamp(T0), &new_code())
            .await
            .unwrap()
            .unwrap();
        set(&clock, T0 + DAY_MS * 5);
        let r = s
            .acquire_send(&m, ip, &limits, Timestamp(T0 + 1), &new_code())
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
