//! The rules of [`RateLimiter`] (SPEC §4), one function each, driven by synthetic time: no
//! rule sleeps, and each runs in its own stretch of time.

use std::net::IpAddr;
use std::time::Duration;

use domain::{LimitKind, LoginLimits, Mobile, Refusal, SendLimits, Timestamp, DAY_MS, HOUR_MS};
use ports::{RateLimiter, SendPermit};

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

/// Login lockout: window from the first failure, locked at max_failures until it ends.
pub async fn login_lockout_runs_from_the_first_failure_to_the_window_end<L: RateLimiter + Clone>(
    limiter: L,
) {
    let s = section(&limiter, 10);
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
