//! Black-box: mobile apps and the account's life over HTTP (SPEC §5a) — app tokens and bearer
//! auth, codes with a purpose, SMS sign-in, password reset and change, change of number, a
//! user's sessions, and the CSRF rules for each kind of caller. The main flows run on the
//! embedded default and on Redis + PostgreSQL.

use api::configuration::SettingsFile;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

/// A second and third number with fixed codes (`testing.sms_codes`).
const OTHER_MOBILE: &str = "13900139000";
const OTHER_CODE: &str = "135790";
const NEW_MOBILE: &str = "13700137000";
const NEW_CODE: &str = "112233";

const SESSIONS: &str = "/api/v1.0/sessions";
const RESETS: &str = "/api/v1.0/password_resets";
const PASSWORD: &str = "/api/v1.0/user/password";
const MOBILE: &str = "/api/v1.0/user/mobile";

/// The service on `backend` with the numbers above and no send cooldown (flows here send
/// several codes to one number in a row; the cooldown has its tests), then `tweak`.
async fn service(backend: Backend, tweak: impl FnOnce(&mut SettingsFile)) -> Stack {
    stack(backend, |s| {
        for (m, c) in [(OTHER_MOBILE, OTHER_CODE), (NEW_MOBILE, NEW_CODE)] {
            s.testing.sms_codes.insert(m.into(), c.into());
        }
        s.limits.mobile_cooldown_secs = 0;
        tweak(s);
    })
    .await
}

fn code_of(mobile: &str) -> &'static str {
    match mobile {
        TEST_MOBILE => TEST_CODE,
        OTHER_MOBILE => OTHER_CODE,
        NEW_MOBILE => NEW_CODE,
        _ => panic!("no fixed code for {mobile}"),
    }
}

/// An app-like caller (`bare`: no cookies, no CSRF header, a bearer token if any) and a
/// browser-like one (`app.client`, with its cookie jar).
impl Stack {
    fn app_request(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let req = self
            .app
            .bare
            .request(method, self.app.url(path))
            .header("User-Agent", "yanzheng-test-app/1.0");
        match bearer {
            Some(token) => req.bearer_auth(token),
            None => req,
        }
    }

    /// An app's request, with what came beside the body (its cookies).
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        bearer: Option<&str>,
    ) -> Answer {
        let mut req = self.app_request(method, path, bearer);
        if let Some(body) = body {
            req = req.json(&body);
        }
        Answer::of(req.send().await.unwrap()).await
    }

    async fn app_json(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        bearer: Option<&str>,
    ) -> Value {
        self.call(method, path, body, bearer).await.body
    }

    /// An app's `POST path` without a bearer token.
    async fn app_post(&self, path: &str, body: Value) -> Value {
        self.app_json(Method::POST, path, Some(body), None).await
    }

    /// An app's `GET path` with `token`.
    async fn app_get(&self, path: &str, token: &str) -> Value {
        self.app_json(Method::GET, path, None, Some(token)).await
    }

    /// An app's `PUT path` with `token`.
    async fn app_put(&self, path: &str, body: Value, token: &str) -> Value {
        self.app_json(Method::PUT, path, Some(body), Some(token))
            .await
    }

    /// An app asks for a code for `mobile` and `purpose`, with a fresh captcha (the captcha's
    /// own cookie is ignored: the bare client keeps none).
    async fn app_code(&self, mobile: &str, purpose: &str, bearer: Option<&str>) -> Value {
        let id = uuid::Uuid::new_v4().to_string();
        let captcha = self
            .app_request(Method::GET, &format!("/api/v1.0/image_codes/{id}"), None)
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
            .app_post(
                "/api/v1.0/users",
                json!({"mobile": mobile, "sms_code": code_of(mobile),
                    "password": "secret1", "password2": "secret1", "client": "app"}),
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

    /// The browser signs in with a password.
    async fn browser_sign_in(&self, mobile: &str, password: &str) -> Value {
        self.app.visit().await;
        let body = json!({"mobile": mobile, "password": password});
        errno_json(self.app.post_json(SESSIONS, &body).await).await
    }

    /// An app signs in with a password; its token (or the reply, if it failed).
    async fn app_sign_in(&self, mobile: &str, password: &str) -> Result<String, Value> {
        let reply = self
            .app_post(
                SESSIONS,
                json!({"mobile": mobile, "password": password, "client": "app"}),
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
        self.app_get("/api/v1.0/session", token).await
    }
}

fn token_of(reply: &Value) -> String {
    reply["data"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token in {reply}"))
        .to_owned()
}

fn is_signed_out(reply: &Value) -> bool {
    *reply == json!({"errno": "4101", "errmsg": "false"})
}

async fn an_app_lives_on_its_token_alone(backend: Backend) {
    let s = service(backend, |_| {}).await;
    assert_eq!(
        s.app_code(TEST_MOBILE, "register", None).await["errno"],
        "0"
    );
    let r = s
        .call(
            Method::POST,
            "/api/v1.0/users",
            Some(json!({"mobile": TEST_MOBILE, "sms_code": TEST_CODE,
                "password": "secret1", "password2": "secret1", "client": "app"})),
            None,
        )
        .await;
    assert!(
        r.set_cookies.is_empty(),
        "an app gets no cookie: {:?}",
        r.set_cookies
    );
    assert_eq!(r.errno, "0", "{r:?}");
    assert_eq!(r.body["data"]["expires_in"], 2_592_000);
    let token = token_of(&r.body);
    assert_eq!(token.len(), 43, "256 bits as base64url");

    let who = s.whoami(&token).await;
    assert_eq!(
        (who["errno"].as_str(), who["errmsg"].as_str()),
        (Some("0"), Some("true"))
    );
    let profile = s.app_get("/api/v1.0/user", &token).await;
    assert_eq!(profile["data"]["mobile"], TEST_MOBILE);
    let listed = s.app_get("/api/v1.0/user/sessions", &token).await;
    let sessions = listed["data"]["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{listed}");
    assert_eq!(sessions[0]["kind"], "app");
    assert_eq!(sessions[0]["current"], true);
    assert_eq!(sessions[0]["user_agent"], "yanzheng-test-app/1.0");
    // Three uses within its first minute: a use is recorded (and the lifetime slides) at most
    // once a minute. That it does slide after a minute is the stores' contract and the use
    // cases' (a fake clock); over HTTP it would take a minute of waiting.
    assert_eq!(
        sessions[0]["last_used_at"], sessions[0]["created_at"],
        "{listed}"
    );
    assert!(
        !listed.to_string().contains(&token),
        "the list never shows a token"
    );

    // Sign-out with the bearer revokes it, and sets no cookie; the user's other sessions live on.
    let phone = s.app_sign_in(TEST_MOBILE, "secret1").await.unwrap();
    assert_eq!(
        s.browser_sign_in(TEST_MOBILE, "secret1").await["errno"],
        "0"
    );
    let r = s
        .call(Method::DELETE, "/api/v1.0/session", None, Some(&token))
        .await;
    assert!(r.set_cookies.is_empty(), "{r:?}");
    assert_eq!(r.errno, "0");
    assert!(is_signed_out(&s.whoami(&token).await));
    assert_eq!(
        s.whoami(&phone).await["errno"],
        "0",
        "another token of the user"
    );
    assert_eq!(
        s.app.session().await["errno"],
        "0",
        "the user's browser session"
    );
}

on_each_backend!(an_app_lives_on_its_token_alone);

#[tokio::test]
async fn bad_tokens_are_indistinguishable_on_every_route() {
    let s = service(Backend::MemorySqlite, |f| f.session.app_ttl_secs = 1).await;
    let revoked = s.app_user(TEST_MOBILE).await;
    s.call(Method::DELETE, "/api/v1.0/session", None, Some(&revoked))
        .await;
    let expired = s.app_sign_in(TEST_MOBILE, "secret1").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let unknown = "A".repeat(43);
    let change_code = json!({"mobile": NEW_MOBILE, "image_code": CAPTCHA,
        "image_code_id": uuid::Uuid::new_v4().to_string(), "purpose": "change_mobile"});
    let routes: [(Method, &str, Option<Value>); 8] = [
        (Method::GET, "/api/v1.0/session", None),
        (Method::GET, "/api/v1.0/user", None),
        (Method::GET, "/api/v1.0/user/sessions", None),
        (Method::DELETE, "/api/v1.0/user/sessions", None),
        (
            Method::DELETE,
            "/api/v1.0/user/sessions/0123456789abcdef0123456789abcdef",
            None,
        ),
        (Method::POST, "/api/v1.0/sms_codes", Some(change_code)),
        (
            Method::PUT,
            PASSWORD,
            Some(json!({"old_password": "secret1", "password": "secret2", "password2": "secret2"})),
        ),
        (
            Method::PUT,
            MOBILE,
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
async fn app_tokens_are_capped_with_the_cookies() {
    let s = service(Backend::RedisPostgres, |f| f.session.max_per_user = 2).await;
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
    let s = service(Backend::MemorySqlite, |_| {}).await;
    s.browser_user(TEST_MOBILE).await;
    let token = s.app_sign_in(TEST_MOBILE, "secret1").await.unwrap();
    let no_token = api::web::csrf::NO_TOKEN;

    // A browser (session cookie) is always checked, whatever its body says.
    let reply = errno_json(
        s.app
            .client
            .post(s.app.url(SESSIONS))
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
            .with_csrf(method.clone(), "/api/v1.0/session")
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

    // A bearer does not let a cross-site request through: refused before the token is read.
    let res = s
        .app_request(Method::DELETE, "/api/v1.0/session", Some(&token))
        .header("Sec-Fetch-Site", "cross-site")
        .send()
        .await
        .unwrap();
    let r = Answer::of(res).await;
    assert_eq!(
        (r.errno.as_str(), r.errmsg.as_str()),
        ("4201", api::web::csrf::CROSS_SITE),
        "{r:?}"
    );
    assert_eq!(
        s.whoami(&token).await["errno"],
        "0",
        "the cross-site sign-out ended nothing"
    );

    // No cookie: a bearer or `"client": "app"` needs no header, and gets no cookie.
    let r = s
        .call(
            Method::PUT,
            PASSWORD,
            Some(json!({"old_password": "secret1", "password": "secret2", "password2": "secret2"})),
            Some(&token),
        )
        .await;
    assert!(r.set_cookies.is_empty(), "{r:?}");
    assert_eq!(r.errno, "0", "{r:?}");
    let r = s
        .call(
            Method::POST,
            SESSIONS,
            Some(json!({"mobile": TEST_MOBILE, "password": "secret2", "client": "app"})),
            None,
        )
        .await;
    assert!(r.set_cookies.is_empty(), "{r:?}");
    assert_eq!(r.errno, "0", "{r:?}");

    // A request let through for its bearer is an app's to the end: a token, never a cookie
    // (even if the bearer is no live token); `client: web` contradicts it, and a `client`
    // other than app or web is PARAMERR.
    let r = s
        .call(
            Method::POST,
            SESSIONS,
            Some(json!({"mobile": TEST_MOBILE, "password": "secret2"})),
            Some("not-a-live-token"),
        )
        .await;
    assert!(r.set_cookies.is_empty(), "{r:?}");
    assert!(r.body["data"]["token"].is_string(), "{r:?}");
    for (client, errmsg) in [
        ("web", api::routes::BEARER_IS_AN_APPS),
        ("ios", "client必须是app或web"),
    ] {
        let reply = s
            .app_json(
                Method::POST,
                SESSIONS,
                Some(json!({"mobile": TEST_MOBILE, "password": "secret2", "client": client})),
                Some(&token),
            )
            .await;
        assert_eq!(
            (reply["errno"].as_str(), reply["errmsg"].as_str()),
            (Some("4103"), Some(errmsg)),
            "client {client}: {reply}"
        );
    }
    // The news site's registration honours `client` too.
    assert_eq!(
        s.app_code(OTHER_MOBILE, "register", None).await["errno"],
        "0"
    );
    let r = s
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
    assert!(r.set_cookies.is_empty(), "{r:?}");
    assert!(r.body["data"]["token"].is_string(), "{r:?}");
    // A signed-in browser that also sends a bearer to sign in again: PARAMERR.
    let res = s
        .app
        .with_csrf(Method::POST, SESSIONS)
        .bearer_auth(&token)
        .json(&json!({"mobile": TEST_MOBILE, "password": "secret2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(errno_json(res).await["errno"], "4103");

    // No cookie and neither: the double submit applies.
    let reply = s
        .app_post(
            SESSIONS,
            json!({"mobile": TEST_MOBILE, "password": "secret2"}),
        )
        .await;
    assert_eq!(reply["errmsg"], no_token, "{reply}");
}

#[tokio::test]
async fn codes_work_only_for_their_purpose() {
    let s = service(Backend::RedisPostgres, |_| {}).await;
    let token = s.app_user(TEST_MOBILE).await;
    // TEST_MOBILE's code digits are fixed, so only the purpose differs below.
    assert_eq!(s.app_code(TEST_MOBILE, "login", None).await["errno"], "0");
    let reset = json!({"mobile": TEST_MOBILE, "sms_code": TEST_CODE, "password": "secret2",
        "password2": "secret2", "client": "app"});
    let reply = s.app_post(RESETS, reset).await;
    assert_eq!(
        reply["errno"], "4004",
        "a login code does not reset: {reply}"
    );
    let by_code = json!({"mobile": TEST_MOBILE, "sms_code": TEST_CODE, "client": "app"});
    let reply = s.app_post(SESSIONS, by_code).await;
    assert_eq!(reply["errno"], "0", "but it signs in: {reply}");

    // A change-of-number code for a free number does not register it.
    assert_eq!(
        s.app_code(NEW_MOBILE, "change_mobile", Some(&token)).await["errno"],
        "0"
    );
    let register = json!({"mobile": NEW_MOBILE, "sms_code": NEW_CODE, "password": "secret1",
        "password2": "secret1", "client": "app"});
    let reply = s.app_post("/api/v1.0/users", register).await;
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
        let reply = s.app_post("/api/v1.0/sms_codes", body).await;
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
    let s = service(Backend::MemorySqlite, |_| {}).await;
    let token = s.app_user(TEST_MOBILE).await;
    let id = uuid::Uuid::new_v4().to_string();
    s.app.captcha(&id).await;
    let body = json!({"mobile": NEW_MOBILE, "image_code": CAPTCHA, "image_code_id": id,
        "purpose": "change_mobile", "client": "app"});
    let reply = s.app_post("/api/v1.0/sms_codes", body.clone()).await;
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

    // The GET form alike; the code it sends moves the caller.
    let id = uuid::Uuid::new_v4().to_string();
    s.app.captcha(&id).await;
    let get = format!(
        "/api/v1.0/sms_codes/{NEW_MOBILE}?image_code={CAPTCHA}&image_code_id={id}&purpose=change_mobile"
    );
    let reply = s.app_json(Method::GET, &get, None, None).await;
    assert!(is_signed_out(&reply), "GET form: {reply}");
    let reply = s.app_get(&get, &token).await;
    assert_eq!(reply["errno"], "0", "GET form: {reply}");
    let reply = s
        .app_put(
            MOBILE,
            json!({"mobile": NEW_MOBILE, "sms_code": NEW_CODE}),
            &token,
        )
        .await;
    assert_eq!(reply["errno"], "0", "{reply}");
    assert_eq!(
        s.app_get("/api/v1.0/user", &token).await["data"]["mobile"],
        NEW_MOBILE
    );
}

#[tokio::test]
async fn the_silent_policy_answers_every_purpose_alike() {
    let s = service(Backend::MemorySqlite, |f| {
        f.security.registered_mobile = "silent".into();
        // Every guess below comes from one client: keep the lockouts out of the way.
        f.limits.login_failures_per_ip = 100;
        f.limits.login_failures_per_mobile = 100;
    })
    .await;
    let token = s.app_user(TEST_MOBILE).await;
    s.app_user(OTHER_MOBILE).await;
    // Where each purpose's code is used, with a guess.
    let sign_in = |m: &str, guess: &str| json!({"mobile": m, "sms_code": guess, "client": "app"});
    let with_password = |m: &str, guess: &str| {
        json!({"mobile": m, "sms_code": guess, "password": "secret9", "password2": "secret9",
            "client": "app"})
    };
    let move_to = |m: &str, guess: &str| json!({"mobile": m, "sms_code": guess});
    type Body<'a> = &'a dyn Fn(&str, &str) -> Value;
    // (purpose, a number of the kind it needs, one of the other kind, where its code goes)
    let cases: [(&str, &str, &str, Method, &str, Body); 4] = [
        (
            "login",
            TEST_MOBILE,
            NEW_MOBILE,
            Method::POST,
            SESSIONS,
            &sign_in,
        ),
        (
            "reset",
            TEST_MOBILE,
            NEW_MOBILE,
            Method::POST,
            RESETS,
            &with_password,
        ),
        (
            "register",
            NEW_MOBILE,
            OTHER_MOBILE,
            Method::POST,
            "/api/v1.0/users",
            &with_password,
        ),
        (
            "change_mobile",
            NEW_MOBILE,
            OTHER_MOBILE,
            Method::PUT,
            MOBILE,
            &move_to,
        ),
    ];
    for (purpose, right, wrong, method, path, body) in cases {
        let bearer = (purpose == "change_mobile").then_some(token.as_str());
        let mut seen = Vec::new();
        for mobile in [right, wrong] {
            let mut replies = vec![s.app_code(mobile, purpose, bearer).await];
            for guess in ["000001", "000002", "000003", "000004", "000005", "000006"] {
                let guess = body(mobile, guess);
                replies.push(s.app_json(method.clone(), path, Some(guess), bearer).await);
            }
            seen.push(replies);
        }
        assert_eq!(seen[0], seen[1], "{purpose}");
        assert_eq!(seen[0][0]["errno"], "0", "{purpose}: sent: {:?}", seen[0]);
        assert_eq!(
            seen[0][1]["errno"], "4004",
            "{purpose}: DATAERR: {:?}",
            seen[0]
        );
        assert_eq!(
            seen[0].last().unwrap()["errno"],
            "4002",
            "{purpose}: burned after five: {:?}",
            seen[0]
        );
    }
}

#[tokio::test]
async fn sms_sign_in_signs_in_a_browser_and_counts_toward_the_lockout() {
    let s = service(Backend::RedisPostgres, |_| {}).await;
    s.app_user(TEST_MOBILE).await;
    assert_eq!(s.browser_code(TEST_MOBILE, "login").await["errno"], "0");
    let by_code = json!({"mobile": TEST_MOBILE, "sms_code": TEST_CODE});
    let reply = errno_json(s.app.post_json(SESSIONS, &by_code).await).await;
    assert_eq!(reply["errno"], "0", "{reply}");
    assert_eq!(s.app.session().await["errmsg"], "true");
    assert!(
        reply["data"]["token"].is_null(),
        "a browser gets the cookie, not a token"
    );
    // Used: once only.
    let reply = errno_json(s.app.post_json(SESSIONS, &by_code).await).await;
    assert_eq!(reply["errno"], "4002", "{reply}");

    // Both or neither of password and code: PARAMERR.
    for body in [
        json!({"mobile": TEST_MOBILE, "client": "app"}),
        json!({"mobile": TEST_MOBILE, "password": "secret1", "sms_code": TEST_CODE, "client": "app"}),
    ] {
        let reply = s.app_post(SESSIONS, body).await;
        assert_eq!(reply["errno"], "4103", "{reply}");
    }

    // Wrong codes are failed sign-ins: the client is locked out after five — the used code
    // above was the first; the success before it was given back.
    assert_eq!(s.app_code(TEST_MOBILE, "login", None).await["errno"], "0");
    for _ in 0..3 {
        let body = json!({"mobile": TEST_MOBILE, "sms_code": "000000", "client": "app"});
        let reply = s.app_post(SESSIONS, body).await;
        assert_eq!(reply["errno"], "4004", "{reply}");
    }
    let reply = s
        .app_post(
            SESSIONS,
            json!({"mobile": TEST_MOBILE, "password": "wrong-one", "client": "app"}),
        )
        .await;
    assert_eq!(reply["errno"], "4004", "{reply}");
    let body = json!({"mobile": TEST_MOBILE, "sms_code": TEST_CODE, "client": "app"});
    let reply = s.app_post(SESSIONS, body).await;
    assert_eq!(
        reply["errno"], "4202",
        "the sixth attempt is locked out: {reply}"
    );
}

async fn a_reset_ends_every_session(backend: Backend) {
    let s = service(backend, |_| {}).await;
    let app_token = s.app_user(TEST_MOBILE).await;
    assert_eq!(
        s.browser_sign_in(TEST_MOBILE, "secret1").await["errno"],
        "0"
    );

    let reply = s.app_code(TEST_MOBILE, "reset", None).await;
    assert_eq!(reply["errno"], "0", "{reply}");
    let reset = json!({"mobile": TEST_MOBILE, "sms_code": TEST_CODE, "password": "brand-new",
        "password2": "brand-new", "client": "app"});
    let reply = s.app_post(RESETS, reset.clone()).await;
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
    let reply = s.app_post(RESETS, reset).await;
    assert_eq!(reply["errno"], "4002", "{reply}");
}

on_each_backend!(a_reset_ends_every_session);

/// SPEC §5a / issue 12: a database failure mid-reset (the code already taken) leaves the old
/// password valid and the code unconsumed.
#[tokio::test]
async fn a_reset_that_fails_on_a_stalled_database_keeps_the_old_password_and_the_code() {
    let s = service(Backend::RedisPostgres, |f| {
        f.database.query_timeout_ms = 1000
    })
    .await;
    let token = s.app_user(TEST_MOBILE).await;
    assert_eq!(s.app_code(TEST_MOBILE, "reset", None).await["errno"], "0");
    let reset = json!({"mobile": TEST_MOBILE, "sms_code": TEST_CODE, "password": "brand-new",
        "password2": "brand-new", "client": "app"});
    let stall = s.db.as_ref().unwrap().stall_users().await;
    let reply = s.app_post(RESETS, reset.clone()).await;
    assert_eq!(reply["errno"], "4001", "{reply}");
    stall.release().await;

    assert_eq!(s.whoami(&token).await["errno"], "0", "no session ended");
    assert!(
        s.app_sign_in(TEST_MOBILE, "brand-new").await.is_err(),
        "the new password was not set"
    );
    assert!(
        s.app_sign_in(TEST_MOBILE, "secret1").await.is_ok(),
        "the old password still signs in"
    );
    let reply = s.app_post(RESETS, reset).await;
    assert_eq!(
        reply["errno"], "0",
        "the same code resets once the database is back: {reply}"
    );
    assert!(is_signed_out(&s.whoami(&token).await));
}

#[tokio::test]
async fn changing_the_password_checks_the_old_one_and_ends_the_other_sessions() {
    let s = service(Backend::RedisPostgres, |_| {}).await;
    s.browser_user(TEST_MOBILE).await;
    let phone = s.app_sign_in(TEST_MOBILE, "secret1").await.unwrap();
    let change =
        |old: &str| json!({"old_password": old, "password": "brand-new", "password2": "brand-new"});
    let app = &s.app;
    let put = |body: Value| async move { app.send_json(Method::PUT, PASSWORD, Some(&body)).await };
    let reply = put(change("not-it")).await;
    assert_eq!(
        (reply["errno"].as_str(), reply["errmsg"].as_str()),
        (Some("4106"), Some("原密码错误"))
    );
    let mismatch =
        json!({"old_password": "secret1", "password": "brand-new", "password2": "brand-old"});
    assert_eq!(put(mismatch).await["errno"], "4103");
    let reply = put(change("secret1")).await;
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
    let s = service(Backend::MemorySqlite, |_| {}).await;
    let token = s.app_user(TEST_MOBILE).await;
    let change =
        |old: &str| json!({"old_password": old, "password": "brand-new", "password2": "brand-new"});
    for _ in 0..5 {
        let reply = s.app_put(PASSWORD, change("not-it"), &token).await;
        assert_eq!(reply["errno"], "4106", "{reply}");
    }
    let reply = s.app_put(PASSWORD, change("secret1"), &token).await;
    assert_eq!(reply["errno"], "4202", "{reply}");
}

#[tokio::test]
async fn changing_the_number_keeps_the_user_and_their_sessions() {
    let s = service(Backend::RedisPostgres, |_| {}).await;
    let token = s.app_user(TEST_MOBILE).await;
    let before = s.app_get("/api/v1.0/user", &token).await;
    let second = s.app_sign_in(TEST_MOBILE, "secret1").await.unwrap();
    assert_eq!(
        s.app_code(NEW_MOBILE, "change_mobile", Some(&token)).await["errno"],
        "0"
    );
    let change = json!({"mobile": NEW_MOBILE, "sms_code": NEW_CODE});
    // Many at once with the one code: it is consumed once, so exactly one moves the user.
    let racers: Vec<_> = (0..8)
        .map(|_| s.app_put(MOBILE, change.clone(), &token))
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

    let after = s.app_get("/api/v1.0/user", &second).await;
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

/// The unique index decides: the number was taken after the code was sent (a row written by
/// another replica, say) — DATAEXIST, and the user keeps their number.
#[tokio::test]
async fn a_number_taken_meanwhile_cannot_be_moved_to() {
    let s = service(Backend::RedisPostgres, |_| {}).await;
    let token = s.app_user(TEST_MOBILE).await;
    assert_eq!(
        s.app_code(NEW_MOBILE, "change_mobile", Some(&token)).await["errno"],
        "0"
    );
    let users = diesel_users::DieselUsers::connect(
        &s.db.as_ref().unwrap().url.parse().unwrap(),
        &diesel_users::DbOptions::default(),
    )
    .await
    .unwrap();
    let taken = domain::NewUser {
        mobile: domain::Mobile::parse(NEW_MOBILE).unwrap(),
        password_hash: domain::PasswordHash("not-a-hash".into()),
    };
    ports::UserDirectory::create(&users, taken).await.unwrap();

    let change = json!({"mobile": NEW_MOBILE, "sms_code": NEW_CODE});
    let reply = s.app_put(MOBILE, change, &token).await;
    assert_eq!(
        (reply["errno"].as_str(), reply["errmsg"].as_str()),
        (Some("4003"), Some("该手机号已注册")),
        "{reply}"
    );
    // And the code is used: the same PUT again finds none.
    let change = json!({"mobile": NEW_MOBILE, "sms_code": NEW_CODE});
    let reply = s.app_put(MOBILE, change, &token).await;
    assert_eq!(reply["errno"], "4002", "the code is used: {reply}");
    let profile = s.app_get("/api/v1.0/user", &token).await;
    assert_eq!(profile["data"]["mobile"], TEST_MOBILE);
}

#[tokio::test]
async fn a_registration_meanwhile_replaces_the_change_of_number_code() {
    let s = service(Backend::MemorySqlite, |_| {}).await;
    let token = s.app_user(TEST_MOBILE).await;
    assert_eq!(
        s.app_code(NEW_MOBILE, "change_mobile", Some(&token)).await["errno"],
        "0"
    );
    // Someone registers the number meanwhile: their code replaced the change's (one live code
    // per number), so the change finds none.
    let thief = s.app_user(NEW_MOBILE).await;
    assert_eq!(s.whoami(&thief).await["errno"], "0");
    let change = json!({"mobile": NEW_MOBILE, "sms_code": NEW_CODE});
    let reply = s.app_put(MOBILE, change, &token).await;
    assert_eq!(reply["errno"], "4002", "{reply}");
    let profile = s.app_get("/api/v1.0/user", &token).await;
    assert_eq!(profile["data"]["mobile"], TEST_MOBILE);
}

#[tokio::test]
async fn a_user_sees_and_ends_only_their_own_sessions() {
    let s = service(Backend::RedisPostgres, |_| {}).await;
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
    let stranger_list = s.app_get("/api/v1.0/user/sessions", &stranger).await;
    let stranger_id = stranger_list["data"]["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let app = &s.app;
    let delete = |path: String| async move { app.send_json(Method::DELETE, &path, None).await };
    let reply = delete(format!("/api/v1.0/user/sessions/{stranger_id}")).await;
    assert_eq!(reply["errno"], "4002", "another user's session: {reply}");
    assert_eq!(s.whoami(&stranger).await["errno"], "0");
    let reply = delete("/api/v1.0/user/sessions/not-an-id".into()).await;
    assert_eq!(reply["errno"], "4103", "{reply}");

    let phone_id = sessions[1]["id"].as_str().unwrap();
    let reply = delete(format!("/api/v1.0/user/sessions/{phone_id}")).await;
    assert_eq!(reply["errno"], "0", "{reply}");
    assert!(is_signed_out(&s.whoami(&phone).await));
    assert_eq!(s.app.session().await["errno"], "0");

    // The caller's own session, by its id: it ends, and the browser's cookie is cleared.
    let own_id = sessions[0]["id"].as_str().unwrap();
    let own_cookie = s.app.cookie("session").unwrap();
    let res = s
        .app
        .with_csrf(Method::DELETE, &format!("/api/v1.0/user/sessions/{own_id}"))
        .send()
        .await
        .unwrap();
    let r = Answer::of(res).await;
    assert_eq!(r.errno, "0", "{r:?}");
    assert!(
        r.set_cookies.iter().any(|c| c.starts_with("session=;")),
        "{:?}",
        r.set_cookies
    );
    assert!(is_signed_out(&s.app.session().await));
    let replayed = s
        .app
        .bare
        .get(s.app.url("/api/v1.0/session"))
        .header("Cookie", format!("session={own_cookie}"))
        .send()
        .await
        .unwrap();
    assert!(
        is_signed_out(&errno_json(replayed).await),
        "the session itself ended, not only the cookie"
    );
    assert_eq!(
        s.browser_sign_in(TEST_MOBILE, "secret1").await["errno"],
        "0"
    );
    let listed = s.app.get_json("/api/v1.0/user/sessions").await;
    let ids: Vec<_> = listed["data"]["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert!(!ids.contains(&own_id), "{listed}");

    // Sign out everywhere: this session too, and its cookie is cleared.
    let phone = s.app_sign_in(TEST_MOBILE, "secret1").await.unwrap();
    let res = s
        .app
        .with_csrf(Method::DELETE, "/api/v1.0/user/sessions")
        .send()
        .await
        .unwrap();
    let r = Answer::of(res).await;
    assert!(
        r.set_cookies.iter().any(|c| c.starts_with("session=;")),
        "{:?}",
        r.set_cookies
    );
    assert_eq!(r.errno, "0");
    assert!(is_signed_out(&s.whoami(&phone).await));
    assert!(is_signed_out(&s.app.session().await));
    assert_eq!(
        s.whoami(&stranger).await["errno"],
        "0",
        "other users keep theirs"
    );
}

/// Issue 12: every new body is validated like the old ones — PARAMERR, never a 500 (the
/// errno envelope asserts HTTP 200): missing fields, wrong types, bad values, not JSON.
#[tokio::test]
async fn every_new_body_is_checked() {
    let s = service(Backend::MemorySqlite, |_| {}).await;
    let token = s.app_user(TEST_MOBILE).await;
    let m = TEST_MOBILE;
    let cases: [(Method, &str, Value); 24] = [
        (
            Method::POST,
            SESSIONS,
            json!({"mobile": m, "sms_code": 246810}),
        ),
        (
            Method::POST,
            SESSIONS,
            json!({"mobile": m, "sms_code": "24681"}),
        ),
        (
            Method::POST,
            SESSIONS,
            json!({"mobile": 13800138000_u64, "sms_code": TEST_CODE}),
        ),
        (Method::POST, SESSIONS, json!({"sms_code": TEST_CODE})),
        (
            Method::POST,
            SESSIONS,
            json!({"mobile": m, "password": "secret1", "client": 1}),
        ),
        (
            Method::POST,
            RESETS,
            json!({"mobile": m, "sms_code": TEST_CODE, "password": "secret2"}),
        ),
        (
            Method::POST,
            RESETS,
            json!({"mobile": m, "sms_code": TEST_CODE, "password": "12345", "password2": "12345"}),
        ),
        (
            Method::POST,
            RESETS,
            json!({"mobile": m, "sms_code": TEST_CODE, "password": "secret2", "password2": "secret3"}),
        ),
        (
            Method::POST,
            RESETS,
            json!({"mobile": "1380013800", "sms_code": TEST_CODE, "password": "secret2", "password2": "secret2"}),
        ),
        (
            Method::POST,
            RESETS,
            json!({"mobile": m, "sms_code": 246810, "password": "secret2", "password2": "secret2"}),
        ),
        (
            Method::POST,
            RESETS,
            json!({"mobile": m, "sms_code": TEST_CODE, "password": "secret2", "password2": "secret2", "client": "ios"}),
        ),
        (Method::POST, RESETS, json!(null)),
        (
            Method::PUT,
            PASSWORD,
            json!({"password": "secret2", "password2": "secret2"}),
        ),
        (
            Method::PUT,
            PASSWORD,
            json!({"old_password": 123456, "password": "secret2", "password2": "secret2"}),
        ),
        (
            Method::PUT,
            PASSWORD,
            json!({"old_password": "", "password": "secret2", "password2": "secret2"}),
        ),
        (
            Method::PUT,
            PASSWORD,
            json!({"old_password": "secret1", "password": "12345", "password2": "12345"}),
        ),
        (
            Method::PUT,
            PASSWORD,
            json!({"old_password": "secret1", "password": "secret2", "password2": "secret3"}),
        ),
        (
            Method::PUT,
            PASSWORD,
            json!(["secret1", "secret2", "secret2"]),
        ),
        (Method::PUT, MOBILE, json!({"mobile": NEW_MOBILE})),
        (
            Method::PUT,
            MOBILE,
            json!({"mobile": "2370013700", "sms_code": NEW_CODE}),
        ),
        (
            Method::PUT,
            MOBILE,
            json!({"mobile": NEW_MOBILE, "sms_code": "12a456"}),
        ),
        (
            Method::PUT,
            MOBILE,
            json!({"mobile": NEW_MOBILE, "sms_code": 112233}),
        ),
        (
            Method::POST,
            "/api/v1.0/users",
            json!({"mobile": m, "sms_code": TEST_CODE, "password": "secret1", "password2": "secret1", "client": "ios"}),
        ),
        (
            Method::POST,
            "/api/v1.0/sms_codes",
            json!({"mobile": m, "image_code": CAPTCHA, "image_code_id": "x", "purpose": ["login"]}),
        ),
    ];
    for (method, path, body) in cases {
        let reply = s
            .app_json(method.clone(), path, Some(body.clone()), Some(&token))
            .await;
        assert_eq!(reply["errno"], "4103", "{method} {path} {body}: {reply}");
    }
    for (method, path) in [
        (Method::POST, SESSIONS),
        (Method::POST, RESETS),
        (Method::PUT, PASSWORD),
        (Method::PUT, MOBILE),
    ] {
        let res = s
            .app_request(method.clone(), path, Some(&token))
            .header("Content-Type", "application/json")
            .body(r#"{"mobile": "13800138000", "#)
            .send()
            .await
            .unwrap();
        let reply = errno_json(res).await;
        assert_eq!(reply["errno"], "4103", "{method} {path}, not JSON: {reply}");
    }
    // Nothing above changed anything.
    assert_eq!(s.whoami(&token).await["errno"], "0");
    assert!(s.app_sign_in(TEST_MOBILE, "secret1").await.is_ok());
}
