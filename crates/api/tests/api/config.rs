//! Configuration layering (defaults → `config/{env}.toml` → `APP__…`), through `load_from()`,
//! which is `load()` with the folder and the environment passed in instead of read from the
//! process (so this runs beside the other tests).

use std::net::IpAddr;
use std::time::Duration;

use api::configuration::{load_from, Environment, ProviderSettings, StoreSettings};
use domain::Mobile;

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn defaults_then_file_then_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("local.toml"),
        "[server]\nport = 1234\n\n[captcha]\nttl_secs = 99\n",
    )
    .unwrap();
    let env = vars(&[
        ("APP__SERVER__PORT", "4321"),
        ("APP__TESTING__SMS_CODES__13800138000", "012345"),
        ("APP__LIMITS__MOBILE_PER_HOUR", "7"),
        ("UNRELATED", "x"),
    ]);

    let s = load_from(dir.path(), env.clone()).unwrap();
    assert_eq!(s.environment, Environment::Local);
    assert_eq!(s.server.port, 4321, "the environment beats the file");
    assert_eq!(
        s.policy.captcha_ttl,
        Duration::from_secs(99),
        "the file beats the defaults"
    );
    assert_eq!(
        s.policy.code_ttl,
        Duration::from_secs(300),
        "defaults fill the rest"
    );
    assert_eq!(s.policy.send_limits.mobile_per_hour, 7);
    assert!(matches!(s.store, StoreSettings::Memory));
    assert!(matches!(s.sms.providers[..], [ProviderSettings::Console]));
    let test_mobile = Mobile::parse("13800138000").unwrap();
    assert_eq!(
        s.test_hooks.sms_codes.get(&test_mobile).map(|c| c.expose()),
        Some("012345"),
        "codes keep their leading zero"
    );

    // A typo in the file is refused, not ignored.
    std::fs::write(dir.path().join("local.toml"), "[server]\nprot = 1\n").unwrap();
    let err = load_from(dir.path(), env.clone()).unwrap_err().to_string();
    assert!(err.contains("prot"), "{err}");

    // Production refuses the development defaults and says which.
    let mut production = env.clone();
    production.push(("APP_ENVIRONMENT".into(), "production".into()));
    let err = load_from(dir.path(), production).unwrap_err().to_string();
    assert!(err.contains("store.url = memory://"), "{err}");
    assert!(err.contains("security.code_secret"), "{err}");
    assert!(err.contains("testing.sms_codes"), "{err}");

    let staging = vars(&[("APP_ENVIRONMENT", "staging")]);
    let err = load_from(dir.path(), staging).unwrap_err().to_string();
    assert!(err.contains("APP_ENVIRONMENT"), "{err}");
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn trusted_proxies_are_comma_separated_in_the_environment_and_a_list_in_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let env = vars(&[
        ("APP__SERVER__TRUST_FORWARDED_FOR", "true"),
        (
            "APP__SERVER__TRUSTED_PROXIES",
            "10.0.0.0/8, 192.168.1.7,fd00::/8",
        ),
    ]);
    let s = load_from(dir.path(), env).unwrap();
    assert!(s.client_ip.trust_forwarded_for);
    let t = &s.client_ip.trusted_proxies;
    for trusted in ["10.2.3.4", "192.168.1.7", "fd00::5", "::ffff:10.0.0.1"] {
        assert!(t.contains(ip(trusted)), "{trusted}");
    }
    for untrusted in ["192.168.1.8", "127.0.0.1", "172.16.0.1"] {
        assert!(
            !t.contains(ip(untrusted)),
            "the list replaces the defaults: {untrusted}"
        );
    }

    // One entry is one address (a /32), not a parse error.
    let one = vars(&[("APP__SERVER__TRUSTED_PROXIES", "192.168.1.7")]);
    let s = load_from(dir.path(), one).unwrap();
    assert!(s.client_ip.trusted_proxies.contains(ip("192.168.1.7")));
    assert!(!s.client_ip.trusted_proxies.contains(ip("192.168.1.6")));

    std::fs::write(
        dir.path().join("local.toml"),
        "[server]\ntrusted_proxies = [\"172.16.0.0/12\", \"::1\"]\n",
    )
    .unwrap();
    let s = load_from(dir.path(), vars(&[])).unwrap();
    let t = &s.client_ip.trusted_proxies;
    assert!(t.contains(ip("172.20.0.1")) && t.contains(ip("::1")));
    assert!(!t.contains(ip("127.0.0.1")) && !t.contains(ip("10.0.0.1")));

    // The environment still beats the file; a bad entry is named with the others.
    let bad = vars(&[
        (
            "APP__SERVER__TRUSTED_PROXIES",
            "10.0.0.0/8,proxy.internal,10.0.0.0/40",
        ),
        ("APP__LIMITS__IP_PER_HOUR", "0"),
    ]);
    let err = load_from(dir.path(), bad).unwrap_err().to_string();
    assert!(
        err.contains("server.trusted_proxies: `proxy.internal` is not a CIDR")
            && err.contains("`10.0.0.0/40`")
            && err.contains("limits.ip_per_hour"),
        "{err}"
    );
}

#[test]
fn testing_hooks_on_a_public_address_refuse_to_start_in_local() {
    let dir = tempfile::tempdir().unwrap();
    for host in ["0.0.0.0", "::", "10.0.0.5"] {
        let env = vars(&[
            ("APP__SERVER__HOST", host),
            ("APP__TESTING__CAPTCHA_TEXT", "ABCD"),
        ]);
        let err = load_from(dir.path(), env).unwrap_err().to_string();
        assert!(
            err.contains(&format!("with server.host = {host}"))
                && err.contains("pass the captcha")
                && err.contains("Set server.host = 127.0.0.1, or remove the testing.* keys"),
            "{host}: {err}"
        );
    }
    let codes_only = vars(&[
        ("APP__SERVER__HOST", "0.0.0.0"),
        ("APP__TESTING__SMS_CODES__13800138000", "123456"),
    ]);
    let err = load_from(dir.path(), codes_only).unwrap_err().to_string();
    assert!(err.contains("testing.* hooks"), "{err}");

    for host in ["127.0.0.1", "localhost", "::1"] {
        let env = vars(&[
            ("APP__SERVER__HOST", host),
            ("APP__TESTING__CAPTCHA_TEXT", "ABCD"),
        ]);
        assert!(load_from(dir.path(), env).is_ok(), "{host}");
    }
    let public_without_hooks = vars(&[("APP__SERVER__HOST", "0.0.0.0")]);
    assert!(load_from(dir.path(), public_without_hooks).is_ok());
}

fn provider_names(s: &api::configuration::Settings) -> Vec<&'static str> {
    s.sms.providers.iter().map(ProviderSettings::name).collect()
}

/// Both providers' credentials, as an operator's environment gives them.
const CREDENTIALS: [(&str, &str); 8] = [
    ("APP__SMS__RONGLIAN__ACCOUNT_SID", "sid"),
    ("APP__SMS__RONGLIAN__AUTH_TOKEN", "token"),
    ("APP__SMS__RONGLIAN__APP_ID", "app"),
    ("APP__SMS__TENCENT__SECRET_ID", "AKIDexample"),
    ("APP__SMS__TENCENT__SECRET_KEY", "key"),
    ("APP__SMS__TENCENT__SDK_APP_ID", "1400006666"),
    ("APP__SMS__TENCENT__SIGN_NAME", "腾讯云"),
    ("APP__SMS__TENCENT__TEMPLATE_ID", "1234567"),
];

#[test]
fn sms_providers_are_comma_separated_in_the_environment_and_a_list_in_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = vars(&CREDENTIALS);
    env.extend(vars(&[
        ("APP__SMS__PROVIDERS", "ronglian, tencent"),
        ("APP__SMS__BREAKER_FAILURES", "3"),
        ("APP__SMS__BREAKER_OPEN_SECS", "12"),
        ("APP__SMS__TENCENT__REGION", "ap-beijing"),
    ]));
    let s = load_from(dir.path(), env.clone()).unwrap();
    assert_eq!(provider_names(&s), ["ronglian", "tencent"]);
    assert_eq!(s.sms.breaker.failures, 3);
    assert_eq!(s.sms.breaker.open_for, Duration::from_secs(12));
    assert!(
        matches!(&s.sms.providers[1], ProviderSettings::Tencent(t) if t.region == "ap-beijing" && t.sign_name == "腾讯云")
    );

    // Only the list-valued keys are split: a comma in any other value stays in it.
    let mut comma = env.clone();
    comma.push(("APP__SMS__TENCENT__SIGN_NAME".into(), "云,短信".into()));
    let s = load_from(dir.path(), comma).unwrap();
    assert!(
        matches!(&s.sms.providers[1], ProviderSettings::Tencent(t) if t.sign_name == "云,短信")
    );

    std::fs::write(
        dir.path().join("local.toml"),
        "[sms]\nprovider = \"console\"\nproviders = [\"tencent\", \"ronglian\"]\n",
    )
    .unwrap();
    let s = load_from(dir.path(), vars(&CREDENTIALS)).unwrap();
    assert_eq!(
        provider_names(&s),
        ["tencent", "ronglian"],
        "the list wins over sms.provider"
    );
    let s = load_from(dir.path(), env).unwrap();
    assert_eq!(
        provider_names(&s),
        ["ronglian", "tencent"],
        "the environment beats the file"
    );

    for (value, expected) in [
        ("", "sms.providers is empty"),
        ("ronglian,sms", "`sms` is no SMS provider"),
        (
            "tencent,ronglian,tencent",
            "sms.providers names tencent twice",
        ),
    ] {
        let mut env = vars(&CREDENTIALS);
        env.push(("APP__SMS__PROVIDERS".into(), value.into()));
        let err = load_from(dir.path(), env).unwrap_err().to_string();
        assert!(err.contains(expected), "{value:?}: {err}");
    }
}
