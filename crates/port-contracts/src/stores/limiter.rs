//! The rules of [`RateLimiter`] (SPEC §4), one function each, driven by synthetic time: no
//! rule sleeps, and each runs in its own stretch of time.

use std::net::IpAddr;
use std::time::Duration;

use domain::{
    ClientNet, LimitKind, LoginLimits, Mobile, Refusal, SendLimits, Timestamp, DAY_MS, HOUR_MS,
};
use ports::{
    CaptchaStore, CodeCheck, CodeStore, LoginPermit, NewCaptcha, NewCode, RateLimiter, SendPermit,
};

use super::*;

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

/// The code a rule's send stores, when the rule is not about it.
fn any_code() -> NewCode {
    NewCode {
        digest: digest(0xC0),
        ttl: LONG,
    }
}

/// The captcha a rule's captcha stores, when the rule is not about it.
fn any_captcha<'a>(id: &'a CaptchaId, text: &'a CaptchaText) -> NewCaptcha<'a> {
    NewCaptcha {
        id,
        text,
        ttl: LONG,
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
        ip: ClientNet,
        limits: &SendLimits,
        at: u64,
    ) -> Result<SendPermit, Refusal> {
        ok(
            self.limiter
                .acquire_send(m, ip, limits, Timestamp(self.t0 + at), &any_code())
                .await,
            "RateLimiter::acquire_send",
        )
    }

    /// Assert admitted at `t0 + at`, checking the permit.
    async fn admit(
        &self,
        m: &Mobile,
        ip: ClientNet,
        limits: &SendLimits,
        at: u64,
        rule: &str,
    ) -> SendPermit {
        let p = admitted(self.send(m, ip, limits, at).await, at, rule);
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

    /// Assert refused at `t0 + at` with exactly `expected`.
    async fn refuse(
        &self,
        m: &Mobile,
        ip: ClientNet,
        limits: &SendLimits,
        at: u64,
        expected: Refusal,
        rule: &str,
    ) {
        refused(self.send(m, ip, limits, at).await, expected, at, rule);
    }

    async fn login(
        &self,
        client: ClientNet,
        m: &Mobile,
        limits: &LoginLimits,
        at: u64,
    ) -> Result<LoginPermit, Refusal> {
        ok(
            self.limiter
                .acquire_login(client, m, limits, Timestamp(self.t0 + at))
                .await,
            "RateLimiter::acquire_login",
        )
    }

    /// Assert a sign-in attempt is admitted at `t0 + at` (and counted).
    async fn attempt(
        &self,
        client: ClientNet,
        m: &Mobile,
        limits: &LoginLimits,
        at: u64,
        rule: &str,
    ) -> LoginPermit {
        let p = admitted(self.login(client, m, limits, at).await, at, rule);
        assert_eq!(
            (p.client, &p.mobile),
            (client, m),
            "RateLimiter: a login permit names its client and account"
        );
        p
    }

    /// Assert a sign-in attempt is refused at `t0 + at` with exactly `expected`.
    async fn locked(
        &self,
        client: ClientNet,
        m: &Mobile,
        limits: &LoginLimits,
        at: u64,
        expected: Refusal,
        rule: &str,
    ) {
        refused(self.login(client, m, limits, at).await, expected, at, rule);
    }

    async fn captcha(&self, client: ClientNet, per_minute: u32, at: u64) -> Result<(), Refusal> {
        let (id, text) = (captcha_id("limited"), text("ABCD"));
        ok(
            self.limiter
                .acquire_captcha(
                    client,
                    per_minute,
                    Timestamp(self.t0 + at),
                    any_captcha(&id, &text),
                )
                .await,
            "RateLimiter::acquire_captcha",
        )
    }

    async fn release(&self, permit: &SendPermit) {
        ok(
            self.limiter.release_cooldown(permit).await,
            "RateLimiter::release_cooldown",
        );
    }
}

/// The permit of an admitted request at `t0 + at`.
#[track_caller]
fn admitted<P>(result: Result<P, Refusal>, at: u64, rule: &str) -> P {
    match result {
        Ok(p) => p,
        Err(r) => panic!("RateLimiter: {rule}: expected admission at t0+{at} ms, got {r:?}"),
    }
}

/// Assert a request at `t0 + at` was refused with exactly `expected`.
#[track_caller]
fn refused<P: std::fmt::Debug>(result: Result<P, Refusal>, expected: Refusal, at: u64, rule: &str) {
    match result {
        Ok(p) => panic!("RateLimiter: {rule}: expected {expected:?} at t0+{at} ms, got {p:?}"),
        Err(r) => assert_eq!(r, expected, "RateLimiter: {rule} (at t0+{at} ms)"),
    }
}

/// A fresh stretch of synthetic time for section `k`, far from every other section's.
fn section<L>(limiter: &L, k: u64) -> Clocked<'_, L> {
    Clocked {
        limiter,
        t0: BASE + k * 10 * DAY_MS,
    }
}

/// A cap too large to matter in a rule about another limit.
const BIG: u32 = 1_000_000;

/// Cooldown: exact retry_after, admitted exactly at reserved_at + cooldown.
pub async fn the_cooldown_refuses_with_the_exact_time_left<L: RateLimiter + Clone>(limiter: L) {
    let s = section(&limiter, 1);
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

/// Hourly cap, sliding edge, refusals record nothing, cooldown/hourly tie.
pub async fn the_hourly_cap_slides_and_refusals_record_nothing<L: RateLimiter + Clone>(limiter: L) {
    let s = section(&limiter, 2);
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
}

/// The hourly wait points at the oldest entry still in the window; irregular spacing, so it
/// cannot coincide with the cooldown.
pub async fn the_hourly_wait_points_at_the_oldest_entry_in_the_window<L: RateLimiter + Clone>(
    limiter: L,
) {
    let s = section(&limiter, 13);
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

/// Daily cap.
pub async fn the_daily_cap_slides_over_a_day<L: RateLimiter + Clone>(limiter: L) {
    let s = section(&limiter, 3);
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

/// IP cap across distinct mobiles.
pub async fn the_ip_cap_counts_across_mobiles<L: RateLimiter + Clone>(limiter: L) {
    let s = section(&limiter, 4);
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

/// Global cap across distinct mobiles and IPs.
pub async fn the_global_cap_counts_across_mobiles_and_ips<L: RateLimiter + Clone>(limiter: L) {
    let s = section(&limiter, 5);
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

/// Refusals record nothing, in any counter.
pub async fn a_refusal_records_nothing_in_any_counter<L: RateLimiter + Clone>(limiter: L) {
    let s = section(&limiter, 6);
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

/// The longest retry_after wins; ties go to the earlier limit.
pub async fn the_longest_wait_wins_and_ties_go_to_the_earlier_limit<L: RateLimiter + Clone>(
    limiter: L,
) {
    let s = section(&limiter, 7);
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

/// release_cooldown lifts the cooldown but keeps the counts.
pub async fn release_lifts_the_cooldown_but_keeps_the_counts<L: RateLimiter + Clone>(limiter: L) {
    let s = section(&limiter, 8);
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

/// A stale permit's release does not lift a newer reservation's cooldown.
pub async fn a_stale_permit_does_not_lift_a_newer_cooldown<L: RateLimiter + Clone>(limiter: L) {
    let s = section(&limiter, 9);
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

fn login_limits(per_ip: u32, per_mobile: u32, window_ms: u64) -> LoginLimits {
    LoginLimits {
        per_ip,
        per_mobile,
        window: Duration::from_millis(window_ms),
    }
}

/// Login lockout: a fixed window from the first attempt, locked at the cap until it ends.
pub async fn login_lockout_runs_from_the_first_attempt_to_the_window_end<L: RateLimiter + Clone>(
    limiter: L,
) {
    let s = section(&limiter, 10);
    let lim = login_limits(3, BIG, 600_000);
    let l = addr(10, 1);
    let m = |n: u32| mobile(&format!("1370000{:04}", 1000 + n));
    s.attempt(l, &m(1), &lim, 0, "first attempt").await;
    s.attempt(l, &m(2), &lim, 100_000, "second attempt").await;
    s.attempt(l, &m(3), &lim, 200_000, "third attempt").await;
    s.locked(
        l,
        &m(4),
        &lim,
        200_000,
        refusal(LimitKind::LoginLockout, 400_000),
        "the cap in the window locks the client until the window (from the first attempt) ends",
    )
    .await;
    s.locked(
        l,
        &m(5),
        &lim,
        599_999,
        refusal(LimitKind::LoginLockout, 1),
        "the lockout's retry_after is exact, and refused attempts are not counted",
    )
    .await;
    s.attempt(l, &m(6), &lim, 600_000, "the lockout ends with the window")
        .await;
    s.attempt(
        addr(10, 2),
        &m(7),
        &lim,
        300_000,
        "the lockout is per client",
    )
    .await;

    // An attempt after the window has ended starts a new window from that attempt.
    let l2 = addr(10, 3);
    s.attempt(l2, &m(8), &lim, 0, "window 1").await;
    s.attempt(l2, &m(8), &lim, 500_000, "window 1").await;
    s.attempt(l2, &m(8), &lim, 650_000, "window 2 starts").await;
    s.attempt(l2, &m(8), &lim, 700_000, "window 2").await;
    s.attempt(
        l2,
        &m(8),
        &lim,
        700_001,
        "attempts of an ended window must not count",
    )
    .await;
    s.locked(
        l2,
        &m(8),
        &lim,
        800_000,
        refusal(LimitKind::LoginLockout, 650_000 + 600_000 - 800_000),
        "the new window starts at its first attempt",
    )
    .await;
}

/// The account cap counts across clients; the client cap across accounts; the longer wait
/// wins, the client on ties.
pub async fn login_limits_count_per_client_and_per_account<L: RateLimiter + Clone>(limiter: L) {
    let s = section(&limiter, 21);
    let lim = login_limits(3, 2, 600_000);
    let victim = mobile("13700001401");
    s.attempt(addr(13, 1), &victim, &lim, 0, "account attempt 1")
        .await;
    s.attempt(addr(13, 2), &victim, &lim, 10_000, "account attempt 2")
        .await;
    s.locked(
        addr(13, 3),
        &victim,
        &lim,
        20_000,
        refusal(LimitKind::AccountLockout, 580_000),
        "the account cap holds whatever client tries",
    )
    .await;
    s.attempt(
        addr(13, 3),
        &mobile("13700001402"),
        &lim,
        20_000,
        "a refused attempt for one account costs its client nothing",
    )
    .await;

    // Client 4 uses its three attempts on three accounts, then is locked for a fourth.
    let l = addr(13, 4);
    for n in 0..3u32 {
        let m = mobile(&format!("137000015{n:02}"));
        s.attempt(l, &m, &lim, 100_000, "client attempt").await;
    }
    s.locked(
        l,
        &mobile("13700001599"),
        &lim,
        100_000,
        refusal(LimitKind::LoginLockout, 600_000),
        "the client cap holds across accounts",
    )
    .await;
    // Both locked: the longer wait wins (the client's window started later).
    s.locked(
        l,
        &victim,
        &lim,
        100_000,
        refusal(LimitKind::LoginLockout, 600_000),
        "both caps refuse: the longer wait wins",
    )
    .await;
    // Ties go to the client.
    let (l5, m5) = (addr(13, 5), mobile("13700001601"));
    let tie = login_limits(1, 1, 600_000);
    s.attempt(l5, &m5, &tie, 200_000, "the one attempt").await;
    s.locked(
        l5,
        &m5,
        &tie,
        200_000,
        refusal(LimitKind::LoginLockout, 600_000),
        "equal waits: the client's lockout is the answer",
    )
    .await;
}

/// A released attempt (a success) no longer counts, in the windows it was counted in only.
pub async fn a_released_attempt_no_longer_counts<L: RateLimiter + Clone>(limiter: L) {
    let s = section(&limiter, 14);
    let lim = login_limits(2, 2, 600_000);
    let (l, m) = (addr(14, 1), mobile("13700001701"));
    for _ in 0..10 {
        let p = s.attempt(l, &m, &lim, 0, "attempt that succeeds").await;
        ok(
            limiter.release_login(&p).await,
            "RateLimiter::release_login",
        );
    }
    let first = s.attempt(l, &m, &lim, 1_000, "one failure").await;
    s.attempt(l, &m, &lim, 2_000, "two failures").await;
    s.locked(
        l,
        &m,
        &lim,
        3_000,
        refusal(LimitKind::LoginLockout, 597_000),
        "successes given back, failures kept",
    )
    .await;
    // A permit from an ended window gives nothing back in the new one.
    let fresh = s.attempt(l, &m, &lim, 600_000, "new window").await;
    s.attempt(l, &m, &lim, 600_001, "new window").await;
    ok(limiter.release_login(&first).await, "release_login");
    s.locked(
        l,
        &m,
        &lim,
        600_002,
        refusal(LimitKind::LoginLockout, 599_998),
        "a stale permit must not give back an attempt of a later window",
    )
    .await;
    ok(limiter.release_login(&fresh).await, "release_login");
    s.attempt(l, &m, &lim, 600_003, "released in its own window")
        .await;
}

/// 200 concurrent attempts from one client: exactly the cap admitted; for one account from
/// 200 clients: exactly the account cap.
pub async fn concurrent_sign_ins_never_overrun_a_login_limit<L: RateLimiter + Clone>(limiter: L) {
    let s = section(&limiter, 15);
    let now = Timestamp(s.t0);
    let lim = login_limits(5, BIG, 600_000);
    let from = addr(15, 1);
    let admitted = concurrent_logins(&limiter, &lim, now, |i| {
        (from, mobile(&format!("1370002{i:04}")))
    })
    .await;
    assert_eq!(
        admitted, 5,
        "RateLimiter: of 200 concurrent attempts from one client exactly the cap (5) are \
         admitted"
    );

    let lim = login_limits(BIG, 10, 600_000);
    let victim = mobile("13700001801");
    let admitted = concurrent_logins(&limiter, &lim, now, |i| {
        let from = ClientNet::of(IpAddr::from([10, 78, (i / 256) as u8, (i % 256) as u8]), 64);
        (from, victim.clone())
    })
    .await;
    assert_eq!(
        admitted, 10,
        "RateLimiter: of 200 concurrent attempts on one account exactly the cap (10) are \
         admitted"
    );
}

/// Race 200 sign-in attempts, the `i`-th for the client and account `who(i)`, all at `now`;
/// how many were admitted.
async fn concurrent_logins<L: RateLimiter + Clone>(
    limiter: &L,
    lim: &LoginLimits,
    now: Timestamp,
    who: impl Fn(usize) -> (ClientNet, Mobile),
) -> usize {
    let results = race(200, |i| {
        let (limiter, lim) = (limiter.clone(), lim.clone());
        let (from, m) = who(i);
        async move {
            ok(
                limiter.acquire_login(from, &m, &lim, now).await,
                "acquire_login",
            )
        }
    })
    .await;
    results.iter().filter(|r| r.is_ok()).count()
}

/// Captchas: a sliding minute per client; refusals record nothing.
pub async fn the_captcha_cap_slides_per_client<L: RateLimiter + Clone>(limiter: L) {
    let s = section(&limiter, 16);
    let l = addr(16, 1);
    for at in [0, 10_000, 20_000] {
        assert_eq!(
            s.captcha(l, 3, at).await,
            Ok(()),
            "RateLimiter: captcha within the cap"
        );
    }
    assert_eq!(
        s.captcha(l, 3, 30_000).await,
        Err(refusal(LimitKind::CaptchaPerMinute, 30_000)),
        "RateLimiter: beyond the cap, refused until the oldest leaves the minute"
    );
    assert_eq!(
        s.captcha(l, 3, 59_999).await,
        Err(refusal(LimitKind::CaptchaPerMinute, 1)),
        "RateLimiter: the captcha retry_after is exact and refusals record nothing"
    );
    assert_eq!(
        s.captcha(l, 3, 60_000).await,
        Ok(()),
        "RateLimiter: a captcha exactly one minute old no longer counts"
    );
    assert_eq!(
        s.captcha(addr(16, 2), 3, 30_000).await,
        Ok(()),
        "RateLimiter: the captcha cap is per client"
    );
    assert_eq!(
        s.captcha(addr(16, 3), 0, 0).await,
        Err(refusal(LimitKind::CaptchaPerMinute, 60_000)),
        "RateLimiter: a captcha cap of zero always refuses"
    );
}

/// 200 concurrent captchas from one client: exactly the cap issued.
pub async fn concurrent_captchas_never_overrun_the_cap<L: RateLimiter + Clone>(limiter: L) {
    let s = section(&limiter, 17);
    let now = Timestamp(s.t0);
    let from = addr(17, 1);
    let results = race(200, |_| {
        let limiter = limiter.clone();
        async move {
            let (id, text) = (captcha_id("raced"), text("ABCD"));
            ok(
                limiter
                    .acquire_captcha(from, 30, now, any_captcha(&id, &text))
                    .await,
                "acquire_captcha",
            )
        }
    })
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        30,
        "RateLimiter: of 200 concurrent captchas from one client exactly the cap (30) are issued"
    );
}

/// IPv6: every address of one prefix is one client, for every per-client limit.
pub async fn ipv6_clients_are_limited_by_prefix<L: RateLimiter + Clone>(limiter: L) {
    let s = section(&limiter, 18);
    let v6 = |host: u16| ClientNet::of(IpAddr::from([0x2001, 0xdb8, 0x18, 0x1, 0, 0, host, 1]), 64);
    let lim = send_limits(0, BIG, BIG, 2, BIG);
    s.admit(&mobile("13700001901"), v6(1), &lim, 0, "first address")
        .await;
    s.admit(&mobile("13700001902"), v6(2), &lim, 1, "second address")
        .await;
    s.refuse(
        &mobile("13700001903"),
        v6(3),
        &lim,
        2,
        refusal(LimitKind::IpHourly, HOUR_MS - 2),
        "a third address of the same /64 is the same client",
    )
    .await;
    let other = ClientNet::of(IpAddr::from([0x2001, 0xdb8, 0x18, 0x2, 0, 0, 0, 1]), 64);
    s.admit(&mobile("13700001904"), other, &lim, 3, "another /64")
        .await;
    let lim = login_limits(1, BIG, 600_000);
    s.attempt(v6(4), &mobile("13700001905"), &lim, 0, "login from the /64")
        .await;
    s.locked(
        v6(5),
        &mobile("13700001906"),
        &lim,
        0,
        refusal(LimitKind::LoginLockout, 600_000),
        "the login lockout holds for the whole /64",
    )
    .await;
    assert_eq!(s.captcha(v6(6), 1, 0).await, Ok(()), "captcha from the /64");
    assert_eq!(
        s.captcha(v6(7), 1, 0).await,
        Err(refusal(LimitKind::CaptchaPerMinute, 60_000)),
        "RateLimiter: the captcha cap holds for the whole /64"
    );
}

/// 30 concurrent sends for one mobile: exactly one permit.
pub async fn check_and_count_is_atomic_under_concurrent_sends<L: RateLimiter + Clone>(limiter: L) {
    let s = section(&limiter, 11);
    let now = Timestamp(s.t0);
    let lim = send_limits(60_000, BIG, BIG, BIG, BIG);
    let m = mobile("13700001101");
    let results = race(30, |i| {
        let (limiter, m, lim) = (limiter.clone(), m.clone(), lim.clone());
        let from = addr(11, i as u8);
        async move {
            ok(
                limiter.acquire_send(&m, from, &lim, now, &any_code()).await,
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
                limiter
                    .acquire_send(&m, shared_ip, &lim, now, &any_code())
                    .await,
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

/// Replicas' clocks disagree a little: a caller whose `now` is slightly earlier than the
/// last reservation is never told to wait longer than the limit itself, and a zero
/// cooldown never refuses.
pub async fn a_skewed_clock_never_waits_longer_than_the_limit<L: RateLimiter + Clone>(limiter: L) {
    let s = section(&limiter, 12);
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

/// An admitted send stores its code as `CodeStore::put` would (replacing an earlier one, its
/// attempts reset); a refused send leaves the earlier code exactly as it was.
pub async fn an_admitted_send_stores_its_code_and_a_refused_one_changes_nothing<S>(store: S)
where
    S: RateLimiter + CodeStore + Clone,
{
    let t0 = section(&store, 19).t0;
    let m = mobile("13700001950");
    let lim = send_limits(60_000, BIG, BIG, BIG, BIG);
    let send = |at: u64, seed: u8| {
        let (store, m, lim) = (store.clone(), m.clone(), lim.clone());
        let code = NewCode {
            digest: digest(seed),
            ttl: LONG,
        };
        async move {
            ok(
                store
                    .acquire_send(&m, addr(19, 1), &lim, Timestamp(t0 + at), &code)
                    .await,
                "RateLimiter::acquire_send",
            )
        }
    };
    let verify = |seed: u8| {
        let (store, m) = (store.clone(), m.clone());
        async move {
            ok(
                store.verify(&m, &digest(seed), 5).await,
                "CodeStore::verify",
            )
        }
    };

    admitted(send(0, 1).await, 0, "first send");
    assert_eq!(
        verify(2).await,
        CodeCheck::Mismatch { attempts_left: 4 },
        "RateLimiter: an admitted send stores its code (another digest is a mismatch)"
    );
    refused(
        send(1, 3).await,
        refusal(LimitKind::MobileCooldown, 59_999),
        1,
        "a send in the cooldown",
    );
    assert_eq!(
        verify(3).await,
        CodeCheck::Mismatch { attempts_left: 3 },
        "RateLimiter: a refused send stores nothing and leaves the earlier code and its \
         attempts as they were"
    );
    admitted(send(60_000, 4).await, 60_000, "a send after the cooldown");
    assert_eq!(
        verify(1).await,
        CodeCheck::Mismatch { attempts_left: 4 },
        "RateLimiter: an admitted send replaces the earlier code and resets its attempts"
    );
    match verify(4).await {
        CodeCheck::Accepted(taken) => {
            assert_eq!(
                (taken.digest, taken.mismatches),
                (digest(4), 1),
                "RateLimiter: the stored code is the send's digest"
            );
            assert!(
                taken.ttl_left <= LONG && taken.ttl_left > LONG - Duration::from_secs(60),
                "RateLimiter: the stored code lives for the send's ttl: {:?} left",
                taken.ttl_left
            );
        }
        other => panic!("RateLimiter: the admitted send's code must verify, got {other:?}"),
    }
}

/// An admitted captcha is stored under its id as `CaptchaStore::put` would (replacing an
/// earlier text); a refused one stores nothing and leaves an earlier text under its id alone.
pub async fn an_admitted_captcha_is_stored_and_a_refused_one_changes_nothing<S>(store: S)
where
    S: RateLimiter + CaptchaStore + Clone,
{
    let t0 = section(&store, 20).t0;
    let from = addr(20, 1);
    let issue = |id: &'static str, raw: &'static str, at: u64| {
        let store = store.clone();
        async move {
            let (id, text) = (captcha_id(id), text(raw));
            ok(
                store
                    .acquire_captcha(
                        from,
                        2,
                        Timestamp(t0 + at),
                        NewCaptcha {
                            id: &id,
                            text: &text,
                            ttl: LONG,
                        },
                    )
                    .await,
                "RateLimiter::acquire_captcha",
            )
        }
    };
    let take = |id: &'static str| {
        let store = store.clone();
        async move {
            ok(store.take(&captcha_id(id)).await, "CaptchaStore::take")
                .map(|t| t.as_str().to_owned())
        }
    };

    assert_eq!(issue("first", "ABCD", 0).await, Ok(()), "first captcha");
    assert_eq!(issue("second", "EFGH", 1).await, Ok(()), "second captcha");
    assert_eq!(
        issue("first", "JKMN", 2).await,
        Err(refusal(LimitKind::CaptchaPerMinute, 59_998)),
        "a third captcha in the minute is refused"
    );
    assert_eq!(
        take("first").await.as_deref(),
        Some("ABCD"),
        "RateLimiter: a refused captcha stores nothing, not even over an earlier text"
    );
    assert_eq!(
        take("second").await.as_deref(),
        Some("EFGH"),
        "RateLimiter: an admitted captcha is stored under its id"
    );
    assert_eq!(
        issue("third", "PQRS", 60_000).await,
        Ok(()),
        "a minute later"
    );
    assert_eq!(
        issue("third", "TUVW", 60_001).await,
        Ok(()),
        "again, same id"
    );
    assert_eq!(
        take("third").await.as_deref(),
        Some("TUVW"),
        "RateLimiter: an admitted captcha replaces the text under its id"
    );
}
