//! The settings as an operator writes them: `config/{env}.toml` and `APP__SECTION__KEY`
//! variables, key for key (SPEC §9, docs/configuration.md). Plain values only — every choice
//! is decided, and every value checked, in one place: [`super::Settings::from_file`].
//!
//! The defaults are read from the code that owns each value (`app::Policy`, `domain`'s limits,
//! `diesel_users::DbOptions`, `redis_captcha::RedisOptions`, `ronglian_sms`, `tencent_sms`, the
//! SMS breaker's settings), so each number is written once.

use std::collections::HashMap;
use std::path::PathBuf;

use app::Policy;
use diesel_users::DbOptions;
use domain::millis;
use redis_captcha::RedisOptions;
use secrecy::SecretString;
use serde::Deserialize;

use crate::adapters::BreakerSettings;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SettingsFile {
    pub server: ServerFile,
    pub database: DatabaseFile,
    pub store: StoreFile,
    pub sms: SmsFile,
    pub captcha: CaptchaFile,
    pub limits: LimitsFile,
    pub session: SessionFile,
    pub web: WebFile,
    pub security: SecurityFile,
    pub testing: TestingFile,
    pub log: LogFile,
    pub metrics: MetricsFile,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerFile {
    pub host: String,
    pub port: u16,
    /// Take the client IP from `X-Forwarded-For`, when the socket peer is one of
    /// `trusted_proxies` (see `crate::web::client_ip`). Only behind a proxy you run.
    pub trust_forwarded_for: bool,
    /// CIDRs (or bare addresses) of the proxies whose `X-Forwarded-For` is believed: a TOML
    /// array, or one comma-separated string (`APP__SERVER__TRUSTED_PROXIES=10.0.0.0/8,…`).
    #[serde(deserialize_with = "list_or_comma_separated")]
    pub trusted_proxies: Vec<String>,
    /// Largest accepted JSON body, in bytes.
    pub max_body_bytes: usize,
    /// HTTP worker threads; 0 = one per core.
    pub workers: usize,
    /// Serve `/metrics` on this port (same host) instead of the main one.
    pub metrics_port: Option<u16>,
    /// After SIGTERM, in-flight requests get this long before the process exits.
    pub shutdown_grace_secs: u64,
}

impl Default for ServerFile {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            trust_forwarded_for: false,
            trusted_proxies: crate::web::client_ip::DEFAULT_TRUSTED_PROXIES
                .map(String::from)
                .to_vec(),
            max_body_bytes: 16 * 1024,
            workers: 0,
            metrics_port: None,
            shutdown_grace_secs: 10,
        }
    }
}

/// A list of strings written as a list (TOML) or as one comma-separated string (the
/// environment, where the `config` crate gives every value as a string). Entries are trimmed;
/// empty ones are dropped, so an empty string is an empty list.
fn list_or_comma_separated<'de, D>(d: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::{self, SeqAccess, Visitor};
    use std::fmt;

    struct ListOrString;

    impl<'de> Visitor<'de> for ListOrString {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of strings or one comma-separated string")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut list = Vec::new();
            while let Some(item) = seq.next_element::<String>()? {
                list.push(item);
            }
            Ok(list)
        }
    }

    d.deserialize_any(ListOrString)
}

/// [`list_or_comma_separated`] for a key whose absence means something (`None`).
fn optional_list_or_comma_separated<'de, D>(d: D) -> Result<Option<Vec<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    list_or_comma_separated(d).map(Some)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseFile {
    pub url: SecretString,
    pub max_connections: usize,
    pub connect_timeout_ms: u64,
    pub query_timeout_ms: u64,
}

impl Default for DatabaseFile {
    fn default() -> Self {
        let d = DbOptions::default();
        Self {
            url: SecretString::from("sqlite://data/yanzheng.db"),
            max_connections: d.max_connections,
            connect_timeout_ms: millis(d.connect_timeout),
            query_timeout_ms: millis(d.query_timeout),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreFile {
    /// `memory://` or `redis://host:port/db`.
    pub url: SecretString,
    pub key_prefix: String,
    pub pool_size: usize,
    /// Bound on waiting for a connection and on each command: past it a request answers DBERR.
    pub timeout_ms: u64,
}

impl Default for StoreFile {
    fn default() -> Self {
        let d = RedisOptions::default();
        Self {
            url: SecretString::from("memory://"),
            key_prefix: d.key_prefix,
            pool_size: d.pool_size,
            timeout_ms: millis(d.timeout),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsFile {
    /// The one-provider shorthand: `console`, `ronglian` or `tencent`. `providers` wins.
    pub provider: String,
    /// The providers in failover order (`["ronglian", "tencent"]`): a TOML array, or one
    /// comma-separated string (`APP__SMS__PROVIDERS=ronglian,tencent`). Unset: `[provider]`.
    #[serde(deserialize_with = "optional_list_or_comma_separated")]
    pub providers: Option<Vec<String>>,
    pub code_ttl_secs: u64,
    /// Consecutive unavailable outcomes that open a provider's circuit breaker.
    pub breaker_failures: u32,
    /// How long an open breaker skips its provider before one trial send.
    pub breaker_open_secs: u64,
    pub ronglian: RonglianFile,
    pub tencent: TencentFile,
}

impl Default for SmsFile {
    fn default() -> Self {
        let breaker = BreakerSettings::default();
        Self {
            provider: "console".into(),
            providers: None,
            code_ttl_secs: Policy::default().code_ttl.as_secs(),
            breaker_failures: breaker.failures,
            breaker_open_secs: breaker.open_for.as_secs(),
            ronglian: RonglianFile::default(),
            tencent: TencentFile::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RonglianFile {
    pub base_url: String,
    pub account_sid: Option<String>,
    pub auth_token: Option<SecretString>,
    pub app_id: Option<String>,
    pub template_id: String,
    pub connect_timeout_ms: u64,
    pub timeout_ms: u64,
}

impl Default for RonglianFile {
    fn default() -> Self {
        Self {
            base_url: ronglian_sms::DEFAULT_BASE_URL.into(),
            account_sid: None,
            auth_token: None,
            app_id: None,
            template_id: ronglian_sms::DEFAULT_TEMPLATE_ID.into(),
            connect_timeout_ms: millis(ronglian_sms::DEFAULT_CONNECT_TIMEOUT),
            timeout_ms: millis(ronglian_sms::DEFAULT_TIMEOUT),
        }
    }
}

/// Tencent Cloud SMS (`SendSms`, API 2021-01-11).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TencentFile {
    pub secret_id: Option<String>,
    pub secret_key: Option<SecretString>,
    /// `SmsSdkAppId`, e.g. `1400006666`.
    pub sdk_app_id: Option<String>,
    /// The approved signature (签名) the message is sent under.
    pub sign_name: Option<String>,
    /// The approved code-message template; its parameters are the code and the minutes.
    pub template_id: Option<String>,
    pub region: String,
    pub base_url: String,
    pub connect_timeout_ms: u64,
    pub timeout_ms: u64,
}

impl Default for TencentFile {
    fn default() -> Self {
        Self {
            secret_id: None,
            secret_key: None,
            sdk_app_id: None,
            sign_name: None,
            template_id: None,
            region: tencent_sms::DEFAULT_REGION.into(),
            base_url: tencent_sms::DEFAULT_BASE_URL.into(),
            connect_timeout_ms: millis(tencent_sms::DEFAULT_CONNECT_TIMEOUT),
            timeout_ms: millis(tencent_sms::DEFAULT_TIMEOUT),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaptchaFile {
    pub ttl_secs: u64,
    /// Characters per captcha.
    pub length: usize,
}

impl Default for CaptchaFile {
    fn default() -> Self {
        Self {
            ttl_secs: Policy::default().captcha_ttl.as_secs(),
            length: Policy::default().captcha_length,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsFile {
    pub mobile_cooldown_secs: u64,
    pub mobile_per_hour: u32,
    pub mobile_per_day: u32,
    pub ip_per_hour: u32,
    pub global_per_hour: u32,
    pub code_max_attempts: u32,
    pub login_failures_per_ip: u32,
    pub login_failures_per_mobile: u32,
    pub login_lockout_secs: u64,
    /// Password hashes at once (default: the machine's cores).
    pub hash_concurrency: usize,
    pub ipv6_prefix_len: u8,
    pub captcha_per_ip_per_minute: u32,
}

impl Default for LimitsFile {
    fn default() -> Self {
        let p = Policy::default();
        Self {
            mobile_cooldown_secs: p.send_limits.mobile_cooldown.as_secs(),
            mobile_per_hour: p.send_limits.mobile_per_hour,
            mobile_per_day: p.send_limits.mobile_per_day,
            ip_per_hour: p.send_limits.ip_per_hour,
            global_per_hour: p.send_limits.global_per_hour,
            code_max_attempts: p.code_max_attempts,
            login_failures_per_ip: p.login_limits.per_ip,
            login_failures_per_mobile: p.login_limits.per_mobile,
            login_lockout_secs: p.login_limits.window.as_secs(),
            hash_concurrency: platform::default_hash_concurrency(),
            ipv6_prefix_len: p.ipv6_prefix_len,
            captcha_per_ip_per_minute: p.captchas_per_minute,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionFile {
    /// `Secure` on the cookies; unset = `false` in `local`, `true` in `production`.
    pub cookie_secure: Option<bool>,
    /// A browser session's lifetime from sign-in.
    pub ttl_secs: u64,
    /// An app token's lifetime from its last use (sliding).
    pub app_ttl_secs: u64,
    /// Live sessions and app tokens per user; signing in beyond it ends the oldest.
    pub max_per_user: u32,
}

impl Default for SessionFile {
    fn default() -> Self {
        let p = Policy::default();
        Self {
            cookie_secure: None,
            ttl_secs: p.session_ttl.as_secs(),
            app_ttl_secs: p.app_session_ttl.as_secs(),
            max_per_user: p.sessions_per_user,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebFile {
    /// An existing iHome-style front end to serve (`html/*.html` and `static/`).
    pub static_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityFile {
    /// HMAC key for codes at rest. Random per process in `local` when unset.
    pub code_secret: Option<SecretString>,
    /// `refuse` or `silent`.
    pub registered_mobile: String,
}

impl Default for SecurityFile {
    fn default() -> Self {
        Self {
            code_secret: None,
            registered_mobile: "refuse".into(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TestingFile {
    pub captcha_text: Option<String>,
    pub sms_codes: HashMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogFile {
    /// `text` (alias `pretty`) or `json`; unset = text in `local`, json in `production`.
    pub format: Option<String>,
    /// An `EnvFilter` directive (`info`, `warn,api=debug`); `RUST_LOG` overrides it.
    pub level: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsFile {
    /// If set, `/metrics` on the main port needs `Authorization: Bearer <token>`.
    pub token: Option<SecretString>,
}
