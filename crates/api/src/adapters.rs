//! The one seam where adapters are chosen at run time: enums over the alternatives of a port,
//! each delegating to the adapter it holds. Handlers see concrete types, never generics.

use std::time::Duration;

use app::Ports;
use captcha_image::CaptchaArt;
use console_sms::ConsoleSms;
use diesel_users::DieselUsers;
use domain::{
    CaptchaId, CaptchaText, ClientNet, CodeDigest, LoginLimits, Mobile, Refusal, SendLimits,
    SessionToken, SmsCode, Timestamp, UserId,
};
use memory_store::MemoryStore;
use platform::Argon2Hasher;
use ports::{
    CaptchaStore, CodeCheck, CodeStore, LoginPermit, NewCaptcha, NewCode, RateLimiter, SendPermit,
    SessionStore, SmsError, SmsSender, StoreError, TakenCode,
};
use redis_captcha::RedisStore;
use ronglian_sms::RonglianSms;

/// The adapter types the service runs with.
pub struct Production;

impl Ports for Production {
    type Store = Store;
    type Users = DieselUsers;
    type Sms = Sms;
    type Renderer = CaptchaArt;
    type Hasher = Argon2Hasher;
}

/// `store.url`: `memory://` or `redis://…`. Holds captchas, codes, limit counters, sessions.
#[derive(Clone)]
pub enum Store {
    Memory(MemoryStore),
    Redis(RedisStore),
}

macro_rules! on_store {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            Store::Memory($s) => $call.await,
            Store::Redis($s) => $call.await,
        }
    };
}

impl CaptchaStore for Store {
    async fn put(
        &self,
        id: &CaptchaId,
        text: &CaptchaText,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        on_store!(self, s => CaptchaStore::put(s, id, text, ttl))
    }
    async fn take(&self, id: &CaptchaId) -> Result<Option<CaptchaText>, StoreError> {
        on_store!(self, s => s.take(id))
    }
    async fn discard(&self, id: &CaptchaId) -> Result<(), StoreError> {
        on_store!(self, s => s.discard(id))
    }
}

impl CodeStore for Store {
    async fn put(
        &self,
        mobile: &Mobile,
        digest: &CodeDigest,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        on_store!(self, s => CodeStore::put(s, mobile, digest, ttl))
    }
    async fn withdraw(&self, mobile: &Mobile, digest: &CodeDigest) -> Result<(), StoreError> {
        on_store!(self, s => s.withdraw(mobile, digest))
    }
    async fn verify(
        &self,
        mobile: &Mobile,
        candidate: &CodeDigest,
        max_attempts: u32,
    ) -> Result<CodeCheck, StoreError> {
        on_store!(self, s => s.verify(mobile, candidate, max_attempts))
    }
    async fn restore(
        &self,
        mobile: &Mobile,
        taken: &TakenCode,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        on_store!(self, s => s.restore(mobile, taken, ttl))
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
        on_store!(self, s => s.acquire_send(mobile, client, limits, now, code))
    }
    async fn release_cooldown(&self, permit: &SendPermit) -> Result<(), StoreError> {
        on_store!(self, s => s.release_cooldown(permit))
    }
    async fn acquire_captcha(
        &self,
        client: ClientNet,
        per_minute: u32,
        now: Timestamp,
        captcha: NewCaptcha<'_>,
    ) -> Result<Result<(), Refusal>, StoreError> {
        on_store!(self, s => s.acquire_captcha(client, per_minute, now, captcha))
    }
    async fn acquire_login(
        &self,
        client: ClientNet,
        mobile: &Mobile,
        limits: &LoginLimits,
        now: Timestamp,
    ) -> Result<Result<LoginPermit, Refusal>, StoreError> {
        on_store!(self, s => s.acquire_login(client, mobile, limits, now))
    }
    async fn release_login(&self, permit: &LoginPermit) -> Result<(), StoreError> {
        on_store!(self, s => s.release_login(permit))
    }
}

impl SessionStore for Store {
    async fn create(
        &self,
        token: &SessionToken,
        user: UserId,
        ttl: Duration,
        max_per_user: u32,
    ) -> Result<(), StoreError> {
        on_store!(self, s => s.create(token, user, ttl, max_per_user))
    }
    async fn get(&self, token: &SessionToken) -> Result<Option<UserId>, StoreError> {
        on_store!(self, s => s.get(token))
    }
    async fn delete(&self, token: &SessionToken) -> Result<(), StoreError> {
        on_store!(self, s => s.delete(token))
    }
}

/// `sms.provider`: `console` or `ronglian`.
pub enum Sms {
    Console(ConsoleSms),
    Ronglian(RonglianSms),
}

impl SmsSender for Sms {
    async fn send_code(
        &self,
        mobile: &Mobile,
        code: &SmsCode,
        valid_minutes: u32,
    ) -> Result<(), SmsError> {
        match self {
            Sms::Console(s) => s.send_code(mobile, code, valid_minutes).await,
            Sms::Ronglian(s) => s.send_code(mobile, code, valid_minutes).await,
        }
    }
}
