//! The four port implementations.

use std::time::Duration;

use anyhow::anyhow;
use deadpool_redis::redis;
use domain::{
    CaptchaId, CaptchaText, ClientNet, CodeDigest, LimitKind, LoginLimits, Mobile, Refusal,
    SendLimits, Session, SessionId, SessionKind, SessionToken, Timestamp, UserId, CAPTCHA_WINDOW,
    DAY_MS, HOUR_MS, SESSION_TOUCH_INTERVAL,
};
use ports::{
    CaptchaStore, CodeCheck, CodeStore, Health, LoginPermit, NewCaptcha, NewCode, NewSession,
    RateLimiter, SendPermit, SessionStore, StoreError, TakenCode,
};

use crate::{scripts, ttl_millis, RedisStore};

/// The windows as the signed milliseconds the scripts use.
const HOUR: i64 = HOUR_MS as i64;
const DAY: i64 = DAY_MS as i64;
/// Extra life given to limiter keys beyond what any window needs (garbage collection only).
const GC_MARGIN_MS: u64 = 3_600_000;

fn corrupt(what: &str) -> StoreError {
    StoreError::Unavailable(anyhow!("redis {what}: unexpected data in the store"))
}

/// A timestamp as the signed milliseconds the scripts use.
fn millis(t: Timestamp) -> i64 {
    i64::try_from(t.millis()).unwrap_or(i64::MAX)
}

/// A reservation's member in a limiter log: `<now>:<64 random bits>`, so that two replicas
/// reserving in the same millisecond still add two entries.
fn reservation(now_ms: i64) -> String {
    format!("{now_ms}:{:016x}", rand::random::<u64>())
}

impl RedisStore {
    /// `SET key value PX ttl`, or `DEL key` when the TTL is zero (nothing to keep).
    async fn set_px(
        &self,
        key: String,
        value: String,
        ttl: Duration,
        what: &'static str,
    ) -> Result<(), StoreError> {
        match ttl_millis(ttl) {
            Some(ms) => {
                let mut cmd = redis::cmd("SET");
                cmd.arg(key).arg(value).arg("PX").arg(ms);
                self.query::<()>(&cmd, what).await
            }
            None => self.del(key, what).await,
        }
    }

    async fn del(&self, key: String, what: &'static str) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(key);
        self.query::<()>(&cmd, what).await
    }
}

impl CaptchaStore for RedisStore {
    async fn put(
        &self,
        id: &CaptchaId,
        text: &CaptchaText,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.set_px(
            self.keys.captcha(id),
            text.as_str().to_owned(),
            ttl,
            "captcha put",
        )
        .await
    }

    async fn take(&self, id: &CaptchaId) -> Result<Option<CaptchaText>, StoreError> {
        let mut cmd = redis::cmd("GETDEL");
        cmd.arg(self.keys.captcha(id));
        let raw: Option<String> = self.query(&cmd, "captcha take").await?;
        raw.map(|s| CaptchaText::parse(&s).map_err(|_| corrupt("captcha take")))
            .transpose()
    }

    async fn discard(&self, id: &CaptchaId) -> Result<(), StoreError> {
        self.del(self.keys.captcha(id), "captcha discard").await
    }
}

impl CodeStore for RedisStore {
    async fn put(
        &self,
        mobile: &Mobile,
        digest: &CodeDigest,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let mut inv = scripts::CODE_PUT.prepare_invoke();
        inv.key(self.keys.code(mobile))
            .arg(hex::encode(digest.0))
            .arg(ttl_millis(ttl).unwrap_or(0));
        self.invoke::<()>(&inv, "code put").await
    }

    async fn withdraw(&self, mobile: &Mobile, digest: &CodeDigest) -> Result<(), StoreError> {
        let mut inv = scripts::CODE_WITHDRAW.prepare_invoke();
        inv.key(self.keys.code(mobile)).arg(hex::encode(digest.0));
        self.invoke::<()>(&inv, "code withdraw").await
    }

    async fn verify(
        &self,
        mobile: &Mobile,
        candidate: &CodeDigest,
        max_attempts: u32,
    ) -> Result<CodeCheck, StoreError> {
        let mut inv = scripts::CODE_VERIFY.prepare_invoke();
        inv.key(self.keys.code(mobile))
            .arg(hex::encode(candidate.0))
            .arg(max_attempts);
        let reply: Vec<i64> = self.invoke(&inv, "code verify").await?;
        match reply[..] {
            [0, _] => Ok(CodeCheck::Missing),
            [1, used, pttl] => Ok(CodeCheck::Accepted(TakenCode {
                digest: *candidate,
                mismatches: u32::try_from(used).unwrap_or(0),
                // PTTL is -1 for a key without expiry, which this adapter never writes.
                ttl_left: Duration::from_millis(u64::try_from(pttl).unwrap_or(0)),
            })),
            [2, left] => Ok(CodeCheck::Mismatch {
                attempts_left: u32::try_from(left).unwrap_or(0),
            }),
            _ => Err(corrupt("code verify")),
        }
    }

    async fn restore(
        &self,
        mobile: &Mobile,
        taken: &TakenCode,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let Some(ms) = ttl_millis(ttl) else {
            return Ok(false);
        };
        let mut inv = scripts::CODE_RESTORE.prepare_invoke();
        inv.key(self.keys.code(mobile))
            .arg(hex::encode(taken.digest.0))
            .arg(taken.mismatches)
            .arg(ms);
        let restored: i64 = self.invoke(&inv, "code restore").await?;
        Ok(restored == 1)
    }
}

impl RateLimiter for RedisStore {
    async fn acquire_send(
        &self,
        mobile: &Mobile,
        client: ClientNet,
        limits: &SendLimits,
        now: Timestamp,
        code: &NewCode,
    ) -> Result<Result<SendPermit, Refusal>, StoreError> {
        let now_ms = millis(now);
        let cooldown_ms = domain::millis(limits.mobile_cooldown);
        let member = reservation(now_ms);
        let mut inv = scripts::ACQUIRE_SEND.prepare_invoke();
        inv.key(self.keys.cooldown(mobile))
            .key(self.keys.mobile_sends(mobile))
            .key(self.keys.ip_hour(client))
            .key(self.keys.global_hour())
            .key(self.keys.code(mobile))
            .arg(now_ms)
            .arg(cooldown_ms)
            .arg(now_ms.saturating_sub(HOUR))
            .arg(now_ms.saturating_sub(DAY))
            .arg(limits.mobile_per_hour)
            .arg(limits.mobile_per_day)
            .arg(limits.ip_per_hour)
            .arg(limits.global_per_hour)
            .arg(member)
            .arg(cooldown_ms.saturating_add(GC_MARGIN_MS))
            .arg(DAY_MS + GC_MARGIN_MS)
            .arg(HOUR_MS + GC_MARGIN_MS)
            .arg(hex::encode(code.digest.0))
            .arg(ttl_millis(code.ttl).unwrap_or(0));
        let (granted, kind, wait_ms): (i64, i64, i64) = self.invoke(&inv, "acquire_send").await?;
        if granted == 1 {
            return Ok(Ok(SendPermit {
                mobile: mobile.clone(),
                reserved_at: now,
            }));
        }
        let limit = match kind {
            1 => LimitKind::MobileCooldown,
            2 => LimitKind::MobileHourly,
            3 => LimitKind::MobileDaily,
            4 => LimitKind::IpHourly,
            5 => LimitKind::GlobalHourly,
            _ => return Err(corrupt("acquire_send")),
        };
        Ok(Err(Refusal {
            limit,
            retry_after: Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0)),
        }))
    }

    async fn release_cooldown(&self, permit: &SendPermit) -> Result<(), StoreError> {
        let mut inv = scripts::RELEASE_COOLDOWN.prepare_invoke();
        inv.key(self.keys.cooldown(&permit.mobile))
            .arg(millis(permit.reserved_at));
        self.invoke::<()>(&inv, "release_cooldown").await
    }

    async fn acquire_captcha(
        &self,
        client: ClientNet,
        per_minute: u32,
        now: Timestamp,
        captcha: NewCaptcha<'_>,
    ) -> Result<Result<(), Refusal>, StoreError> {
        let now_ms = millis(now);
        let window = domain::millis(CAPTCHA_WINDOW);
        let member = reservation(now_ms);
        let mut inv = scripts::ACQUIRE_CAPTCHA.prepare_invoke();
        inv.key(self.keys.ip_captchas(client))
            .key(self.keys.captcha(captcha.id))
            .arg(now_ms)
            .arg(now_ms.saturating_sub(i64::try_from(window).unwrap_or(i64::MAX)))
            .arg(per_minute)
            .arg(member)
            .arg(window.saturating_add(GC_MARGIN_MS))
            .arg(captcha.text.as_str())
            .arg(ttl_millis(captcha.ttl).unwrap_or(0));
        let (issued, wait_ms): (i64, i64) = self.invoke(&inv, "acquire_captcha").await?;
        Ok(if issued == 1 {
            Ok(())
        } else {
            Err(Refusal {
                limit: LimitKind::CaptchaPerMinute,
                retry_after: Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0)),
            })
        })
    }

    async fn acquire_login(
        &self,
        client: ClientNet,
        mobile: &Mobile,
        limits: &LoginLimits,
        now: Timestamp,
    ) -> Result<Result<LoginPermit, Refusal>, StoreError> {
        let window_ms = domain::millis(limits.window);
        let mut inv = scripts::ACQUIRE_LOGIN.prepare_invoke();
        inv.key(self.keys.client_login(client))
            .key(self.keys.mobile_login(mobile))
            .arg(millis(now))
            .arg(window_ms)
            .arg(limits.per_ip)
            .arg(limits.per_mobile)
            .arg(window_ms.saturating_add(GC_MARGIN_MS));
        let (admitted, a, b): (i64, i64, i64) = self.invoke(&inv, "acquire_login").await?;
        let at = |ms: i64| Timestamp(u64::try_from(ms).unwrap_or(0));
        match (admitted, a) {
            (1, _) => Ok(Ok(LoginPermit {
                client,
                mobile: mobile.clone(),
                client_window: at(a),
                mobile_window: at(b),
            })),
            (0, 1 | 2) => Ok(Err(Refusal {
                limit: if a == 1 {
                    LimitKind::LoginLockout
                } else {
                    LimitKind::AccountLockout
                },
                retry_after: Duration::from_millis(u64::try_from(b).unwrap_or(0)),
            })),
            _ => Err(corrupt("acquire_login")),
        }
    }

    async fn release_login(&self, permit: &LoginPermit) -> Result<(), StoreError> {
        let mut inv = scripts::RELEASE_LOGIN.prepare_invoke();
        inv.key(self.keys.client_login(permit.client))
            .key(self.keys.mobile_login(&permit.mobile))
            .arg(millis(permit.client_window))
            .arg(millis(permit.mobile_window));
        self.invoke::<()>(&inv, "release_login").await
    }
}

/// A session as the scripts return it: the hash fields `u i c l t a` (see `keys::session`).
type SessionFields = Vec<Option<String>>;

fn session_from(fields: SessionFields, what: &str) -> Result<Session, StoreError> {
    let bad = || corrupt(what);
    let mut f = fields.into_iter();
    let mut next = || f.next().flatten().ok_or_else(bad);
    let user = UserId(next()?.parse().map_err(|_| bad())?);
    let id = SessionId::parse(&next()?).map_err(|_| bad())?;
    let created_at = Timestamp(next()?.parse().map_err(|_| bad())?);
    let last_used_at = Timestamp(next()?.parse().map_err(|_| bad())?);
    // Only an app session slides.
    let kind = match next()?.parse::<u64>().map_err(|_| bad())? {
        0 => SessionKind::Cookie,
        _ => SessionKind::App,
    };
    let user_agent = f.next().flatten();
    Ok(Session {
        id,
        user,
        kind,
        created_at,
        last_used_at,
        user_agent,
    })
}

impl SessionStore for RedisStore {
    async fn create(&self, new: NewSession<'_>) -> Result<(), StoreError> {
        let Some(ms) = ttl_millis(new.ttl) else {
            return Ok(());
        };
        let sliding = match new.kind {
            SessionKind::Cookie => 0,
            SessionKind::App => ms,
        };
        let mut inv = scripts::SESSION_CREATE.prepare_invoke();
        inv.key(self.keys.session(new.token))
            .key(self.keys.user_sessions(new.user))
            .arg(new.user.0)
            .arg(new.id.as_str())
            .arg(millis(new.now))
            .arg(ms)
            .arg(sliding)
            .arg(new.max_per_user.max(1));
        if let Some(agent) = new.user_agent {
            inv.arg(agent);
        }
        self.invoke::<()>(&inv, "session create").await
    }

    async fn get(
        &self,
        token: &SessionToken,
        now: Timestamp,
    ) -> Result<Option<Session>, StoreError> {
        let mut inv = scripts::SESSION_GET.prepare_invoke();
        inv.key(self.keys.session(token))
            .arg(millis(now))
            .arg(domain::millis(SESSION_TOUCH_INTERVAL))
            .arg(self.keys.user_sessions_template());
        let fields: Option<SessionFields> = self.invoke(&inv, "session get").await?;
        fields.map(|f| session_from(f, "session get")).transpose()
    }

    /// `DEL`, whatever the key holds (a legacy string too); the user's index forgets the key
    /// when it is next read.
    async fn delete(&self, token: &SessionToken) -> Result<(), StoreError> {
        self.del(self.keys.session(token), "session delete").await
    }

    async fn list(&self, user: UserId) -> Result<Vec<Session>, StoreError> {
        let mut inv = scripts::SESSION_LIST.prepare_invoke();
        inv.key(self.keys.user_sessions(user)).arg(user.0);
        let sessions: Vec<SessionFields> = self.invoke(&inv, "session list").await?;
        sessions
            .into_iter()
            .map(|f| session_from(f, "session list"))
            .collect()
    }

    async fn end(&self, user: UserId, id: &SessionId) -> Result<bool, StoreError> {
        let mut inv = scripts::SESSION_END.prepare_invoke();
        inv.key(self.keys.user_sessions(user))
            .arg(user.0)
            .arg(id.as_str());
        let ended: i64 = self.invoke(&inv, "session end").await?;
        Ok(ended == 1)
    }

    async fn end_all(&self, user: UserId, keep: Option<&SessionToken>) -> Result<(), StoreError> {
        let mut inv = scripts::SESSION_END_ALL.prepare_invoke();
        inv.key(self.keys.user_sessions(user));
        if let Some(keep) = keep {
            inv.key(self.keys.session(keep));
        }
        self.invoke::<()>(&inv, "session end_all").await
    }
}

/// `PING`, within `store.timeout_ms` like every command.
impl Health for RedisStore {
    async fn check(&self) -> anyhow::Result<()> {
        Ok(self.ping().await?)
    }
}
