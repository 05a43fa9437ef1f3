//! The four port implementations. Each operation takes one lock and does a few map operations
//! under it, so the ports' "one atomic step" rules hold; expiry of captchas, codes and sessions
//! is judged by the store's clock, the limiter (and a session's created and last-used times) by
//! the `now` its caller passes.

use std::collections::VecDeque;
use std::time::Duration;

use domain::{
    CaptchaId, CaptchaText, ClientNet, CodeDigest, LoginLimits, Mobile, Refusal, SendLimits,
    Session, SessionId, SessionKind, SessionToken, Timestamp, UserId, SESSION_TOUCH_INTERVAL,
};
use ports::{
    CaptchaStore, CodeCheck, CodeStore, Health, LoginPermit, NewCaptcha, NewCode, NewSession,
    RateLimiter, SendPermit, SessionStore, StoreError, TakenCode,
};
use subtle::ConstantTimeEq;

use domain::millis;

use crate::expiring_map::ExpiringMap;
use crate::{lock, MemoryStore, Sweep};

impl CaptchaStore for MemoryStore {
    async fn put(
        &self,
        id: &CaptchaId,
        text: &CaptchaText,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.keep_captcha(id, text, ttl);
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
        self.keep_code(mobile, digest, ttl);
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
        if !same_digest(&code.digest, candidate) {
            code.mismatches = code.mismatches.saturating_add(1);
            let attempts_left = max_attempts.saturating_sub(code.mismatches);
            if attempts_left == 0 {
                map.remove(mobile, now);
            }
            return Ok(CodeCheck::Mismatch { attempts_left });
        }
        Ok(match map.remove_entry(mobile, now) {
            Some((code, expires_at)) => CodeCheck::Accepted(TakenCode {
                digest: CodeDigest(code.digest),
                mismatches: code.mismatches,
                ttl_left: Duration::from_millis(expires_at - now),
            }),
            None => CodeCheck::Missing,
        })
    }

    async fn restore(
        &self,
        mobile: &Mobile,
        taken: &TakenCode,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let (mut map, now) = self.swept(&self.inner.codes);
        // Under a millisecond is nothing to keep, as in Redis.
        if millis(ttl) == 0 || map.get(mobile, now).is_some() {
            return Ok(false);
        }
        let code = LiveCode {
            digest: taken.digest.0,
            mismatches: taken.mismatches,
        };
        map.insert(mobile.clone(), code, now.saturating_add(millis(ttl)));
        Ok(true)
    }
}

impl MemoryStore {
    /// What `CaptchaStore::put` does (also for an admitted `acquire_captcha`).
    fn keep_captcha(&self, id: &CaptchaId, text: &CaptchaText, ttl: Duration) {
        let (mut map, now) = self.swept(&self.inner.captchas);
        map.insert(id.clone(), text.clone(), now.saturating_add(millis(ttl)));
    }

    /// What `CodeStore::put` does (also for an admitted `acquire_send`).
    fn keep_code(&self, mobile: &Mobile, digest: &CodeDigest, ttl: Duration) {
        let (mut map, now) = self.swept(&self.inner.codes);
        let code = LiveCode {
            digest: digest.0,
            mismatches: 0,
        };
        map.insert(mobile.clone(), code, now.saturating_add(millis(ttl)));
    }
}

/// An admitted `acquire_send` / `acquire_captcha` stores its code or captcha while it still
/// holds the limiter's lock, so that the reservation and what it stores are one step. (Lock
/// order: the limiter, then codes or captchas; nothing takes them the other way round.)
impl RateLimiter for MemoryStore {
    async fn acquire_send(
        &self,
        mobile: &Mobile,
        client: ClientNet,
        limits: &SendLimits,
        now: Timestamp,
        code: &NewCode,
    ) -> Result<Result<SendPermit, Refusal>, StoreError> {
        let mut state = lock(&self.inner.limits);
        let admitted = state.acquire_send(mobile, client, limits, now.millis());
        if admitted.is_ok() {
            self.keep_code(mobile, &code.digest, code.ttl);
        }
        drop(state);
        Ok(admitted.map(|()| SendPermit {
            mobile: mobile.clone(),
            reserved_at: now,
        }))
    }

    async fn release_cooldown(&self, permit: &SendPermit) -> Result<(), StoreError> {
        let mut state = lock(&self.inner.limits);
        state.release_cooldown(&permit.mobile, permit.reserved_at.millis());
        Ok(())
    }

    async fn acquire_captcha(
        &self,
        client: ClientNet,
        per_minute: u32,
        now: Timestamp,
        captcha: NewCaptcha<'_>,
    ) -> Result<Result<(), Refusal>, StoreError> {
        let mut state = lock(&self.inner.limits);
        let admitted = state.acquire_captcha(client, per_minute, now.millis());
        if admitted.is_ok() {
            self.keep_captcha(captcha.id, captcha.text, captcha.ttl);
        }
        Ok(admitted)
    }

    async fn acquire_login(
        &self,
        client: ClientNet,
        mobile: &Mobile,
        limits: &LoginLimits,
        now: Timestamp,
    ) -> Result<Result<LoginPermit, Refusal>, StoreError> {
        let mut state = lock(&self.inner.limits);
        Ok(state
            .acquire_login(client, mobile, limits, now.millis())
            .map(|(client_window, mobile_window)| LoginPermit {
                client,
                mobile: mobile.clone(),
                client_window: Timestamp(client_window),
                mobile_window: Timestamp(mobile_window),
            }))
    }

    async fn release_login(&self, permit: &LoginPermit) -> Result<(), StoreError> {
        lock(&self.inner.limits).release_login(
            permit.client,
            &permit.mobile,
            permit.client_window.millis(),
            permit.mobile_window.millis(),
        );
        Ok(())
    }
}

/// Live sessions by token, and each user's tokens oldest first (for `max_per_user`, `list`,
/// `end` and `end_all`). A user's list lives as long as their longest-lived session; ended
/// sessions leave it when the user's sessions are next counted, listed or ended.
#[derive(Default)]
pub(crate) struct Sessions {
    by_token: ExpiringMap<SessionToken, Kept>,
    by_user: ExpiringMap<UserId, VecDeque<SessionToken>>,
}

/// A session and its lifetime: `ttl` ms from creation (cookie) or from its last recorded use
/// (app).
struct Kept {
    session: Session,
    ttl: u64,
}

impl Sweep for Sessions {
    fn sweep(&mut self, now: u64) {
        self.by_token.sweep(now);
        self.by_user.sweep(now);
    }
}

impl Sessions {
    /// The user's live sessions with their tokens, oldest first; what has ended leaves the
    /// user's list.
    fn of(&mut self, user: UserId, now: u64) -> impl Iterator<Item = (&SessionToken, &Session)> {
        let Self { by_token, by_user } = self;
        let tokens = by_user.get_mut(&user, now).map(|tokens| {
            tokens.retain(|t| by_token.get(t, now).is_some_and(|k| k.session.user == user));
            &*tokens
        });
        let by_token = &*by_token;
        tokens
            .into_iter()
            .flatten()
            .filter_map(move |t| Some((t, &by_token.get(t, now)?.session)))
    }
}

impl SessionStore for MemoryStore {
    async fn create(&self, new: NewSession<'_>) -> Result<(), StoreError> {
        let ttl = millis(new.ttl);
        // Under a millisecond is nothing to keep, as in Redis.
        if ttl == 0 {
            return Ok(());
        }
        let (mut sessions, now) = self.swept(&self.inner.sessions);
        let session = Session {
            id: new.id.clone(),
            user: new.user,
            kind: new.kind,
            created_at: new.now,
            last_used_at: new.now,
            user_agent: new.user_agent.map(str::to_owned),
        };
        let expires = now.saturating_add(ttl);
        sessions
            .by_token
            .insert(new.token.clone(), Kept { session, ttl }, expires);
        let Sessions { by_token, by_user } = &mut *sessions;
        let (mut tokens, listed_until) = by_user.remove_entry(&new.user, now).unwrap_or_default();
        tokens.retain(|t| t != new.token && by_token.get(t, now).is_some());
        tokens.push_back(new.token.clone());
        let keep = usize::try_from(new.max_per_user.max(1)).unwrap_or(usize::MAX);
        while tokens.len() > keep {
            if let Some(oldest) = tokens.pop_front() {
                by_token.remove(&oldest, now);
            }
        }
        by_user.insert(new.user, tokens, listed_until.max(expires));
        Ok(())
    }

    async fn get(
        &self,
        token: &SessionToken,
        at: Timestamp,
    ) -> Result<Option<Session>, StoreError> {
        let (mut sessions, now) = self.swept(&self.inner.sessions);
        let Some(kept) = sessions.by_token.get_mut(token, now) else {
            return Ok(None);
        };
        let due = kept
            .session
            .last_used_at
            .millis()
            .saturating_add(millis(SESSION_TOUCH_INTERVAL));
        if at.millis() < due {
            return Ok(Some(kept.session.clone()));
        }
        kept.session.last_used_at = at;
        let session = kept.session.clone();
        if session.kind == SessionKind::App {
            // Sliding: its lifetime starts again now (by the store's clock), and its user's
            // list lives at least as long.
            let until = now.saturating_add(kept.ttl);
            sessions.by_token.extend_to(token, until, now);
            sessions.by_user.extend_to(&session.user, until, now);
        }
        Ok(Some(session))
    }

    async fn delete(&self, token: &SessionToken) -> Result<(), StoreError> {
        let (mut sessions, now) = self.swept(&self.inner.sessions);
        sessions.by_token.remove(token, now);
        Ok(())
    }

    async fn list(&self, user: UserId) -> Result<Vec<Session>, StoreError> {
        let (mut sessions, now) = self.swept(&self.inner.sessions);
        Ok(sessions.of(user, now).map(|(_, s)| s.clone()).collect())
    }

    async fn end(&self, user: UserId, id: &SessionId) -> Result<bool, StoreError> {
        let (mut sessions, now) = self.swept(&self.inner.sessions);
        let named = sessions
            .of(user, now)
            .find(|(_, s)| s.id == *id)
            .map(|(t, _)| t.clone());
        Ok(named.is_some_and(|t| sessions.by_token.remove(&t, now).is_some()))
    }

    async fn end_all(&self, user: UserId, keep: Option<&SessionToken>) -> Result<(), StoreError> {
        let (mut sessions, now) = self.swept(&self.inner.sessions);
        let ending: Vec<SessionToken> = sessions
            .of(user, now)
            .map(|(t, _)| t)
            .filter(|t| Some(*t) != keep)
            .cloned()
            .collect();
        for t in ending {
            sessions.by_token.remove(&t, now);
        }
        Ok(())
    }
}

/// In-process: it answers whenever the process does.
impl Health for MemoryStore {
    async fn check(&self) -> anyhow::Result<()> {
        Ok(())
    }
}
