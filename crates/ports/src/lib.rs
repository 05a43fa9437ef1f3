//! Ports: what the use cases need from the outside world, as traits.
//!
//! Every trait is `Send + Sync + 'static` and its async methods return `impl Future + Send`
//! (static dispatch). Where the adapter is chosen at run time (memory vs Redis, SQLite vs
//! PostgreSQL vs MySQL), the composition root wraps the alternatives in one enum adapter.
//! `Clock` and `RandomSource` are synchronous and object-safe; they are passed as `Arc<dyn …>`.
//!
//! Each port has its own error type with the business cases the core must tell apart, plus an
//! opaque `Unavailable` carrying the cause for the log. The shared contract suites that every
//! adapter must pass live in the `port-contracts` crate.

use std::future::Future;
use std::time::Duration;

#[cfg(doc)]
use domain::SESSION_TOUCH_INTERVAL;
use domain::{
    CaptchaId, CaptchaImage, CaptchaText, ClientNet, CodeDigest, LimitKind, LoginLimits, Mobile,
    NewUser, Password, PasswordHash, Refusal, SendLimits, Session, SessionId, SessionKind,
    SessionToken, SmsCode, Timestamp, User, UserId,
};

/// The state store (captchas, codes, limit counters, sessions) could not be reached or failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state store unavailable")]
    Unavailable(#[source] anyhow::Error),
}

/// Short-lived captcha answers, keyed by the client's captcha id.
pub trait CaptchaStore: Send + Sync + 'static {
    /// Keep `text` under `id` for `ttl`, replacing whatever was there. (The use case issues
    /// captchas through [`RateLimiter::acquire_captcha`], which stores them the same way.)
    fn put(
        &self,
        id: &CaptchaId,
        text: &CaptchaText,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Remove and return the text under `id` in one atomic step (GETDEL), so that of any number
    /// of concurrent takes exactly one gets `Some`. Expired or unknown → `None`.
    fn take(
        &self,
        id: &CaptchaId,
    ) -> impl Future<Output = Result<Option<CaptchaText>, StoreError>> + Send;

    /// Remove `id` if present (the news site's `pre_id`). Absent is not an error.
    fn discard(&self, id: &CaptchaId) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The outcome of checking a candidate code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// The candidate matched; the code is deleted and can never match again — unless the
    /// caller hands this [`TakenCode`] back to [`CodeStore::restore`] because what the code
    /// was for failed.
    Accepted(TakenCode),
    /// No live code for this mobile (never sent, expired, already used, or burned).
    Missing,
    /// Wrong candidate; one attempt is used. `attempts_left == 0` means the code is now burned
    /// (deleted), so even the right code answers `Missing` afterwards.
    Mismatch { attempts_left: u32 },
}

/// A code as it was when a verification consumed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TakenCode {
    pub digest: CodeDigest,
    /// Wrong guesses it had used.
    pub mismatches: u32,
    /// How long it had left to live.
    pub ttl_left: Duration,
}

/// SMS codes at rest, as keyed digests, one live code per mobile.
pub trait CodeStore: Send + Sync + 'static {
    /// Keep `digest` as the live code for `mobile` for `ttl`, replacing any earlier code and
    /// resetting its attempt count. (The use case stores a send's code through
    /// [`RateLimiter::acquire_send`], which stores it the same way.)
    fn put(
        &self,
        mobile: &Mobile,
        digest: &CodeDigest,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Delete the live code only if it is still `digest` (compare-and-delete), so that a code
    /// stored by a newer, concurrent send is never withdrawn by an older failed one.
    fn withdraw(
        &self,
        mobile: &Mobile,
        digest: &CodeDigest,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Verify and consume in one atomic step. The comparison of digests is constant-time.
    /// A match deletes the code. A mismatch uses one attempt; the `max_attempts`-th mismatch
    /// deletes the code. Of any number of concurrent verifications with the right candidate,
    /// exactly one gets `Accepted`.
    fn verify(
        &self,
        mobile: &Mobile,
        candidate: &CodeDigest,
        max_attempts: u32,
    ) -> impl Future<Output = Result<CodeCheck, StoreError>> + Send;

    /// Put a consumed code back as it was (digest, wrong guesses used), to live for `ttl`
    /// (its `ttl_left` less the time spent since), because what it was consumed for failed.
    /// Only if no code is live for `mobile` (a newer send wins); returns whether it was put
    /// back. A zero `ttl` puts nothing back.
    fn restore(
        &self,
        mobile: &Mobile,
        taken: &TakenCode,
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// The code an admitted send stores (see [`RateLimiter::acquire_send`]): kept as the mobile's
/// live code for `ttl`, exactly as [`CodeStore::put`] keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewCode {
    pub digest: CodeDigest,
    pub ttl: Duration,
}

/// The captcha an admitted issue stores (see [`RateLimiter::acquire_captcha`]): `text` kept
/// under `id` for `ttl`, exactly as [`CaptchaStore::put`] keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewCaptcha<'a> {
    pub id: &'a CaptchaId,
    pub text: &'a CaptchaText,
    pub ttl: Duration,
}

/// Proof that a send was reserved; hand it back to release the cooldown if the send fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendPermit {
    pub mobile: Mobile,
    /// The `now` the reservation was made at; identifies this reservation's cooldown.
    pub reserved_at: Timestamp,
}

/// Proof that a sign-in attempt was admitted; hand it back when the attempt succeeds (or was
/// never judged), so that it does not count as a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginPermit {
    pub client: ClientNet,
    pub mobile: Mobile,
    /// The start of the client's and the account's windows the attempt was counted in.
    pub client_window: Timestamp,
    pub mobile_window: Timestamp,
}

/// Abuse limits (SPEC §4, §4a). All state lives in the shared store so N replicas enforce one
/// limit. Every per-IP limit is keyed by [`ClientNet`] (IPv6 by prefix).
///
/// Semantics every adapter implements identically (the contract suite checks them):
/// - Send and captcha windows are sliding: "N per hour" counts reservations whose time `t` has
///   `now - t < 3_600_000` ms (a day is 86_400_000 ms, a minute 60_000). A reservation exactly
///   one window old no longer counts.
/// - The cooldown blocks a mobile while `now < reserved_at + mobile_cooldown`.
/// - `acquire_send` evaluates every limit (cooldown, mobile hourly, mobile daily, IP hourly,
///   global hourly) against the state before this call. If none refuses it records the
///   reservation in all of them, stores the send's code as the mobile's live code (as
///   [`CodeStore::put`] would: any earlier code replaced, attempts reset) and returns a permit;
///   otherwise it records nothing, leaves any earlier code as it was, and returns the refusal
///   with the longest `retry_after` (ties: the earlier in the order above).
///   `retry_after` is the exact time until that limit would admit the send. A cap of zero
///   always refuses, with a whole window as `retry_after`.
/// - Sign-in windows are fixed and start at the first counted attempt: a client's (or an
///   account's) window is `[start, start + limits.window)`; a new one starts with the first
///   attempt after it ends. `acquire_login` refuses while either window holds `per_ip` (or
///   `per_mobile`) counted attempts — the longer wait wins, the client on ties — and otherwise
///   counts the attempt in both. `release_login` takes it back out of the windows it was
///   counted in (not out of a later window).
/// - `acquire_captcha` likewise stores the captcha (as [`CaptchaStore::put`] would) only when
///   it counts it; a refusal stores nothing.
/// - Every limit is checked and counted in one atomic step, and a code is stored in the same
///   step as its mobile's reservation: no limit ever admits more than it allows, and no
///   mobile's reservation exists without its code. A store whose limits live apart (Redis
///   Cluster slots) takes one step per place in a fixed order and gives back what a refused
///   request counted; a request racing another may then be refused a moment early, never
///   admitted late, and a captcha whose text could not be stored stays counted.
pub trait RateLimiter: Send + Sync + 'static {
    /// Reserve a send of `code` to `mobile` against every limit and, if admitted, store `code`.
    fn acquire_send(
        &self,
        mobile: &Mobile,
        client: ClientNet,
        limits: &SendLimits,
        now: Timestamp,
        code: &NewCode,
    ) -> impl Future<Output = Result<Result<SendPermit, Refusal>, StoreError>> + Send;

    /// The provider refused or failed: lift this permit's cooldown (only if it is still this
    /// permit's), but keep the hourly, daily, IP and global counts.
    fn release_cooldown(
        &self,
        permit: &SendPermit,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Count one captcha for `client` unless `per_minute` were issued in the last minute, and
    /// if counted, store `captcha`.
    fn acquire_captcha(
        &self,
        client: ClientNet,
        per_minute: u32,
        now: Timestamp,
        captcha: NewCaptcha<'_>,
    ) -> impl Future<Output = Result<Result<(), Refusal>, StoreError>> + Send;

    /// Admit one sign-in attempt for `mobile` from `client` and count it as a failure, or
    /// refuse it (`LoginLockout` for the client, `AccountLockout` for the account).
    fn acquire_login(
        &self,
        client: ClientNet,
        mobile: &Mobile,
        limits: &LoginLimits,
        now: Timestamp,
    ) -> impl Future<Output = Result<Result<LoginPermit, Refusal>, StoreError>> + Send;

    /// The attempt succeeded (or was never judged): it no longer counts as a failure.
    fn release_login(
        &self,
        permit: &LoginPermit,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A session to start (see [`SessionStore::create`]).
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    pub token: &'a SessionToken,
    pub id: &'a SessionId,
    pub user: UserId,
    pub kind: SessionKind,
    /// Already cleaned ([`domain::user_agent`]).
    pub user_agent: Option<&'a str>,
    /// Its `created_at` and first `last_used_at`.
    pub now: Timestamp,
    /// How long it lives: from `now` for a [`SessionKind::Cookie`] session; from its last
    /// recorded use for a [`SessionKind::App`] session (sliding).
    pub ttl: Duration,
    /// Live sessions the user may have, this one included (≥ 1; the oldest end first).
    pub max_per_user: u32,
}

/// Server-side sessions (SPEC §5, §5a): token → [`Session`]. A store outside the process
/// keys sessions by a digest of the token, so a dump of it holds no usable cookie or bearer
/// token.
///
/// Rules every adapter implements identically (the contract suite checks them):
/// - A user's sessions, cookie and app alike, are counted together against
///   `max_per_user`: a `create` that would exceed it ends the user's oldest sessions.
/// - `get` records a use when the recorded one is at least [`SESSION_TOUCH_INTERVAL`] before
///   `now`: `last_used_at` becomes `now` and, for an app session, its lifetime starts again
///   (`ttl` from `now`). A cookie session's expiry never moves.
/// - Ending a session (`delete`, `end`, `end_all`) makes every later `get` of its token `None`
///   and drops it from `list`; ending what is absent is not an error.
pub trait SessionStore: Send + Sync + 'static {
    /// Start a session, ending the user's oldest beyond `max_per_user`.
    fn create(
        &self,
        session: NewSession<'_>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The live session of `token`, recording a use at `now` (see the rules above).
    fn get(
        &self,
        token: &SessionToken,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<Session>, StoreError>> + Send;

    /// End the session of `token` (sign-out).
    fn delete(&self, token: &SessionToken) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The user's live sessions, oldest first.
    fn list(&self, user: UserId) -> impl Future<Output = Result<Vec<Session>, StoreError>> + Send;

    /// End the user's session named `id`. `false` if the user has no live session by that id
    /// (another user's session is never ended this way).
    fn end(
        &self,
        user: UserId,
        id: &SessionId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// End every session of `user`, except the one of `keep` if given (and it is theirs).
    fn end_all(
        &self,
        user: UserId,
        keep: Option<&SessionToken>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// A user with this mobile exists already (including a lost race on the unique index).
    #[error("a user with this mobile already exists")]
    Duplicate,
    #[error("user directory unavailable")]
    Unavailable(#[source] anyhow::Error),
}

/// Registered users.
pub trait UserDirectory: Send + Sync + 'static {
    fn exists(&self, mobile: &Mobile) -> impl Future<Output = Result<bool, DirectoryError>> + Send;

    fn create(&self, user: NewUser) -> impl Future<Output = Result<User, DirectoryError>> + Send;

    fn find_by_mobile(
        &self,
        mobile: &Mobile,
    ) -> impl Future<Output = Result<Option<User>, DirectoryError>> + Send;

    fn find_by_id(
        &self,
        id: UserId,
    ) -> impl Future<Output = Result<Option<User>, DirectoryError>> + Send;

    /// Replace the user's password hash. (An unknown id changes nothing: users are never
    /// deleted, so the use cases only name users they have just read.)
    fn set_password(
        &self,
        id: UserId,
        hash: &PasswordHash,
    ) -> impl Future<Output = Result<(), DirectoryError>> + Send;

    /// Move the user to `mobile`, keeping their id. `Duplicate` if another user has it (the
    /// unique index decides a race, and the user keeps their old number).
    fn set_mobile(
        &self,
        id: UserId,
        mobile: &Mobile,
    ) -> impl Future<Output = Result<(), DirectoryError>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// The provider says this number or account is sending too often.
    #[error("provider rate limit (status {status})")]
    RateLimited { status: String },
    /// The provider answered but did not send.
    #[error("provider refused the message (status {status}: {message})")]
    Rejected { status: String, message: String },
    /// Network error, timeout, unexpected reply.
    #[error("SMS provider unavailable")]
    Unavailable(#[source] anyhow::Error),
}

/// Sends the verification-code message.
pub trait SmsSender: Send + Sync + 'static {
    /// Send `code` to `mobile`, saying it is valid for `valid_minutes` (datas `[code, "5"]`).
    fn send_code(
        &self,
        mobile: &Mobile,
        code: &SmsCode,
        valid_minutes: u32,
    ) -> impl Future<Output = Result<(), SmsError>> + Send;
}

#[derive(Debug, thiserror::Error)]
#[error("captcha rendering failed")]
pub struct RenderError(#[source] pub anyhow::Error);

/// Draws a captcha image. CPU-bound: adapters run it off the async executor.
pub trait CaptchaRenderer: Send + Sync + 'static {
    fn render(
        &self,
        text: &CaptchaText,
    ) -> impl Future<Output = Result<CaptchaImage, RenderError>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every hashing slot and the short queue behind them are taken: try again in a moment.
    /// Answered at once, without hashing.
    #[error("password hashing is at capacity")]
    Busy,
    #[error("password hashing failed")]
    Failed(#[source] anyhow::Error),
}

/// Password hashing (argon2id). CPU- and memory-bound: adapters run it off the async executor,
/// a bounded number at once, and answer [`HashError::Busy`] beyond a short queue.
pub trait PasswordHasher: Send + Sync + 'static {
    fn hash(
        &self,
        password: Password,
    ) -> impl Future<Output = Result<PasswordHash, HashError>> + Send;

    /// `stored: None` (unknown user) still does the work of one verification against a dummy
    /// hash and returns `false`, so that unknown mobiles and wrong passwords take the same time.
    fn verify(
        &self,
        password: Password,
        stored: Option<PasswordHash>,
    ) -> impl Future<Output = Result<bool, HashError>> + Send;
}

/// Wall-clock time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// Randomness for codes, captcha texts and tokens. Production uses the OS CSPRNG.
pub trait RandomSource: Send + Sync + 'static {
    /// Uniform in `0..n` (`n > 0`).
    fn below(&self, n: u32) -> u32;
    /// 32 random bytes (session tokens, CSRF tokens, per-process secrets).
    fn bytes32(&self) -> [u8; 32];
}

/// Whether an outside system answers at all: the readiness probe asks the store and the user
/// directory. One cheap round trip, bounded by the adapter's own timeouts.
pub trait Health: Send + Sync + 'static {
    /// `Err` carries the cause, for the log only.
    fn check(&self) -> impl Future<Output = Result<(), anyhow::Error>> + Send;
}

/// What the use cases count for the operator's metrics. Every value is a fixed name: nothing
/// here can carry a mobile, a code, a token, an address or an id, so no metric label can.
/// Synchronous and object-safe (`Arc<dyn Metrics>`): recording is a counter increment.
pub trait Metrics: Send + Sync + 'static {
    fn record(&self, event: Event);
}

/// One thing that happened in a use case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// A captcha image was issued.
    CaptchaIssued,
    /// A send's captcha answer was judged.
    CaptchaChecked(CaptchaVerdict),
    /// A limit refused a request: a send, a captcha, a sign-in, or the provider's own limit.
    Refused(LimitKind),
    /// A send passed every check and its code was stored: handed to the SMS sender, or
    /// deliberately not.
    CodeIssued(Delivery),
    /// A code was offered (registration, SMS sign-in, reset, change of number): judged
    /// against the live one.
    CodeVerified(CodeVerdict),
    /// A sign-in was judged, by password or by code (attempts refused by a lockout are
    /// `Refused`; a wrong code is also `CodeVerified`).
    SignIn(SignInVerdict),
    /// A registration whose code was accepted ended.
    Registration(RegistrationVerdict),
    /// A signed-in user's account changed (SPEC §5a).
    AccountChanged(AccountChange),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaptchaVerdict {
    Solved,
    Wrong,
    /// Never issued, expired, or used already.
    Missing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// Handed to the SMS sender (which counts its own outcome per provider).
    Sms,
    /// The wrong kind of number for the purpose (registered for `register`, unknown for
    /// `login`, …) under `registered_mobile = silent`: OK, nothing sent.
    Withheld,
    /// A `testing.sms_codes` number: stored, nothing sent.
    TestNumber,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeVerdict {
    Accepted,
    Wrong,
    /// The wrong guess that used up the last attempt: the code is gone.
    Burned,
    /// No live code: never sent, expired, used, or burned before.
    Missing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignInVerdict {
    SignedIn,
    /// Unknown mobile or wrong password (one answer for both).
    BadCredentials,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountChange {
    /// A forgotten password was replaced, with a code (every session ended).
    PasswordReset,
    /// A signed-in user changed their password (their other sessions ended).
    PasswordChanged,
    /// A signed-in user moved to a new number.
    MobileChanged,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegistrationVerdict {
    Registered,
    /// The mobile was taken (by an earlier user, or a concurrent registration).
    Taken,
}
