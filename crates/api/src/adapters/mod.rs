//! The one seam where adapters are chosen at run time: enums over the alternatives of a port,
//! each delegating to the adapter it holds. Handlers see concrete types, never generics.
//!
//! Delegation is also where the dependencies are measured for the operator: every store and
//! database error is counted by port, and every SMS send by provider, outcome and latency
//! ([`Prometheus`]).
//!
//! The SMS sender is more than a choice: [`sms`] decides which provider gets a code, in order,
//! with failover and a circuit breaker per provider.

mod sms;

pub use sms::{BreakerSettings, Provider, Sms};

use std::sync::Arc;
use std::time::Duration;

use app::Ports;
use captcha_image::CaptchaArt;
use diesel_users::DieselUsers;
use domain::{
    CaptchaId, CaptchaText, ClientNet, CodeDigest, LoginLimits, Mobile, PasswordHash, Refusal,
    SendLimits, Session, SessionId, SessionToken, Timestamp, UserId,
};
use memory_store::MemoryStore;
use platform::Argon2Hasher;
use ports::{
    CaptchaStore, CodeCheck, CodeStore, DirectoryError, Health, LoginPermit, NewCaptcha, NewCode,
    NewSession, RateLimiter, SendPermit, SessionStore, StoreError, TakenCode, UserDirectory,
};
use prometheus_metrics::{Port, Prometheus};
use redis_captcha::RedisStore;

/// The adapter types the service runs with.
pub struct Production;

impl Ports for Production {
    type Store = Store;
    type Users = Users;
    type Sms = Sms;
    type Renderer = CaptchaArt;
    type Hasher = Argon2Hasher;
}

/// `store.url`: `memory://` or `redis://…`. Holds captchas, codes, limit counters, sessions.
#[derive(Clone)]
pub struct Store {
    backend: StoreBackend,
    metrics: Arc<Prometheus>,
}

#[derive(Clone)]
pub enum StoreBackend {
    Memory(MemoryStore),
    Redis(RedisStore),
}

impl Store {
    pub fn new(backend: StoreBackend, metrics: Arc<Prometheus>) -> Self {
        Self { backend, metrics }
    }

    /// Hang up (at shutdown, once no request runs any more).
    pub fn close(&self) {
        if let StoreBackend::Redis(redis) = &self.backend {
            redis.close();
        }
    }
}

/// Run `$call` on the adapter behind `$self`, counting an error against `$port`.
macro_rules! on_store {
    ($self:ident, $port:ident, $s:ident => $call:expr) => {{
        let result = match &$self.backend {
            StoreBackend::Memory($s) => $call.await,
            StoreBackend::Redis($s) => $call.await,
        };
        if result.is_err() {
            $self.metrics.dependency_error(Port::$port);
        }
        result
    }};
}

impl CaptchaStore for Store {
    async fn put(
        &self,
        id: &CaptchaId,
        text: &CaptchaText,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        on_store!(self, CaptchaStore, s => CaptchaStore::put(s, id, text, ttl))
    }
    async fn take(&self, id: &CaptchaId) -> Result<Option<CaptchaText>, StoreError> {
        on_store!(self, CaptchaStore, s => s.take(id))
    }
    async fn discard(&self, id: &CaptchaId) -> Result<(), StoreError> {
        on_store!(self, CaptchaStore, s => s.discard(id))
    }
}

impl CodeStore for Store {
    async fn put(
        &self,
        mobile: &Mobile,
        digest: &CodeDigest,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        on_store!(self, CodeStore, s => CodeStore::put(s, mobile, digest, ttl))
    }
    async fn withdraw(&self, mobile: &Mobile, digest: &CodeDigest) -> Result<(), StoreError> {
        on_store!(self, CodeStore, s => s.withdraw(mobile, digest))
    }
    async fn verify(
        &self,
        mobile: &Mobile,
        candidate: &CodeDigest,
        max_attempts: u32,
    ) -> Result<CodeCheck, StoreError> {
        on_store!(self, CodeStore, s => s.verify(mobile, candidate, max_attempts))
    }
    async fn restore(
        &self,
        mobile: &Mobile,
        taken: &TakenCode,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        on_store!(self, CodeStore, s => s.restore(mobile, taken, ttl))
    }
}

impl RateLimiter for Store {
    async fn acquire_send(
        &self,
        mobile: &Mobile,
        client: ClientNet,
        limits: &SendLimits,
        now: Timestamp,
        code: &NewCode,
    ) -> Result<Result<SendPermit, Refusal>, StoreError> {
        on_store!(self, RateLimiter, s => s.acquire_send(mobile, client, limits, now, code))
    }
    async fn release_cooldown(&self, permit: &SendPermit) -> Result<(), StoreError> {
        on_store!(self, RateLimiter, s => s.release_cooldown(permit))
    }
    async fn acquire_captcha(
        &self,
        client: ClientNet,
        per_minute: u32,
        now: Timestamp,
        captcha: NewCaptcha<'_>,
    ) -> Result<Result<(), Refusal>, StoreError> {
        on_store!(self, RateLimiter, s => s.acquire_captcha(client, per_minute, now, captcha))
    }
    async fn acquire_login(
        &self,
        client: ClientNet,
        mobile: &Mobile,
        limits: &LoginLimits,
        now: Timestamp,
    ) -> Result<Result<LoginPermit, Refusal>, StoreError> {
        on_store!(self, RateLimiter, s => s.acquire_login(client, mobile, limits, now))
    }
    async fn release_login(&self, permit: &LoginPermit) -> Result<(), StoreError> {
        on_store!(self, RateLimiter, s => s.release_login(permit))
    }
}

impl SessionStore for Store {
    async fn create(&self, session: NewSession<'_>) -> Result<(), StoreError> {
        on_store!(self, SessionStore, s => s.create(session))
    }
    async fn get(
        &self,
        token: &SessionToken,
        now: Timestamp,
    ) -> Result<Option<Session>, StoreError> {
        on_store!(self, SessionStore, s => s.get(token, now))
    }
    async fn delete(&self, token: &SessionToken) -> Result<(), StoreError> {
        on_store!(self, SessionStore, s => s.delete(token))
    }
    async fn list(&self, user: UserId) -> Result<Vec<Session>, StoreError> {
        on_store!(self, SessionStore, s => s.list(user))
    }
    async fn end(&self, user: UserId, id: &SessionId) -> Result<bool, StoreError> {
        on_store!(self, SessionStore, s => s.end(user, id))
    }
    async fn end_all(&self, user: UserId, keep: Option<&SessionToken>) -> Result<(), StoreError> {
        on_store!(self, SessionStore, s => s.end_all(user, keep))
    }
}

/// The store as a whole answers (its health check is not counted as an error: the probe
/// reports it).
impl Health for Store {
    async fn check(&self) -> anyhow::Result<()> {
        match &self.backend {
            StoreBackend::Memory(s) => s.check().await,
            StoreBackend::Redis(s) => s.check().await,
        }
    }
}

/// `database.url`: the user directory, its unavailability counted. Cheap to clone (the pools
/// are shared).
#[derive(Clone)]
pub struct Users {
    inner: DieselUsers,
    metrics: Arc<Prometheus>,
}

impl Users {
    pub fn new(inner: DieselUsers, metrics: Arc<Prometheus>) -> Self {
        Self { inner, metrics }
    }

    /// Close the pools (at shutdown, once no request runs any more).
    pub fn close(&self) {
        self.inner.close();
    }

    /// Count an unavailable directory (a duplicate is an answer, not an error).
    fn counted<T>(&self, result: Result<T, DirectoryError>) -> Result<T, DirectoryError> {
        if let Err(DirectoryError::Unavailable(_)) = &result {
            self.metrics.dependency_error(Port::UserDirectory);
        }
        result
    }
}

impl UserDirectory for Users {
    async fn exists(&self, mobile: &Mobile) -> Result<bool, DirectoryError> {
        self.counted(self.inner.exists(mobile).await)
    }
    async fn create(&self, user: domain::NewUser) -> Result<domain::User, DirectoryError> {
        self.counted(self.inner.create(user).await)
    }
    async fn find_by_mobile(
        &self,
        mobile: &Mobile,
    ) -> Result<Option<domain::User>, DirectoryError> {
        self.counted(self.inner.find_by_mobile(mobile).await)
    }
    async fn find_by_id(&self, id: UserId) -> Result<Option<domain::User>, DirectoryError> {
        self.counted(self.inner.find_by_id(id).await)
    }
    async fn set_password(&self, id: UserId, hash: &PasswordHash) -> Result<(), DirectoryError> {
        self.counted(self.inner.set_password(id, hash).await)
    }
    async fn set_mobile(&self, id: UserId, mobile: &Mobile) -> Result<(), DirectoryError> {
        self.counted(self.inner.set_mobile(id, mobile).await)
    }
}

impl Health for Users {
    async fn check(&self) -> anyhow::Result<()> {
        self.inner.check().await
    }
}
