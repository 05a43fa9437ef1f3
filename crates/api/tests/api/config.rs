//! Configuration layering (defaults → `config/{env}.toml` → `APP__…`), through `load_from()`,
//! which is `load()` with the folder and the environment passed in instead of read from the
//! process (so this runs beside the other tests).

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
