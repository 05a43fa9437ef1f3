//! `spawn_app()`: the real application on port 0 with a throw-away SQLite file, the memory
//! store and the console sender, plus a cookie-keeping HTTP client.

use std::sync::Arc;

use api::configuration::{Environment, Settings, SettingsFile};
use api::startup::{Application, Shutdown};
use diesel_users::testing::TestDb;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::Value;

pub const CAPTCHA: &str = "ABCD";
pub const TEST_MOBILE: &str = "13800138000";
pub const TEST_CODE: &str = "246810";

pub struct TestApp {
    pub address: String,
    /// A browser: keeps cookies in `jar`.
    pub client: reqwest::Client,
    pub jar: Arc<Jar>,
    /// A client without a cookie jar: each request carries only what the test gives it.
    pub bare: reqwest::Client,
    /// `server.metrics_port` as bound, if set.
    pub metrics_port: Option<u16>,
    /// Begins a graceful shutdown, as SIGTERM does.
    pub shutdown: Shutdown,
    /// The server task: ends when a shutdown has drained.
    pub running: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

/// Defaults for a test: fixed captcha text, a fixed code for `TEST_MOBILE`, SQLite in a temp
/// folder. `tweak` adjusts anything else, in the keys an operator writes.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut SettingsFile)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = SettingsFile::default();
    settings.server.port = 0;
    settings.database.url = SecretString::from(format!(
        "sqlite://{}",
        dir.path().join("users.db").display()
    ));
    // Generous bounds: CI machines are shared and slow; the failure tests set their own.
    settings.store.timeout_ms = 5000;
    settings.database.query_timeout_ms = 5000;
    // Every test client is 127.0.0.1 and many tests draw dozens of captchas; the tests of the
    // captcha cap set their own.
    settings.limits.captcha_per_ip_per_minute = 100_000;
    settings.testing.captcha_text = Some(CAPTCHA.into());
    settings
        .testing
        .sms_codes
        .insert(TEST_MOBILE.into(), TEST_CODE.into());
    tweak(&mut settings);
    let settings = Settings::from_file(settings, Environment::Local).expect("valid test settings");
    let app = Application::build(settings).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_port = app.metrics_port();
    let shutdown = app.shutdown();
    let running = tokio::spawn(app.run_until_stopped());
    let jar = Arc::new(Jar::default());
    // No idle connection reuse: a keep-alive connection the server is closing can fail a
    // request on a loaded machine (hyper's IncompleteMessage), which is not what tests test.
    let builder = || reqwest::Client::builder().pool_max_idle_per_host(0);
    let client = builder().cookie_provider(jar.clone()).build().unwrap();
    let bare = builder().build().unwrap();
    TestApp {
        address,
        client,
        jar,
        bare,
        metrics_port,
        shutdown,
        running,
        _dir: dir,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Issue a captcha under `id` (its text is `CAPTCHA`).
    pub async fn captcha(&self, id: &str) -> reqwest::Response {
        let res = self
            .client
            .get(self.url(&format!("/api/v1.0/image_codes/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res
    }

    /// A browser's request: the jar's cookies and the `X-CSRFToken` header.
    pub fn with_csrf(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("X-CSRFToken", self.csrf())
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.with_csrf(Method::POST, path)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// A browser's `method path` (cookies, CSRF header, `body` if any) as an errno reply.
    pub async fn send_json(&self, method: Method, path: &str, body: Option<&Value>) -> Value {
        let mut req = self.with_csrf(method, path);
        if let Some(body) = body {
            req = req.json(body);
        }
        errno_json(req.send().await.unwrap()).await
    }

    /// Send a code for `mobile` with a freshly issued captcha.
    pub async fn send_code(&self, mobile: &str) -> Value {
        self.send_code_answer(mobile).await.body
    }

    /// The same, with what travels beside the body.
    pub async fn send_code_answer(&self, mobile: &str) -> Answer {
        let id = uuid::Uuid::new_v4().to_string();
        self.captcha(&id).await;
        let body = serde_json::json!({"mobile": mobile, "image_code": "abcd", "image_code_id": id});
        Answer::of(self.post_json("/api/v1.0/sms_codes", &body).await).await
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        let url = self.address.parse().unwrap();
        let header = self.jar.cookies(&url)?;
        header.to_str().unwrap().split("; ").find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
    }

    pub fn csrf(&self) -> String {
        self.cookie("csrf_token").unwrap_or_default()
    }

    /// `GET path`'s body as text.
    pub async fn get_text(&self, path: &str) -> String {
        let res = self.client.get(self.url(path)).send().await.unwrap();
        res.text().await.unwrap()
    }

    /// `GET path` as an errno reply.
    pub async fn get_json(&self, path: &str) -> Value {
        errno_json(self.client.get(self.url(path)).send().await.unwrap()).await
    }

    /// `GET /api/v1.0/session`.
    pub async fn session(&self) -> Value {
        self.get_json("/api/v1.0/session").await
    }

    /// `DELETE /api/v1.0/session` with the CSRF header.
    pub async fn sign_out(&self) -> Value {
        self.send_json(Method::DELETE, "/api/v1.0/session", None)
            .await
    }

    /// Get a csrf_token cookie the way a page load would.
    pub async fn visit(&self) {
        self.client
            .get(self.url("/api/v1.0/session"))
            .send()
            .await
            .unwrap();
    }
}

/// Assert the errno wire format (HTTP 200, JSON content type, string errno) and return the body.
pub async fn errno_json(res: reqwest::Response) -> Value {
    assert_eq!(res.status(), 200, "every errno reply is HTTP 200");
    let ct = res
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(ct.starts_with("application/json"), "content type {ct}");
    let body: Value = res.json().await.unwrap();
    assert!(body["errno"].is_string(), "errno is a JSON string: {body}");
    assert!(body["errmsg"].is_string(), "errmsg present: {body}");
    body
}

/// One errno reply, with what travels beside the body: `Retry-After` (whole seconds), the
/// `session` cookie it set, if any, and every `Set-Cookie` header.
#[derive(Debug)]
pub struct Answer {
    pub errno: String,
    pub errmsg: String,
    pub retry_after: Option<u64>,
    pub session: Option<String>,
    pub set_cookies: Vec<String>,
    pub body: Value,
}

impl Answer {
    pub async fn of(res: reqwest::Response) -> Self {
        let retry_after = res
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
        let set_cookies: Vec<String> = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let session = set_cookies
            .iter()
            .find_map(|c| c.strip_prefix("session="))
            .and_then(|c| c.split(';').next())
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        let body = errno_json(res).await;
        Self {
            errno: body["errno"].as_str().unwrap().to_owned(),
            errmsg: body["errmsg"].as_str().unwrap().to_owned(),
            retry_after,
            session,
            set_cookies,
            body,
        }
    }

    pub fn is_ok(&self) -> bool {
        self.errno == "0"
    }

    /// Assert what every refusal by a limit carries: `Retry-After` (≥ 1 s) equal to
    /// `data.retry_after`; return those seconds.
    #[track_caller]
    pub fn assert_retry_after(&self) -> u64 {
        let secs = self.retry_after.expect("a Retry-After header");
        assert!(secs >= 1, "{self:?}");
        assert_eq!(self.body["data"]["retry_after"], secs, "{self:?}");
        secs
    }

    /// Assert a REQERR limit refusal whose errmsg contains `words`; return its wait in seconds.
    #[track_caller]
    pub fn assert_limited(&self, words: &str) -> u64 {
        assert_eq!(self.errno, "4201", "{self:?}");
        assert!(
            self.errmsg.contains(words),
            "errmsg names {words}: {self:?}"
        );
        self.assert_retry_after()
    }
}

/// `GET /metrics` on the main port, asserted to be HTTP 200 in the classic text format.
pub async fn scrape(app: &TestApp) -> String {
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8",
        "the classic text format unless OpenMetrics is asked for"
    );
    res.text().await.unwrap()
}

/// The sample lines of a scrape (no comments).
pub fn samples(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with('#')).collect()
}

/// Assert that the scrape `text` has the sample line `line`.
#[track_caller]
pub fn has(text: &str, line: &str) {
    assert!(
        samples(text).contains(&line),
        "`{line}` missing from the scrape:\n{text}"
    );
}

/// Where the state and the users live.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    RedisPostgres,
    MemorySqlite,
}

/// One `#[tokio::test]` per backend for each `async fn case(backend: Backend)` named:
/// `case::redis_postgres` and `case::memory_sqlite`.
macro_rules! on_each_backend {
    ($($case:ident),+ $(,)?) => {$(
        mod $case {
            #[tokio::test]
            async fn redis_postgres() {
                super::$case($crate::helpers::Backend::RedisPostgres).await;
            }

            #[tokio::test]
            async fn memory_sqlite() {
                super::$case($crate::helpers::Backend::MemorySqlite).await;
            }
        }
    )+};
}
pub(crate) use on_each_backend;

/// A running service on a [`Backend`], and what must outlive it.
pub struct Stack {
    pub app: TestApp,
    /// The PostgreSQL database of [`Backend::RedisPostgres`].
    pub db: Option<TestDb>,
    _prefix: Option<RedisPrefix>,
}

/// The service on `backend` (a fresh Redis prefix and PostgreSQL database, or the embedded
/// default), with `tweak` applied last.
pub async fn stack(backend: Backend, tweak: impl FnOnce(&mut SettingsFile)) -> Stack {
    let (prefix, db) = match backend {
        Backend::RedisPostgres => {
            let db = migrated(TestDb::postgres().await).await;
            (Some(RedisPrefix::new()), Some(db))
        }
        Backend::MemorySqlite => (None, None),
    };
    let app = spawn_app_with(|s| {
        if let (Some(prefix), Some(db)) = (&prefix, &db) {
            prefix.apply(s);
            s.database.url = SecretString::from(db.url.clone());
        }
        tweak(s);
    })
    .await;
    Stack {
        app,
        db,
        _prefix: prefix,
    }
}

/// `db` with the users table migrated.
pub async fn migrated(db: TestDb) -> TestDb {
    diesel_users::run_migrations(&db.url.parse().unwrap())
        .await
        .unwrap();
    db
}

/// The code secret of tests that run several replicas (local mode: any value will do).
pub const CODE_SECRET: &str = "limits-test-secret-0123456789abcdef";

pub fn redis_url() -> String {
    std::env::var("YZ_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A random key prefix in the test Redis; its keys are deleted when this is dropped (also when
/// the test panics).
pub struct RedisPrefix(String);

impl RedisPrefix {
    pub fn new() -> Self {
        Self(format!("yz-test-{}", uuid::Uuid::new_v4().simple()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Use the test Redis under this prefix (and a shared code secret, so replicas agree).
    pub fn apply(&self, s: &mut SettingsFile) {
        s.store.url = SecretString::from(redis_url());
        s.store.key_prefix = self.0.clone();
        s.security.code_secret = Some(SecretString::from(CODE_SECRET));
    }
}

impl Drop for RedisPrefix {
    fn drop(&mut self) {
        use deadpool_redis::redis;
        let Ok(client) = redis::Client::open(redis_url()) else {
            return;
        };
        let Ok(mut conn) = client.get_connection() else {
            return;
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.0))
            .query(&mut conn)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: redis::RedisResult<()> = redis::cmd("DEL").arg(&keys).query(&mut conn);
        }
    }
}

/// The path a Ronglian send for account `sid` (what [`use_ronglian`] sets) is posted to.
pub const RONGLIAN_PATH: &str = r"^/2013-12-26/Accounts/sid/SMS/TemplateSMS$";

/// Ronglian's answer to a send it accepted.
pub fn ronglian_sent() -> wiremock::ResponseTemplate {
    wiremock::ResponseTemplate::new(200).set_body_json(
        serde_json::json!({"statusCode": "000000", "templateSMS": {"smsMessageSid": "x"}}),
    )
}

/// A Ronglian peer answering every send with `template`.
pub async fn ronglian_answering(template: wiremock::ResponseTemplate) -> wiremock::MockServer {
    use wiremock::matchers::{method, path_regex};
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(method("POST"))
        .and(path_regex(RONGLIAN_PATH))
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

/// Send through the Ronglian peer at `base`, as account `sid`.
pub fn use_ronglian(s: &mut SettingsFile, base: String) {
    s.sms.provider = "ronglian".into();
    s.sms.ronglian.base_url = base;
    s.sms.ronglian.account_sid = Some("sid".into());
    s.sms.ronglian.auth_token = Some(SecretString::from("token"));
    s.sms.ronglian.app_id = Some("app".into());
}

/// Wait (up to 10 s) until `peer` has received a request: a send is at the provider.
pub async fn until_the_peer_has_a_request(peer: &wiremock::MockServer) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while peer.received_requests().await.unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the send never reached the provider"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A Ronglian peer at which the first `n` sends fail with `failure`; every later one is
/// accepted.
pub async fn ronglian_failing_then_sent(
    n: u64,
    failure: wiremock::ResponseTemplate,
) -> wiremock::MockServer {
    use wiremock::matchers::{method, path_regex};
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(method("POST"))
        .and(path_regex(RONGLIAN_PATH))
        .respond_with(failure)
        .up_to_n_times(n)
        .with_priority(1)
        .mount(&server)
        .await;
    wiremock::Mock::given(method("POST"))
        .and(path_regex(RONGLIAN_PATH))
        .respond_with(ronglian_sent())
        .mount(&server)
        .await;
    server
}

/// Tencent's answer to a send it accepted.
pub fn tencent_sent() -> wiremock::ResponseTemplate {
    wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({"Response": {
        "SendStatusSet": [{"SerialNo": "x", "PhoneNumber": "+8613800138000", "Fee": 1,
            "SessionContext": "", "Code": "Ok", "Message": "send success", "IsoCode": "CN"}],
        "RequestId": "r"}}))
}

/// Tencent's answer when the request itself failed (an account-level error: unavailable).
pub fn tencent_error() -> wiremock::ResponseTemplate {
    wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({"Response": {
        "Error": {"Code": "InternalError.Timeout", "Message": "timed out"},
        "RequestId": "r"}}))
}

/// A Tencent peer answering every send with `template`, whatever its signature.
pub async fn tencent_answering(template: wiremock::ResponseTemplate) -> wiremock::MockServer {
    use wiremock::matchers::{method, path};
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(method("POST"))
        .and(path("/"))
        .respond_with(template)
        .mount(&server)
        .await;
    server
}
