//! The use cases of yanzheng, written against the ports only.
//!
//! - [`captcha`]: issue a captcha image.
//! - [`send_code`]: send an SMS code — the seed handler, corrected (SPEC §3), top to bottom.
//! - [`account`]: register, sign in by password or code, sign out (SPEC §5, §5a).
//! - [`sessions`]: who a session token belongs to; a user's own sessions and app tokens.
//! - [`lifecycle`]: reset a forgotten password, change the password, change the number.
//!
//! [`App`] holds the adapters (chosen by the composition root through [`Ports`]), the policy
//! and the test hooks. It is cheap to share behind an `Arc`.

pub mod account;
pub mod captcha;
mod code_hasher;
pub mod codes;
pub mod lifecycle;
pub mod send_code;
pub mod sessions;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use domain::{CaptchaText, ClientNet, LoginLimits, Mobile, SendLimits, SmsCode};
use ports::{
    CaptchaRenderer, CaptchaStore, Clock, CodeStore, Event, Health, Metrics, PasswordHasher,
    RandomSource, RateLimiter, SessionStore, SmsSender, UserDirectory,
};

pub use code_hasher::CodeHasher;

/// The adapter types an [`App`] is built from: one associated type per outside thing. The
/// composition root names its concrete choice once (`impl Ports for Production`), so that no
/// handler is generic; tests name theirs.
pub trait Ports: Send + Sync + 'static {
    /// All short-lived state — captchas, codes, limit counters, sessions — lives in one store
    /// (memory or Redis), so one adapter serves the four store ports.
    type Store: CaptchaStore + CodeStore + RateLimiter + SessionStore + Health;
    type Users: UserDirectory + Health;
    type Sms: SmsSender;
    type Renderer: CaptchaRenderer;
    type Hasher: PasswordHasher;
}

/// One instance of every port.
pub struct Adapters<P: Ports> {
    pub store: P::Store,
    pub users: P::Users,
    pub sms: P::Sms,
    pub renderer: P::Renderer,
    pub hasher: P::Hasher,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn RandomSource>,
    /// Where the use cases count what happened (captcha solve rate, codes verified, …).
    pub metrics: Arc<dyn Metrics>,
}

/// The store seen through one port at a time, so that a use case reads
/// `a.captchas().take(id)` and `a.codes().put(..)` without naming traits to tell them apart.
impl<P: Ports> Adapters<P> {
    pub fn captchas(&self) -> &impl CaptchaStore {
        &self.store
    }
    pub fn codes(&self) -> &impl CodeStore {
        &self.store
    }
    pub fn limiter(&self) -> &impl RateLimiter {
        &self.store
    }
    pub fn sessions(&self) -> &impl SessionStore {
        &self.store
    }
}

/// What to answer when a code is requested for a mobile that is already registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RegisteredMobilePolicy {
    /// DATAEXIST, as the seeds do: friendly, but tells anyone who is registered.
    #[default]
    Refuse,
    /// OK without sending anything (limits still apply), so the endpoint reveals nothing.
    Silent,
}

/// Lifetimes and limits, from configuration.
#[derive(Debug, Clone)]
pub struct Policy {
    pub captcha_ttl: Duration,
    /// Characters per captcha (within [`domain::CAPTCHA_LENGTHS`]).
    pub captcha_length: usize,
    pub code_ttl: Duration,
    pub code_max_attempts: u32,
    pub send_limits: SendLimits,
    pub login_limits: LoginLimits,
    /// Captchas per client per minute.
    pub captchas_per_minute: u32,
    /// Per-client limits key IPv6 addresses by this many leading bits.
    pub ipv6_prefix_len: u8,
    /// A browser session's lifetime from sign-in.
    pub session_ttl: Duration,
    /// An app token's lifetime from its last use (sliding).
    pub app_session_ttl: Duration,
    /// Live sessions and app tokens per user; signing in beyond it ends the oldest.
    pub sessions_per_user: u32,
    pub registered_mobile: RegisteredMobilePolicy,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            captcha_ttl: Duration::from_secs(180),
            captcha_length: domain::CAPTCHA_LEN,
            code_ttl: Duration::from_secs(300),
            code_max_attempts: 5,
            send_limits: SendLimits::default(),
            login_limits: LoginLimits::default(),
            captchas_per_minute: 30,
            ipv6_prefix_len: 64,
            session_ttl: Duration::from_secs(24 * 3600),
            app_session_ttl: Duration::from_secs(30 * 24 * 3600),
            sessions_per_user: 10,
            registered_mobile: RegisteredMobilePolicy::Refuse,
        }
    }
}

impl Policy {
    /// The code's lifetime in whole minutes, as the message states it ("5").
    pub fn code_valid_minutes(&self) -> u32 {
        (self.code_ttl.as_secs().div_ceil(60)).max(1) as u32
    }
}

/// Hooks for users' own end-to-end tests; the composition root refuses them in production.
#[derive(Debug, Clone, Default)]
pub struct TestHooks {
    /// Every captcha gets this text.
    pub captcha_text: Option<CaptchaText>,
    /// These mobiles always get this code, and no SMS is sent to them.
    pub sms_codes: HashMap<Mobile, SmsCode>,
}

/// The use cases with their adapters. See the modules for each flow.
pub struct App<P: Ports> {
    adapters: Adapters<P>,
    policy: Policy,
    hooks: TestHooks,
    code_hasher: CodeHasher,
}

impl<P: Ports> App<P> {
    /// The client a per-IP limit counts `ip` as (IPv6 by prefix).
    fn client(&self, ip: IpAddr) -> ClientNet {
        ClientNet::of(ip, self.policy.ipv6_prefix_len)
    }

    fn record(&self, event: Event) {
        self.adapters.metrics.record(event);
    }

    /// Whether the store answers (the readiness probe).
    pub async fn check_store(&self) -> anyhow::Result<()> {
        self.adapters.store.check().await
    }

    /// Whether the user directory answers (the readiness probe).
    pub async fn check_users(&self) -> anyhow::Result<()> {
        self.adapters.users.check().await
    }

    pub fn new(
        adapters: Adapters<P>,
        policy: Policy,
        hooks: TestHooks,
        code_hasher: CodeHasher,
    ) -> Self {
        Self {
            adapters,
            policy,
            hooks,
            code_hasher,
        }
    }
}
