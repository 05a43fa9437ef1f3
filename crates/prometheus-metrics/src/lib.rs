//! The metrics adapter: counts what the use cases report ([`ports::Metrics`]), what the HTTP
//! layer, the SMS senders and the dependencies report through the composition root, and the
//! process itself, into one `prometheus-client` registry per service instance; [`Prometheus::encode`]
//! renders it as OpenMetrics text for `GET /metrics`, and [`Prometheus::encode_text`] as the
//! classic Prometheus text format (0.0.4) for scrapers that do not ask for OpenMetrics.
//!
//! Cardinality is bounded by construction: every label value is a fixed name chosen here
//! (an outcome, a limit, a provider, a port), an HTTP method, a status, an errno, or a route
//! *pattern* from the router (`/api/v1.0/sms_codes/{mobile}`, never the path). Nothing can put
//! a mobile, a code, a token, an address or a captcha id into a label.
//!
//! The metric names, their labels and what to alert on are listed in `docs/operations.md`.

mod process;

use std::time::Duration;

use ports::{
    AccountChange, CaptchaVerdict, CodeVerdict, Delivery, Event, RegistrationVerdict,
    SignInVerdict, SmsError,
};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// The content type of [`Prometheus::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The content type of [`Prometheus::encode_text`]'s output.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Latency buckets, in seconds: 0.5 ms to 10 s (requests answer in about a millisecond;
/// hashing takes tens; a provider, hundreds; timeouts, seconds).
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The port a store or database error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Port {
    CaptchaStore,
    CodeStore,
    RateLimiter,
    SessionStore,
    UserDirectory,
}

impl Port {
    fn as_str(self) -> &'static str {
        match self {
            Port::CaptchaStore => "captcha_store",
            Port::CodeStore => "code_store",
            Port::RateLimiter => "rate_limiter",
            Port::SessionStore => "session_store",
            Port::UserDirectory => "user_directory",
        }
    }
}

/// What one send attempt through one provider ended as.
fn sms_outcome(result: &Result<(), SmsError>) -> &'static str {
    match result {
        Ok(()) => "sent",
        Err(SmsError::RateLimited { .. }) => "rate_limited",
        Err(SmsError::Rejected { .. }) => "rejected",
        Err(SmsError::Unavailable(_)) => "unavailable",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    method: String,
    status: u16,
    /// The reply's errno, or `none` (images, probes, metrics, pages).
    errno: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabel {
    route: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct LimitLabel {
    limit: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DeliveryLabel {
    delivery: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ChangeLabel {
    change: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SmsLabels {
    provider: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ProviderLabel {
    provider: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PortLabel {
    port: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct VersionLabel {
    version: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// One service instance's metrics.
#[derive(Debug)]
pub struct Prometheus {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Histograms<RouteLabel>,
    captchas_issued: Counter,
    captcha_checks: Family<OutcomeLabel, Counter>,
    codes_issued: Family<DeliveryLabel, Counter>,
    sms_sends: Family<SmsLabels, Counter>,
    sms_duration: Histograms<ProviderLabel>,
    sms_failovers: Family<ProviderLabel, Counter>,
    sms_skipped: Family<ProviderLabel, Counter>,
    sms_breaker_open: Family<ProviderLabel, Gauge>,
    refusals: Family<LimitLabel, Counter>,
    codes_verified: Family<OutcomeLabel, Counter>,
    sign_ins: Family<OutcomeLabel, Counter>,
    registrations: Family<OutcomeLabel, Counter>,
    account_changes: Family<ChangeLabel, Counter>,
    dependency_errors: Family<PortLabel, Counter>,
}

impl Default for Prometheus {
    fn default() -> Self {
        Self::new()
    }
}

impl Prometheus {
    pub fn new() -> Self {
        let mut m = Self {
            registry: Registry::default(),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency_histogram),
            captchas_issued: Counter::default(),
            captcha_checks: Family::default(),
            codes_issued: Family::default(),
            sms_sends: Family::default(),
            sms_duration: Family::new_with_constructor(latency_histogram),
            sms_failovers: Family::default(),
            sms_skipped: Family::default(),
            sms_breaker_open: Family::default(),
            refusals: Family::default(),
            codes_verified: Family::default(),
            sign_ins: Family::default(),
            registrations: Family::default(),
            account_changes: Family::default(),
            dependency_errors: Family::default(),
        };
        let r = &mut m.registry;
        r.register(
            "yanzheng_http_requests",
            "HTTP requests answered, by route pattern, method, status and errno",
            m.http_requests.clone(),
        );
        r.register_with_unit(
            "yanzheng_http_request_duration",
            "Time to answer a request, by route pattern",
            Unit::Seconds,
            m.http_duration.clone(),
        );
        r.register(
            "yanzheng_captchas_issued",
            "Captcha images issued",
            m.captchas_issued.clone(),
        );
        r.register(
            "yanzheng_captcha_checks",
            "Captcha answers judged when a code is requested: ok, wrong, missing",
            m.captcha_checks.clone(),
        );
        r.register(
            "yanzheng_codes_issued",
            "Codes stored after every check passed, by delivery: sms, withheld (silent policy), test_number",
            m.codes_issued.clone(),
        );
        r.register(
            "yanzheng_sms_sends",
            "SMS send attempts, by provider and outcome: sent, rate_limited, rejected, unavailable",
            m.sms_sends.clone(),
        );
        r.register_with_unit(
            "yanzheng_sms_send_duration",
            "Time the SMS provider took to answer, by provider",
            Unit::Seconds,
            m.sms_duration.clone(),
        );
        r.register(
            "yanzheng_sms_failovers",
            "Sends handed on to the next provider after this provider was unavailable, by the provider that failed",
            m.sms_failovers.clone(),
        );
        r.register(
            "yanzheng_sms_skipped",
            "Sends that passed a provider over because its circuit breaker was open, by provider",
            m.sms_skipped.clone(),
        );
        r.register(
            "yanzheng_sms_breaker_open",
            "Whether a provider's circuit breaker is open or half-open (1) or closed (0), by provider",
            m.sms_breaker_open.clone(),
        );
        r.register(
            "yanzheng_limit_refusals",
            "Requests refused by a limit (sends, captchas, sign-in lockouts, the provider's own)",
            m.refusals.clone(),
        );
        r.register(
            "yanzheng_codes_verified",
            "SMS codes offered, by outcome: ok, wrong, burned (the last attempt), missing",
            m.codes_verified.clone(),
        );
        r.register(
            "yanzheng_sign_ins",
            "Sign-ins judged, by password or code, by outcome: ok, bad_credentials (lockouts: yanzheng_limit_refusals)",
            m.sign_ins.clone(),
        );
        r.register(
            "yanzheng_registrations",
            "Registrations whose code was accepted, by outcome: ok, taken",
            m.registrations.clone(),
        );
        r.register(
            "yanzheng_account_changes",
            "Accounts changed, by change: password_reset, password_changed, mobile_changed",
            m.account_changes.clone(),
        );
        r.register(
            "yanzheng_dependency_errors",
            "Store and database errors, by port",
            m.dependency_errors.clone(),
        );
        let info = Family::<VersionLabel, Gauge>::default();
        info.get_or_create(&VersionLabel {
            version: env!("CARGO_PKG_VERSION"),
        })
        .set(1);
        r.register("yanzheng_build_info", "The running version", info);
        r.register_collector(Box::new(process::ProcessCollector::new()));
        m
    }

    /// One answered request. `route` is the router's pattern (or a fixed name for unmatched
    /// requests), `errno` the reply's errno if it has one.
    pub fn http_request(
        &self,
        route: &str,
        method: &str,
        status: u16,
        errno: Option<&'static str>,
        elapsed: Duration,
    ) {
        inc(
            &self.http_requests,
            HttpLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
                errno: errno.unwrap_or("none"),
            },
        );
        self.http_duration
            .get_or_create(&RouteLabel {
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// One send attempt through `provider` (a fixed adapter name: `console`, `ronglian`,
    /// `tencent`) and what it ended as.
    pub fn sms_send(
        &self,
        provider: &'static str,
        result: &Result<(), SmsError>,
        elapsed: Duration,
    ) {
        let outcome = sms_outcome(result);
        inc(&self.sms_sends, SmsLabels { provider, outcome });
        self.sms_duration
            .get_or_create(&ProviderLabel { provider })
            .observe(elapsed.as_secs_f64());
    }

    /// A send that `provider` could not deliver (unavailable) handed on to the next provider.
    pub fn sms_failover(&self, provider: &'static str) {
        inc(&self.sms_failovers, ProviderLabel { provider });
    }

    /// A send that passed `provider` over because its breaker was open.
    pub fn sms_skipped(&self, provider: &'static str) {
        inc(&self.sms_skipped, ProviderLabel { provider });
    }

    /// `provider`'s breaker is now open or half-open (`true`) or closed (`false`).
    pub fn sms_breaker_open(&self, provider: &'static str, open: bool) {
        self.sms_breaker_open
            .get_or_create(&ProviderLabel { provider })
            .set(i64::from(open));
    }

    /// A store or database call that failed.
    pub fn dependency_error(&self, port: Port) {
        inc(
            &self.dependency_errors,
            PortLabel {
                port: port.as_str(),
            },
        );
    }

    /// Everything, as OpenMetrics text ([`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Everything in the classic Prometheus text format ([`TEXT_CONTENT_TYPE`]), for scrapers
    /// and tools that do not accept OpenMetrics: the same samples; a counter's `# HELP` and
    /// `# TYPE` name its samples' `_total` name, and OpenMetrics' `# UNIT` and `# EOF` are left
    /// out.
    pub fn encode_text(&self) -> String {
        to_classic_text(&self.encode())
    }

    fn count(family: &Family<OutcomeLabel, Counter>, outcome: &'static str) {
        inc(family, OutcomeLabel { outcome });
    }
}

/// Count one in `family`'s counter for `label`.
fn inc<L: Clone + Eq + std::hash::Hash>(family: &Family<L, Counter>, label: L) {
    family.get_or_create(&label).inc();
}

/// OpenMetrics text → the classic text format (see [`Prometheus::encode_text`]).
fn to_classic_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let descriptor = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match descriptor {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                out.push_str(prefix);
                out.push_str(name);
                if counters.contains(name) {
                    out.push_str("_total");
                }
                out.push(' ');
                out.push_str(tail);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

impl ports::Metrics for Prometheus {
    fn record(&self, event: Event) {
        match event {
            Event::CaptchaIssued => {
                self.captchas_issued.inc();
            }
            Event::CaptchaChecked(v) => Self::count(
                &self.captcha_checks,
                match v {
                    CaptchaVerdict::Solved => "ok",
                    CaptchaVerdict::Wrong => "wrong",
                    CaptchaVerdict::Missing => "missing",
                },
            ),
            Event::Refused(limit) => {
                inc(
                    &self.refusals,
                    LimitLabel {
                        limit: limit.as_str(),
                    },
                );
            }
            Event::CodeIssued(d) => {
                let delivery = match d {
                    Delivery::Sms => "sms",
                    Delivery::Withheld => "withheld",
                    Delivery::TestNumber => "test_number",
                };
                inc(&self.codes_issued, DeliveryLabel { delivery });
            }
            Event::CodeVerified(v) => Self::count(
                &self.codes_verified,
                match v {
                    CodeVerdict::Accepted => "ok",
                    CodeVerdict::Wrong => "wrong",
                    CodeVerdict::Burned => "burned",
                    CodeVerdict::Missing => "missing",
                },
            ),
            Event::SignIn(v) => Self::count(
                &self.sign_ins,
                match v {
                    SignInVerdict::SignedIn => "ok",
                    SignInVerdict::BadCredentials => "bad_credentials",
                },
            ),
            Event::Registration(v) => Self::count(
                &self.registrations,
                match v {
                    RegistrationVerdict::Registered => "ok",
                    RegistrationVerdict::Taken => "taken",
                },
            ),
            Event::AccountChanged(c) => {
                let change = match c {
                    AccountChange::PasswordReset => "password_reset",
                    AccountChange::PasswordChanged => "password_changed",
                    AccountChange::MobileChanged => "mobile_changed",
                };
                inc(&self.account_changes, ChangeLabel { change });
            }
        }
    }
}

#[cfg(test)]
mod tests;
