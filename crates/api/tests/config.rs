//! Configuration layering (defaults → `config/{env}.toml` → `APP__…`), through `load()` itself.
//! One test function: it changes the working directory and the environment of this process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use api::configuration::{load, Environment};

#[test]
fn defaults_then_file_then_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("config")).unwrap();
    std::fs::write(
        dir.path().join("config/local.toml"),
        "[server]\nport = 1234\n\n[captcha]\nttl_secs = 99\n",
    )
    .unwrap();
    std::env::set_current_dir(dir.path()).unwrap();
    // No other test runs in this binary, so nothing reads the environment concurrently.
    std::env::remove_var("APP_ENVIRONMENT");
    std::env::set_var("APP__SERVER__PORT", "4321");
    std::env::set_var("APP__TESTING__SMS_CODES__13800138000", "012345");
    std::env::set_var("APP__LIMITS__MOBILE_PER_HOUR", "7");

    let s = load().unwrap();
    assert_eq!(s.environment(), Environment::Local);
    assert_eq!(s.server.port, 4321, "the environment beats the file");
    assert_eq!(s.captcha.ttl_secs, 99, "the file beats the defaults");
    assert_eq!(s.sms.code_ttl_secs, 300, "defaults fill the rest");
    assert_eq!(s.limits.mobile_per_hour, 7);
    assert_eq!(
        s.testing.sms_codes.get("13800138000").map(String::as_str),
        Some("012345"),
        "codes keep their leading zero"
    );

    // A typo in the file is refused, not ignored.
    std::fs::write(dir.path().join("config/local.toml"), "[server]\nprot = 1\n").unwrap();
    let err = load().unwrap_err().to_string();
    assert!(err.contains("prot"), "{err}");

    // Production refuses the development defaults and says which.
    std::env::set_var("APP_ENVIRONMENT", "production");
    let err = load().unwrap_err().to_string();
    assert!(err.contains("store.url = memory://"), "{err}");
    assert!(err.contains("security.code_secret"), "{err}");
    assert!(err.contains("testing.sms_codes"), "{err}");

    std::env::set_var("APP_ENVIRONMENT", "staging");
    assert!(load().unwrap_err().to_string().contains("APP_ENVIRONMENT"));
}
