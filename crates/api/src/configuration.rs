//! Settings: built-in defaults, then `config/{APP_ENVIRONMENT}.toml` if present, then
//! `APP__SECTION__KEY` environment variables. Loaded and validated once at start-up into a typed
//! [`Settings`]; nothing reads configuration after that.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use domain::{CaptchaText, LoginLimits, Mobile, SendLimits, SmsCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// `APP_ENVIRONMENT`: `local` (default) or `production`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Local,
    Production,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Local => "local",
            Environment::Production => "production",
        }
    }
}

impl TryFrom<String> for Environment {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        match s.to_lowercase().as_str() {
            "local" => Ok(Self::Local),
            "production" => Ok(Self::Production),
            other => Err(format!(
                "APP_ENVIRONMENT must be `local` or `production`, not `{other}`"
            )),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    #[serde(skip)]
    pub environment: Option<Environment>,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub store: StoreSettings,
    pub sms: SmsSettings,
    pub captcha: CaptchaSettings,
    pub limits: LimitSettings,
    pub session: SessionSettings,
    pub web: WebSettings,
    pub security: SecuritySettings,
    pub testing: TestingSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    /// Take the client IP from `X-Forwarded-For` (the right-most address, the one your own
    /// proxy appended). Only behind a proxy you run.
    pub trust_forwarded_for: bool,
    /// Largest accepted JSON body, in bytes.
    pub max_body_bytes: usize,
    /// HTTP worker threads; 0 = one per core.
    pub workers: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            trust_forwarded_for: false,
            max_body_bytes: 16 * 1024,
            workers: 0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub max_connections: usize,
    pub connect_timeout_ms: u64,
    pub query_timeout_ms: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: SecretString::from("sqlite://data/yanzheng.db"),
            max_connections: 10,
            connect_timeout_ms: 2000,
            query_timeout_ms: 2000,
        }
    }
}

impl DatabaseSettings {
    pub fn scheme(&self) -> &str {
        scheme(self.url.expose_secret())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// `memory://` or `redis://host:port/db`.
    pub url: SecretString,
    pub key_prefix: String,
    pub pool_size: usize,
    /// Bound on waiting for a connection and on each command: past it a request answers DBERR.
    pub timeout_ms: u64,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            url: SecretString::from("memory://"),
            key_prefix: "yz".into(),
            pool_size: 16,
            timeout_ms: 1000,
        }
    }
}

impl StoreSettings {
    pub fn scheme(&self) -> &str {
        scheme(self.url.expose_secret())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsProvider {
    Console,
    Ronglian,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsSettings {
    pub provider: SmsProvider,
    pub code_ttl_secs: u64,
    pub ronglian: RonglianSettings,
}

impl Default for SmsSettings {
    fn default() -> Self {
        Self {
            provider: SmsProvider::Console,
            code_ttl_secs: 300,
            ronglian: RonglianSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RonglianSettings {
    pub base_url: String,
    pub account_sid: Option<String>,
    pub auth_token: Option<SecretString>,
    pub app_id: Option<String>,
    pub template_id: String,
    pub connect_timeout_ms: u64,
    pub timeout_ms: u64,
}

impl Default for RonglianSettings {
    fn default() -> Self {
        Self {
            base_url: "https://app.cloopen.com:8883".into(),
            account_sid: None,
            auth_token: None,
            app_id: None,
            template_id: "1".into(),
            connect_timeout_ms: 3000,
            timeout_ms: 5000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaptchaSettings {
    pub ttl_secs: u64,
}

impl Default for CaptchaSettings {
    fn default() -> Self {
        Self { ttl_secs: 180 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    pub mobile_cooldown_secs: u64,
    pub mobile_per_hour: u32,
    pub mobile_per_day: u32,
    pub ip_per_hour: u32,
    pub global_per_hour: u32,
    pub code_max_attempts: u32,
    pub login_failures_per_ip: u32,
    pub login_lockout_secs: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            mobile_cooldown_secs: 60,
            mobile_per_hour: 5,
            mobile_per_day: 10,
            ip_per_hour: 20,
            global_per_hour: 1000,
            code_max_attempts: 5,
            login_failures_per_ip: 5,
            login_lockout_secs: 600,
        }
    }
}

impl LimitSettings {
    pub fn send_limits(&self) -> SendLimits {
        SendLimits {
            mobile_cooldown: Duration::from_secs(self.mobile_cooldown_secs),
            mobile_per_hour: self.mobile_per_hour,
            mobile_per_day: self.mobile_per_day,
            ip_per_hour: self.ip_per_hour,
            global_per_hour: self.global_per_hour,
        }
    }

    pub fn login_limits(&self) -> LoginLimits {
        LoginLimits {
            max_failures: self.login_failures_per_ip,
            window: Duration::from_secs(self.login_lockout_secs),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SessionSettings {
    /// `Secure` on the session cookie; unset = `false` in `local`, `true` in `production`.
    pub cookie_secure: Option<bool>,
    pub ttl_secs: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct WebSettings {
    /// An existing iHome-style front end to serve (`html/*.html` and `static/`).
    pub static_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RegisteredMobile {
    #[default]
    Refuse,
    Silent,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SecuritySettings {
    /// HMAC key for codes at rest. Random per process in `local` when unset.
    pub code_secret: Option<SecretString>,
    pub registered_mobile: RegisteredMobile,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct TestingSettings {
    pub captcha_text: Option<String>,
    pub sms_codes: HashMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `pretty` or `json`; unset = pretty in `local`, json in `production`.
    pub format: Option<LogFormat>,
}

/// What start-up refuses, all at once so an operator can fix everything in one go.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
pub struct ConfigError(pub Vec<String>);

/// Load `Settings` from defaults, `config/{env}.toml` (relative to the working directory) and
/// `APP__…` environment variables.
pub fn load() -> Result<Settings, ConfigError> {
    let environment: Environment = std::env::var("APP_ENVIRONMENT")
        .unwrap_or_else(|_| "local".into())
        .try_into()
        .map_err(|e: String| ConfigError(vec![e]))?;
    let file = PathBuf::from("config").join(format!("{}.toml", environment.as_str()));
    let raw = config::Config::builder()
        .add_source(config::File::from(file).required(false))
        .add_source(
            config::Environment::with_prefix("APP")
                .prefix_separator("__")
                .separator("__"),
        )
        .build()
        .map_err(|e| ConfigError(vec![e.to_string()]))?;
    let mut settings: Settings = raw
        .try_deserialize()
        .map_err(|e| ConfigError(vec![e.to_string()]))?;
    settings.environment = Some(environment);
    settings.validate()?;
    Ok(settings)
}

/// The checked, typed form of `testing.*`.
#[derive(Debug, Clone, Default)]
pub struct TestHookSettings {
    pub captcha_text: Option<CaptchaText>,
    pub sms_codes: HashMap<Mobile, SmsCode>,
}

impl Settings {
    /// Settings for `environment` with every default (tests start from this).
    pub fn defaults_for(environment: Environment) -> Self {
        Self {
            environment: Some(environment),
            ..Self::default()
        }
    }

    pub fn environment(&self) -> Environment {
        self.environment.unwrap_or(Environment::Local)
    }

    pub fn is_production(&self) -> bool {
        self.environment() == Environment::Production
    }

    pub fn cookie_secure(&self) -> bool {
        self.session.cookie_secure.unwrap_or(self.is_production())
    }

    pub fn session_ttl(&self) -> Duration {
        Duration::from_secs(self.session.ttl_secs.unwrap_or(24 * 3600))
    }

    pub fn log_format(&self) -> LogFormat {
        self.log.format.unwrap_or(if self.is_production() {
            LogFormat::Json
        } else {
            LogFormat::Pretty
        })
    }

    pub fn test_hooks(&self) -> Result<TestHookSettings, ConfigError> {
        let mut problems = Vec::new();
        let captcha_text = match &self.testing.captcha_text {
            None => None,
            Some(raw) => match CaptchaText::parse(raw) {
                Ok(t) if !drawable(&t) => {
                    problems.push(format!(
                        "testing.captcha_text: use only these characters (the captcha font \
                         has no look-alikes such as O/0): {}",
                        String::from_utf8_lossy(domain::CAPTCHA_ALPHABET)
                    ));
                    None
                }
                Ok(t) => Some(t),
                Err(e) => {
                    problems.push(format!("testing.captcha_text: {e}"));
                    None
                }
            },
        };
        let mut sms_codes = HashMap::new();
        for (mobile, code) in &self.testing.sms_codes {
            match (Mobile::parse(mobile), SmsCode::parse(code)) {
                (Ok(m), Ok(c)) => {
                    sms_codes.insert(m, c);
                }
                (Err(e), _) => problems.push(format!("testing.sms_codes: key: {e}")),
                (_, Err(e)) => problems.push(format!("testing.sms_codes.{mobile}: {e}")),
            }
        }
        if problems.is_empty() {
            Ok(TestHookSettings {
                captcha_text,
                sms_codes,
            })
        } else {
            Err(ConfigError(problems))
        }
    }

    /// Every check at once. In `production` this refuses the development-only parts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let mut need = |ok: bool, msg: &str| {
            if !ok {
                problems.push(msg.to_owned());
            }
        };
        need(
            matches!(
                self.database.scheme(),
                "sqlite" | "postgres" | "postgresql" | "mysql"
            ),
            "database.url must start with sqlite://, postgres:// or mysql://",
        );
        need(
            matches!(self.store.scheme(), "memory" | "redis" | "rediss"),
            "store.url must be memory:// or redis://host:port/db",
        );
        need(self.captcha.ttl_secs > 0, "captcha.ttl_secs must be > 0");
        need(self.sms.code_ttl_secs > 0, "sms.code_ttl_secs must be > 0");
        let l = &self.limits;
        need(l.mobile_per_hour > 0, "limits.mobile_per_hour must be > 0");
        need(l.mobile_per_day > 0, "limits.mobile_per_day must be > 0");
        need(l.ip_per_hour > 0, "limits.ip_per_hour must be > 0");
        need(l.global_per_hour > 0, "limits.global_per_hour must be > 0");
        need(
            l.code_max_attempts > 0,
            "limits.code_max_attempts must be > 0",
        );
        need(
            l.login_failures_per_ip > 0,
            "limits.login_failures_per_ip must be > 0",
        );
        need(
            l.login_lockout_secs > 0,
            "limits.login_lockout_secs must be > 0",
        );
        need(
            self.store.timeout_ms > 0 && self.store.pool_size > 0,
            "store.timeout_ms and store.pool_size must be > 0",
        );
        if self.sms.provider == SmsProvider::Ronglian {
            let r = &self.sms.ronglian;
            need(
                r.account_sid.is_some() && r.auth_token.is_some() && r.app_id.is_some(),
                "sms.provider = ronglian needs sms.ronglian.account_sid, auth_token and app_id",
            );
        }
        if let Some(secret) = &self.security.code_secret {
            need(
                secret.expose_secret().len() >= 16,
                "security.code_secret must be at least 16 bytes (32 random bytes recommended)",
            );
        }
        if let Some(dir) = &self.web.static_dir {
            need(
                dir.is_dir(),
                "web.static_dir must name an existing folder (the front end: html/*.html and its assets)",
            );
        }
        if let Err(ConfigError(mut more)) = self.test_hooks() {
            problems.append(&mut more);
        }
        if self.is_production() {
            let mut refuse = |bad: bool, msg: &str| {
                if bad {
                    problems.push(format!("production: {msg}"));
                }
            };
            refuse(
                self.store.scheme() == "memory",
                "store.url = memory:// keeps limits and codes per process; set a redis:// URL",
            );
            refuse(
                self.sms.provider == SmsProvider::Console,
                "sms.provider = console prints codes instead of sending them; use ronglian",
            );
            refuse(
                self.security.code_secret.is_none(),
                "security.code_secret is required (APP__SECURITY__CODE_SECRET)",
            );
            refuse(
                self.testing.captcha_text.is_some(),
                "testing.captcha_text is a test hook and is refused in production",
            );
            refuse(
                !self.testing.sms_codes.is_empty(),
                "testing.sms_codes is a test hook and is refused in production",
            );
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(problems))
        }
    }
}

/// Whether every character can be drawn: the captcha alphabet, which has no look-alikes.
fn drawable(text: &CaptchaText) -> bool {
    text.as_str()
        .bytes()
        .all(|b| domain::CAPTCHA_ALPHABET.contains(&b))
}

fn scheme(url: &str) -> &str {
    url.split_once("://")
        .map(|(s, _)| s)
        .or_else(|| url.split_once(':').map(|(s, _)| s))
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn production() -> Settings {
        Settings::defaults_for(Environment::Production)
    }

    #[test]
    fn local_defaults_are_valid() {
        Settings::defaults_for(Environment::Local)
            .validate()
            .unwrap();
    }

    #[test]
    fn production_refuses_each_development_part_by_name() {
        let mut s = production();
        s.testing.captcha_text = Some("ABCD".into());
        s.testing
            .sms_codes
            .insert("13800138000".into(), "123456".into());
        let msg = s.validate().unwrap_err().to_string();
        for expected in [
            "store.url = memory://",
            "sms.provider = console",
            "security.code_secret is required",
            "testing.captcha_text",
            "testing.sms_codes",
        ] {
            assert!(msg.contains(expected), "{expected:?} missing from:\n{msg}");
        }
    }

    #[test]
    fn production_with_real_parts_is_accepted() {
        let mut s = production();
        s.store.url = SecretString::from("redis://127.0.0.1:6379/0");
        s.database.url = SecretString::from("postgres://u@db/yanzheng");
        s.sms.provider = SmsProvider::Ronglian;
        s.sms.ronglian.account_sid = Some("sid".into());
        s.sms.ronglian.auth_token = Some(SecretString::from("token"));
        s.sms.ronglian.app_id = Some("app".into());
        s.security.code_secret = Some(SecretString::from("0123456789abcdef0123456789abcdef"));
        s.validate().unwrap();
        assert!(s.cookie_secure());
    }

    #[test]
    fn bad_values_are_named() {
        let mut s = Settings::defaults_for(Environment::Local);
        s.database.url = SecretString::from("oracle://x");
        s.limits.mobile_per_hour = 0;
        s.testing.captcha_text = Some("OOPS".into());
        s.testing
            .sms_codes
            .insert("1380013800x".into(), "123456".into());
        s.sms.provider = SmsProvider::Ronglian;
        let msg = s.validate().unwrap_err().to_string();
        for expected in [
            "database.url",
            "limits.mobile_per_hour",
            "testing.captcha_text",
            "testing.sms_codes",
            "sms.ronglian.account_sid",
        ] {
            assert!(msg.contains(expected), "{expected:?} missing from:\n{msg}");
        }
    }

    #[test]
    fn schemes() {
        assert_eq!(scheme("sqlite://data/x.db"), "sqlite");
        assert_eq!(scheme("sqlite::memory:"), "sqlite");
        assert_eq!(scheme("memory://"), "memory");
        assert_eq!(scheme("redis://h:1/0"), "redis");
    }
}
