//! Contract suites for [`CaptchaStore`], [`CodeStore`], [`RateLimiter`] and [`SessionStore`].
//!
//! Each suite takes a fresh, empty adapter (its own key namespace) and runs its sections one
//! after another. Sections use their own mobiles, IPs, ids and (for the limiter) their own
//! stretch of synthetic time, so they cannot disturb each other. Run them on a multi-threaded
//! tokio runtime: the concurrency sections spawn tasks that really race.
//!
//! Time: the limiter is driven with synthetic `now` values and never sleeps; TTL expiry of the
//! other stores is checked by storing with a 300 ms TTL and sleeping 1.2 s, asserting only on
//! what is observed afterwards.

use std::fmt::Debug;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use domain::{
    CaptchaId, CaptchaText, CodeDigest, LimitKind, LoginLimits, Mobile, Refusal, SendLimits,
    SessionToken, Timestamp, UserId,
};
use ports::{CaptchaStore, CodeCheck, CodeStore, RateLimiter, SendPermit, SessionStore};

/// Long enough that nothing expires during a suite.
const LONG: Duration = Duration::from_secs(600);
/// Short TTL for expiry checks, and how long to wait for it to pass.
const SHORT: Duration = Duration::from_millis(300);
const AFTER_SHORT: Duration = Duration::from_millis(1200);

const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 86_400_000;
/// Start of the limiter's synthetic time; each section gets its own ten-day stretch after it.
const BASE: u64 = 1_700_000_000_000;

/// Unwrap an adapter result, naming the call that failed.
fn ok<T, E: Debug>(r: Result<T, E>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what} failed: {e:?}"),
    }
}

fn mobile(raw: &str) -> Mobile {
    ok(Mobile::parse(raw), "test mobile")
}

fn captcha_id(raw: &str) -> CaptchaId {
    ok(CaptchaId::parse(raw), "test captcha id")
}

fn text(raw: &str) -> CaptchaText {
    ok(CaptchaText::parse(raw), "test captcha text")
}

fn digest(seed: u8) -> CodeDigest {
    CodeDigest([seed; 32])
}

fn token(tag: char) -> SessionToken {
    ok(
        SessionToken::parse(&format!("{}{}", "t".repeat(42), tag)),
        "test session token",
    )
}

fn addr(a: u8, b: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 77, a, b))
}

/// Run `n` copies of `f` as truly concurrent tokio tasks and collect their results.
async fn race<T, F, Fut>(n: usize, f: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let handles: Vec<_> = (0..n).map(|i| tokio::spawn(f(i))).collect();
    let mut out = Vec::with_capacity(n);
    for h in futures::future::join_all(handles).await {
        out.push(ok(h, "a racing task"));
    }
    out
}

// ---------------------------------------------------------------------------------------------

/// Every rule of [`CaptchaStore`].
pub async fn captcha_store<S: CaptchaStore + Clone>(store: S) {
    // put then take returns the text exactly once.
    let id = captcha_id("contract-once");
    ok(
        store.put(&id, &text("AB3D"), LONG).await,
        "CaptchaStore::put",
    );
    let first = ok(store.take(&id).await, "CaptchaStore::take");
    assert_eq!(
        first.as_ref().map(CaptchaText::as_str),
        Some("AB3D"),
        "CaptchaStore: take after put must return the stored text"
    );
    let second = ok(store.take(&id).await, "CaptchaStore::take");
    assert!(
        second.is_none(),
        "CaptchaStore: a captcha can be taken only once"
    );

    // Unknown id.
    let unknown = ok(store.take(&captcha_id("contract-never-put")).await, "take");
    assert!(
        unknown.is_none(),
        "CaptchaStore: take of an unknown id must be None"
    );

    // put replaces whatever was there.
    let id = captcha_id("contract-replace");
    ok(store.put(&id, &text("AAAA"), LONG).await, "put");
    ok(store.put(&id, &text("BBBB"), LONG).await, "put");
    let got = ok(store.take(&id).await, "take");
    assert_eq!(
        got.as_ref().map(CaptchaText::as_str),
        Some("BBBB"),
        "CaptchaStore: put must replace the earlier text under the same id"
    );
    assert!(
        ok(store.take(&id).await, "take").is_none(),
        "CaptchaStore: a replaced captcha is still a single captcha"
    );

    // Ids are independent.
    let (a, b) = (captcha_id("contract-a"), captcha_id("contract-b"));
    ok(store.put(&a, &text("AAAA"), LONG).await, "put");
    ok(store.put(&b, &text("BBBB"), LONG).await, "put");
    let got_a = ok(store.take(&a).await, "take");
    assert_eq!(
        got_a.as_ref().map(CaptchaText::as_str),
        Some("AAAA"),
        "CaptchaStore: each id keeps its own text"
    );
    let got_b = ok(store.take(&b).await, "take");
    assert_eq!(
        got_b.as_ref().map(CaptchaText::as_str),
        Some("BBBB"),
        "CaptchaStore: taking one id must not touch another"
    );

    // discard removes; discarding an absent id is fine.
    let id = captcha_id("contract-discard");
    ok(store.put(&id, &text("CCCC"), LONG).await, "put");
    ok(store.discard(&id).await, "CaptchaStore::discard");
    assert!(
        ok(store.take(&id).await, "take").is_none(),
        "CaptchaStore: a discarded captcha must be gone"
    );
    ok(
        store.discard(&captcha_id("contract-discard-absent")).await,
        "CaptchaStore::discard of an absent id must not be an error",
    );

    // Of 20 concurrent takes exactly one gets the text.
    let id = captcha_id("contract-race");
    ok(store.put(&id, &text("RACE"), LONG).await, "put");
    let results = race(20, |_| {
        let (store, id) = (store.clone(), id.clone());
        async move { ok(store.take(&id).await, "concurrent take") }
    })
    .await;
    let winners: Vec<_> = results.iter().flatten().collect();
    assert_eq!(
        winners.len(),
        1,
        "CaptchaStore: of 20 concurrent takes exactly one must get Some (take is atomic)"
    );
    assert_eq!(winners[0].as_str(), "RACE");

    // TTL: a short-lived captcha is gone after its TTL; a long-lived one is not.
    let (short, long) = (
        captcha_id("contract-ttl-short"),
        captcha_id("contract-ttl-long"),
    );
    ok(store.put(&short, &text("SHRT"), SHORT).await, "put");
    ok(store.put(&long, &text("LONG"), LONG).await, "put");
    tokio::time::sleep(AFTER_SHORT).await;
    assert!(
        ok(store.take(&short).await, "take").is_none(),
        "CaptchaStore: a captcha must be gone after its TTL"
    );
    let kept = ok(store.take(&long).await, "take");
    assert_eq!(
        kept.as_ref().map(CaptchaText::as_str),
        Some("LONG"),
        "CaptchaStore: a captcha must live until its own TTL"
    );
}

// ---------------------------------------------------------------------------------------------

/// Every rule of [`CodeStore`].
pub async fn code_store<S: CodeStore + Clone>(store: S) {
    const MAX: u32 = 5;

    // Right code: Accepted once, then Missing.
    let m = mobile("13900000001");
    ok(store.put(&m, &digest(1), LONG).await, "CodeStore::put");
    assert_eq!(
        ok(store.verify(&m, &digest(1), MAX).await, "CodeStore::verify"),
        CodeCheck::Accepted,
        "CodeStore: the stored digest must be Accepted"
    );
    assert_eq!(
        ok(store.verify(&m, &digest(1), MAX).await, "verify"),
        CodeCheck::Missing,
        "CodeStore: an Accepted code is deleted and must answer Missing"
    );

    // Never sent.
    assert_eq!(
        ok(
            store.verify(&mobile("13900000002"), &digest(1), MAX).await,
            "verify"
        ),
        CodeCheck::Missing,
        "CodeStore: a mobile without a code must answer Missing"
    );

    // Wrong candidates count down; the MAX-th mismatch burns the code.
    let m = mobile("13900000003");
    ok(store.put(&m, &digest(3), LONG).await, "put");
    for left in (0..MAX).rev() {
        assert_eq!(
            ok(store.verify(&m, &digest(99), MAX).await, "verify"),
            CodeCheck::Mismatch {
                attempts_left: left
            },
            "CodeStore: each mismatch must use exactly one attempt"
        );
    }
    assert_eq!(
        ok(store.verify(&m, &digest(3), MAX).await, "verify"),
        CodeCheck::Missing,
        "CodeStore: after max_attempts mismatches the code is burned, even the right one is Missing"
    );

    // A digest differing only in its last byte is a mismatch (the whole digest is compared).
    let m = mobile("13900000004");
    ok(store.put(&m, &digest(4), LONG).await, "put");
    let mut almost = digest(4);
    almost.0[31] ^= 1;
    assert_eq!(
        ok(store.verify(&m, &almost, MAX).await, "verify"),
        CodeCheck::Mismatch {
            attempts_left: MAX - 1
        },
        "CodeStore: every byte of the digest must be compared"
    );
    // ... and attempts below the maximum do not burn it.
    assert_eq!(
        ok(store.verify(&m, &digest(4), MAX).await, "verify"),
        CodeCheck::Accepted,
        "CodeStore: the right code after a few mismatches must still be Accepted"
    );

    // put replaces the earlier code and resets its attempts.
    let m = mobile("13900000005");
    ok(store.put(&m, &digest(5), LONG).await, "put");
    for _ in 0..MAX - 1 {
        ok(store.verify(&m, &digest(99), MAX).await, "verify");
    }
    ok(store.put(&m, &digest(6), LONG).await, "put");
    assert_eq!(
        ok(store.verify(&m, &digest(5), MAX).await, "verify"),
        CodeCheck::Mismatch {
            attempts_left: MAX - 1
        },
        "CodeStore: put must replace the old code and reset the attempt count"
    );
    assert_eq!(
        ok(store.verify(&m, &digest(6), MAX).await, "verify"),
        CodeCheck::Accepted,
        "CodeStore: the newest code must be Accepted"
    );

    // withdraw is compare-and-delete.
    let m = mobile("13900000006");
    ok(store.put(&m, &digest(7), LONG).await, "put");
    ok(store.withdraw(&m, &digest(8)).await, "CodeStore::withdraw");
    assert_eq!(
        ok(store.verify(&m, &digest(7), MAX).await, "verify"),
        CodeCheck::Accepted,
        "CodeStore: withdraw with another digest must leave the newer code alone"
    );
    ok(store.put(&m, &digest(9), LONG).await, "put");
    ok(store.withdraw(&m, &digest(9)).await, "withdraw");
    assert_eq!(
        ok(store.verify(&m, &digest(9), MAX).await, "verify"),
        CodeCheck::Missing,
        "CodeStore: withdraw with the live digest must delete it"
    );
    ok(
        store.withdraw(&mobile("13900000007"), &digest(1)).await,
        "CodeStore::withdraw with no live code must not be an error",
    );

    // Codes of different mobiles are independent.
    let (a, b) = (mobile("13900000008"), mobile("13900000009"));
    ok(store.put(&a, &digest(10), LONG).await, "put");
    ok(store.put(&b, &digest(11), LONG).await, "put");
    assert_eq!(
        ok(store.verify(&a, &digest(11), MAX).await, "verify"),
        CodeCheck::Mismatch {
            attempts_left: MAX - 1
        },
        "CodeStore: another mobile's code must not match"
    );
    assert_eq!(
        ok(store.verify(&b, &digest(11), MAX).await, "verify"),
        CodeCheck::Accepted,
        "CodeStore: a mismatch on one mobile must not affect another"
    );
    assert_eq!(
        ok(store.verify(&a, &digest(10), MAX).await, "verify"),
        CodeCheck::Accepted,
        "CodeStore: consuming one mobile's code must not affect another"
    );

    // 20 concurrent right verifications: exactly one Accepted, the rest Missing.
    let m = mobile("13900000010");
    ok(store.put(&m, &digest(12), LONG).await, "put");
    let results = race(20, |_| {
        let (store, m) = (store.clone(), m.clone());
        async move {
            ok(
                store.verify(&m, &digest(12), MAX).await,
                "concurrent verify",
            )
        }
    })
    .await;
    let accepted = results
        .iter()
        .filter(|r| **r == CodeCheck::Accepted)
        .count();
    assert_eq!(
        accepted, 1,
        "CodeStore: of 20 concurrent right verifications exactly one must be Accepted: {results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| matches!(r, CodeCheck::Accepted | CodeCheck::Missing)),
        "CodeStore: the losers of the race must see Missing: {results:?}"
    );

    // 20 concurrent wrong verifications: each attempt is counted once, the code burns once.
    let m = mobile("13900000011");
    ok(store.put(&m, &digest(13), LONG).await, "put");
    let results = race(20, |_| {
        let (store, m) = (store.clone(), m.clone());
        async move {
            ok(
                store.verify(&m, &digest(98), MAX).await,
                "concurrent verify",
            )
        }
    })
    .await;
    let mut left: Vec<u32> = results
        .iter()
        .filter_map(|r| match r {
            CodeCheck::Mismatch { attempts_left } => Some(*attempts_left),
            _ => None,
        })
        .collect();
    left.sort_unstable();
    assert_eq!(
        left,
        (0..MAX).collect::<Vec<_>>(),
        "CodeStore: concurrent mismatches must each use one attempt: {results:?}"
    );
    assert_eq!(
        results.iter().filter(|r| **r == CodeCheck::Missing).count(),
        20 - MAX as usize,
        "CodeStore: after the burn, the rest must see Missing: {results:?}"
    );

    // TTL: gone after its TTL (a wrong guess then is Missing, not Mismatch); a long one lives.
    let (short, long) = (mobile("13900000012"), mobile("13900000013"));
    ok(store.put(&short, &digest(14), SHORT).await, "put");
    ok(store.put(&long, &digest(15), LONG).await, "put");
    tokio::time::sleep(AFTER_SHORT).await;
    assert_eq!(
        ok(store.verify(&short, &digest(97), MAX).await, "verify"),
        CodeCheck::Missing,
        "CodeStore: an expired code must answer Missing, even to a wrong candidate"
    );
    assert_eq!(
        ok(store.verify(&short, &digest(14), MAX).await, "verify"),
        CodeCheck::Missing,
        "CodeStore: an expired code must answer Missing"
    );
    assert_eq!(
        ok(store.verify(&long, &digest(15), MAX).await, "verify"),
        CodeCheck::Accepted,
        "CodeStore: a code must live until its own TTL"
    );
}

// ---------------------------------------------------------------------------------------------

fn send_limits(
    cooldown_ms: u64,
    per_hour: u32,
    per_day: u32,
    ip_per_hour: u32,
    global_per_hour: u32,
) -> SendLimits {
    SendLimits {
        mobile_cooldown: Duration::from_millis(cooldown_ms),
        mobile_per_hour: per_hour,
        mobile_per_day: per_day,
        ip_per_hour,
        global_per_hour,
    }
}

fn refusal(limit: LimitKind, retry_after_ms: u64) -> Refusal {
    Refusal {
        limit,
        retry_after: Duration::from_millis(retry_after_ms),
    }
}

/// A limiter plus the start of the current section's synthetic time.
struct Clocked<'a, L> {
    limiter: &'a L,
    t0: u64,
}

impl<L: RateLimiter> Clocked<'_, L> {
    async fn send(
        &self,
        m: &Mobile,
        ip: IpAddr,
        limits: &SendLimits,
        at: u64,
    ) -> Result<SendPermit, Refusal> {
        ok(
            self.limiter
                .acquire_send(m, ip, limits, Timestamp(self.t0 + at))
                .await,
            "RateLimiter::acquire_send",
        )
    }

    /// Assert admitted at `t0 + at`, checking the permit.
    async fn admit(
        &self,
        m: &Mobile,
        ip: IpAddr,
        limits: &SendLimits,
        at: u64,
        rule: &str,
    ) -> SendPermit {
        match self.send(m, ip, limits, at).await {
            Ok(p) => {
                assert_eq!(
                    p,
                    SendPermit {
                        mobile: m.clone(),
                        reserved_at: Timestamp(self.t0 + at),
                    },
                    "RateLimiter: the permit must name the mobile and the reservation's now"
                );
                p
            }
            Err(r) => panic!("RateLimiter: {rule}: expected a permit at t0+{at} ms, got {r:?}"),
        }
    }

    /// Assert refused at `t0 + at` with exactly `expected`.
    async fn refuse(
        &self,
        m: &Mobile,
        ip: IpAddr,
        limits: &SendLimits,
        at: u64,
        expected: Refusal,
        rule: &str,
    ) {
        match self.send(m, ip, limits, at).await {
            Ok(p) => panic!("RateLimiter: {rule}: expected {expected:?} at t0+{at} ms, got {p:?}"),
            Err(r) => assert_eq!(r, expected, "RateLimiter: {rule} (at t0+{at} ms)"),
        }
    }

    async fn lockout(&self, ip: IpAddr, limits: &LoginLimits, at: u64) -> Option<Refusal> {
        ok(
            self.limiter
                .login_lockout(ip, limits, Timestamp(self.t0 + at))
                .await,
            "RateLimiter::login_lockout",
        )
    }

    async fn fail_login(&self, ip: IpAddr, limits: &LoginLimits, at: u64) {
        ok(
            self.limiter
                .record_login_failure(ip, limits, Timestamp(self.t0 + at))
                .await,
            "RateLimiter::record_login_failure",
        );
    }

    async fn release(&self, permit: &SendPermit) {
        ok(
            self.limiter.release_cooldown(permit).await,
            "RateLimiter::release_cooldown",
        );
    }
}

/// Every rule of [`RateLimiter`] (SPEC §4), driven by synthetic time.
pub async fn rate_limiter<L: RateLimiter + Clone>(limiter: L) {
    let section = |k: u64| Clocked {
        limiter: &limiter,
        t0: BASE + k * 10 * DAY_MS,
    };
    const BIG: u32 = 1_000_000;

    // 1. Cooldown: exact retry_after, admitted exactly at reserved_at + cooldown.
    {
        let s = section(1);
        let (m, ip) = (mobile("13700000101"), addr(1, 1));
        let lim = send_limits(60_000, BIG, BIG, BIG, BIG);
        s.admit(&m, ip, &lim, 0, "first send").await;
        let rule = "the cooldown refuses with the exact time left";
        s.refuse(
            &m,
            ip,
            &lim,
            1,
            refusal(LimitKind::MobileCooldown, 59_999),
            rule,
        )
        .await;
        s.refuse(
            &m,
            ip,
            &lim,
            59_999,
            refusal(LimitKind::MobileCooldown, 1),
            rule,
        )
        .await;
        s.admit(
            &m,
            ip,
            &lim,
            60_000,
            "the cooldown ends exactly at reserved_at + cooldown",
        )
        .await;
        s.refuse(
            &m,
            ip,
            &lim,
            60_000,
            refusal(LimitKind::MobileCooldown, 60_000),
            "a new reservation starts a new cooldown",
        )
        .await;
        // Another mobile is not cooled down by this one.
        s.admit(
            &mobile("13700000102"),
            ip,
            &lim,
            60_001,
            "the cooldown is per mobile",
        )
        .await;
    }

    // 2. Hourly cap, sliding edge, refusals record nothing, cooldown/hourly tie.
    {
        let s = section(2);
        let (m, ip) = (mobile("13700000201"), addr(2, 1));
        let lim = send_limits(1_000, 5, BIG, BIG, BIG);
        for k in 0..5 {
            s.admit(
                &m,
                ip,
                &lim,
                k * 1_000,
                "five sends an hour, one second apart",
            )
            .await;
        }
        let rule = "the sixth send within the hour waits for the oldest to leave the window";
        s.refuse(
            &m,
            ip,
            &lim,
            5_000,
            refusal(LimitKind::MobileHourly, HOUR_MS - 5_000),
            rule,
        )
        .await;
        // Had the refusal been counted, the answer would now point at the second entry.
        s.refuse(
            &m,
            ip,
            &lim,
            5_000,
            refusal(LimitKind::MobileHourly, HOUR_MS - 5_000),
            "a refusal must record nothing",
        )
        .await;
        s.refuse(
            &m,
            ip,
            &lim,
            HOUR_MS - 1,
            refusal(LimitKind::MobileHourly, 1),
            "retry_after is exact to the ms",
        )
        .await;
        s.admit(
            &m,
            ip,
            &lim,
            HOUR_MS,
            "a reservation exactly one hour old no longer counts",
        )
        .await;
        // At HOUR + 999: cooldown wants 1 ms, and the hourly cap (t0+1000 leaves at HOUR+1000)
        // also wants 1 ms: a tie goes to the cooldown.
        s.refuse(
            &m,
            ip,
            &lim,
            HOUR_MS + 999,
            refusal(LimitKind::MobileCooldown, 1),
            "on a tie the earlier limit (cooldown) is reported",
        )
        .await;
        s.admit(
            &m,
            ip,
            &lim,
            HOUR_MS + 1_000,
            "the window slides entry by entry",
        )
        .await;

        // Irregular spacing, so the hourly wait cannot coincide with the cooldown.
        let (m2, ip2) = (mobile("13700000202"), addr(2, 2));
        let lim = send_limits(1_000, 3, BIG, BIG, BIG);
        for at in [0, 10_000, 20_000] {
            s.admit(&m2, ip2, &lim, at, "three sends an hour").await;
        }
        s.refuse(
            &m2,
            ip2,
            &lim,
            30_000,
            refusal(LimitKind::MobileHourly, HOUR_MS - 30_000),
            "the hourly cap",
        )
        .await;
        s.admit(
            &m2,
            ip2,
            &lim,
            HOUR_MS,
            "a reservation exactly one hour old no longer counts",
        )
        .await;
        // In the window now: t0+10_000, t0+20_000, t0+HOUR.
        s.refuse(
            &m2,
            ip2,
            &lim,
            HOUR_MS + 5_000,
            refusal(LimitKind::MobileHourly, 5_000),
            "retry_after points at the oldest entry still in the window",
        )
        .await;
    }

    // 3. Daily cap.
    {
        let s = section(3);
        let (m, ip) = (mobile("13700000301"), addr(3, 1));
        let lim = send_limits(1_000, BIG, 3, BIG, BIG);
        for k in 0..3 {
            s.admit(&m, ip, &lim, k * 2 * HOUR_MS, "three sends a day")
                .await;
        }
        s.refuse(
            &m,
            ip,
            &lim,
            5 * HOUR_MS,
            refusal(LimitKind::MobileDaily, DAY_MS - 5 * HOUR_MS),
            "the fourth send in a day waits for the oldest",
        )
        .await;
        s.refuse(
            &m,
            ip,
            &lim,
            DAY_MS - 1,
            refusal(LimitKind::MobileDaily, 1),
            "the daily retry_after is exact",
        )
        .await;
        s.admit(
            &m,
            ip,
            &lim,
            DAY_MS,
            "a reservation exactly one day old no longer counts",
        )
        .await;
        s.refuse(
            &m,
            ip,
            &lim,
            DAY_MS + 1_000,
            refusal(LimitKind::MobileDaily, 2 * HOUR_MS - 1_000),
            "the daily window slides",
        )
        .await;
    }

    // 4. IP cap across distinct mobiles.
    {
        let s = section(4);
        let (ip_a, ip_b) = (addr(4, 1), addr(4, 2));
        let lim = send_limits(60_000, BIG, BIG, 3, BIG);
        for k in 0..3 {
            let m = mobile(&format!("1370000040{k}"));
            s.admit(&m, ip_a, &lim, k * 10, "three sends an hour per IP")
                .await;
        }
        let fourth = mobile("13700000409");
        s.refuse(
            &fourth,
            ip_a,
            &lim,
            30,
            refusal(LimitKind::IpHourly, HOUR_MS - 30),
            "the IP cap counts every mobile from that IP",
        )
        .await;
        s.admit(&fourth, ip_b, &lim, 31, "the IP cap is per IP")
            .await;
        s.admit(
            &mobile("13700000408"),
            ip_a,
            &lim,
            HOUR_MS,
            "the IP window slides",
        )
        .await;
    }

    // 5. Global cap across distinct mobiles and IPs.
    {
        let s = section(5);
        let lim = send_limits(60_000, BIG, BIG, BIG, 3);
        for k in 0..3u8 {
            let m = mobile(&format!("1370000050{k}"));
            s.admit(
                &m,
                addr(5, k),
                &lim,
                u64::from(k) * 100,
                "three sends an hour in total",
            )
            .await;
        }
        let rule = "the global cap counts every mobile and IP";
        s.refuse(
            &mobile("13700000509"),
            addr(5, 9),
            &lim,
            250,
            refusal(LimitKind::GlobalHourly, HOUR_MS - 250),
            rule,
        )
        .await;
        s.admit(
            &mobile("13700000509"),
            addr(5, 9),
            &lim,
            HOUR_MS,
            "the global window slides",
        )
        .await;
        s.refuse(
            &mobile("13700000508"),
            addr(5, 8),
            &lim,
            HOUR_MS + 1,
            refusal(LimitKind::GlobalHourly, 99),
            "the global retry_after points at the oldest in-window send",
        )
        .await;
    }

    // 6. Refusals record nothing, in any counter.
    {
        let s = section(6);
        let (m, ip) = (mobile("13700000601"), addr(6, 1));
        let lim = send_limits(60_000, 2, BIG, 3, BIG);
        s.admit(&m, ip, &lim, 0, "first send").await;
        for k in 1..=10 {
            s.refuse(
                &m,
                ip,
                &lim,
                k,
                refusal(LimitKind::MobileCooldown, 60_000 - k),
                "cooldown",
            )
            .await;
        }
        s.admit(
            &m,
            ip,
            &lim,
            60_000,
            "refused attempts must not count toward the hourly cap",
        )
        .await;
        s.refuse(
            &m,
            ip,
            &lim,
            120_000,
            refusal(LimitKind::MobileHourly, HOUR_MS - 120_000),
            "two an hour",
        )
        .await;
        s.admit(
            &mobile("13700000602"),
            ip,
            &lim,
            120_001,
            "refused attempts must not count toward the IP cap",
        )
        .await;
        s.refuse(
            &mobile("13700000603"),
            ip,
            &lim,
            120_002,
            refusal(LimitKind::IpHourly, HOUR_MS - 120_002),
            "three an hour per IP",
        )
        .await;
    }

    // 7. The longest retry_after wins; ties go to the earlier limit.
    {
        let s = section(7);
        let (m_a, m_b) = (mobile("13700000701"), mobile("13700000702"));
        let (ip_y, ip_z) = (addr(7, 1), addr(7, 2));
        let lim = send_limits(60_000, 2, 100, 2, BIG);
        s.admit(&m_b, ip_z, &lim, 0, "setup").await;
        s.admit(&m_a, ip_y, &lim, 100_000, "setup").await;
        s.admit(&m_b, ip_y, &lim, 200_000, "setup").await;
        // Cooldown wants 59_999, m_b hourly (oldest t0) 3_399_999, IP y (oldest t0+100_000)
        // 3_499_999.
        s.refuse(
            &m_b,
            ip_y,
            &lim,
            200_001,
            refusal(LimitKind::IpHourly, HOUR_MS + 100_000 - 200_001),
            "the refusal with the longest retry_after is reported",
        )
        .await;
        let daily = send_limits(60_000, 2, 2, 2, BIG);
        s.refuse(
            &m_b,
            ip_y,
            &daily,
            200_001,
            refusal(LimitKind::MobileDaily, DAY_MS - 200_001),
            "the daily cap, when longest, is reported",
        )
        .await;
        // Tie between mobile hourly and IP hourly: both oldest entries at t0+300_000.
        let (m_c, ip_x) = (mobile("13700000703"), addr(7, 3));
        let tie = send_limits(1_000, 1, 100, 1, BIG);
        s.admit(&m_c, ip_x, &tie, 300_000, "setup").await;
        s.refuse(
            &m_c,
            ip_x,
            &tie,
            400_000,
            refusal(LimitKind::MobileHourly, HOUR_MS - 100_000),
            "on a tie the earlier limit (mobile hourly before IP) is reported",
        )
        .await;
    }

    // 8. release_cooldown lifts the cooldown but keeps the counts.
    {
        let s = section(8);
        let (m, ip) = (mobile("13700000801"), addr(8, 1));
        let lim = send_limits(60_000, 2, BIG, BIG, BIG);
        let p1 = s.admit(&m, ip, &lim, 0, "first send").await;
        s.release(&p1).await;
        let p2 = s
            .admit(&m, ip, &lim, 1, "release_cooldown must lift the cooldown")
            .await;
        s.release(&p2).await;
        s.refuse(
            &m,
            ip,
            &lim,
            2,
            refusal(LimitKind::MobileHourly, HOUR_MS - 2),
            "release_cooldown must keep the hourly count",
        )
        .await;
        // Releasing for a mobile with no state is fine.
        let ghost = SendPermit {
            mobile: mobile("13700000809"),
            reserved_at: Timestamp(s.t0),
        };
        s.release(&ghost).await;
    }

    // 9. A stale permit's release does not lift a newer reservation's cooldown.
    {
        let s = section(9);
        let (m, ip) = (mobile("13700000901"), addr(9, 1));
        let lim = send_limits(60_000, BIG, BIG, BIG, BIG);
        let old = s.admit(&m, ip, &lim, 0, "first send").await;
        s.admit(&m, ip, &lim, 60_000, "after the cooldown").await;
        s.release(&old).await;
        s.refuse(
            &m,
            ip,
            &lim,
            60_001,
            refusal(LimitKind::MobileCooldown, 59_999),
            "releasing a stale permit must not lift the newer cooldown",
        )
        .await;
        // Also when the old permit was released once already and a newer one was reserved.
        let (m2, ip2) = (mobile("13700000902"), addr(9, 2));
        let first = s.admit(&m2, ip2, &lim, 0, "first send").await;
        s.release(&first).await;
        s.admit(&m2, ip2, &lim, 10, "released").await;
        s.release(&first).await;
        s.refuse(
            &m2,
            ip2,
            &lim,
            20,
            refusal(LimitKind::MobileCooldown, 59_990),
            "a repeated stale release must not lift the newer cooldown",
        )
        .await;
    }

    // 10. Login lockout: window from the first failure, locked at max_failures until it ends.
    {
        let s = section(10);
        let lim = LoginLimits {
            max_failures: 3,
            window: Duration::from_millis(600_000),
        };
        let l = addr(10, 1);
        assert_eq!(
            s.lockout(l, &lim, 0).await,
            None,
            "RateLimiter: no failures, no lockout"
        );
        s.fail_login(l, &lim, 0).await;
        s.fail_login(l, &lim, 100_000).await;
        assert_eq!(
            s.lockout(l, &lim, 100_001).await,
            None,
            "RateLimiter: below max_failures, no lockout"
        );
        s.fail_login(l, &lim, 200_000).await;
        assert_eq!(
            s.lockout(l, &lim, 200_000).await,
            Some(refusal(LimitKind::LoginLockout, 400_000)),
            "RateLimiter: max_failures in the window locks until the window (from the first \
             failure) ends"
        );
        assert_eq!(
            s.lockout(l, &lim, 599_999).await,
            Some(refusal(LimitKind::LoginLockout, 1)),
            "RateLimiter: the lockout's retry_after is exact"
        );
        assert_eq!(
            s.lockout(l, &lim, 600_000).await,
            None,
            "RateLimiter: the lockout ends with the window"
        );
        assert_eq!(
            s.lockout(addr(10, 2), &lim, 300_000).await,
            None,
            "RateLimiter: the lockout is per IP"
        );

        // A failure after the window has ended starts a new window from that failure.
        let l2 = addr(10, 3);
        s.fail_login(l2, &lim, 0).await;
        s.fail_login(l2, &lim, 500_000).await;
        s.fail_login(l2, &lim, 650_000).await; // window 1 ended at 600_000: new window
        s.fail_login(l2, &lim, 700_000).await;
        assert_eq!(
            s.lockout(l2, &lim, 700_001).await,
            None,
            "RateLimiter: failures from an ended window must not count (two in the new window)"
        );
        s.fail_login(l2, &lim, 800_000).await;
        assert_eq!(
            s.lockout(l2, &lim, 800_000).await,
            Some(refusal(
                LimitKind::LoginLockout,
                650_000 + 600_000 - 800_000
            )),
            "RateLimiter: the new window starts at its first failure"
        );
    }

    // 11. 30 concurrent sends for one mobile: exactly one permit.
    {
        let s = section(11);
        let now = Timestamp(s.t0);
        let lim = send_limits(60_000, BIG, BIG, BIG, BIG);
        let m = mobile("13700001101");
        let results = race(30, |i| {
            let (limiter, m, lim) = (limiter.clone(), m.clone(), lim.clone());
            let from = addr(11, i as u8);
            async move {
                ok(
                    limiter.acquire_send(&m, from, &lim, now).await,
                    "concurrent acquire_send",
                )
            }
        })
        .await;
        let permits = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(
            permits, 1,
            "RateLimiter: of 30 concurrent sends for one mobile exactly one gets a permit: \
             {results:?}"
        );
        for r in results.iter().filter_map(|r| r.as_ref().err()) {
            assert_eq!(
                *r,
                refusal(LimitKind::MobileCooldown, 60_000),
                "RateLimiter: the others see the winner's cooldown"
            );
        }

        // 30 concurrent sends for distinct mobiles from one IP capped at 5: exactly 5 permits.
        let lim = send_limits(60_000, BIG, BIG, 5, BIG);
        let shared_ip = addr(11, 200);
        let results = race(30, |i| {
            let (limiter, lim) = (limiter.clone(), lim.clone());
            let m = mobile(&format!("137000012{i:02}"));
            async move {
                ok(
                    limiter.acquire_send(&m, shared_ip, &lim, now).await,
                    "concurrent acquire_send",
                )
            }
        })
        .await;
        let permits = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(
            permits, 5,
            "RateLimiter: check-and-count must be atomic: the IP cap of 5 must hold under 30 \
             concurrent sends: {results:?}"
        );
    }

    // 12. Replicas' clocks disagree a little: a caller whose `now` is slightly earlier than the
    //     last reservation is never told to wait longer than the limit itself, and a zero
    //     cooldown never refuses.
    {
        let s = section(12);
        let ip = addr(12, 1);
        let m = mobile("13700001301");
        let lim = send_limits(60_000, BIG, BIG, BIG, BIG);
        s.admit(&m, ip, &lim, 10_000, "first send").await;
        s.refuse(
            &m,
            ip,
            &lim,
            9_000,
            refusal(LimitKind::MobileCooldown, 60_000),
            "a cooldown wait is at most the cooldown, even for an earlier clock",
        )
        .await;

        let m = mobile("13700001302");
        let lim = send_limits(0, BIG, BIG, BIG, BIG);
        s.admit(&m, ip, &lim, 20_000, "no cooldown").await;
        s.admit(
            &m,
            ip,
            &lim,
            19_500,
            "a zero cooldown never refuses, whatever the clocks",
        )
        .await;

        let m = mobile("13700001303");
        let lim = send_limits(0, 1, BIG, BIG, BIG);
        s.admit(&m, ip, &lim, 30_000, "the one send of the hour")
            .await;
        s.refuse(
            &m,
            ip,
            &lim,
            29_000,
            refusal(LimitKind::MobileHourly, 3_600_000),
            "a window wait is at most the window, even for an earlier clock",
        )
        .await;
    }
}

// ---------------------------------------------------------------------------------------------

/// Every rule of [`SessionStore`].
pub async fn session_store<S: SessionStore + Clone>(store: S) {
    let (a, b) = (token('a'), token('b'));
    ok(
        store.create(&a, UserId(1), LONG).await,
        "SessionStore::create",
    );
    ok(
        store.create(&b, UserId(2), LONG).await,
        "SessionStore::create",
    );
    assert_eq!(
        ok(store.get(&a).await, "SessionStore::get"),
        Some(UserId(1)),
        "SessionStore: get after create must return the user"
    );
    assert_eq!(
        ok(store.get(&a).await, "get"),
        Some(UserId(1)),
        "SessionStore: get must not consume the session"
    );
    assert_eq!(
        ok(store.get(&b).await, "get"),
        Some(UserId(2)),
        "SessionStore: each token maps to its own user"
    );
    assert_eq!(
        ok(store.get(&token('z')).await, "get"),
        None,
        "SessionStore: an unknown token must be None"
    );

    ok(store.delete(&a).await, "SessionStore::delete");
    assert_eq!(
        ok(store.get(&a).await, "get"),
        None,
        "SessionStore: a deleted session must be gone"
    );
    assert_eq!(
        ok(store.get(&b).await, "get"),
        Some(UserId(2)),
        "SessionStore: deleting one session must not touch another"
    );
    ok(
        store.delete(&a).await,
        "SessionStore::delete of an absent token must not be an error",
    );

    // TTL.
    let (short, long) = (token('s'), token('l'));
    ok(store.create(&short, UserId(3), SHORT).await, "create");
    ok(store.create(&long, UserId(4), LONG).await, "create");
    tokio::time::sleep(AFTER_SHORT).await;
    assert_eq!(
        ok(store.get(&short).await, "get"),
        None,
        "SessionStore: a session must be gone after its TTL"
    );
    assert_eq!(
        ok(store.get(&long).await, "get"),
        Some(UserId(4)),
        "SessionStore: a session must live until its own TTL"
    );
}
