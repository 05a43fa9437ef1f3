//! Configuration layering (defaults → `config/{env}.toml` → `APP__…`), through `load_from()`,
//! which is `load()` with the folder and the environment passed in instead of read from the
//! process (so this runs beside the other tests).

use std::net::IpAddr;
use std::time::Duration;

use api::configuration::{load_from, Environment, SmsSettings, StoreSettings};
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
    assert!(matches!(s.sms, SmsSettings::Console));
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
