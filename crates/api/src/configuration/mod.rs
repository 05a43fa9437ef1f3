//! Settings: built-in defaults, then `config/{APP_ENVIRONMENT}.toml` if present, then
//! `APP__SECTION__KEY` environment variables ([`load`]). They are read into the operator's
//! shape ([`SettingsFile`]) and turned, in one step that lists every problem at once, into
//! [`Settings`]: typed values with every choice decided — which store, which database, which
//! SMS providers in which order, the use cases' policy and test hooks. The composition root
//! only builds from them; nothing reads or checks configuration after this.

mod file;
mod secret;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use app::{Policy, RegisteredMobilePolicy, TestHooks};
use diesel_users::{DatabaseUrl, DbOptions};
use domain::{CaptchaText, LoginLimits, Mobile, SendLimits, SmsCode};
use redis_captcha::{RedisOptions, RedisUrl};
use ronglian_sms::RonglianConfig;
use secrecy::{ExposeSecret, SecretString};
use tencent_sms::TencentConfig;

pub use file::*;

pub use crate::adapters::BreakerSettings;
use crate::web::client_ip::{ClientIp, TrustedProxies};

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

    fn parse(raw: &str) -> Result<Self, ConfigError> {
        match raw.to_lowercase().as_str() {
            "local" => Ok(Self::Local),
            "production" => Ok(Self::Production),
            other => Err(ConfigError(vec![format!(
                "APP_ENVIRONMENT must be `local` or `production`, not `{other}`"
            )])),
        }
    }
}

/// What the service runs with, every choice decided.
#[derive(Debug, Clone)]
pub struct Settings {
    pub environment: Environment,
    /// The listener: plain values, nothing to decide.
    pub server: ServerFile,
    /// How to find a client's address (`server.trust_forwarded_for`, `server.trusted_proxies`).
    pub client_ip: ClientIp,
    /// `Secure` on the session and csrf cookies (`session.cookie_secure`, else production).
    pub cookie_secure: bool,
    /// An existing front end to serve (`web.static_dir`), checked to be a folder.
    pub static_dir: Option<PathBuf>,
    pub database: DatabaseSettings,
    pub store: StoreSettings,
    pub sms: SmsSettings,
    pub policy: Policy,
    pub test_hooks: TestHooks,
    /// The HMAC key for codes at rest; `None` (allowed in `local` only): random per process.
    pub code_secret: Option<SecretString>,
    pub log: LogSettings,
    /// The bearer token `/metrics` on the main port asks for (`metrics.token`), if any.
    pub metrics_token: Option<SecretString>,
    /// Password hashes at once (`limits.hash_concurrency`); the hasher's bound, not a policy.
    pub hash_concurrency: usize,
}

/// The user directory: which database, and the pool's bounds.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: DatabaseUrl,
    pub options: DbOptions,
}

/// Where captchas, codes, limits and sessions live.
#[derive(Debug, Clone)]
pub enum StoreSettings {
    Memory,
    Redis {
        url: RedisUrl,
        options: RedisOptions,
    },
}

/// Who sends the SMS: the providers in failover order, each behind a breaker.
#[derive(Debug, Clone)]
pub struct SmsSettings {
    /// At least one, each at most once, in the order they are tried.
    pub providers: Vec<ProviderSettings>,
    pub breaker: BreakerSettings,
}

/// One SMS provider, configured.
#[derive(Debug, Clone)]
pub enum ProviderSettings {
    Console,
    Ronglian(RonglianConfig),
    Tencent(TencentConfig),
}

impl ProviderSettings {
    /// Its name in `sms.providers`; start-up hands it to the sender as the name in the logs and
    /// the metrics' `provider` label.
    pub fn name(&self) -> &'static str {
        match self {
            ProviderSettings::Console => "console",
            ProviderSettings::Ronglian(_) => "ronglian",
            ProviderSettings::Tencent(_) => "tencent",
        }
    }
}

/// How and what to log (`log.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub format: LogFormat,
    /// An `EnvFilter` directive, checked to parse; `RUST_LOG` overrides it at start.
    pub level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (`text`; `pretty` is an alias).
    Text,
    /// One JSON object per line.
    Json,
}

/// What start-up refuses, all at once so an operator can fix everything in one go.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
pub struct ConfigError(pub Vec<String>);

/// Load from `config/{env}.toml` (relative to the working directory) and the process
/// environment.
pub fn load() -> Result<Settings, ConfigError> {
    load_from(Path::new("config"), std::env::vars())
}

/// Load from `{config_dir}/{env}.toml` and the given environment variables (`APP_ENVIRONMENT`,
/// `APP__…`): [`load`] without touching the process, for tests.
pub fn load_from(
    config_dir: &Path,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<Settings, ConfigError> {
    let vars: HashMap<String, String> = vars.into_iter().collect();
    let environment =
        Environment::parse(vars.get("APP_ENVIRONMENT").map_or("local", String::as_str))?;
    let file = config_dir.join(format!("{}.toml", environment.as_str()));
    let raw = config::Config::builder()
        .add_source(config::File::from(file).required(false))
        .add_source(
            config::Environment::with_prefix("APP")
                .prefix_separator("__")
                .separator("__")
                .source(Some(vars)),
        )
        .build()
        .and_then(config::Config::try_deserialize)
        .map_err(|e| ConfigError(vec![e.to_string()]))?;
    Settings::from_file(raw, environment)
}

/// The problems found so far; every check adds to it, none stops the others.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn push(&mut self, problem: impl Into<String>) {
        self.0.push(problem.into());
    }

    fn require(&mut self, ok: bool, problem: &str) {
        if !ok {
            self.push(problem);
        }
    }

    /// `value` if it parsed, else record `problem(error)`.
    fn take<T, E>(&mut self, parsed: Result<T, E>, problem: impl FnOnce(E) -> String) -> Option<T> {
        parsed.map_err(|e| self.0.push(problem(e))).ok()
    }
}

impl Settings {
    /// Decide and check everything in `file` for `environment`, or name every problem.
    pub fn from_file(file: SettingsFile, environment: Environment) -> Result<Self, ConfigError> {
        let mut p = Problems::default();
        let production = environment == Environment::Production;
        let database = database(&file.database, &mut p);
        let store = store(&file.store, &mut p);
        let sms = sms(&file.sms, &mut p);
        let policy = policy(&file, &mut p);
        let test_hooks = test_hooks(&file.testing, &mut p);
        let log = log(&file.log, production, &mut p);
        server_checks(&file, &mut p);
        let client_ip = client_ip(&file.server, &mut p);
        // In production the secret's strength is judged instead (`production_refusals`).
        if let Some(secret) = file.security.code_secret.as_ref().filter(|_| !production) {
            p.require(
                secret.expose_secret().len() >= 16,
                "security.code_secret must be at least 16 bytes (32 random bytes recommended)",
            );
        }
        if let Some(dir) = &file.web.static_dir {
            p.require(
                dir.is_dir(),
                "web.static_dir must name an existing folder (the front end: html/*.html and its assets)",
            );
        }
        if production {
            production_refusals(&file, store.as_ref(), &mut p);
        } else {
            hooks_only_on_loopback(&file, &mut p);
        }
        match (database, store, sms, policy, test_hooks, log, client_ip) {
            (
                Some(database),
                Some(store),
                Some(sms),
                Some(policy),
                Some(test_hooks),
                Some(log),
                Some(client_ip),
            ) if p.0.is_empty() => Ok(Self {
                environment,
                server: file.server,
                client_ip,
                cookie_secure: file.session.cookie_secure.unwrap_or(production),
                static_dir: file.web.static_dir,
                database,
                store,
                sms,
                policy,
                test_hooks,
                code_secret: file.security.code_secret,
                log,
                metrics_token: file.metrics.token,
                hash_concurrency: file.limits.hash_concurrency,
            }),
            _ => Err(ConfigError(p.0)),
        }
    }
}

/// `server.trusted_proxies` parsed; every entry that is not a CIDR or an address is named.
fn client_ip(f: &ServerFile, p: &mut Problems) -> Option<ClientIp> {
    let trusted_proxies = p.take(TrustedProxies::parse(&f.trusted_proxies), |bad| {
        let bad: Vec<String> = bad.iter().map(ToString::to_string).collect();
        format!("server.trusted_proxies: {}", bad.join("; "))
    })?;
    p.require(
        !(f.trust_forwarded_for && trusted_proxies.is_empty()),
        "server.trust_forwarded_for is on but server.trusted_proxies is empty, so X-Forwarded-For \
         would never be read: list your proxies' addresses, or turn trust_forwarded_for off",
    );
    Some(ClientIp {
        trust_forwarded_for: f.trust_forwarded_for,
        trusted_proxies,
    })
}

fn database(f: &DatabaseFile, p: &mut Problems) -> Option<DatabaseSettings> {
    let url = p.take(DatabaseUrl::parse(f.url.expose_secret()), |_| {
        "database.url must start with sqlite://, postgres://, mysql:// or mariadb://".into()
    })?;
    Some(DatabaseSettings {
        url,
        options: DbOptions {
            max_connections: f.max_connections,
            connect_timeout: Duration::from_millis(f.connect_timeout_ms),
            query_timeout: Duration::from_millis(f.query_timeout_ms),
        },
    })
}

fn store(f: &StoreFile, p: &mut Problems) -> Option<StoreSettings> {
    let url = f.url.expose_secret();
    if url.starts_with("memory:") {
        return Some(StoreSettings::Memory);
    }
    let url = p.take(RedisUrl::parse(url), |e| {
        format!(
            "store.url must be memory://, redis://[:password@]host:port/db or \
             redis+cluster://[:password@]host:port[,host:port…]: {e}"
        )
    });
    let options = RedisOptions {
        key_prefix: f.key_prefix.clone(),
        pool_size: f.pool_size,
        timeout: Duration::from_millis(f.timeout_ms),
    };
    let checked = p.take(options.check(), |e| {
        format!("store.key_prefix / pool_size / timeout_ms: {e}")
    });
    checked?;
    Some(StoreSettings::Redis { url: url?, options })
}

/// The provider names as configured: `sms.providers` if set (`true`), else `[sms.provider]`.
fn provider_names(f: &SmsFile) -> (Vec<&str>, bool) {
    match &f.providers {
        Some(list) => (list.iter().map(String::as_str).collect(), true),
        None => (vec![f.provider.as_str()], false),
    }
}

fn sms(f: &SmsFile, p: &mut Problems) -> Option<SmsSettings> {
    let before = p.0.len();
    let (names, listed) = provider_names(f);
    p.require(
        !names.is_empty(),
        "sms.providers is empty: list the SMS providers in failover order (console, ronglian, tencent)",
    );
    let mut providers: Vec<ProviderSettings> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            p.push(format!(
                "sms.providers names {name} twice: list each provider once, in failover order"
            ));
            continue;
        }
        // Who asks for the provider, as the messages say it.
        let asked = if listed {
            format!("sms.providers lists {name}, which")
        } else {
            format!("sms.provider = {name}")
        };
        let provider = match *name {
            "console" => Some(ProviderSettings::Console),
            "ronglian" => ronglian(&f.ronglian, &asked, p).map(ProviderSettings::Ronglian),
            "tencent" => tencent(&f.tencent, &asked, p).map(ProviderSettings::Tencent),
            other => {
                p.push(if listed {
                    format!("sms.providers: `{other}` is no SMS provider (console, ronglian or tencent)")
                } else {
                    format!("sms.provider must be console, ronglian or tencent, not `{other}`")
                });
                None
            }
        };
        providers.extend(provider);
    }
    p.require(f.breaker_failures > 0, "sms.breaker_failures must be > 0");
    p.require(f.breaker_open_secs > 0, "sms.breaker_open_secs must be > 0");
    (p.0.len() == before).then(|| SmsSettings {
        providers,
        breaker: BreakerSettings {
            failures: f.breaker_failures,
            open_for: Duration::from_secs(f.breaker_open_secs),
        },
    })
}

/// `keys` (under `section`) that are unset, as one problem: "`asked` needs sms.x.a and sms.x.b".
fn missing(section: &str, keys: &[(&str, bool)], asked: &str, p: &mut Problems) {
    let unset: Vec<String> = keys
        .iter()
        .filter(|(_, set)| !set)
        .map(|(key, _)| format!("{section}.{key}"))
        .collect();
    let Some((last, rest)) = unset.split_last() else {
        return;
    };
    let list = if rest.is_empty() {
        last.clone()
    } else {
        format!("{} and {last}", rest.join(", "))
    };
    p.push(format!("{asked} needs {list}"));
}

fn ronglian(r: &RonglianFile, asked: &str, p: &mut Problems) -> Option<RonglianConfig> {
    let (Some(account_sid), Some(auth_token), Some(app_id)) =
        (&r.account_sid, &r.auth_token, &r.app_id)
    else {
        let keys = [
            ("account_sid", r.account_sid.is_some()),
            ("auth_token", r.auth_token.is_some()),
            ("app_id", r.app_id.is_some()),
        ];
        missing("sms.ronglian", &keys, asked, p);
        return None;
    };
    let config = RonglianConfig {
        base_url: r.base_url.clone(),
        account_sid: account_sid.clone(),
        auth_token: auth_token.clone(),
        app_id: app_id.clone(),
        template_id: r.template_id.clone(),
        connect_timeout: Duration::from_millis(r.connect_timeout_ms),
        timeout: Duration::from_millis(r.timeout_ms),
    };
    p.take(config.check(), |e| e.to_string())?;
    Some(config)
}

fn tencent(t: &TencentFile, asked: &str, p: &mut Problems) -> Option<TencentConfig> {
    let (Some(secret_id), Some(secret_key), Some(sdk_app_id), Some(sign_name), Some(template_id)) = (
        &t.secret_id,
        &t.secret_key,
        &t.sdk_app_id,
        &t.sign_name,
        &t.template_id,
    ) else {
        let keys = [
            ("secret_id", t.secret_id.is_some()),
            ("secret_key", t.secret_key.is_some()),
            ("sdk_app_id", t.sdk_app_id.is_some()),
            ("sign_name", t.sign_name.is_some()),
            ("template_id", t.template_id.is_some()),
        ];
        missing("sms.tencent", &keys, asked, p);
        return None;
    };
    let config = TencentConfig {
        region: t.region.clone(),
        base_url: t.base_url.clone(),
        connect_timeout: Duration::from_millis(t.connect_timeout_ms),
        timeout: Duration::from_millis(t.timeout_ms),
        ..TencentConfig::new(
            secret_id.clone(),
            secret_key.clone(),
            sdk_app_id.clone(),
            sign_name.clone(),
            template_id.clone(),
        )
    };
    p.take(config.check(), |e| e.to_string())?;
    Some(config)
}

fn policy(f: &SettingsFile, p: &mut Problems) -> Option<Policy> {
    let l = &f.limits;
    for (value, key) in [
        (f.captcha.ttl_secs, "captcha.ttl_secs"),
        (f.sms.code_ttl_secs, "sms.code_ttl_secs"),
        (f.session.ttl_secs, "session.ttl_secs"),
        (f.session.app_ttl_secs, "session.app_ttl_secs"),
        (u64::from(l.mobile_per_hour), "limits.mobile_per_hour"),
        (u64::from(l.mobile_per_day), "limits.mobile_per_day"),
        (u64::from(l.ip_per_hour), "limits.ip_per_hour"),
        (u64::from(l.global_per_hour), "limits.global_per_hour"),
        (u64::from(l.code_max_attempts), "limits.code_max_attempts"),
        (
            u64::from(l.login_failures_per_ip),
            "limits.login_failures_per_ip",
        ),
        (
            u64::from(l.login_failures_per_mobile),
            "limits.login_failures_per_mobile",
        ),
        (l.login_lockout_secs, "limits.login_lockout_secs"),
        (l.hash_concurrency as u64, "limits.hash_concurrency"),
        (
            u64::from(l.captcha_per_ip_per_minute),
            "limits.captcha_per_ip_per_minute",
        ),
        (u64::from(f.session.max_per_user), "session.max_per_user"),
    ] {
        p.require(value > 0, &format!("{key} must be > 0"));
    }
    p.require(
        domain::CAPTCHA_LENGTHS.contains(&f.captcha.length),
        &format!(
            "captcha.length must be {}-{} characters",
            domain::CAPTCHA_LENGTHS.start(),
            domain::CAPTCHA_LENGTHS.end()
        ),
    );
    p.require(
        (1..=128).contains(&l.ipv6_prefix_len),
        "limits.ipv6_prefix_len must be 1-128 (64: one customer's /64 is one client)",
    );
    let registered_mobile = match f.security.registered_mobile.as_str() {
        "refuse" => RegisteredMobilePolicy::Refuse,
        "silent" => RegisteredMobilePolicy::Silent,
        other => {
            p.push(format!(
                "security.registered_mobile must be refuse or silent, not `{other}`"
            ));
            return None;
        }
    };
    Some(Policy {
        captcha_ttl: Duration::from_secs(f.captcha.ttl_secs),
        captcha_length: f.captcha.length,
        code_ttl: Duration::from_secs(f.sms.code_ttl_secs),
        code_max_attempts: l.code_max_attempts,
        send_limits: SendLimits {
            mobile_cooldown: Duration::from_secs(l.mobile_cooldown_secs),
            mobile_per_hour: l.mobile_per_hour,
            mobile_per_day: l.mobile_per_day,
            ip_per_hour: l.ip_per_hour,
            global_per_hour: l.global_per_hour,
        },
        login_limits: LoginLimits {
            per_ip: l.login_failures_per_ip,
            per_mobile: l.login_failures_per_mobile,
            window: Duration::from_secs(l.login_lockout_secs),
        },
        captchas_per_minute: l.captcha_per_ip_per_minute,
        ipv6_prefix_len: l.ipv6_prefix_len,
        session_ttl: Duration::from_secs(f.session.ttl_secs),
        app_session_ttl: Duration::from_secs(f.session.app_ttl_secs),
        sessions_per_user: f.session.max_per_user,
        registered_mobile,
    })
}

fn test_hooks(f: &TestingFile, p: &mut Problems) -> Option<TestHooks> {
    let before = p.0.len();
    let captcha_text = f.captcha_text.as_deref().and_then(|raw| {
        let text = p.take(CaptchaText::parse(raw), |e| {
            format!("testing.captcha_text: {e}")
        })?;
        let drawable = text
            .as_str()
            .bytes()
            .all(|b| domain::CAPTCHA_ALPHABET.contains(&b));
        p.require(
            drawable,
            &format!(
                "testing.captcha_text: use only these characters (the captcha alphabet has \
                 no look-alikes such as O/0): {}",
                String::from_utf8_lossy(domain::CAPTCHA_ALPHABET)
            ),
        );
        Some(text)
    });
    let mut sms_codes = HashMap::new();
    for (mobile, code) in &f.sms_codes {
        let m = p.take(Mobile::parse(mobile), |e| {
            format!("testing.sms_codes: key: {e}")
        });
        let c = p.take(SmsCode::parse(code), |e| {
            format!("testing.sms_codes.{mobile}: {e}")
        });
        if let (Some(m), Some(c)) = (m, c) {
            sms_codes.insert(m, c);
        }
    }
    (p.0.len() == before).then_some(TestHooks {
        captcha_text,
        sms_codes,
    })
}

fn log(f: &LogFile, production: bool, p: &mut Problems) -> Option<LogSettings> {
    let format = match f.format.as_deref() {
        None if production => Some(LogFormat::Json),
        None | Some("text" | "pretty") => Some(LogFormat::Text),
        Some("json") => Some(LogFormat::Json),
        Some(other) => {
            p.push(format!("log.format must be text or json, not `{other}`"));
            None
        }
    };
    let level = f.level.clone().unwrap_or_else(|| "info".into());
    let level = p.take(
        tracing_subscriber::EnvFilter::try_new(&level).map(|_| level),
        |e| {
            format!(
                "log.level is not an EnvFilter directive (like `info` or `warn,api=debug`): {e}"
            )
        },
    );
    Some(LogSettings {
        format: format?,
        level: level?,
    })
}

/// The listeners and the metrics token: plain values, checked against each other.
fn server_checks(f: &SettingsFile, p: &mut Problems) {
    let s = &f.server;
    p.require(
        s.metrics_port.is_none_or(|m| m == 0 || m != s.port),
        "server.metrics_port must differ from server.port",
    );
    p.require(
        f.metrics
            .token
            .as_ref()
            .is_none_or(|t| t.expose_secret().len() >= 16),
        "metrics.token must be at least 16 characters (e.g. `openssl rand -hex 32`)",
    );
    p.require(
        s.shutdown_grace_secs <= 3600,
        "server.shutdown_grace_secs must be at most 3600",
    );
}

/// In `production` the development-only parts are refused, each by name: judged on what was
/// decided, and on the raw `testing.*` keys (a malformed hook is refused too).
fn production_refusals(f: &SettingsFile, store: Option<&StoreSettings>, p: &mut Problems) {
    // Judged on the names, so a console beside a misconfigured provider is named too.
    let (providers, listed) = provider_names(&f.sms);
    let mut refuse = |bad: bool, msg: &str| p.require(!bad, &format!("production: {msg}"));
    refuse(
        matches!(store, Some(StoreSettings::Memory)),
        "store.url = memory:// keeps limits and codes per process; set a redis:// URL",
    );
    refuse(
        providers.contains(&"console"),
        if listed {
            "sms.providers lists console, which prints codes instead of sending them; list only \
             ronglian and tencent"
        } else {
            "sms.provider = console prints codes instead of sending them; use ronglian or tencent"
        },
    );
    refuse(
        f.security.code_secret.is_none(),
        "security.code_secret is required (APP__SECURITY__CODE_SECRET)",
    );
    refuse(
        f.testing.captcha_text.is_some(),
        "testing.captcha_text is a test hook and is refused in production",
    );
    refuse(
        !f.testing.sms_codes.is_empty(),
        "testing.sms_codes is a test hook and is refused in production",
    );
    let secret = f.security.code_secret.as_ref();
    if let Some(why) = secret.and_then(|s| secret::weakness(s.expose_secret())) {
        p.push(format!(
            "production: security.code_secret {why}: it must be 128 random bits or more that \
             nobody else has; generate one with `openssl rand -hex 32` (the same on every replica)"
        ));
    }
}

/// In `local`, the `testing.*` hooks only on a loopback listener: they let anyone who reaches
/// the service pass the captcha and receive known codes. (Production refuses them outright.)
fn hooks_only_on_loopback(f: &SettingsFile, p: &mut Problems) {
    let hooks = f.testing.captcha_text.is_some() || !f.testing.sms_codes.is_empty();
    let host = f.server.host.as_str();
    p.require(
        !hooks || is_loopback(host),
        &format!(
            "testing.* hooks let anyone who reaches the service pass the captcha and receive \
             known codes; with server.host = {host} that is everyone who can reach this machine. \
             Set server.host = 127.0.0.1, or remove the testing.* keys"
        ),
    );
}

/// `localhost`, `127.0.0.0/8` or `::1` (also IPv4-mapped). `0.0.0.0`, `::` and any other name
/// or address are not.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_ronglian(f: &mut SettingsFile) {
        f.sms.provider = "ronglian".into();
        f.sms.ronglian.account_sid = Some("sid".into());
        f.sms.ronglian.auth_token = Some(SecretString::from("token"));
        f.sms.ronglian.app_id = Some("app".into());
    }

    fn problems(file: SettingsFile, env: Environment) -> String {
        Settings::from_file(file, env).unwrap_err().to_string()
    }

    /// `openssl rand -hex 32`.
    const GOOD_SECRET: &str = "3f9a1c7be2d84a06c5e1f0b79d28a4e6c13b7f05ad9e2c8164f7b0d3e9a5c218";

    /// Production with real parts, so only the setting under test is a problem.
    fn production(tweak: impl FnOnce(&mut SettingsFile)) -> Result<Settings, ConfigError> {
        let mut f = SettingsFile::default();
        f.store.url = SecretString::from("redis://127.0.0.1:6379/0");
        with_ronglian(&mut f);
        f.security.code_secret = Some(SecretString::from(GOOD_SECRET));
        tweak(&mut f);
        Settings::from_file(f, Environment::Production)
    }

    fn with_hooks(f: &mut SettingsFile) {
        f.testing.captcha_text = Some("ABCD".into());
    }

    #[test]
    fn local_defaults_are_the_embedded_default() {
        let s = Settings::from_file(SettingsFile::default(), Environment::Local).unwrap();
        assert!(matches!(s.store, StoreSettings::Memory));
        assert!(matches!(s.sms.providers[..], [ProviderSettings::Console]));
        assert_eq!(s.sms.breaker, BreakerSettings::default());
        assert_eq!(s.database.url.backend(), diesel_users::Backend::Sqlite);
        assert_eq!(s.database.options, DbOptions::default());
        assert_eq!(s.policy.send_limits, SendLimits::default());
        assert_eq!(s.policy.login_limits, LoginLimits::default());
        assert_eq!(s.log.format, LogFormat::Text);
        assert!(!s.cookie_secure);
        assert!(s.code_secret.is_none());
    }

    /// The defaults are read from the crates that own them; this pins them to SPEC §9 and
    /// docs/configuration.md, so changing an owner's default cannot change the service's
    /// unnoticed.
    #[test]
    fn the_defaults_are_those_of_spec_section_9() {
        let f = SettingsFile::default();
        assert_eq!((f.server.host.as_str(), f.server.port), ("127.0.0.1", 8080));
        assert!(!f.server.trust_forwarded_for);
        assert_eq!(
            f.server.trusted_proxies,
            [
                "127.0.0.0/8",
                "::1/128",
                "10.0.0.0/8",
                "172.16.0.0/12",
                "192.168.0.0/16",
                "fc00::/7"
            ]
        );
        assert_eq!(f.database.url.expose_secret(), "sqlite://data/yanzheng.db");
        assert_eq!(
            (
                f.database.max_connections,
                f.database.connect_timeout_ms,
                f.database.query_timeout_ms
            ),
            (10, 2000, 2000)
        );
        assert_eq!(f.store.url.expose_secret(), "memory://");
        assert_eq!(
            (
                f.store.key_prefix.as_str(),
                f.store.pool_size,
                f.store.timeout_ms
            ),
            ("yz", 16, 1000)
        );
        assert_eq!(
            (f.sms.provider.as_str(), f.sms.code_ttl_secs),
            ("console", 300)
        );
        let r = &f.sms.ronglian;
        assert_eq!(
            (r.base_url.as_str(), r.template_id.as_str()),
            ("https://app.cloopen.com:8883", "1")
        );
        assert_eq!((r.connect_timeout_ms, r.timeout_ms), (3000, 5000));
        // §9a (issue 11).
        assert!(f.sms.providers.is_none(), "unset: [sms.provider]");
        assert_eq!((f.sms.breaker_failures, f.sms.breaker_open_secs), (5, 30));
        let t = &f.sms.tencent;
        assert_eq!(
            (t.region.as_str(), t.base_url.as_str()),
            ("ap-guangzhou", "https://sms.tencentcloudapi.com")
        );
        assert_eq!((t.connect_timeout_ms, t.timeout_ms), (3000, 5000));
        assert!(
            t.secret_id.is_none()
                && t.secret_key.is_none()
                && t.sdk_app_id.is_none()
                && t.sign_name.is_none()
                && t.template_id.is_none()
        );
        assert_eq!((f.captcha.ttl_secs, f.captcha.length), (180, 4));
        let l = &f.limits;
        assert_eq!(
            (l.mobile_cooldown_secs, l.mobile_per_hour, l.mobile_per_day),
            (60, 5, 10)
        );
        assert_eq!(
            (l.ip_per_hour, l.global_per_hour, l.code_max_attempts),
            (20, 1000, 5)
        );
        assert_eq!((l.login_failures_per_ip, l.login_lockout_secs), (5, 600));
        // §9a (issue 07).
        assert_eq!(
            (
                l.login_failures_per_mobile,
                l.ipv6_prefix_len,
                l.captcha_per_ip_per_minute
            ),
            (10, 64, 30)
        );
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(l.hash_concurrency, cores);
        assert_eq!(
            (
                f.session.ttl_secs,
                f.session.cookie_secure,
                f.session.max_per_user,
                f.session.app_ttl_secs
            ),
            (86_400, None, 10, 2_592_000)
        );
        assert_eq!(f.security.registered_mobile, "refuse");
        assert!(f.security.code_secret.is_none() && f.log.format.is_none());
        // §9a (issue 09).
        let s = Settings::from_file(SettingsFile::default(), Environment::Local).unwrap();
        assert_eq!(s.log.level, "info");
        assert_eq!(
            (s.server.shutdown_grace_secs, s.server.metrics_port),
            (10, None)
        );
        assert!(s.metrics_token.is_none());
    }

    #[test]
    fn log_format_text_is_the_default_name_and_pretty_its_alias() {
        for (raw, expected) in [("text", LogFormat::Text), ("pretty", LogFormat::Text)] {
            let mut f = SettingsFile::default();
            f.log.format = Some(raw.into());
            f.log.level = Some("warn,api=debug".into());
            let s = Settings::from_file(f, Environment::Local).unwrap();
            assert_eq!(s.log.format, expected);
            assert_eq!(s.log.level, "warn,api=debug");
        }
    }

    #[test]
    fn production_refuses_each_development_part_by_name() {
        let mut f = SettingsFile::default();
        f.testing.captcha_text = Some("ABCD".into());
        f.testing
            .sms_codes
            .insert("13800138000".into(), "123456".into());
        let msg = problems(f, Environment::Production);
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
    fn production_with_real_parts_is_decided_into_types() {
        let mut f = SettingsFile::default();
        f.store.url = SecretString::from("redis://127.0.0.1:6379/0");
        f.database.url = SecretString::from("mariadb://u@db/yanzheng");
        with_ronglian(&mut f);
        f.security.code_secret = Some(SecretString::from(GOOD_SECRET));
        f.security.registered_mobile = "silent".into();
        let s = Settings::from_file(f, Environment::Production).unwrap();
        assert!(s.cookie_secure);
        assert_eq!(s.log.format, LogFormat::Json);
        assert!(matches!(s.store, StoreSettings::Redis { .. }));
        assert!(
            matches!(&s.sms.providers[..], [ProviderSettings::Ronglian(r)] if r.app_id == "app")
        );
        assert_eq!(s.database.url.backend(), diesel_users::Backend::Mysql);
        assert_eq!(s.policy.registered_mobile, RegisteredMobilePolicy::Silent);
    }

    #[test]
    fn a_redis_cluster_is_a_store_url_too() {
        let mut f = SettingsFile::default();
        f.store.url = SecretString::from("redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7000");
        let s = Settings::from_file(f, Environment::Local).unwrap();
        assert!(matches!(&s.store, StoreSettings::Redis { url, .. } if url.is_cluster()));
        let mut f = SettingsFile::default();
        f.store.url = SecretString::from("redis+cluster://10.0.0.1:7000/0");
        let p = problems(f, Environment::Local);
        assert!(p.contains("redis+cluster://"), "{p}");
        assert!(!p.contains("10.0.0.1"), "the URL is not repeated: {p}");
    }

    #[test]
    fn every_bad_value_is_named_at_once() {
        let mut f = SettingsFile::default();
        f.database.url = SecretString::from("oracle://x");
        f.store.url = SecretString::from("redis://127.0.0.1/0");
        f.store.key_prefix = "a{b".into();
        f.limits.mobile_per_hour = 0;
        f.limits.hash_concurrency = 0;
        f.limits.ipv6_prefix_len = 0;
        f.captcha.length = 3;
        f.session.max_per_user = 0;
        f.testing.captcha_text = Some("OOPS".into());
        f.testing
            .sms_codes
            .insert("1380013800x".into(), "123456".into());
        f.sms.provider = "ronglian".into();
        f.security.registered_mobile = "maybe".into();
        f.log.format = Some("xml".into());
        f.log.level = Some("info,[=".into());
        f.server.metrics_port = Some(f.server.port);
        f.metrics.token = Some(SecretString::from("short"));
        f.server.shutdown_grace_secs = 86_400;
        let msg = problems(f, Environment::Local);
        for expected in [
            "database.url",
            "store.key_prefix",
            "limits.mobile_per_hour",
            "limits.hash_concurrency",
            "limits.ipv6_prefix_len",
            "captcha.length must be 4-8",
            "session.max_per_user",
            "testing.captcha_text",
            "testing.sms_codes",
            "sms.ronglian.account_sid",
            "security.registered_mobile",
            "log.format",
            "log.level",
            "server.metrics_port",
            "metrics.token",
            "server.shutdown_grace_secs",
        ] {
            assert!(msg.contains(expected), "{expected:?} missing from:\n{msg}");
        }
    }

    #[test]
    fn a_bad_ronglian_base_url_is_a_start_up_problem() {
        let mut f = SettingsFile::default();
        with_ronglian(&mut f);
        f.sms.ronglian.base_url = "ftp://x".into();
        assert!(problems(f, Environment::Local).contains("sms.ronglian.base_url"));
    }

    #[test]
    fn test_hooks_are_typed() {
        let mut f = SettingsFile::default();
        f.testing.captcha_text = Some("abcd".into());
        f.testing
            .sms_codes
            .insert("13800138000".into(), "012345".into());
        let s = Settings::from_file(f, Environment::Local).unwrap();
        assert_eq!(s.test_hooks.captcha_text.unwrap().as_str(), "ABCD");
        let m = Mobile::parse("13800138000").unwrap();
        assert_eq!(s.test_hooks.sms_codes[&m].expose(), "012345");
    }

    #[test]
    fn production_refuses_a_weak_or_published_code_secret_and_says_how_to_make_one() {
        for weak in [
            "CHANGE-ME-TO-64-HEX-CHARACTERS",
            "0123456789abcdef0123456789abcdef",
            "9f3c1a7e52b8d04e",
            "my-production-secret-2024",
        ] {
            let msg = production(|f| f.security.code_secret = Some(SecretString::from(weak)))
                .unwrap_err()
                .to_string();
            assert!(
                msg.contains("production: security.code_secret")
                    && msg.contains("openssl rand -hex 32"),
                "{weak}: {msg}"
            );
            assert!(
                !msg.contains(weak),
                "the message does not repeat the secret: {msg}"
            );
        }
        assert!(production(|_| {}).is_ok());
    }

    #[test]
    fn local_keeps_the_sixteen_byte_rule_only() {
        let local = |secret: &str| {
            let mut f = SettingsFile::default();
            f.security.code_secret = Some(SecretString::from(secret));
            Settings::from_file(f, Environment::Local)
        };
        assert!(local("test-secret-0123456789").is_ok());
        let msg = local("short").unwrap_err().to_string();
        assert!(msg.contains("at least 16 bytes"), "{msg}");
    }

    #[test]
    fn testing_hooks_in_local_need_a_loopback_host() {
        for host in [
            "0.0.0.0",
            "::",
            "192.168.1.7",
            "example.internal",
            "fe80::1",
        ] {
            let mut f = SettingsFile::default();
            with_hooks(&mut f);
            f.server.host = host.into();
            let msg = problems(f, Environment::Local);
            assert!(
                msg.contains(&format!("with server.host = {host}"))
                    && msg.contains("Set server.host = 127.0.0.1, or remove the testing.* keys"),
                "{host}: {msg}"
            );
        }
        for host in [
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "localhost",
            "LOCALHOST",
            "::ffff:127.0.0.1",
        ] {
            let mut f = SettingsFile::default();
            with_hooks(&mut f);
            f.server.host = host.into();
            assert!(Settings::from_file(f, Environment::Local).is_ok(), "{host}");
        }
        // A code hook alone counts; without hooks any host is fine.
        let mut f = SettingsFile::default();
        f.testing
            .sms_codes
            .insert("13800138000".into(), "123456".into());
        f.server.host = "0.0.0.0".into();
        assert!(problems(f, Environment::Local).contains("testing.* hooks"));
        let mut f = SettingsFile::default();
        f.server.host = "0.0.0.0".into();
        assert!(Settings::from_file(f, Environment::Local).is_ok());
    }

    #[test]
    fn trusted_proxies_are_decided_into_the_client_ip_rule() {
        let s = Settings::from_file(SettingsFile::default(), Environment::Local).unwrap();
        assert!(!s.client_ip.trust_forwarded_for);
        assert!(s
            .client_ip
            .trusted_proxies
            .contains("10.1.2.3".parse().unwrap()));
        assert!(!s
            .client_ip
            .trusted_proxies
            .contains("8.8.8.8".parse().unwrap()));

        let mut f = SettingsFile::default();
        f.server.trust_forwarded_for = true;
        f.server.trusted_proxies = vec!["10.0.0.0/33".into(), "nginx".into(), "10.0.0.1".into()];
        let msg = problems(f, Environment::Local);
        assert!(
            msg.contains("server.trusted_proxies: `10.0.0.0/33` is not a CIDR")
                && msg.contains("`nginx` is not a CIDR"),
            "{msg}"
        );

        let mut f = SettingsFile::default();
        f.server.trust_forwarded_for = true;
        f.server.trusted_proxies = vec![];
        assert!(problems(f, Environment::Local).contains("server.trusted_proxies is empty"));
    }

    fn with_tencent(f: &mut SettingsFile) {
        let t = &mut f.sms.tencent;
        t.secret_id = Some("AKIDexample".into());
        t.secret_key = Some(SecretString::from("key"));
        t.sdk_app_id = Some("1400006666".into());
        t.sign_name = Some("腾讯云".into());
        t.template_id = Some("1234567".into());
    }

    fn names(s: &Settings) -> Vec<&'static str> {
        s.sms.providers.iter().map(ProviderSettings::name).collect()
    }

    #[test]
    fn sms_providers_are_decided_in_order_and_win_over_sms_provider() {
        let mut f = SettingsFile::default();
        with_ronglian(&mut f);
        with_tencent(&mut f);
        f.sms.provider = "console".into();
        f.sms.providers = Some(vec!["tencent".into(), "ronglian".into()]);
        f.sms.tencent.region = "ap-beijing".into();
        f.sms.tencent.timeout_ms = 1500;
        f.sms.breaker_failures = 2;
        f.sms.breaker_open_secs = 7;
        let s = Settings::from_file(f, Environment::Local).unwrap();
        assert_eq!(names(&s), ["tencent", "ronglian"]);
        let ProviderSettings::Tencent(t) = &s.sms.providers[0] else {
            panic!("tencent first");
        };
        assert_eq!(
            (t.region.as_str(), t.sdk_app_id.as_str()),
            ("ap-beijing", "1400006666")
        );
        assert_eq!(t.timeout, Duration::from_millis(1500));
        assert_eq!(t.connect_timeout, tencent_sms::DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(
            s.sms.breaker,
            BreakerSettings {
                failures: 2,
                open_for: Duration::from_secs(7)
            }
        );
    }

    #[test]
    fn sms_provider_alone_also_accepts_tencent() {
        let mut f = SettingsFile::default();
        f.sms.provider = "tencent".into();
        with_tencent(&mut f);
        let s = Settings::from_file(f, Environment::Local).unwrap();
        assert_eq!(names(&s), ["tencent"]);

        let mut f = SettingsFile::default();
        f.sms.provider = "aliyun".into();
        let msg = problems(f, Environment::Local);
        assert!(
            msg.contains("sms.provider must be console, ronglian or tencent, not `aliyun`"),
            "{msg}"
        );
    }

    #[test]
    fn unknown_duplicate_or_no_providers_are_named() {
        let mut f = SettingsFile::default();
        with_ronglian(&mut f);
        f.sms.providers = Some(vec!["ronglian".into(), "twilio".into(), "ronglian".into()]);
        let msg = problems(f, Environment::Local);
        assert!(
            msg.contains(
                "sms.providers: `twilio` is no SMS provider (console, ronglian or tencent)"
            ) && msg.contains("sms.providers names ronglian twice"),
            "{msg}"
        );
        let mut f = SettingsFile::default();
        f.sms.providers = Some(vec![]);
        assert!(problems(f, Environment::Local).contains("sms.providers is empty"));
    }

    #[test]
    fn a_listed_provider_without_credentials_names_the_missing_keys() {
        let mut f = SettingsFile::default();
        f.sms.providers = Some(vec!["ronglian".into(), "tencent".into()]);
        f.sms.ronglian.account_sid = Some("sid".into());
        f.sms.tencent.secret_id = Some("AKIDexample".into());
        f.sms.tencent.sign_name = Some("腾讯云".into());
        let msg = problems(f, Environment::Local);
        assert!(
            msg.contains(
                "sms.providers lists ronglian, which needs sms.ronglian.auth_token and sms.ronglian.app_id"
            ) && msg.contains(
                "sms.providers lists tencent, which needs sms.tencent.secret_key, \
                 sms.tencent.sdk_app_id and sms.tencent.template_id"
            ),
            "{msg}"
        );
        assert!(
            !msg.contains("sms.ronglian.account_sid"),
            "it is set: {msg}"
        );

        let mut f = SettingsFile::default();
        f.sms.provider = "tencent".into();
        let msg = problems(f, Environment::Local);
        assert!(
            msg.contains(
                "sms.provider = tencent needs sms.tencent.secret_id, sms.tencent.secret_key, \
                 sms.tencent.sdk_app_id, sms.tencent.sign_name and sms.tencent.template_id"
            ),
            "{msg}"
        );
    }

    #[test]
    fn a_bad_tencent_value_is_a_start_up_problem() {
        let mut f = SettingsFile::default();
        f.sms.provider = "tencent".into();
        with_tencent(&mut f);
        f.sms.tencent.base_url = "ftp://x".into();
        let msg = problems(f, Environment::Local);
        assert!(msg.contains("base_url"), "{msg}");
    }

    #[test]
    fn the_breaker_needs_at_least_one_failure_and_one_second() {
        let mut f = SettingsFile::default();
        f.sms.breaker_failures = 0;
        f.sms.breaker_open_secs = 0;
        let msg = problems(f, Environment::Local);
        assert!(
            msg.contains("sms.breaker_failures must be > 0")
                && msg.contains("sms.breaker_open_secs must be > 0"),
            "{msg}"
        );
        let mut f = SettingsFile::default();
        f.sms.breaker_failures = 1;
        f.sms.breaker_open_secs = 1;
        assert!(Settings::from_file(f, Environment::Local).is_ok());
    }

    #[test]
    fn production_refuses_console_anywhere_in_the_list() {
        for list in [
            &["console", "ronglian"][..],
            &["ronglian", "console"],
            &["console"],
        ] {
            let msg = production(|f| {
                f.sms.providers = Some(list.iter().map(|s| (*s).to_owned()).collect());
            })
            .unwrap_err()
            .to_string();
            assert!(
                msg.contains(
                    "production: sms.providers lists console, which prints codes instead of sending them"
                ),
                "{list:?}: {msg}"
            );
        }
        // Beside a provider that is itself misconfigured, console is still named.
        let msg = production(|f| f.sms.providers = Some(vec!["console".into(), "tencent".into()]))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("sms.providers lists console") && msg.contains("sms.tencent.secret_id"),
            "{msg}"
        );
        let ok = production(|f| {
            with_tencent(f);
            f.sms.providers = Some(vec!["ronglian".into(), "tencent".into()]);
        });
        assert_eq!(names(&ok.unwrap()), ["ronglian", "tencent"]);
    }
}
