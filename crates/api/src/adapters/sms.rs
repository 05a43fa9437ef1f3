//! Which provider gets a code: the one place that decides it (SPEC §6a).
//!
//! The providers of `sms.providers` are tried in order, each behind its own circuit breaker:
//!
//! - **sent** — done;
//! - **rate-limited** or **rejected** — the send ends there, with that answer: the provider
//!   answered for this number, and another provider would only deliver what it refused;
//! - **unavailable** — the next provider gets **the same code** (at worst it arrives twice);
//! - a provider whose breaker is open is skipped.
//!
//! If no provider sends, the last unavailability is the answer (the use case then withdraws
//! the code and lifts the cooldown). The use case calls [`Sms`] once per send, so the limits of
//! SPEC §4 count a send once however many providers it went through.
//!
//! Every attempt is counted and timed by provider and outcome, every failover by the provider
//! that failed, every skip by the provider skipped, and each breaker's state is a gauge
//! ([`Prometheus`]). Logs name providers and errors, never the code or the full number.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::anyhow;
use console_sms::ConsoleSms;
use domain::{Mobile, SmsCode, Timestamp};
use ports::{Clock, SmsError, SmsSender};
use prometheus_metrics::Prometheus;
use ronglian_sms::RonglianSms;
use tencent_sms::TencentSms;

/// One SMS provider adapter.
pub enum Provider {
    Console(ConsoleSms),
    Ronglian(RonglianSms),
    Tencent(TencentSms),
}

impl Provider {
    async fn send_code(
        &self,
        mobile: &Mobile,
        code: &SmsCode,
        valid_minutes: u32,
    ) -> Result<(), SmsError> {
        match self {
            Provider::Console(s) => s.send_code(mobile, code, valid_minutes).await,
            Provider::Ronglian(s) => s.send_code(mobile, code, valid_minutes).await,
            Provider::Tencent(s) => s.send_code(mobile, code, valid_minutes).await,
        }
    }
}

/// `sms.providers` in order, each with its breaker.
pub struct Sms {
    routes: Vec<Route>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Prometheus>,
}

struct Route {
    /// Its name in `sms.providers`, the logs and the metrics' `provider` label.
    name: &'static str,
    provider: Provider,
    breaker: Breaker,
}

impl Sms {
    /// `providers` in the order they are tried, each with its name in `sms.providers`
    /// (distinct: the configuration sees to it), each given a closed breaker with `breaker`
    /// settings; `clock` times the breakers.
    pub fn new(
        providers: Vec<(&'static str, Provider)>,
        breaker: BreakerSettings,
        clock: Arc<dyn Clock>,
        metrics: Arc<Prometheus>,
    ) -> Self {
        let routes = providers
            .into_iter()
            .map(|(name, provider)| {
                metrics.sms_breaker_open(name, false);
                let gauge = metrics.clone();
                let breaker =
                    Breaker::new(breaker).on_change(move |open| gauge.sms_breaker_open(name, open));
                Route {
                    name,
                    provider,
                    breaker,
                }
            })
            .collect();
        Self {
            routes,
            clock,
            metrics,
        }
    }
}

impl SmsSender for Sms {
    async fn send_code(
        &self,
        mobile: &Mobile,
        code: &SmsCode,
        valid_minutes: u32,
    ) -> Result<(), SmsError> {
        // The provider last found unavailable, and why: the next one tried takes over from it.
        let mut failed: Option<(&'static str, anyhow::Error)> = None;
        for route in &self.routes {
            let name = route.name;
            let Some(pass) = route.breaker.admit(self.clock.now()) else {
                tracing::warn!(
                    provider = name,
                    "SMS provider skipped: its circuit breaker is open"
                );
                self.metrics.sms_skipped(name);
                continue;
            };
            if let Some((from, error)) = &failed {
                tracing::warn!(
                    from = *from,
                    to = name,
                    error = format!("{error:#}"),
                    "SMS provider unavailable: failing over with the same code"
                );
                self.metrics.sms_failover(from);
            }
            if pass.is_trial() {
                tracing::info!(
                    provider = name,
                    "SMS provider's breaker is half-open: this send is its trial"
                );
            }
            let started = Instant::now();
            let result = route.provider.send_code(mobile, code, valid_minutes).await;
            self.metrics.sms_send(name, &result, started.elapsed());
            match result {
                Ok(()) => {
                    pass.answered();
                    tracing::info!(provider = name, "code message sent");
                    return Ok(());
                }
                Err(SmsError::Unavailable(error)) => {
                    pass.unavailable(self.clock.now());
                    failed = Some((name, error));
                }
                Err(answer) => {
                    // Rate-limited or rejected: the provider answered for this number.
                    pass.answered();
                    return Err(answer);
                }
            }
        }
        Err(SmsError::Unavailable(match failed {
            Some((_, error)) => error,
            None => anyhow!("no SMS provider tried: every one's circuit breaker is open"),
        }))
    }
}

// ---------------------------------------------------------------------------------------------
// The circuit breaker.

/// When a breaker opens, and for how long (`sms.breaker_failures`, `sms.breaker_open_secs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive unavailable outcomes that open it (at least 1).
    pub failures: u32,
    /// How long an open breaker skips its provider before one trial send.
    pub open_for: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            failures: 5,
            open_for: Duration::from_secs(30),
        }
    }
}

/// One provider's circuit breaker, in this process. Pure: no I/O, time passed in.
///
/// - **Closed**: every send goes through; `failures` consecutive unavailable outcomes open it.
/// - **Open** until `open_for` has passed: the provider is skipped.
/// - Then the first send to come is its **trial** (half-open); every other send skips the
///   provider while the trial is out. A trial that fails opens it again for the full period;
///   one that answers closes it. A trial whose send is dropped unfinished (the client went
///   away) leaves it open but due, so the next send is a new trial.
///
/// Any answer — sent, rate-limited, rejected — closes it and resets the count: the provider
/// answered. An unavailable outcome of a send admitted before the breaker opened does not
/// extend the open period or end a trial.
struct Breaker {
    settings: BreakerSettings,
    state: Mutex<Inner>,
    /// Told `true` when the breaker opens and `false` when it closes (under the lock, so in
    /// the order the changes happened).
    on_change: Box<dyn Fn(bool) + Send + Sync>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Timestamp,
    },
    /// Trial `id` is out.
    Trial {
        id: u64,
    },
}

struct Inner {
    state: State,
    /// Trials handed out so far: tells a finishing trial from a later one.
    trials: u64,
}

impl Breaker {
    fn new(settings: BreakerSettings) -> Self {
        Self {
            settings,
            state: Mutex::new(Inner {
                state: State::Closed { failures: 0 },
                trials: 0,
            }),
            on_change: Box::new(|_| {}),
        }
    }

    /// Call `f(open)` whenever it opens or closes.
    fn on_change(mut self, f: impl Fn(bool) + Send + Sync + 'static) -> Self {
        self.on_change = Box::new(f);
        self
    }

    /// Whether a send may go to this provider at `now`: a [`Pass`] to report the outcome
    /// with, or `None` (skip it).
    fn admit(&self, now: Timestamp) -> Option<Pass<'_>> {
        let mut inner = self.lock();
        match inner.state {
            State::Closed { .. } => Some(Pass {
                breaker: self,
                trial: None,
            }),
            State::Open { until } if now >= until => {
                inner.trials += 1;
                let id = inner.trials;
                inner.state = State::Trial { id };
                Some(Pass {
                    breaker: self,
                    trial: Some(id),
                })
            }
            State::Open { .. } | State::Trial { .. } => None,
        }
    }

    /// Open (or half-open) rather than closed.
    #[cfg(test)]
    fn is_open(&self) -> bool {
        !matches!(self.lock().state, State::Closed { .. })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Nothing panics under the lock; if something did, the state is still one of the three.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn answered(&self) {
        let mut inner = self.lock();
        let was_open = !matches!(inner.state, State::Closed { .. });
        inner.state = State::Closed { failures: 0 };
        if was_open {
            (self.on_change)(false);
        }
    }

    fn unavailable(&self, trial: Option<u64>, now: Timestamp) {
        let mut inner = self.lock();
        let reopen = State::Open {
            until: Timestamp(
                now.millis()
                    .saturating_add(domain::millis(self.settings.open_for)),
            ),
        };
        match (inner.state, trial) {
            (State::Trial { id, .. }, Some(trial)) if id == trial => inner.state = reopen,
            (State::Closed { failures }, _) => {
                let failures = failures.saturating_add(1);
                if failures >= self.settings.failures {
                    inner.state = reopen;
                    (self.on_change)(true);
                } else {
                    inner.state = State::Closed { failures };
                }
            }
            // A send from before it opened, or another trial's: it decides nothing now.
            (State::Open { .. } | State::Trial { .. }, _) => {}
        }
    }

    fn abandoned(&self, trial: u64) {
        let mut inner = self.lock();
        if inner.state == (State::Trial { id: trial }) {
            // Due now: the next send is a new trial.
            inner.state = State::Open {
                until: Timestamp(0),
            };
        }
    }
}

/// Leave to send through a provider; say how it went with [`Pass::answered`] or
/// [`Pass::unavailable`]. Dropped without either (the send's future was dropped), a trial
/// gives its turn to the next send.
#[must_use = "report the outcome of the send"]
struct Pass<'a> {
    breaker: &'a Breaker,
    /// `Some(id)`: this send is the half-open breaker's trial.
    trial: Option<u64>,
}

impl Pass<'_> {
    /// This send is the trial of a half-open breaker.
    fn is_trial(&self) -> bool {
        self.trial.is_some()
    }

    /// The provider answered: sent, rate-limited or rejected.
    fn answered(mut self) {
        self.trial = None;
        self.breaker.answered();
    }

    /// The provider was unavailable at `now`.
    fn unavailable(mut self, now: Timestamp) {
        let trial = self.trial.take();
        self.breaker.unavailable(trial, now);
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        if let Some(trial) = self.trial.take() {
            self.breaker.abandoned(trial);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use port_contracts::FakeClock;

    use super::*;

    const T0: Timestamp = Timestamp(1_700_000_000_000);
    const OPEN_FOR: Duration = Duration::from_secs(30);

    fn breaker(failures: u32) -> Breaker {
        Breaker::new(BreakerSettings {
            failures,
            open_for: OPEN_FOR,
        })
    }

    fn fail(b: &Breaker, clock: &FakeClock) {
        b.admit(clock.now()).unwrap().unavailable(clock.now());
    }

    fn open(failures: u32, clock: &FakeClock) -> Breaker {
        let b = breaker(failures);
        for _ in 0..failures {
            fail(&b, clock);
        }
        assert!(b.is_open());
        b
    }

    #[test]
    fn consecutive_failures_open_it_and_it_skips_for_the_open_period() {
        let clock = FakeClock::at(T0);
        let b = breaker(3);
        fail(&b, &clock);
        fail(&b, &clock);
        assert!(!b.is_open(), "two of three failures");
        assert!(b.admit(clock.now()).is_some());
        fail(&b, &clock);
        assert!(b.is_open());
        assert!(b.admit(clock.now()).is_none(), "skipped");
        clock.advance(OPEN_FOR - Duration::from_millis(1));
        assert!(
            b.admit(clock.now()).is_none(),
            "still open, a moment before the end"
        );
        clock.advance(Duration::from_millis(1));
        let trial = b.admit(clock.now()).unwrap();
        assert!(trial.is_trial());
    }

    #[test]
    fn any_answer_resets_the_count() {
        let clock = FakeClock::at(T0);
        let b = breaker(2);
        fail(&b, &clock);
        b.admit(clock.now()).unwrap().answered();
        fail(&b, &clock);
        assert!(!b.is_open(), "the answer in between reset the count");
        fail(&b, &clock);
        assert!(b.is_open());
    }

    #[test]
    fn a_successful_trial_closes_it() {
        let clock = FakeClock::at(T0);
        let b = open(1, &clock);
        clock.advance(OPEN_FOR);
        b.admit(clock.now()).unwrap().answered();
        assert!(!b.is_open());
        let pass = b.admit(clock.now()).unwrap();
        assert!(!pass.is_trial(), "closed: an ordinary send");
        pass.answered();
    }

    #[test]
    fn a_failed_trial_opens_it_again_for_the_full_period() {
        let clock = FakeClock::at(T0);
        let b = open(2, &clock);
        clock.advance(OPEN_FOR + Duration::from_secs(5));
        let trial = b.admit(clock.now()).unwrap();
        clock.advance(Duration::from_secs(2));
        trial.unavailable(clock.now());
        assert!(b.is_open());
        clock.advance(OPEN_FOR - Duration::from_millis(1));
        assert!(
            b.admit(clock.now()).is_none(),
            "open for the full period again"
        );
        clock.advance(Duration::from_millis(1));
        assert!(b.admit(clock.now()).unwrap().is_trial());
    }

    #[test]
    fn half_open_lets_exactly_one_of_many_concurrent_sends_through() {
        let clock = Arc::new(FakeClock::at(T0));
        let b = Arc::new(open(1, &clock));
        clock.advance(OPEN_FOR);
        let admitted = Arc::new(AtomicUsize::new(0));
        let start = Arc::new(std::sync::Barrier::new(16));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (b, clock, admitted, start) =
                    (b.clone(), clock.clone(), admitted.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    if let Some(pass) = b.admit(clock.now()) {
                        assert!(pass.is_trial());
                        admitted.fetch_add(1, Ordering::SeqCst);
                        // Keep the trial out until every thread has asked.
                        std::mem::forget(pass);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(admitted.load(Ordering::SeqCst), 1);
        clock.advance(OPEN_FOR * 10);
        assert!(
            b.admit(clock.now()).is_none(),
            "the trial is still out: everyone else skips, however late"
        );
    }

    #[test]
    fn a_dropped_trial_gives_its_turn_to_the_next_send() {
        let clock = FakeClock::at(T0);
        let b = open(1, &clock);
        clock.advance(OPEN_FOR);
        let trial = b.admit(clock.now()).unwrap();
        assert!(b.admit(clock.now()).is_none(), "half-open");
        drop(trial);
        assert!(b.is_open(), "dropping decides nothing about the provider");
        let next = b.admit(clock.now()).unwrap();
        assert!(next.is_trial(), "the next send is a new trial");
        next.answered();
        assert!(!b.is_open());
    }

    #[tokio::test]
    async fn a_trial_whose_future_is_dropped_does_not_leave_it_half_open() {
        let clock = FakeClock::at(T0);
        let b = open(1, &clock);
        clock.advance(OPEN_FOR);
        let send = async {
            let pass = b.admit(clock.now()).unwrap();
            std::future::pending::<()>().await;
            pass.answered();
        };
        // The client goes away while the trial waits on the provider.
        let timed_out = tokio::time::timeout(Duration::from_millis(10), send).await;
        assert!(timed_out.is_err());
        assert!(b.admit(clock.now()).unwrap().is_trial());
    }

    #[test]
    fn late_outcomes_of_sends_from_before_it_opened_decide_nothing() {
        let clock = FakeClock::at(T0);
        let b = breaker(1);
        let early = b.admit(clock.now()).unwrap();
        fail(&b, &clock);
        assert!(b.is_open());
        clock.advance(Duration::from_secs(10));
        early.unavailable(clock.now());
        clock.advance(OPEN_FOR - Duration::from_secs(10));
        let trial = b.admit(clock.now()).unwrap();
        assert!(
            trial.is_trial(),
            "the late failure did not extend the period"
        );
        trial.unavailable(clock.now());
        assert!(b.is_open());
    }

    #[test]
    fn the_observer_hears_each_opening_and_closing_once() {
        let clock = FakeClock::at(T0);
        let changes = Arc::new(Mutex::new(Vec::new()));
        let seen = changes.clone();
        let b = breaker(2).on_change(move |open| seen.lock().unwrap().push(open));
        fail(&b, &clock);
        fail(&b, &clock);
        clock.advance(OPEN_FOR);
        b.admit(clock.now()).unwrap().unavailable(clock.now());
        clock.advance(OPEN_FOR);
        b.admit(clock.now()).unwrap().answered();
        b.admit(clock.now()).unwrap().answered();
        assert_eq!(*changes.lock().unwrap(), [true, false]);
    }
}
