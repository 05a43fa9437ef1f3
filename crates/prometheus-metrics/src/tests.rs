use std::time::Duration;

use domain::LimitKind;
use ports::{CaptchaVerdict, CodeVerdict, Event, Metrics};

use super::*;

/// The sample lines of `text` (no comments).
fn samples(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with('#')).collect()
}

fn has(text: &str, line: &str) {
    assert!(
        samples(text).contains(&line),
        "missing `{line}` in:\n{text}"
    );
}

#[test]
fn events_are_counted_under_fixed_outcome_names() {
    let m = Prometheus::new();
    m.record(Event::CaptchaIssued);
    m.record(Event::CaptchaIssued);
    m.record(Event::CaptchaChecked(CaptchaVerdict::Solved));
    m.record(Event::CaptchaChecked(CaptchaVerdict::Wrong));
    m.record(Event::Refused(LimitKind::MobileCooldown));
    m.record(Event::CodeVerified(CodeVerdict::Burned));
    m.record(Event::CodeVerified(CodeVerdict::Accepted));
    let text = m.encode();
    has(&text, "yanzheng_captchas_issued_total 2");
    has(&text, r#"yanzheng_captcha_checks_total{outcome="ok"} 1"#);
    has(&text, r#"yanzheng_captcha_checks_total{outcome="wrong"} 1"#);
    has(
        &text,
        r#"yanzheng_limit_refusals_total{limit="mobile_cooldown"} 1"#,
    );
    has(
        &text,
        r#"yanzheng_codes_verified_total{outcome="burned"} 1"#,
    );
    has(&text, r#"yanzheng_codes_verified_total{outcome="ok"} 1"#);
    assert!(text.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");
}

#[test]
fn account_changes_are_counted_by_change() {
    let m = Prometheus::new();
    m.record(Event::AccountChanged(AccountChange::PasswordReset));
    m.record(Event::AccountChanged(AccountChange::PasswordReset));
    m.record(Event::AccountChanged(AccountChange::PasswordChanged));
    m.record(Event::AccountChanged(AccountChange::MobileChanged));
    let text = m.encode();
    has(
        &text,
        r#"yanzheng_account_changes_total{change="password_reset"} 2"#,
    );
    has(
        &text,
        r#"yanzheng_account_changes_total{change="password_changed"} 1"#,
    );
    has(
        &text,
        r#"yanzheng_account_changes_total{change="mobile_changed"} 1"#,
    );
}

#[test]
fn http_sms_and_dependency_errors_are_counted_with_their_labels() {
    let m = Prometheus::new();
    let route = "/api/v1.0/sms_codes/{mobile}";
    m.http_request(route, "GET", 200, Some("4004"), Duration::from_millis(3));
    m.http_request(route, "GET", 200, Some("4004"), Duration::from_millis(3));
    let down = Err(ports::SmsError::Unavailable(anyhow::anyhow!("timed out")));
    m.sms_send("ronglian", &down, Duration::from_secs(5));
    m.dependency_error(Port::RateLimiter);
    let text = m.encode();
    has(
        &text,
        r#"yanzheng_http_requests_total{route="/api/v1.0/sms_codes/{mobile}",method="GET",status="200",errno="4004"} 2"#,
    );
    has(
        &text,
        r#"yanzheng_http_request_duration_seconds_count{route="/api/v1.0/sms_codes/{mobile}"} 2"#,
    );
    has(
        &text,
        r#"yanzheng_sms_sends_total{provider="ronglian",outcome="unavailable"} 1"#,
    );
    has(
        &text,
        r#"yanzheng_sms_send_duration_seconds_bucket{le="5.0",provider="ronglian"} 1"#,
    );
    has(
        &text,
        r#"yanzheng_dependency_errors_total{port="rate_limiter"} 1"#,
    );
}

#[test]
fn failovers_skips_and_breakers_are_counted_by_provider() {
    let m = Prometheus::new();
    m.sms_failover("ronglian");
    m.sms_failover("ronglian");
    m.sms_skipped("ronglian");
    m.sms_breaker_open("ronglian", true);
    m.sms_breaker_open("tencent", true);
    m.sms_breaker_open("tencent", false);
    let text = m.encode();
    has(
        &text,
        r#"yanzheng_sms_failovers_total{provider="ronglian"} 2"#,
    );
    has(
        &text,
        r#"yanzheng_sms_skipped_total{provider="ronglian"} 1"#,
    );
    has(&text, r#"yanzheng_sms_breaker_open{provider="ronglian"} 1"#);
    has(&text, r#"yanzheng_sms_breaker_open{provider="tencent"} 0"#);
    assert!(
        !text.contains(r#"yanzheng_sms_failovers_total{provider="tencent"}"#),
        "nothing failed over from tencent:\n{text}"
    );
    let classic = m.encode_text();
    assert!(classic.contains("# TYPE yanzheng_sms_failovers_total counter"));
    assert!(classic.contains("# TYPE yanzheng_sms_breaker_open gauge"));
}

#[test]
fn the_process_is_described() {
    let text = Prometheus::new().encode();
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(
            samples(&text).iter().any(|l| l.starts_with(name)),
            "{name} missing from:\n{text}"
        );
    }
    has(&text, r#"yanzheng_build_info{version="0.1.0"} 1"#);
}

#[test]
fn instances_count_apart() {
    let a = Prometheus::new();
    let b = Prometheus::new();
    a.record(Event::CaptchaIssued);
    has(&a.encode(), "yanzheng_captchas_issued_total 1");
    has(&b.encode(), "yanzheng_captchas_issued_total 0");
}

#[test]
fn the_classic_text_format_names_counters_by_their_samples_and_drops_openmetrics_lines() {
    let m = Prometheus::new();
    m.record(Event::CaptchaIssued);
    m.http_request("/healthz", "GET", 200, None, Duration::from_millis(1));
    let text = m.encode_text();
    assert!(
        text.contains("# TYPE yanzheng_captchas_issued_total counter\n"),
        "{text}"
    );
    assert!(
        text.contains("# HELP yanzheng_captchas_issued_total Captcha images issued"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE process_cpu_seconds_total counter\n"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE yanzheng_http_request_duration_seconds histogram\n"),
        "{text}"
    );
    has(&text, "yanzheng_captchas_issued_total 1");
    assert!(
        !text.contains("# EOF") && !text.contains("# UNIT"),
        "{text}"
    );
    // Every sample of the OpenMetrics rendering is there, unchanged.
    let open = m.encode();
    let mut classic = samples(&text);
    let mut openmetrics = samples(&open);
    classic.retain(|l| !l.starts_with("process_"));
    openmetrics.retain(|l| !l.starts_with("process_"));
    assert_eq!(classic, openmetrics);
}
