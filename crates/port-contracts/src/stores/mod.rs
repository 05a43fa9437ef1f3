//! Contract suites for [`CaptchaStore`](ports::CaptchaStore), [`CodeStore`](ports::CodeStore),
//! [`RateLimiter`](ports::RateLimiter) and [`SessionStore`](ports::SessionStore): one `pub async
//! fn` per rule, each taking a fresh, empty adapter. [`store_contract_tests!`](crate::store_contract_tests)
//! turns every rule into its own `#[tokio::test]` for an adapter, so the first failure hides
//! nothing and a rule can run alone (`cargo nextest run rate_limiter::the_daily_cap`).
//!
//! Rules that race spawn tasks: the tests run on a multi-threaded tokio runtime. Time: the
//! limiter is driven with synthetic `now` values and never sleeps; TTL expiry of the other
//! stores is checked by storing with a 300 ms TTL and sleeping 1.2 s, asserting only on what is
//! observed afterwards.

pub mod captcha;
pub mod code;
pub mod health;
pub mod limiter;
pub mod session;

use std::fmt::Debug;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use domain::{CaptchaId, CaptchaText, ClientNet, CodeDigest, Mobile, SessionToken};

/// Long enough that nothing expires during a rule.
const LONG: Duration = Duration::from_secs(600);
/// Short TTL for expiry checks, and how long to wait for it to pass.
const SHORT: Duration = Duration::from_millis(300);
const AFTER_SHORT: Duration = Duration::from_millis(1200);

/// Start of the limiter's synthetic time; each rule gets its own ten-day stretch after it.
const BASE: u64 = 1_700_000_000_000;

/// Unwrap an adapter result, naming the call that failed.
pub(crate) fn ok<T, E: Debug>(r: Result<T, E>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what} failed: {e:?}"),
    }
}

pub(crate) fn mobile(raw: &str) -> Mobile {
    ok(Mobile::parse(raw), "test mobile")
}

pub(crate) fn captcha_id(raw: &str) -> CaptchaId {
    ok(CaptchaId::parse(raw), "test captcha id")
}

pub(crate) fn text(raw: &str) -> CaptchaText {
    ok(CaptchaText::parse(raw), "test captcha text")
}

pub(crate) fn digest(seed: u8) -> CodeDigest {
    CodeDigest([seed; 32])
}

pub(crate) fn token(tag: char) -> SessionToken {
    ok(
        SessionToken::parse(&format!("{}{}", "t".repeat(42), tag)),
        "test session token",
    )
}

pub(crate) fn addr(a: u8, b: u8) -> ClientNet {
    ClientNet::of(IpAddr::V4(Ipv4Addr::new(10, 77, a, b)), 64)
}

/// Run `n` copies of `f` as truly concurrent tokio tasks and collect their results.
pub(crate) async fn race<T, F, Fut>(n: usize, f: F) -> Vec<T>
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
