//! Black-box: mobile apps and the account's life over HTTP (SPEC §5a) — app tokens and bearer
//! auth, codes with a purpose, SMS sign-in, password reset and change, change of number, a
//! user's sessions, and the CSRF rules for each kind of caller. The main flows run on the
//! embedded default and on Redis + PostgreSQL.

use reqwest::Method;
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::helpers::*;
use diesel_users::testing::TestDb;

/// A second and third number with fixed codes (`testing.sms_codes`).
const OTHER_MOBILE: &str = "13900139000";
const OTHER_CODE: &str = "135790";
const NEW_MOBILE: &str = "13700137000";
const NEW_CODE: &str = "112233";

#[derive(Clone, Copy, Debug)]
enum Backend {
    MemorySqlite,
    RedisPostgres,
}

/// A running service, a browser-like client (`app.client`, with a cookie jar) and an app-like
/// one (`bare`: no cookies, bearer only).
struct Stack {
    app: TestApp,
    bare: reqwest::Client,
    _db: Option<TestDb>,
    _prefix: Option<RedisPrefix>,
}

async fn stack(backend: Backend) -> Stack {
    stack_with(backend, |_| {}).await
}

async fn stack_with(
    backend: Backend,
    tweak: impl FnOnce(&mut api::configuration::SettingsFile),
) -> Stack {
    let (prefix, db) = match backend {
        Backend::RedisPostgres => (
            Some(RedisPrefix::new()),
            Some(migrated(TestDb::postgres().await).await),
        ),
        Backend::MemorySqlite => (None, None),
    };
    let app = spawn_app_with(|s| {
        if let (Some(prefix), Some(db)) = (&prefix, &db) {
            prefix.apply(s);
            s.database.url = SecretString::from(db.url.clone());
        }
        for (m, c) in [(OTHER_MOBILE, OTHER_CODE), (NEW_MOBILE, NEW_CODE)] {
            s.testing.sms_codes.insert(m.into(), c.into());
        }
        // Flows here send several codes to one number in a row (the cooldown has its tests).
        s.limits.mobile_cooldown_secs = 0;
        tweak(s);
    })
    .await;
    let bare = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    Stack {
        app,
        bare,
        _db: db,
        _prefix: prefix,
    }
}

fn code_of(mobile: &str) -> &'static str {
    match mobile {
        TEST_MOBILE => TEST_CODE,
        OTHER_MOBILE => OTHER_CODE,
        NEW_MOBILE => NEW_CODE,
        _ => panic!("no fixed code for {mobile}"),
    }
}

impl Stack {
    /// An app's request: no cookies, no CSRF header; `bearer` if given.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        bearer: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self
            .bare
            .request(method, self.app.url(path))
            .header("User-Agent", "yanzheng-test-app/1.0");
        if let Some(body) = body {
            req = req.json(&body);
        }
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        req.send().await.unwrap()
    }

    async fn app_json(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        bearer: Option<&str>,
    ) -> Value {
        errno_json(self.call(method, path, body, bearer).await).await
    }

    /// An app asks for a code for `mobile` and `purpose`, with a fresh captcha (the captcha's
    /// own cookie is ignored: the bare client keeps none).
    async fn app_code(&self, mobile: &str, purpose: &str, bearer: Option<&str>) -> Value {
        let id = uuid::Uuid::new_v4().to_string();
        let captcha = self
            .bare
            .get(self.app.url(&format!("/api/v1.0/image_codes/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(captcha.status(), 200);
        let body = json!({"mobile": mobile, "image_code": CAPTCHA, "image_code_id": id,
            "purpose": purpose, "client": "app"});
        self.app_json(Method::POST, "/api/v1.0/sms_codes", Some(body), bearer)
            .await
    }

    /// A browser asks for a code (cookie jar, CSRF cookie; no header needed on this route).
    async fn browser_code(&self, mobile: &str, purpose: &str) -> Value {
        self.app.visit().await;
        let id = uuid::Uuid::new_v4().to_string();
        self.app.captcha(&id).await;
        let body = json!({"mobile": mobile, "image_code": CAPTCHA, "image_code_id": id, "purpose": purpose});
        errno_json(self.app.post_json("/api/v1.0/sms_codes", &body).await).await
    }

    /// Register `mobile` (password `secret1`) as an app; its token.
    async fn app_user(&self, mobile: &str) -> String {
        assert_eq!(self.app_code(mobile, "register", None).await["errno"], "0");
        let reply = self
            .app_json(
                Method::POST,
                "/api/v1.0/users",
                Some(json!({"mobile": mobile, "sms_code": code_of(mobile),
                    "password": "secret1", "password2": "secret1", "client": "app"})),
                None,
            )
            .await;
        assert_eq!(reply["errno"], "0", "{reply}");
        token_of(&reply)
    }

    /// Register `mobile` (password `secret1`) in the browser: the jar holds the session.
    async fn browser_user(&self, mobile: &str) -> Value {
        assert_eq!(self.browser_code(mobile, "register").await["errno"], "0");
        let body = json!({"mobile": mobile, "sms_code": code_of(mobile), "password": "secret1", "password2": "secret1"});
        errno_json(self.app.post_json("/api/v1.0/users", &body).await).await
    }

    /// An app signs in with a password; its token (or the reply, if it failed).
    async fn app_sign_in(&self, mobile: &str, password: &str) -> Result<String, Value> {
        let reply = self
            .app_json(
                Method::POST,
                "/api/v1.0/sessions",
                Some(json!({"mobile": mobile, "password": password, "client": "app"})),
                None,
            )
            .await;
        if reply["errno"] == "0" {
            Ok(token_of(&reply))
        } else {
            Err(reply)
        }
    }

    /// `GET /api/v1.0/session` with `token`.
    async fn whoami(&self, token: &str) -> Value {
        self.app_json(Method::GET, "/api/v1.0/session", None, Some(token))
            .await
    }
}

fn token_of(reply: &Value) -> String {
    reply["data"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token in {reply}"))
        .to_owned()
}

fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn is_signed_out(reply: &Value) -> bool {
    *reply == json!({"errno": "4101", "errmsg": "false"})
}

async fn an_app_lives_on_its_token_alone(backend: Backend) {
    let s = stack(backend).await;
    assert_eq!(
        s.app_code(TEST_MOBILE, "register", None).await["errno"],
        "0"
    );
    let res = s
        .call(
            Method::POST,
            "/api/v1.0/users",
            Some(json!({"mobile": TEST_MOBILE, "sms_code": TEST_CODE,
                "password": "secret1", "password2": "secret1", "client": "app"})),
            None,
        )
        .await;
    assert!(
        set_cookies(&res).is_empty(),
        "an app gets no cookie: {:?}",
        set_cookies(&res)
    );
    let reply = errno_json(res).await;
    assert_eq!(reply["errno"], "0", "{reply}");
    assert_eq!(reply["data"]["expires_in"], 2_592_000);
    let token = token_of(&reply);
    assert_eq!(token.len(), 43, "256 bits as base64url");

    let who = s.whoami(&token).await;
    assert_eq!(
        (who["errno"].as_str(), who["errmsg"].as_str()),
        (Some("0"), Some("true"))
    );
    let profile = s
        .app_json(Method::GET, "/api/v1.0/user", None, Some(&token))
        .await;
    assert_eq!(profile["data"]["mobile"], TEST_MOBILE);
    let listed = s
        .app_json(Method::GET, "/api/v1.0/user/sessions", None, Some(&token))
        .await;
    let sessions = listed["data"]["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{listed}");
    assert_eq!(sessions[0]["kind"], "app");
    assert_eq!(sessions[0]["current"], true);
    assert_eq!(sessions[0]["user_agent"], "yanzheng-test-app/1.0");
    assert!(
        !listed.to_string().contains(&token),
        "the list never shows a token"
    );

    // Sign-out with the bearer revokes it, and sets no cookie.
    let res = s
        .call(Method::DELETE, "/api/v1.0/session", None, Some(&token))
        .await;
    assert!(set_cookies(&res).is_empty());
    assert_eq!(errno_json(res).await["errno"], "0");
    assert!(is_signed_out(&s.whoami(&token).await));
}

#[tokio::test]
async fn an_app_lives_on_its_token_alone_memory() {
    an_app_lives_on_its_token_alone(Backend::MemorySqlite).await;
}

#[tokio::test]
async fn an_app_lives_on_its_token_alone_redis_postgres() {
    an_app_lives_on_its_token_alone(Backend::RedisPostgres).await;
}

#[tokio::test]
async fn bad_tokens_are_indistinguishable_on_every_route() {
    let s = stack_with(Backend::MemorySqlite, |f| f.session.app_ttl_secs = 1).await;
    let revoked = s.app_user(TEST_MOBILE).await;
    s.call(Method::DELETE, "/api/v1.0/session", None, Some(&revoked))
        .await;
    let expired = s.app_sign_in(TEST_MOBILE, "secret1").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let unknown = "A".repeat(43);
    let routes: [(Method, &str, Option<Value>); 6] = [
        (Method::GET, "/api/v1.0/session", None),
        (Method::GET, "/api/v1.0/user", None),
        (Method::GET, "/api/v1.0/user/sessions", None),
        (Method::DELETE, "/api/v1.0/user/sessions", None),
        (
            Method::PUT,
            "/api/v1.0/user/password",
            Some(json!({"old_password": "secret1", "password": "secret2", "password2": "secret2"})),
        ),
        (
            Method::PUT,
            "/api/v1.0/user/mobile",
            Some(json!({"mobile": NEW_MOBILE, "sms_code": NEW_CODE})),
        ),
    ];
    for (method, path, body) in routes {
        for (what, token) in [
            ("malformed", "not-a-token"),
            ("unknown", unknown.as_str()),
            ("revoked", revoked.as_str()),
            ("expired", expired.as_str()),
        ] {
            let reply = s
                .app_json(method.clone(), path, body.clone(), Some(token))
                .await;
            assert!(
                is_signed_out(&reply),
                "{method} {path}, {what} token: {reply}"
            );
        }
        if method == Method::GET {
            // (A write without any credential meets the double submit first.)
            let reply = s.app_json(method.clone(), path, body.clone(), None).await;
            assert!(
                is_signed_out(&reply),
                "{method} {path}, no credential: {reply}"
            );
        }
    }
}

#[tokio::test]
async fn app_tokens_slide_and_are_capped_with_the_cookies() {
    let s = stack_with(Backend::RedisPostgres, |f| f.session.max_per_user = 2).await;
    let browser = s.browser_user(TEST_MOBILE).await;
    assert_eq!(browser["errno"], "0");
    let first = s.app_sign_in(TEST_MOBILE, "secret1").await.unwrap();
    let second = s.app_sign_in(TEST_MOBILE, "secret1").await.unwrap();
    // Three sessions for a cap of two: the oldest, the browser's, ended.
    assert!(is_signed_out(&s.app.session().await));
    assert_eq!(s.whoami(&first).await["errno"], "0");
    assert_eq!(s.whoami(&second).await["errno"], "0");
}

#[tokio::test]
async fn csrf_is_waived_only_for_requests_without_the_session_cookie() {
    let s = stack(Backend::MemorySqlite).await;
    s.browser_user(TEST_MOBILE).await;
    let token = s.app_sign_in(TEST_MOBILE, "secret1").await.unwrap();
    let no_token = api::web::csrf::NO_TOKEN;

    // A browser (session cookie) is always checked, whatever its body says.
    let reply = errno_json(
        s.app
            .client
            .post(s.app.url("/api/v1.0/sessions"))
            .json(&json!({"mobile": TEST_MOBILE, "password": "secret1", "client": "app"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply["errmsg"], no_token, "{reply}");

    // Cookie and bearer together: PARAMERR, on reads and writes alike.
    for method in [Method::GET, Method::DELETE] {
        let res = s
            .app
            .client
            .request(method.clone(), s.app.url("/api/v1.0/session"))
            .header("X-CSRFToken", s.app.csrf())
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(errno_json(res).await["errno"], "4103", "{method}");
    }
    assert_eq!(
        s.app.session().await["errno"],
        "0",
        "the refused sign-out ended nothing"
    );

    // No cookie: a bearer or `"client": "app"` needs no header, and gets no cookie.
    let res = s
        .call(
            Method::PUT,
            "/api/v1.0/user/password",
            Some(json!({"old_password": "secret1", "password": "secret2", "password2": "secret2"})),
            Some(&token),
        )
        .await;
    assert!(set_cookies(&res).is_empty());
    assert_eq!(errno_json(res).await["errno"], "0");
    let res = s
        .call(
            Method::POST,
            "/api/v1.0/sessions",
            Some(json!({"mobile": TEST_MOBILE, "password": "secret2", "client": "app"})),
            None,
        )
        .await;
    assert!(set_cookies(&res).is_empty());
    assert_eq!(errno_json(res).await["errno"], "0");

    // A request let through for its bearer is an app's to the end: a token, never a cookie
    // (even if the bearer is no live token), and `client: web` contradicts it.
    let res = s
        .call(
            Method::POST,
            "/api/v1.0/sessions",
            Some(json!({"mobile": TEST_MOBILE, "password": "secret2"})),
            Some("not-a-live-token"),
        )
        .await;
    assert!(set_cookies(&res).is_empty());
    assert!(errno_json(res).await["data"]["token"].is_string());
    let reply = s
        .app_json(
            Method::POST,
            "/api/v1.0/sessions",
            Some(json!({"mobile": TEST_MOBILE, "password": "secret2", "client": "web"})),
            Some(&token),
        )
        .await;
    assert_eq!(reply["errno"], "4103", "{reply}");
    // The news site's registration honours `client` too.
    assert_eq!(
        s.app_code(OTHER_MOBILE, "register", None).await["errno"],
        "0"
    );
    let res = s
        .call(
            Method::POST,
            "/passport/register",
            Some(
                json!({"mobile": OTHER_MOBILE, "smscode": OTHER_CODE, "password": "secret1",
                "client": "app"}),
            ),
            None,
        )
        .await;
    assert!(set_cookies(&res).is_empty());
    assert!(errno_json(res).await["data"]["token"].is_string());
    // A signed-in browser that also sends a bearer to sign in again: PARAMERR.
    let res = s
        .app
        .client
        .post(s.app.url("/api/v1.0/sessions"))
        .header("X-CSRFToken", s.app.csrf())
        .bearer_auth(&token)
        .json(&json!({"mobile": TEST_MOBILE, "password": "secret2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(errno_json(res).await["errno"], "4103");

    // No cookie and neither: the double submit applies.
    let reply = s
        .app_json(
            Method::POST,
            "/api/v1.0/sessions",
            Some(json!({"mobile": TEST_MOBILE, "password": "secret2"})),
            None,
        )
        .await;
    assert_eq!(reply["errmsg"], no_token, "{reply}");
    // A `client` other than app or web is PARAMERR.
    let reply = s
        .app_json(
            Method::POST,
            "/api/v1.0/sessions",
            Some(json!({"mobile": TEST_MOBILE, "password": "secret2", "client": "ios"})),
            Some(&token),
        )
        .await;
    assert_eq!(reply["errno"], "4103", "{reply}");
}

#[tokio::test]
async fn codes_work_only_for_their_purpose() {
    let s = stack(Backend::RedisPostgres).await;
    let token = s.app_user(TEST_MOBILE).await;
    // TEST_MOBILE's code digits are fixed, so only the purpose differs below.
    assert_eq!(s.app_code(TEST_MOBILE, "login", None).await["errno"], "0");
    let reset = json!({"mobile": TEST_MOBILE, "sms_code": TEST_CODE, "password": "secret2",
        "password2": "secret2", "client": "app"});
    let reply = s
        .app_json(
            Method::POST,
            "/api/v1.0/password_resets",
            Some(reset.clone()),
            None,
        )
        .await;
    assert_eq!(
        reply["errno"], "4004",
        "a login code does not reset: {reply}"
    );
    let by_code = json!({"mobile": TEST_MOBILE, "sms_code": TEST_CODE, "client": "app"});
    let reply = s
        .app_json(
            Method::POST,
            "/api/v1.0/sessions",
            Some(by_code.clone()),
            None,
        )
        .await;
    assert_eq!(reply["errno"], "0", "but it signs in: {reply}");

    // A change-of-number code for a free number does not register it.
    assert_eq!(
        s.app_code(NEW_MOBILE, "change_mobile", Some(&token)).await["errno"],
        "0"
    );
    let register = json!({"mobile": NEW_MOBILE, "sms_code": NEW_CODE, "password": "secret1",
        "password2": "secret1", "client": "app"});
    let reply = s
        .app_json(Method::POST, "/api/v1.0/users", Some(register), None)
        .await;
    assert_eq!(reply["errno"], "4004", "{reply}");

    // Each purpose needs its kind of number.
    let reply = s.app_code(OTHER_MOBILE, "login", None).await;
    assert_eq!(
        (reply["errno"].as_str(), reply["errmsg"].as_str()),
        (Some("4104"), Some("该手机号尚未注册"))
    );
    assert_eq!(
        s.app_code(OTHER_MOBILE, "reset", None).await["errno"],
        "4104"
    );
    assert_eq!(
        s.app_code(TEST_MOBILE, "register", None).await["errno"],
        "4003"
    );
    assert_eq!(
        s.app_code(TEST_MOBILE, "change_mobile", Some(&token)).await["errno"],
        "4003"
    );
    for bad in [json!("signup"), json!(""), json!(1)] {
        let id = uuid::Uuid::new_v4().to_string();
        let body = json!({"mobile": OTHER_MOBILE, "image_code": CAPTCHA, "image_code_id": id,
            "purpose": bad, "client": "app"});
        let reply = s
            .app_json(Method::POST, "/api/v1.0/sms_codes", Some(body), None)
            .await;
        assert_eq!(reply["errno"], "4103", "{bad}: {reply}");
    }
    // The GET form takes `?purpose=` too.
    let id = uuid::Uuid::new_v4().to_string();
    s.app.captcha(&id).await;
    let reply = s
        .app
        .get_json(&format!(
            "/api/v1.0/sms_codes/{OTHER_MOBILE}?image_code={CAPTCHA}&image_code_id={id}&purpose=login"
        ))
        .await;
    assert_eq!(reply["errno"], "4104", "{reply}");
}

#[tokio::test]
async fn a_code_to_change_the_number_needs_a_signed_in_caller() {
    let s = stack(Backend::MemorySqlite).await;
    let token = s.app_user(TEST_MOBILE).await;
    let id = uuid::Uuid::new_v4().to_string();
    s.app.captcha(&id).await;
    let body = json!({"mobile": NEW_MOBILE, "image_code": CAPTCHA, "image_code_id": id,
        "purpose": "change_mobile", "client": "app"});
    let reply = s
        .app_json(
            Method::POST,
            "/api/v1.0/sms_codes",
            Some(body.clone()),
            None,
        )
        .await;
    assert!(is_signed_out(&reply), "{reply}");
    // The captcha was not used up by the refusal.
    let reply = s
        .app_json(
            Method::POST,
            "/api/v1.0/sms_codes",
            Some(body),
            Some(&token),
        )
        .await;
    assert_eq!(reply["errno"], "0", "{reply}");
}

#[tokio::test]
async fn the_silent_policy_answers_every_purpose_alike() {
    let s = stack_with(Backend::MemorySqlite, |f| {
        f.security.registered_mobile = "silent".into();
        // Every guess below comes from one client: keep the lockouts out of the way.
        f.limits.login_failures_per_ip = 100;
        f.limits.login_failures_per_mobile = 100;
    })
    .await;
    s.app_user(TEST_MOBILE).await;
    // A login code for a registered number and for a free one: the same replies throughout.
    let mut seen = Vec::new();
    for mobile in [TEST_MOBILE, OTHER_MOBILE] {
        let sent = s.app_code(mobile, "login", None).await;
        let mut replies = vec![sent];
        for guess in ["000001", "000002", "000003", "000004", "000005", "000006"] {
            let body = json!({"mobile": mobile, "sms_code": guess, "client": "app"});
            replies.push(
                s.app_json(Method::POST, "/api/v1.0/sessions", Some(body), None)
                    .await,
            );
        }
        seen.push(replies);
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(
        seen[0].last().unwrap()["errno"],
        "4002",
        "burned after five: {:?}",
        seen[0]
    );
}

#[tokio::test]
async fn sms_sign_in_signs_in_a_browser_and_counts_toward_the_lockout() {
    let s = stack(Backend::RedisPostgres).await;
    s.app_user(TEST_MOBILE).await;
    assert_eq!(s.browser_code(TEST_MOBILE, "login").await["errno"], "0");
    let by_code = json!({"mobile": TEST_MOBILE, "sms_code": TEST_CODE});
    let reply = errno_json(s.app.post_json("/api/v1.0/sessions", &by_code).await).await;
    assert_eq!(reply["errno"], "0", "{reply}");
    assert_eq!(s.app.session().await["errmsg"], "true");
    assert!(
        reply["data"]["token"].is_null(),
        "a browser gets the cookie, not a token"
    );
    // Used: once only.
    let reply = errno_json(s.app.post_json("/api/v1.0/sessions", &by_code).await).await;
    assert_eq!(reply["errno"], "4002", "{reply}");

    // Both or neither of password and code: PARAMERR.
    for body in [
        json!({"mobile": TEST_MOBILE, "client": "app"}),
        json!({"mobile": TEST_MOBILE, "password": "secret1", "sms_code": TEST_CODE, "client": "app"}),
    ] {
        let reply = s
            .app_json(Method::POST, "/api/v1.0/sessions", Some(body), None)
            .await;
        assert_eq!(reply["errno"], "4103", "{reply}");
    }

    // Wrong codes are failed sign-ins: the client is locked out after five — the used code
    // above was the first; the success before it was given back.
    assert_eq!(s.app_code(TEST_MOBILE, "login", None).await["errno"], "0");
    for _ in 0..3 {
        let body = json!({"mobile": TEST_MOBILE, "sms_code": "000000", "client": "app"});
        let reply = s
            .app_json(Method::POST, "/api/v1.0/sessions", Some(body), None)
            .await;
        assert_eq!(reply["errno"], "4004", "{reply}");
    }
    let reply = s
        .app_json(
            Method::POST,
            "/api/v1.0/sessions",
            Some(json!({"mobile": TEST_MOBILE, "password": "wrong-one", "client": "app"})),
            None,
        )
        .await;
    assert_eq!(reply["errno"], "4004", "{reply}");
    let body = json!({"mobile": TEST_MOBILE, "sms_code": TEST_CODE, "client": "app"});
    let reply = s
        .app_json(Method::POST, "/api/v1.0/sessions", Some(body), None)
        .await;
    assert_eq!(
        reply["errno"], "4202",
        "the sixth attempt is locked out: {reply}"
    );
}

async fn a_reset_ends_every_session(backend: Backend) {
    let s = stack(backend).await;
    let app_token = s.app_user(TEST_MOBILE).await;
    let login = json!({"mobile": TEST_MOBILE, "password": "secret1"});
    s.app.visit().await;
    assert_eq!(
        errno_json(s.app.post_json("/api/v1.0/sessions", &login).await).await["errno"],
        "0"
    );

    let reply = s.app_code(TEST_MOBILE, "reset", None).await;
    assert_eq!(reply["errno"], "0", "{reply}");
    let reset = json!({"mobile": TEST_MOBILE, "sms_code": TEST_CODE, "password": "brand-new",
        "password2": "brand-new", "client": "app"});
    let reply = s
        .app_json(
            Method::POST,
            "/api/v1.0/password_resets",
            Some(reset.clone()),
            None,
        )
        .await;
    assert_eq!(reply["errno"], "0", "{reply}");
    let fresh = token_of(&reply);

    assert!(
        is_signed_out(&s.whoami(&app_token).await),
        "the old app token ended"
    );
    assert!(
        is_signed_out(&s.app.session().await),
        "the browser session ended"
    );
    assert_eq!(
        s.whoami(&fresh).await["errno"],
        "0",
        "the resetting device is signed in"
    );
    assert!(s.app_sign_in(TEST_MOBILE, "secret1").await.is_err());
    assert!(s.app_sign_in(TEST_MOBILE, "brand-new").await.is_ok());
    // The code is used.
    let reply = s
        .app_json(Method::POST, "/api/v1.0/password_resets", Some(reset), None)
        .await;
    assert_eq!(reply["errno"], "4002", "{reply}");
}

#[tokio::test]
async fn a_reset_ends_every_session_memory() {
    a_reset_ends_every_session(Backend::MemorySqlite).await;
}

#[tokio::test]
async fn a_reset_ends_every_session_redis_postgres() {
    a_reset_ends_every_session(Backend::RedisPostgres).await;
}

#[tokio::test]
async fn changing_the_password_checks_the_old_one_and_ends_the_other_sessions() {
    let s = stack(Backend::RedisPostgres).await;
    s.browser_user(TEST_MOBILE).await;
    let phone = s.app_sign_in(TEST_MOBILE, "secret1").await.unwrap();
    let change =
        |old: &str| json!({"old_password": old, "password": "brand-new", "password2": "brand-new"});
    let put = |body: Value| {
        s.app
            .client
            .put(s.app.url("/api/v1.0/user/password"))
            .header("X-CSRFToken", s.app.csrf())
            .json(&body)
            .send()
    };
    let reply = errno_json(put(change("not-it")).await.unwrap()).await;
    assert_eq!(
        (reply["errno"].as_str(), reply["errmsg"].as_str()),
        (Some("4106"), Some("原密码错误"))
    );
    let mismatch =
        json!({"old_password": "secret1", "password": "brand-new", "password2": "brand-old"});
    assert_eq!(
        errno_json(put(mismatch).await.unwrap()).await["errno"],
        "4103"
    );
    let reply = errno_json(put(change("secret1")).await.unwrap()).await;
    assert_eq!(reply["errno"], "0", "{reply}");
    assert_eq!(
        s.app.session().await["errno"],
        "0",
        "the caller's own session stays"
    );
    assert!(
        is_signed_out(&s.whoami(&phone).await),
        "every other one ends"
    );
    assert!(s.app_sign_in(TEST_MOBILE, "brand-new").await.is_ok());
}

#[tokio::test]
async fn wrong_old_passwords_lock_the_account_out_like_sign_ins() {
    let s = stack(Backend::MemorySqlite).await;
    let token = s.app_user(TEST_MOBILE).await;
    let wrong =
        json!({"old_password": "not-it", "password": "brand-new", "password2": "brand-new"});
    for _ in 0..5 {
        let reply = s
            .app_json(
                Method::PUT,
                "/api/v1.0/user/password",
                Some(wrong.clone()),
                Some(&token),
            )
            .await;
        assert_eq!(reply["errno"], "4106", "{reply}");
    }
    let right =
        json!({"old_password": "secret1", "password": "brand-new", "password2": "brand-new"});
    let reply = s
        .app_json(
            Method::PUT,
            "/api/v1.0/user/password",
            Some(right),
            Some(&token),
        )
        .await;
    assert_eq!(reply["errno"], "4202", "{reply}");
}

#[tokio::test]
async fn changing_the_number_keeps_the_user_and_their_sessions() {
    let s = stack(Backend::RedisPostgres).await;
    let token = s.app_user(TEST_MOBILE).await;
    let before = s
        .app_json(Method::GET, "/api/v1.0/user", None, Some(&token))
        .await;
    let second = s.app_sign_in(TEST_MOBILE, "secret1").await.unwrap();
    assert_eq!(
        s.app_code(NEW_MOBILE, "change_mobile", Some(&token)).await["errno"],
        "0"
    );
    let change = json!({"mobile": NEW_MOBILE, "sms_code": NEW_CODE});
    // Many at once with the one code: it is consumed once, so exactly one moves the user.
    let racers: Vec<_> = (0..8)
        .map(|_| {
            s.app_json(
                Method::PUT,
                "/api/v1.0/user/mobile",
                Some(change.clone()),
                Some(&token),
            )
        })
        .collect();
    let replies = futures::future::join_all(racers).await;
    let moved = replies.iter().filter(|r| r["errno"] == "0").count();
    assert_eq!(moved, 1, "{replies:?}");
    assert!(
        replies
            .iter()
            .all(|r| ["0", "4002"].contains(&r["errno"].as_str().unwrap())),
        "{replies:?}"
    );

    let after = s
        .app_json(Method::GET, "/api/v1.0/user", None, Some(&second))
        .await;
    assert_eq!(
        after["data"]["user_id"], before["data"]["user_id"],
        "same user"
    );
    assert_eq!(after["data"]["mobile"], NEW_MOBILE);
    assert!(s.app_sign_in(NEW_MOBILE, "secret1").await.is_ok());
    assert!(s.app_sign_in(TEST_MOBILE, "secret1").await.is_err());
    // The old number is free again.
    assert_eq!(
        s.app_code(TEST_MOBILE, "register", None).await["errno"],
        "0"
    );
}

#[tokio::test]
async fn a_number_registered_meanwhile_cannot_be_moved_to() {
    let s = stack(Backend::MemorySqlite).await;
    let token = s.app_user(TEST_MOBILE).await;
    assert_eq!(
        s.app_code(NEW_MOBILE, "change_mobile", Some(&token)).await["errno"],
        "0"
    );
    // Someone registers the number meanwhile: their code replaced the change's (one live code
    // per number), so the change finds none. (Had both codes been live, the unique index would
    // have answered DATAEXIST: the use-case and directory contract tests race for it.)
    let thief = s.app_user(NEW_MOBILE).await;
    assert_eq!(s.whoami(&thief).await["errno"], "0");
    let change = json!({"mobile": NEW_MOBILE, "sms_code": NEW_CODE});
    let reply = s
        .app_json(
            Method::PUT,
            "/api/v1.0/user/mobile",
            Some(change),
            Some(&token),
        )
        .await;
    assert_eq!(reply["errno"], "4002", "{reply}");
    let profile = s
        .app_json(Method::GET, "/api/v1.0/user", None, Some(&token))
        .await;
    assert_eq!(profile["data"]["mobile"], TEST_MOBILE);
}

#[tokio::test]
async fn a_user_sees_and_ends_only_their_own_sessions() {
    let s = stack(Backend::RedisPostgres).await;
    s.browser_user(TEST_MOBILE).await;
    let phone = s.app_sign_in(TEST_MOBILE, "secret1").await.unwrap();
    let stranger = s.app_user(OTHER_MOBILE).await;

    let listed = s.app.get_json("/api/v1.0/user/sessions").await;
    let sessions = listed["data"]["sessions"].as_array().unwrap().clone();
    let kinds: Vec<_> = sessions
        .iter()
        .map(|x| x["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["cookie", "app"], "{listed}");
    assert_eq!(sessions[0]["current"], true);
    for field in ["id", "created_at", "last_used_at"] {
        assert!(sessions[1][field].is_string(), "{field}: {listed}");
    }
    let stranger_list = s
        .app_json(
            Method::GET,
            "/api/v1.0/user/sessions",
            None,
            Some(&stranger),
        )
        .await;
    let stranger_id = stranger_list["data"]["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let delete = |path: String| {
        s.app
            .client
            .delete(s.app.url(&path))
            .header("X-CSRFToken", s.app.csrf())
            .send()
    };
    let reply = errno_json(
        delete(format!("/api/v1.0/user/sessions/{stranger_id}"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply["errno"], "4002", "another user's session: {reply}");
    assert_eq!(s.whoami(&stranger).await["errno"], "0");
    let reply = errno_json(
        delete("/api/v1.0/user/sessions/not-an-id".into())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply["errno"], "4103", "{reply}");

    let phone_id = sessions[1]["id"].as_str().unwrap();
    let reply = errno_json(
        delete(format!("/api/v1.0/user/sessions/{phone_id}"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply["errno"], "0", "{reply}");
    assert!(is_signed_out(&s.whoami(&phone).await));
    assert_eq!(s.app.session().await["errno"], "0");

    // Sign out everywhere: this session too, and its cookie is cleared.
    let phone = s.app_sign_in(TEST_MOBILE, "secret1").await.unwrap();
    let res = delete("/api/v1.0/user/sessions".into()).await.unwrap();
    assert!(
        set_cookies(&res).iter().any(|c| c.starts_with("session=;")),
        "{:?}",
        set_cookies(&res)
    );
    assert_eq!(errno_json(res).await["errno"], "0");
    assert!(is_signed_out(&s.whoami(&phone).await));
    assert!(is_signed_out(&s.app.session().await));
    assert_eq!(
        s.whoami(&stranger).await["errno"],
        "0",
        "other users keep theirs"
    );
}
