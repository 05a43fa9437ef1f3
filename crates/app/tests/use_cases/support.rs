//! In-memory fakes for the use-case tests. The state store is the real in-process
//! `MemoryStore` behind a switch that can make it fail; everything else is a small fake that
//! records what it was asked.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::account::{Proof, SignInError, SignInRequest};
use app::sessions::{Caller, Device, SignedIn};
use app::{Adapters, App, CodeHasher, Policy, Ports, TestHooks};
use domain::{
    CaptchaId, CaptchaImage, CaptchaText, ClientNet, CodeDigest, CodePurpose, LoginLimits, Mobile,
    NewUser, Password, PasswordHash, Refusal, SendLimits, Session, SessionId, SessionKind,
    SessionToken, SmsCode, Timestamp, User, UserId,
};
use memory_store::MemoryStore;
use port_contracts::FakeClock;
use ports::{
    CaptchaRenderer, CaptchaStore, CodeCheck, CodeStore, DirectoryError, Event, HashError, Health,
    LoginPermit, Metrics, NewCaptcha, NewCode, NewSession, PasswordHasher, RandomSource,
    RateLimiter, RenderError, SendPermit, SessionStore, SmsError, SmsSender, StoreError, TakenCode,
    UserDirectory,
};

pub struct TestPorts;
impl Ports for TestPorts {
    type Store = Store;
    type Users = Users;
    type Sms = Sms;
    type Renderer = TextRenderer;
    type Hasher = PlainHasher;
}

pub const START: u64 = 1_700_000_000_000;

/// `below` answers from a script, then 0; `bytes32` counts up so tokens differ.
#[derive(Default)]
pub struct ScriptedRandom {
    script: Mutex<VecDeque<u32>>,
    counter: AtomicU64,
}
impl ScriptedRandom {
    pub fn push(&self, values: &[u32]) {
        self.script.lock().unwrap().extend(values);
    }
}
impl RandomSource for ScriptedRandom {
    fn below(&self, n: u32) -> u32 {
        self.script.lock().unwrap().pop_front().unwrap_or(0) % n
    }
    fn bytes32(&self) -> [u8; 32] {
        let mut b = [7u8; 32];
        b[..8].copy_from_slice(&self.counter.fetch_add(1, Ordering::SeqCst).to_le_bytes());
        b
    }
}

/// The real memory store, or a dead one while `down` is set.
#[derive(Clone)]
pub struct Store {
    pub inner: MemoryStore,
    pub down: Arc<AtomicBool>,
    /// Only the session operations fail (a failure half-way through a use case).
    pub sessions_down: Arc<AtomicBool>,
}
impl Store {
    fn fail_if_sessions_down(&self) -> Result<(), StoreError> {
        if self.sessions_down.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable(anyhow::anyhow!(
                "sessions are down (test)"
            )));
        }
        self.fail_if_down()
    }

    fn fail_if_down(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable(anyhow::anyhow!(
                "store is down (test)"
            )))
        } else {
            Ok(())
        }
    }
}
impl CaptchaStore for Store {
    async fn put(&self, id: &CaptchaId, t: &CaptchaText, ttl: Duration) -> Result<(), StoreError> {
        self.fail_if_down()?;
        CaptchaStore::put(&self.inner, id, t, ttl).await
    }
    async fn take(&self, id: &CaptchaId) -> Result<Option<CaptchaText>, StoreError> {
        self.fail_if_down()?;
        self.inner.take(id).await
    }
    async fn discard(&self, id: &CaptchaId) -> Result<(), StoreError> {
        self.fail_if_down()?;
        self.inner.discard(id).await
    }
}
impl CodeStore for Store {
    async fn put(&self, m: &Mobile, d: &CodeDigest, ttl: Duration) -> Result<(), StoreError> {
        self.fail_if_down()?;
        CodeStore::put(&self.inner, m, d, ttl).await
    }
    async fn withdraw(&self, m: &Mobile, d: &CodeDigest) -> Result<(), StoreError> {
        self.fail_if_down()?;
        self.inner.withdraw(m, d).await
    }
    async fn verify(&self, m: &Mobile, d: &CodeDigest, max: u32) -> Result<CodeCheck, StoreError> {
        self.fail_if_down()?;
        self.inner.verify(m, d, max).await
    }
    async fn restore(&self, m: &Mobile, t: &TakenCode, ttl: Duration) -> Result<bool, StoreError> {
        self.fail_if_down()?;
        self.inner.restore(m, t, ttl).await
    }
}
impl RateLimiter for Store {
    async fn acquire_send(
        &self,
        m: &Mobile,
        c: ClientNet,
        l: &SendLimits,
        now: Timestamp,
        code: &NewCode,
    ) -> Result<Result<SendPermit, Refusal>, StoreError> {
        self.fail_if_down()?;
        self.inner.acquire_send(m, c, l, now, code).await
    }
    async fn release_cooldown(&self, p: &SendPermit) -> Result<(), StoreError> {
        self.fail_if_down()?;
        self.inner.release_cooldown(p).await
    }
    async fn acquire_captcha(
        &self,
        c: ClientNet,
        per_minute: u32,
        now: Timestamp,
        captcha: NewCaptcha<'_>,
    ) -> Result<Result<(), Refusal>, StoreError> {
        self.fail_if_down()?;
        self.inner
            .acquire_captcha(c, per_minute, now, captcha)
            .await
    }
    async fn acquire_login(
        &self,
        c: ClientNet,
        m: &Mobile,
        l: &LoginLimits,
        now: Timestamp,
    ) -> Result<Result<LoginPermit, Refusal>, StoreError> {
        self.fail_if_down()?;
        self.inner.acquire_login(c, m, l, now).await
    }
    async fn release_login(&self, p: &LoginPermit) -> Result<(), StoreError> {
        self.fail_if_down()?;
        self.inner.release_login(p).await
    }
}
impl SessionStore for Store {
    async fn create(&self, new: NewSession<'_>) -> Result<(), StoreError> {
        self.fail_if_sessions_down()?;
        self.inner.create(new).await
    }
    async fn get(&self, t: &SessionToken, now: Timestamp) -> Result<Option<Session>, StoreError> {
        self.fail_if_sessions_down()?;
        self.inner.get(t, now).await
    }
    async fn delete(&self, t: &SessionToken) -> Result<(), StoreError> {
        self.fail_if_sessions_down()?;
        self.inner.delete(t).await
    }
    async fn list(&self, u: UserId) -> Result<Vec<Session>, StoreError> {
        self.fail_if_sessions_down()?;
        self.inner.list(u).await
    }
    async fn end(&self, u: UserId, id: &SessionId) -> Result<bool, StoreError> {
        self.fail_if_sessions_down()?;
        self.inner.end(u, id).await
    }
    async fn end_all(&self, u: UserId, keep: Option<&SessionToken>) -> Result<(), StoreError> {
        self.fail_if_sessions_down()?;
        self.inner.end_all(u, keep).await
    }
}

#[derive(Clone, Default)]
pub struct Users {
    pub rows: Arc<Mutex<HashMap<Mobile, User>>>,
    pub down: Arc<AtomicBool>,
    /// Only `set_password` and `set_mobile` fail.
    pub writes_down: Arc<AtomicBool>,
    next_id: Arc<AtomicI64>,
}
impl Users {
    fn fail_if_writes_down(&self) -> Result<(), DirectoryError> {
        if self.writes_down.load(Ordering::SeqCst) {
            return Err(DirectoryError::Unavailable(anyhow::anyhow!(
                "directory writes are down (test)"
            )));
        }
        self.fail_if_down()
    }

    /// The user with this id.
    pub fn by_id(&self, id: UserId) -> Option<User> {
        let rows = self.rows.lock().unwrap();
        rows.values().find(|u| u.id == id).cloned()
    }

    fn fail_if_down(&self) -> Result<(), DirectoryError> {
        if self.down.load(Ordering::SeqCst) {
            Err(DirectoryError::Unavailable(anyhow::anyhow!(
                "directory is down (test)"
            )))
        } else {
            Ok(())
        }
    }
}
impl Health for Store {
    async fn check(&self) -> anyhow::Result<()> {
        Ok(self.fail_if_down()?)
    }
}
impl Health for Users {
    async fn check(&self) -> anyhow::Result<()> {
        Ok(self.fail_if_down()?)
    }
}

/// Every event the use cases recorded, in order.
#[derive(Default)]
pub struct Recorded(Mutex<Vec<Event>>);
impl Recorded {
    /// The events so far, and forget them.
    pub fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// The events so far that `keep` picks, and forget them all.
    pub fn take_where(&self, keep: impl Fn(&Event) -> bool) -> Vec<Event> {
        self.take().into_iter().filter(keep).collect()
    }
}
impl Metrics for Recorded {
    fn record(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }
}

impl UserDirectory for Users {
    async fn exists(&self, m: &Mobile) -> Result<bool, DirectoryError> {
        self.fail_if_down()?;
        Ok(self.rows.lock().unwrap().contains_key(m))
    }
    async fn create(&self, new: NewUser) -> Result<User, DirectoryError> {
        self.fail_if_down()?;
        let mut rows = self.rows.lock().unwrap();
        if rows.contains_key(&new.mobile) {
            return Err(DirectoryError::Duplicate);
        }
        let user = User {
            id: UserId(self.next_id.fetch_add(1, Ordering::SeqCst) + 1),
            mobile: new.mobile.clone(),
            password_hash: new.password_hash,
            created_at: Timestamp(START),
        };
        rows.insert(new.mobile, user.clone());
        Ok(user)
    }
    async fn find_by_mobile(&self, m: &Mobile) -> Result<Option<User>, DirectoryError> {
        self.fail_if_down()?;
        Ok(self.rows.lock().unwrap().get(m).cloned())
    }
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, DirectoryError> {
        self.fail_if_down()?;
        Ok(self.by_id(id))
    }
    async fn set_password(&self, id: UserId, hash: &PasswordHash) -> Result<(), DirectoryError> {
        self.fail_if_writes_down()?;
        let mut rows = self.rows.lock().unwrap();
        if let Some(user) = rows.values_mut().find(|u| u.id == id) {
            user.password_hash = hash.clone();
        }
        Ok(())
    }
    async fn set_mobile(&self, id: UserId, mobile: &Mobile) -> Result<(), DirectoryError> {
        self.fail_if_writes_down()?;
        let mut rows = self.rows.lock().unwrap();
        if rows.contains_key(mobile) {
            return Err(DirectoryError::Duplicate);
        }
        let Some(old) = rows.values().find(|u| u.id == id).map(|u| u.mobile.clone()) else {
            return Ok(());
        };
        if let Some(mut user) = rows.remove(&old) {
            user.mobile = mobile.clone();
            rows.insert(mobile.clone(), user);
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmsMode {
    Deliver,
    ProviderLimit,
    Reject,
    Down,
}

/// Records every message; answers per `mode`.
#[derive(Clone)]
pub struct Sms {
    pub sent: Arc<Mutex<Vec<(Mobile, SmsCode, u32)>>>,
    pub mode: Arc<Mutex<SmsMode>>,
}
impl Sms {
    pub fn set(&self, mode: SmsMode) {
        *self.mode.lock().unwrap() = mode;
    }
    pub fn count(&self) -> usize {
        self.sent.lock().unwrap().len()
    }
    pub fn last_code(&self) -> SmsCode {
        self.sent.lock().unwrap().last().unwrap().1.clone()
    }
}
impl SmsSender for Sms {
    async fn send_code(&self, m: &Mobile, c: &SmsCode, minutes: u32) -> Result<(), SmsError> {
        self.sent
            .lock()
            .unwrap()
            .push((m.clone(), c.clone(), minutes));
        match *self.mode.lock().unwrap() {
            SmsMode::Deliver => Ok(()),
            SmsMode::ProviderLimit => Err(SmsError::RateLimited {
                status: "160038".into(),
            }),
            SmsMode::Reject => Err(SmsError::Rejected {
                status: "160042".into(),
                message: "bad".into(),
            }),
            SmsMode::Down => Err(SmsError::Unavailable(anyhow::anyhow!("timeout (test)"))),
        }
    }
}

/// "Draws" the text as its bytes, so a test can read what the captcha shows.
pub struct TextRenderer;
impl CaptchaRenderer for TextRenderer {
    async fn render(&self, text: &CaptchaText) -> Result<CaptchaImage, RenderError> {
        Ok(CaptchaImage {
            bytes: text.as_str().as_bytes().to_vec(),
            content_type: "text/plain",
        })
    }
}

/// "Hashes" by prefixing; answers `Busy` while `busy` is set; counts its work.
#[derive(Clone, Default)]
pub struct PlainHasher {
    pub busy: Arc<AtomicBool>,
    pub runs: Arc<AtomicU64>,
}
impl PlainHasher {
    fn check(&self) -> Result<(), HashError> {
        if self.busy.load(Ordering::SeqCst) {
            return Err(HashError::Busy);
        }
        self.runs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}
impl PasswordHasher for PlainHasher {
    async fn hash(&self, p: Password) -> Result<PasswordHash, HashError> {
        self.check()?;
        Ok(PasswordHash(format!("plain${}", p.expose())))
    }
    async fn verify(&self, p: Password, stored: Option<PasswordHash>) -> Result<bool, HashError> {
        self.check()?;
        Ok(stored.is_some_and(|h| h.0 == format!("plain${}", p.expose())))
    }
}

/// An app over fakes, with handles to poke them.
pub struct Harness {
    pub app: App<TestPorts>,
    pub clock: Arc<FakeClock>,
    pub random: Arc<ScriptedRandom>,
    pub store_down: Arc<AtomicBool>,
    pub sessions_down: Arc<AtomicBool>,
    pub events: Arc<Recorded>,
    pub users: Users,
    pub sms: Sms,
    pub hasher: PlainHasher,
}

/// The default policy with `registered_mobile = silent`.
pub fn silent_policy() -> Policy {
    Policy {
        registered_mobile: app::RegisteredMobilePolicy::Silent,
        ..Policy::default()
    }
}

pub fn harness() -> Harness {
    harness_with(Policy::default(), TestHooks::default())
}

pub fn harness_with(policy: Policy, hooks: TestHooks) -> Harness {
    let clock = Arc::new(FakeClock::at(Timestamp(START)));
    let random = Arc::new(ScriptedRandom::default());
    let store = Store {
        inner: MemoryStore::new(clock.clone()),
        down: Arc::new(AtomicBool::new(false)),
        sessions_down: Arc::new(AtomicBool::new(false)),
    };
    let users = Users::default();
    let sms = Sms {
        sent: Arc::default(),
        mode: Arc::new(Mutex::new(SmsMode::Deliver)),
    };
    let hasher = PlainHasher::default();
    let events = Arc::new(Recorded::default());
    let adapters = Adapters::<TestPorts> {
        store: store.clone(),
        users: users.clone(),
        sms: sms.clone(),
        renderer: TextRenderer,
        hasher: hasher.clone(),
        clock: clock.clone(),
        random: random.clone(),
        metrics: events.clone(),
    };
    let app = App::new(
        adapters,
        policy,
        hooks,
        CodeHasher::new(b"test secret").unwrap(),
    );
    Harness {
        app,
        clock,
        random,
        store_down: store.down,
        sessions_down: store.sessions_down,
        events,
        users,
        sms,
        hasher,
    }
}

pub fn mobile(s: &str) -> Mobile {
    Mobile::parse(s).unwrap()
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A request to sign in to `m` with password `password` from `from`.
pub fn sign_in(m: &str, password: &str, from: &str) -> SignInRequest {
    SignInRequest {
        mobile: mobile(m),
        proof: Proof::Password(Password::candidate(password).unwrap()),
        client_ip: ip(from),
    }
}

impl Harness {
    /// Issue a captcha under `id` (each from its own client, clear of the captcha cap) and
    /// return the text it shows.
    pub async fn captcha(&self, id: &str) -> (CaptchaId, CaptchaText) {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let from = IpAddr::from([198, 18, (n / 256 % 256) as u8, (n % 256) as u8]);
        let id = CaptchaId::parse(id).unwrap();
        let image = self.app.issue_captcha(&id, None, from).await.unwrap();
        let text = CaptchaText::parse(std::str::from_utf8(&image.bytes).unwrap()).unwrap();
        (id, text)
    }

    /// A valid send request for `m` from `from`, with a freshly solved captcha.
    pub async fn solved(&self, m: &str, from: &str) -> app::send_code::SendCodeRequest {
        static N: AtomicU64 = AtomicU64::new(0);
        let (captcha_id, captcha_text) = self
            .captcha(&format!("c{}", N.fetch_add(1, Ordering::SeqCst)))
            .await;
        app::send_code::SendCodeRequest {
            mobile: mobile(m),
            captcha_id,
            captcha_text,
            client_ip: ip(from),
            purpose: CodePurpose::Register,
            caller: None,
        }
    }

    /// A valid send request for `m`, for `purpose`, by `caller`.
    pub async fn solved_for(
        &self,
        m: &str,
        purpose: CodePurpose,
        caller: Option<&Caller>,
    ) -> app::send_code::SendCodeRequest {
        app::send_code::SendCodeRequest {
            purpose,
            caller: caller.map(|c| c.user.id),
            ..self.solved(m, "10.9.8.7").await
        }
    }

    /// The code sent to `m` for `purpose` (by `caller` for a change of number), through a
    /// real send with a solved captcha; the send must succeed and deliver by SMS.
    pub async fn code_for(
        &self,
        m: &str,
        purpose: CodePurpose,
        caller: Option<&Caller>,
    ) -> SmsCode {
        self.app
            .send_code(self.solved_for(m, purpose, caller).await)
            .await
            .unwrap();
        self.sms.last_code()
    }

    /// Register `m` with password `password` (through a real code) and return the browser
    /// session.
    pub async fn registered(&self, m: &str, password: &str) -> SignedIn {
        let req = app::account::RegisterRequest {
            mobile: mobile(m),
            code: self.code_for(m, CodePurpose::Register, None).await,
            password: Password::parse(password).unwrap(),
        };
        self.app.register(req, browser(), None).await.unwrap()
    }

    /// Put a user on `m` straight into the directory (password `secret`), past the use cases.
    pub async fn register_directly(&self, m: &str) {
        self.users
            .create(NewUser {
                mobile: mobile(m),
                password_hash: PasswordHash("plain$secret".into()),
            })
            .await
            .unwrap();
    }

    /// Sign in to `m` with password `password` from `from` on `device`, with no earlier
    /// session to replace.
    pub async fn sign_in_as(
        &self,
        m: &str,
        password: &str,
        from: &str,
        device: Device,
    ) -> Result<SignedIn, SignInError> {
        self.app
            .sign_in(sign_in(m, password, from), device, None)
            .await
    }

    /// The caller behind `token` (it must be live).
    pub async fn caller(&self, token: &SessionToken) -> Caller {
        self.app
            .caller(token)
            .await
            .unwrap()
            .expect("a live session")
    }
}

/// A browser with a user agent.
pub fn browser() -> Device {
    Device {
        kind: SessionKind::Cookie,
        user_agent: Some("Mozilla/5.0 (test)".into()),
    }
}

/// A mobile app.
pub fn app_client() -> Device {
    Device {
        kind: SessionKind::App,
        user_agent: Some("okhttp/4.12".into()),
    }
}
