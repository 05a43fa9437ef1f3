//! The four port implementations.

use std::time::Duration;

use anyhow::anyhow;
use deadpool_redis::redis;
use domain::{
    CaptchaId, CaptchaText, ClientNet, CodeDigest, LimitKind, LoginLimits, Mobile, Refusal,
    SendLimits, Session, SessionId, SessionKind, SessionToken, Timestamp, UserId, CAPTCHA_WINDOW,
    DAY_MS, HOUR_MS, SESSION_TOUCH_INTERVAL,
};
use futures::future::join_all;
use ports::{
    CaptchaStore, CodeCheck, CodeStore, Health, LoginPermit, NewCaptcha, NewCode, NewSession,
    RateLimiter, SendPermit, SessionStore, StoreError, TakenCode,
};
use tokio::time::Instant;

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
        self.set_px_by(self.deadline(), key, value, ttl, what).await
    }

    /// [`Self::set_px`] as a step of an operation ending at `deadline`.
    async fn set_px_by(
        &self,
        deadline: Instant,
        key: String,
        value: String,
        ttl: Duration,
        what: &'static str,
    ) -> Result<(), StoreError> {
        match ttl_millis(ttl) {
            Some(ms) => {
                let mut cmd = redis::cmd("SET");
                cmd.arg(key).arg(value).arg("PX").arg(ms);
                self.query_by::<()>(deadline, &cmd, what).await
            }
            None => self.del_by(deadline, key, what).await,
        }
    }

    async fn del(&self, key: String, what: &'static str) -> Result<(), StoreError> {
        self.del_by(self.deadline(), key, what).await
    }

    async fn del_by(
        &self,
        deadline: Instant,
        key: String,
        what: &'static str,
    ) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(key);
        self.query_by::<()>(deadline, &cmd, what).await
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

/// Which limit a step of `acquire_send` refused, and how long its wait is.
type Wait = (LimitKind, i64);

/// A refusal by `limit` whose wait is `wait_ms` (as the scripts return it).
fn refusal(limit: LimitKind, wait_ms: i64) -> Refusal {
    Refusal {
        limit,
        retry_after: Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0)),
    }
}

/// The refusal to report: the longest wait, the earlier limit (in [`LimitKind`] send order:
/// cooldown, mobile hourly, mobile daily, IP, global) on ties.
fn longest(waits: impl IntoIterator<Item = Wait>) -> Option<Refusal> {
    let order = |k: LimitKind| match k {
        LimitKind::MobileCooldown => 0,
        LimitKind::MobileHourly => 1,
        LimitKind::MobileDaily => 2,
        LimitKind::IpHourly => 3,
        _ => 4,
    };
    waits
        .into_iter()
        .min_by_key(|&(kind, wait)| (std::cmp::Reverse(wait), order(kind)))
        .map(|(limit, wait)| refusal(limit, wait))
}

impl RedisStore {
    /// Reserve in one sliding window of `width` (`WINDOW_RESERVE`): `Ok(None)` if reserved,
    /// else the wait in ms.
    #[allow(clippy::too_many_arguments)]
    async fn reserve_in_window(
        &self,
        deadline: Instant,
        key: String,
        now_ms: i64,
        width: u64,
        cap: u32,
        member: &str,
        what: &'static str,
    ) -> Result<Option<i64>, StoreError> {
        let width_ms = i64::try_from(width).unwrap_or(i64::MAX);
        let mut inv = scripts::WINDOW_RESERVE.prepare_invoke();
        inv.key(key)
            .arg(now_ms)
            .arg(now_ms.saturating_sub(width_ms))
            .arg(cap)
            .arg(member)
            .arg(width.saturating_add(GC_MARGIN_MS))
            .arg(width);
        let wait: i64 = self.invoke_by(deadline, &inv, what).await?;
        Ok((wait >= 0).then_some(wait))
    }

    /// Take reservations back out of the shared windows (a refused send's), under a deadline
    /// of their own: the operation's may be what ran out. Best effort: one that cannot be given
    /// back only makes the window refuse early.
    async fn give_back_sends(&self, reserved: &[String], member: &str) {
        let deadline = self.deadline();
        let steps = reserved.iter().map(|key| {
            let mut cmd = redis::cmd("ZREM");
            cmd.arg(key).arg(member);
            async move {
                self.query_by::<()>(deadline, &cmd, "acquire_send give-back")
                    .await
            }
        });
        for outcome in join_all(steps).await {
            if let Err(e) = outcome {
                tracing::warn!(error = ?e, "a refused send's reservation was not given back");
            }
        }
    }

    /// A send that failed (a step's error) gives its reservations back in the background, so
    /// that its DBERR is not held up by a store that is failing.
    fn give_back_sends_later(&self, reserved: Vec<String>, member: String) {
        if reserved.is_empty() {
            return;
        }
        let store = self.clone();
        tokio::spawn(async move { store.give_back_sends(&reserved, &member).await });
    }

    /// One sign-in window: `Ok((start, began))` when counted, `Err(wait)` when full.
    async fn login_window(
        &self,
        deadline: Instant,
        key: String,
        now: Timestamp,
        window_ms: u64,
        cap: u32,
    ) -> Result<Result<(i64, bool), i64>, StoreError> {
        let mut inv = scripts::LOGIN_WINDOW.prepare_invoke();
        inv.key(key)
            .arg(millis(now))
            .arg(window_ms)
            .arg(cap)
            .arg(window_ms.saturating_add(GC_MARGIN_MS));
        let reply: Vec<i64> = self.invoke_by(deadline, &inv, "acquire_login").await?;
        match reply[..] {
            [1, start, began] => Ok(Ok((start, began == 1))),
            [0, wait] => Ok(Err(wait)),
            _ => Err(corrupt("acquire_login")),
        }
    }

    /// Take one counted attempt back out of a window that still starts at `start`.
    async fn login_give_back(
        &self,
        deadline: Instant,
        key: String,
        start: i64,
        began: bool,
    ) -> Result<(), StoreError> {
        let mut inv = scripts::LOGIN_GIVE_BACK.prepare_invoke();
        inv.key(key).arg(start).arg(u8::from(began));
        self.invoke_by::<()>(deadline, &inv, "release_login").await
    }

    /// Give a refused attempt's count back out of the window that counted it, if one did
    /// (best effort: one left counted only locks out a moment early).
    async fn login_give_back_any(&self, counted: Option<(String, i64, bool)>) {
        let Some((key, start, began)) = counted else {
            return;
        };
        if let Err(e) = self
            .login_give_back(self.deadline(), key, start, began)
            .await
        {
            tracing::warn!(error = ?e, "a refused sign-in's count was not given back");
        }
    }
}

/// The send reservation spans three Redis Cluster slots (the client's window, the global
/// window, the mobile's keys), so it is taken in steps, each atomic on its slot, in a fixed
/// order: the client's and the global window first (at once), each reserving if it is under
/// its cap; then the mobile's slot, which judges the cooldown and the mobile's caps and, only
/// if both windows reserved, reserves there and stores the code. A refusal anywhere gives back
/// the windows' reservations. So a limit never admits more than it allows (every reservation
/// is checked and counted in one step), a send racing another may be refused early by a
/// reservation about to be given back, and a refused send leaves nothing behind. The reported
/// refusal is still the longest wait of every limit that refused: the mobile's slot is judged
/// even when a window refused.
impl RateLimiter for RedisStore {
    async fn acquire_send(
        &self,
        mobile: &Mobile,
        client: ClientNet,
        limits: &SendLimits,
        now: Timestamp,
        code: &NewCode,
    ) -> Result<Result<SendPermit, Refusal>, StoreError> {
        let deadline = self.deadline();
        let now_ms = millis(now);
        let member = reservation(now_ms);
        let windows = [
            (
                self.keys.ip_hour(client),
                limits.ip_per_hour,
                LimitKind::IpHourly,
            ),
            (
                self.keys.global_hour(),
                limits.global_per_hour,
                LimitKind::GlobalHourly,
            ),
        ];
        let judged = join_all(windows.iter().map(|(key, cap, _)| {
            let key = key.clone();
            self.reserve_in_window(
                deadline,
                key,
                now_ms,
                HOUR_MS,
                *cap,
                &member,
                "acquire_send",
            )
        }))
        .await;
        let mut reserved = Vec::new();
        let mut waits = Vec::new();
        let mut failure = None;
        for ((key, _, kind), outcome) in windows.iter().zip(judged) {
            match outcome {
                Ok(None) => reserved.push(key.clone()),
                Ok(Some(wait)) => waits.push((*kind, wait)),
                Err(e) => failure = Some(e),
            }
        }
        if let Some(e) = failure {
            self.give_back_sends_later(reserved, member);
            return Err(e);
        }

        let cooldown_ms = domain::millis(limits.mobile_cooldown);
        let admit = waits.is_empty();
        let mut inv = scripts::SEND_MOBILE.prepare_invoke();
        inv.key(self.keys.cooldown(mobile))
            .key(self.keys.mobile_sends(mobile))
            .key(self.keys.code(mobile))
            .arg(now_ms)
            .arg(cooldown_ms)
            .arg(now_ms.saturating_sub(HOUR))
            .arg(now_ms.saturating_sub(DAY))
            .arg(limits.mobile_per_hour)
            .arg(limits.mobile_per_day)
            .arg(&member)
            .arg(cooldown_ms.saturating_add(GC_MARGIN_MS))
            .arg(DAY_MS + GC_MARGIN_MS)
            .arg(hex::encode(code.digest.0))
            .arg(ttl_millis(code.ttl).unwrap_or(0))
            .arg(u8::from(admit))
            .arg(HOUR_MS)
            .arg(DAY_MS);
        let mobile_step = self.invoke_by::<(i64, i64)>(deadline, &inv, "acquire_send");
        let (kind, wait) = if admit {
            match mobile_step.await {
                Ok(reply) => reply,
                Err(e) => {
                    self.give_back_sends_later(reserved, member);
                    return Err(e);
                }
            }
        } else {
            // Already refused: the mobile's slot is only judged (for the longest wait), so
            // what the windows reserved goes back meanwhile.
            let (judged, ()) =
                futures::join!(mobile_step, self.give_back_sends(&reserved, &member));
            reserved.clear();
            judged?
        };
        match kind {
            1 if admit => {
                return Ok(Ok(SendPermit {
                    mobile: mobile.clone(),
                    reserved_at: now,
                }))
            }
            2 if !admit => {}
            3 => waits.push((LimitKind::MobileCooldown, wait)),
            4 => waits.push((LimitKind::MobileHourly, wait)),
            5 => waits.push((LimitKind::MobileDaily, wait)),
            _ => {
                self.give_back_sends_later(reserved, member);
                return Err(corrupt("acquire_send"));
            }
        }
        self.give_back_sends(&reserved, &member).await;
        longest(waits)
            .map(Err)
            .ok_or_else(|| corrupt("acquire_send"))
    }

    async fn release_cooldown(&self, permit: &SendPermit) -> Result<(), StoreError> {
        let mut inv = scripts::RELEASE_COOLDOWN.prepare_invoke();
        inv.key(self.keys.cooldown(&permit.mobile))
            .arg(millis(permit.reserved_at));
        self.invoke::<()>(&inv, "release_cooldown").await
    }

    /// Two steps (the client's log and the captcha are in different slots): count the captcha
    /// in the client's log unless the cap is reached, then store its text. If storing fails the
    /// captcha stays counted (the client may be refused early, never late).
    async fn acquire_captcha(
        &self,
        client: ClientNet,
        per_minute: u32,
        now: Timestamp,
        captcha: NewCaptcha<'_>,
    ) -> Result<Result<(), Refusal>, StoreError> {
        let deadline = self.deadline();
        let now_ms = millis(now);
        let counted = self
            .reserve_in_window(
                deadline,
                self.keys.ip_captchas(client),
                now_ms,
                domain::millis(CAPTCHA_WINDOW),
                per_minute,
                &reservation(now_ms),
                "acquire_captcha",
            )
            .await?;
        if let Some(wait) = counted {
            return Ok(Err(refusal(LimitKind::CaptchaPerMinute, wait)));
        }
        let key = self.keys.captcha(captcha.id);
        let text = captcha.text.as_str().to_owned();
        self.set_px_by(deadline, key, text, captcha.ttl, "acquire_captcha")
            .await
            .map(Ok)
    }

    /// The client's and the account's windows are in different slots: each counts the attempt
    /// (at once) unless it is full; if either refuses, the other gives its count back. The
    /// longer wait is reported, the client's on a tie.
    async fn acquire_login(
        &self,
        client: ClientNet,
        mobile: &Mobile,
        limits: &LoginLimits,
        now: Timestamp,
    ) -> Result<Result<LoginPermit, Refusal>, StoreError> {
        let deadline = self.deadline();
        let window_ms = domain::millis(limits.window);
        let (client_key, mobile_key) = (
            self.keys.client_login(client),
            self.keys.mobile_login(mobile),
        );
        let (by_client, by_account) = futures::join!(
            self.login_window(deadline, client_key.clone(), now, window_ms, limits.per_ip),
            self.login_window(
                deadline,
                mobile_key.clone(),
                now,
                window_ms,
                limits.per_mobile
            ),
        );
        let at = |ms: i64| Timestamp(u64::try_from(ms).unwrap_or(0));
        // What was counted when the other window refused or failed goes back, under a
        // deadline of its own (the operation's may be what ran out).
        let counted = match (&by_client, &by_account) {
            (Ok(Ok((c, _))), Ok(Ok((a, _)))) => {
                return Ok(Ok(LoginPermit {
                    client,
                    mobile: mobile.clone(),
                    client_window: at(*c),
                    mobile_window: at(*a),
                }))
            }
            (Ok(Ok((start, began))), _) => Some((client_key, *start, *began)),
            (_, Ok(Ok((start, began)))) => Some((mobile_key, *start, *began)),
            _ => None,
        };
        let (client_wait, account_wait) = match (by_client, by_account) {
            (Err(e), _) | (_, Err(e)) => {
                // A store that is failing: answer now, give back in the background.
                let store = self.clone();
                tokio::spawn(async move { store.login_give_back_any(counted).await });
                return Err(e);
            }
            (Ok(c), Ok(a)) => (c.err(), a.err()),
        };
        self.login_give_back_any(counted).await;
        Ok(Err(match (client_wait, account_wait) {
            (Some(c), Some(a)) if c >= a => refusal(LimitKind::LoginLockout, c),
            (Some(c), None) => refusal(LimitKind::LoginLockout, c),
            (_, a) => refusal(LimitKind::AccountLockout, a.unwrap_or(0)),
        }))
    }

    async fn release_login(&self, permit: &LoginPermit) -> Result<(), StoreError> {
        let deadline = self.deadline();
        let (client, account) = futures::join!(
            self.login_give_back(
                deadline,
                self.keys.client_login(permit.client),
                millis(permit.client_window),
                false,
            ),
            self.login_give_back(
                deadline,
                self.keys.mobile_login(&permit.mobile),
                millis(permit.mobile_window),
                false,
            ),
        );
        client.and(account)
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

impl RedisStore {
    /// The keys in a user's index, oldest first.
    async fn index_of(
        &self,
        deadline: Instant,
        index: &str,
        what: &'static str,
    ) -> Result<Vec<String>, StoreError> {
        let mut cmd = redis::cmd("ZRANGE");
        cmd.arg(index).arg(0).arg(-1);
        self.query_by(deadline, &cmd, what).await
    }

    /// The user's live sessions with their keys, oldest first: each key of the index read
    /// (at once); what has ended, or is not the user's, is dropped from the index.
    async fn sessions_of(
        &self,
        deadline: Instant,
        user: UserId,
        what: &'static str,
    ) -> Result<Vec<(String, Session)>, StoreError> {
        let index = self.keys.user_sessions(user);
        let keys = self.index_of(deadline, &index, what).await?;
        let reads = keys.iter().map(|key| {
            let mut inv = scripts::SESSION_READ.prepare_invoke();
            inv.key(key);
            async move {
                self.invoke_by::<Option<SessionFields>>(deadline, &inv, what)
                    .await
            }
        });
        let mut live = Vec::new();
        let mut gone = Vec::new();
        let reads = join_all(reads).await;
        for (key, read) in keys.iter().zip(reads) {
            match read?.map(|f| session_from(f, what)).transpose()? {
                Some(session) if session.user == user => live.push((key.clone(), session)),
                _ => gone.push(key.clone()),
            }
        }
        if !gone.is_empty() {
            let mut cmd = redis::cmd("ZREM");
            cmd.arg(&index).arg(&gone);
            self.query_by::<()>(deadline, &cmd, what).await?;
        }
        Ok(live)
    }

    /// Delete session keys (at once) and forget them in the user's index.
    async fn end_keys(
        &self,
        deadline: Instant,
        user: UserId,
        keys: &[String],
        what: &'static str,
    ) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let deletes = keys
            .iter()
            .map(|key| self.del_by(deadline, key.clone(), what));
        for deleted in join_all(deletes).await {
            deleted?;
        }
        let mut cmd = redis::cmd("ZREM");
        cmd.arg(self.keys.user_sessions(user)).arg(keys);
        self.query_by::<()>(deadline, &cmd, what).await
    }
}

/// A session's hash and its user's index are in different Redis Cluster slots (the token
/// does not name the user), so the operations that touch both are steps: the session is
/// written before it is indexed and ended before it is forgotten, so the index never names a
/// session that exists without being the user's, and a reader meeting a name whose session
/// has ended drops it. The cap is kept by the index step (add, then name the oldest beyond it,
/// atomically; the named ones are ended, then forgotten), so concurrent sign-ins never leave
/// more than `max_per_user`; ended sessions are looked for only when the cap is passed.
impl SessionStore for RedisStore {
    async fn create(&self, new: NewSession<'_>) -> Result<(), StoreError> {
        let Some(ms) = ttl_millis(new.ttl) else {
            return Ok(());
        };
        let deadline = self.deadline();
        let sliding = match new.kind {
            SessionKind::Cookie => 0,
            SessionKind::App => ms,
        };
        let key = self.keys.session(new.token);
        let index = self.keys.user_sessions(new.user);
        let mut put = scripts::SESSION_PUT.prepare_invoke();
        put.key(&key)
            .arg(new.user.0)
            .arg(new.id.as_str())
            .arg(millis(new.now))
            .arg(ms)
            .arg(sliding);
        if let Some(agent) = new.user_agent {
            put.arg(agent);
        }
        // Written before it is indexed: an index never names a session not yet there.
        self.invoke_by::<()>(deadline, &put, "session create")
            .await?;
        let index_step = |add: &str, ended: &[String]| {
            let mut inv = scripts::SESSION_INDEX.prepare_invoke();
            inv.key(&index)
                .arg(ms)
                .arg(new.max_per_user.max(1))
                .arg(add)
                .arg(ended);
            async move {
                self.invoke_by::<Vec<String>>(deadline, &inv, "session create")
                    .await
            }
        };
        let mut excess = index_step(&key, &[]).await?;
        if !excess.is_empty() {
            // Over the cap: sessions that have ended (expired, signed out) must not count,
            // so the index is walked — only then, not on every sign-in.
            let indexed = self.index_of(deadline, &index, "session create").await?;
            let exists = indexed.iter().map(|k| {
                let mut cmd = redis::cmd("EXISTS");
                cmd.arg(k);
                async move {
                    self.query_by::<bool>(deadline, &cmd, "session create")
                        .await
                }
            });
            let exists = join_all(exists).await;
            let mut ended = Vec::new();
            for (k, live) in indexed.iter().zip(exists) {
                if !live? {
                    ended.push(k.clone());
                }
            }
            if !ended.is_empty() {
                excess = index_step("", &ended).await?;
            }
        }
        // The oldest beyond the cap are ended, then forgotten (never forgotten first: a
        // session the index no longer names could not be ended by `end_all`).
        self.end_keys(deadline, new.user, &excess, "session create")
            .await
    }

    async fn get(
        &self,
        token: &SessionToken,
        now: Timestamp,
    ) -> Result<Option<Session>, StoreError> {
        let deadline = self.deadline();
        let mut inv = scripts::SESSION_GET.prepare_invoke();
        inv.key(self.keys.session(token))
            .arg(millis(now))
            .arg(domain::millis(SESSION_TOUCH_INTERVAL));
        let fields: Option<SessionFields> = self.invoke_by(deadline, &inv, "session get").await?;
        let Some(fields) = fields else {
            return Ok(None);
        };
        let extended = fields.get(6).cloned().flatten().is_some_and(|e| e == "1");
        let sliding = fields.get(4).cloned().flatten();
        let session = session_from(fields, "session get")?;
        if let (true, Some(ttl)) = (extended, sliding) {
            // The index lives as long as the user's longest-lived session.
            let mut inv = scripts::EXTEND.prepare_invoke();
            inv.key(self.keys.user_sessions(session.user)).arg(ttl);
            self.invoke_by::<()>(deadline, &inv, "session get").await?;
        }
        Ok(Some(session))
    }

    /// `DEL`, whatever the key holds (a legacy string too); the user's index forgets the key
    /// when it is next read.
    async fn delete(&self, token: &SessionToken) -> Result<(), StoreError> {
        self.del(self.keys.session(token), "session delete").await
    }

    async fn list(&self, user: UserId) -> Result<Vec<Session>, StoreError> {
        let sessions = self
            .sessions_of(self.deadline(), user, "session list")
            .await?;
        Ok(sessions.into_iter().map(|(_, s)| s).collect())
    }

    async fn end(&self, user: UserId, id: &SessionId) -> Result<bool, StoreError> {
        let deadline = self.deadline();
        let sessions = self.sessions_of(deadline, user, "session end").await?;
        let Some((key, _)) = sessions.into_iter().find(|(_, s)| s.id == *id) else {
            return Ok(false);
        };
        self.end_keys(deadline, user, &[key], "session end").await?;
        Ok(true)
    }

    /// Every key in the user's index but the kept one, unread (legacy string sessions too).
    async fn end_all(&self, user: UserId, keep: Option<&SessionToken>) -> Result<(), StoreError> {
        let deadline = self.deadline();
        let index = self.keys.user_sessions(user);
        let kept = keep.map(|t| self.keys.session(t));
        let mut keys = self.index_of(deadline, &index, "session end_all").await?;
        keys.retain(|k| Some(k) != kept.as_ref());
        self.end_keys(deadline, user, &keys, "session end_all")
            .await
    }
}

/// `PING`, within `store.timeout_ms` like every command.
impl Health for RedisStore {
    async fn check(&self) -> anyhow::Result<()> {
        Ok(self.ping().await?)
    }
}
