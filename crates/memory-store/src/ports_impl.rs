//! The four port implementations. Each operation takes one lock and does a few map operations
//! under it, so the ports' "one atomic step" rules hold; expiry of captchas, codes and sessions
//! is judged by the store's clock, the limiter by the `now` its caller passes.

use std::net::IpAddr;
use std::time::Duration;

use domain::{
    CaptchaId, CaptchaText, CodeDigest, LoginLimits, Mobile, Refusal, SendLimits, SessionToken,
    Timestamp, UserId,
};
use ports::{
    CaptchaStore, CodeCheck, CodeStore, RateLimiter, SendPermit, SessionStore, StoreError,
};
use subtle::ConstantTimeEq;

use domain::millis;

use crate::{lock, MemoryStore};

impl CaptchaStore for MemoryStore {
    async fn put(
        &self,
        id: &CaptchaId,
        text: &CaptchaText,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let (mut map, now) = self.swept(&self.inner.captchas);
        map.insert(id.clone(), text.clone(), now.saturating_add(millis(ttl)));
        Ok(())
    }

    async fn take(&self, id: &CaptchaId) -> Result<Option<CaptchaText>, StoreError> {
        let (mut map, now) = self.swept(&self.inner.captchas);
        Ok(map.remove(id, now))
    }

    async fn discard(&self, id: &CaptchaId) -> Result<(), StoreError> {
        let (mut map, now) = self.swept(&self.inner.captchas);
        map.remove(id, now);
        Ok(())
    }
}

pub(crate) struct LiveCode {
    digest: [u8; 32],
    mismatches: u32,
}

fn same_digest(a: &[u8; 32], b: &CodeDigest) -> bool {
    a[..].ct_eq(&b.0[..]).into()
}

impl CodeStore for MemoryStore {
    async fn put(
        &self,
        mobile: &Mobile,
        digest: &CodeDigest,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let (mut map, now) = self.swept(&self.inner.codes);
        let code = LiveCode {
            digest: digest.0,
            mismatches: 0,
        };
        map.insert(mobile.clone(), code, now.saturating_add(millis(ttl)));
        Ok(())
    }

    async fn withdraw(&self, mobile: &Mobile, digest: &CodeDigest) -> Result<(), StoreError> {
        let (mut map, now) = self.swept(&self.inner.codes);
        if map
            .get(mobile, now)
            .is_some_and(|code| same_digest(&code.digest, digest))
        {
            map.remove(mobile, now);
        }
        Ok(())
    }

    async fn verify(
        &self,
        mobile: &Mobile,
        candidate: &CodeDigest,
        max_attempts: u32,
    ) -> Result<CodeCheck, StoreError> {
        let (mut map, now) = self.swept(&self.inner.codes);
        let Some(code) = map.get_mut(mobile, now) else {
            return Ok(CodeCheck::Missing);
        };
        let check = if same_digest(&code.digest, candidate) {
            CodeCheck::Accepted
        } else {
            code.mismatches = code.mismatches.saturating_add(1);
            CodeCheck::Mismatch {
                attempts_left: max_attempts.saturating_sub(code.mismatches),
            }
        };
        if matches!(
            check,
            CodeCheck::Accepted | CodeCheck::Mismatch { attempts_left: 0 }
        ) {
            map.remove(mobile, now);
        }
        Ok(check)
    }
}

impl RateLimiter for MemoryStore {
    async fn acquire_send(
        &self,
        mobile: &Mobile,
        ip: IpAddr,
        limits: &SendLimits,
        now: Timestamp,
    ) -> Result<Result<SendPermit, Refusal>, StoreError> {
        let mut state = lock(&self.inner.limits);
        Ok(state
            .acquire_send(mobile, ip, limits, now.millis())
            .map(|()| SendPermit {
                mobile: mobile.clone(),
                reserved_at: now,
            }))
    }

    async fn release_cooldown(&self, permit: &SendPermit) -> Result<(), StoreError> {
        let mut state = lock(&self.inner.limits);
        state.release_cooldown(&permit.mobile, permit.reserved_at.millis());
        Ok(())
    }

    async fn login_lockout(
        &self,
        ip: IpAddr,
        limits: &LoginLimits,
        now: Timestamp,
    ) -> Result<Option<Refusal>, StoreError> {
        Ok(lock(&self.inner.limits).login_lockout(ip, limits, now.millis()))
    }

    async fn record_login_failure(
        &self,
        ip: IpAddr,
        limits: &LoginLimits,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        lock(&self.inner.limits).record_login_failure(ip, limits, now.millis());
        Ok(())
    }
}

impl SessionStore for MemoryStore {
    async fn create(
        &self,
        token: &SessionToken,
        user: UserId,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let (mut map, now) = self.swept(&self.inner.sessions);
        map.insert(token.clone(), user, now.saturating_add(millis(ttl)));
        Ok(())
    }

    async fn get(&self, token: &SessionToken) -> Result<Option<UserId>, StoreError> {
        let (map, now) = self.swept(&self.inner.sessions);
        Ok(map.get(token, now).copied())
    }

    async fn delete(&self, token: &SessionToken) -> Result<(), StoreError> {
        let (mut map, now) = self.swept(&self.inner.sessions);
        map.remove(token, now);
        Ok(())
    }
}
