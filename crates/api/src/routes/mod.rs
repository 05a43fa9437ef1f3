//! HTTP ↔ use cases. The route table below ([`table`]) says, for every route, which handler
//! answers it and how it is protected: the CSRF token ([`csrf::post`] / [`csrf::delete`]), or at
//! least never from another site ([`csrf::exempt_post`], [`csrf::action_get`]), or nothing to
//! protect ([`get`]). A handler turns the request into domain values (PARAMERR otherwise),
//! calls one use case and returns its [`Answer`](crate::reply::Answer); `?` turns every
//! use-case error into its errno reply. Each handler documents its route with
//! `#[utoipa::path]` (see [`crate::openapi`]); a route that shares a use case with another
//! has its own one-line handler, so that every route has its own description.

pub mod account;
pub mod captcha;
pub mod docs;
pub mod lifecycle;
pub mod ops;
pub mod pages;
pub mod passport;
pub mod sessions;
pub mod sms;

use actix_web::{web, HttpRequest};
use app::codes::CodeAndPassword;
use app::sessions::{Caller, Device, SignedIn};
use app::App;
use domain::{Mobile, Password, Session, SessionKind, SessionToken, SmsCode, User};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::adapters::Production;
use crate::reply::Reply;
use crate::web::table::{get, Table};
use crate::web::{csrf, session, ClientIp, SessionCookie};

/// What every handler can reach.
pub struct State {
    pub app: App<Production>,
    pub client_ip: ClientIp,
    pub session_cookie: SessionCookie,
    /// Probes, metrics and the shutdown flag.
    pub ops: ops::Ops,
}

impl State {
    /// OK with the user's name and id, and the new session: a browser's as its cookie, an
    /// app's as `data.token` with `data.expires_in` (seconds from its last use).
    pub fn signed_in(&self, signed_in: SignedIn, errmsg: &str) -> Reply {
        let mut data = user_data(&signed_in.user);
        let reply = Reply::ok(errmsg);
        match signed_in.kind {
            SessionKind::Cookie => reply.with_data(data).with_cookie(
                self.session_cookie
                    .set(&signed_in.token, signed_in.lifetime),
            ),
            SessionKind::App => {
                data["token"] = json!(signed_in.token.expose());
                data["expires_in"] = json!(signed_in.lifetime.as_secs());
                reply.with_data(data)
            }
        }
    }

    /// `reply` to a request whose own session ended: a browser's cookie is cleared (an app,
    /// which came by bearer, has none to clear).
    pub fn session_ended(&self, req: &HttpRequest, reply: Reply) -> Reply {
        if session::bearer(req.headers()).is_some() {
            reply
        } else {
            reply.with_cookie(self.session_cookie.clear())
        }
    }

    /// The request's live session, by session cookie or bearer token; `None` without a
    /// credential or with one that names no live session. The store alone: for a route that
    /// needs only who is asking.
    pub async fn maybe_session(&self, req: &HttpRequest) -> Result<Option<Session>, Reply> {
        match token(req)? {
            Some(token) => Ok(self.app.session(&token).await?),
            None => Ok(None),
        }
    }

    /// The request's live session, or SESSIONERR "false".
    pub async fn session(&self, req: &HttpRequest) -> Result<Session, Reply> {
        self.maybe_session(req)
            .await?
            .ok_or_else(Reply::not_signed_in)
    }

    /// The request's signed-in caller with their user row, or SESSIONERR "false".
    pub async fn caller(&self, req: &HttpRequest) -> Result<Caller, Reply> {
        let caller = match token(req)? {
            Some(token) => self.app.caller(&token).await?,
            None => None,
        };
        caller.ok_or_else(Reply::not_signed_in)
    }
}

/// The token the request presents, if a well-formed one.
fn token(req: &HttpRequest) -> Result<Option<SessionToken>, Reply> {
    Ok(session::credential(req)?.and_then(|c| c.token))
}

/// The user as replies show them: `{"name", "user_id"}`.
pub fn user_data(user: &User) -> Value {
    json!({ "name": user.name(), "user_id": user.id.0 })
}

/// The client a sign-in is for. A request with a bearer token is an app's (it was let through
/// without the double submit, so it must not be given a cookie); otherwise the body's `client`
/// says: absent or `web` → a browser (the session cookie), `app` → an app (a bearer token in
/// the reply). A session cookie and a bearer together are PARAMERR, as everywhere.
pub fn device(req: &HttpRequest, client: Option<&str>) -> Result<Device, Reply> {
    let by_bearer = session::credential(req)?.is_some_and(|c| c.via == SessionKind::App);
    let kind = match (client, by_bearer) {
        (Some("app"), _) | (None, true) => SessionKind::App,
        (None | Some("web"), false) => SessionKind::Cookie,
        (Some("web"), true) => return Err(Reply::param(BEARER_IS_AN_APPS)),
        (Some(_), _) => return Err(Reply::param("client必须是app或web")),
    };
    Ok(session::device_of(req, kind))
}

pub const BEARER_IS_AN_APPS: &str = "带Bearer令牌的请求只能是app客户端";

/// Every route of the service as data: method, full path, protection and handler. `startup`
/// registers exactly these, and the OpenAPI document is compared with them (`tests/api/
/// openapi.rs`). Not here: the pages ([`pages`]: our demo page, or with `web.static_dir` a front
/// end's `/`, `/{name}.html` and `/static/…`), which are a front end's files, not the API.
pub fn table() -> Table {
    let mut table = Table::default();
    api_v1(&mut table);
    passport(&mut table);
    ops(&mut table);
    table
}

/// `/api/v1.0/…` (SPEC §2).
fn api_v1(table: &mut Table) {
    table
        .scope("/api/v1.0")
        .route("/image_codes/{image_code_id}", get(captcha::image_code))
        .route("/sms_codes", csrf::exempt_post(sms::send_json))
        .route("/sms_codes/{mobile}", csrf::action_get(sms::send_query))
        .route("/users", csrf::post(account::register))
        .route("/sessions", csrf::post(account::sign_in))
        // Some iHome copies sign out with DELETE on the plural path.
        .route("/sessions", csrf::delete(account::sign_out_plural))
        .route("/session", get(account::session))
        .route("/session", csrf::delete(account::sign_out))
        .route("/user", get(account::profile))
        // The account's life (SPEC §5a).
        .route("/password_resets", csrf::post(lifecycle::reset_password))
        .route("/user/password", csrf::put(lifecycle::change_password))
        .route("/user/mobile", csrf::put(lifecycle::change_mobile))
        .route("/user/sessions", get(sessions::list))
        .route("/user/sessions", csrf::delete(sessions::end_all))
        .route("/user/sessions/{id}", csrf::delete(sessions::end_one));
}

/// `/passport/…`: the news site's paths and field names (SPEC §7), same use cases.
fn passport(table: &mut Table) {
    table
        .scope("/passport")
        .route("/image_code", get(passport::image_code))
        .route("/sms_code", csrf::exempt_post(passport::sms_code))
        .route("/smscode", csrf::exempt_post(passport::smscode))
        .route("/register", csrf::post(passport::register))
        .route("/login", csrf::post(passport::login))
        // The news front end signs out with a plain link; as in the Flask original, the
        // GET form carries no token (but is refused from another site).
        .route("/logout", csrf::action_get(passport::logout_link))
        .route("/logout", csrf::post(passport::logout));
}

/// Probes, metrics, and this API's own description.
fn ops(table: &mut Table) {
    table
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/api/openapi.json", get(docs::openapi_json))
        .route("/api/docs", get(docs::swagger_ui))
        .route("/api/docs/{file:.*}", get(docs::swagger_file));
}

/// A JSON body as the DTO `T`: not an object, a missing field or a wrong type is PARAMERR.
/// (Malformed JSON, a wrong content type and oversized bodies are answered by the `JsonConfig`
/// error handler in `startup` before a handler runs.)
pub fn dto<T: DeserializeOwned>(body: web::Json<Value>) -> Result<T, Reply> {
    let body = body.into_inner();
    if !body.is_object() {
        return Err(Reply::param("请求体必须是JSON对象"));
    }
    serde_json::from_value(body).map_err(|_| Reply::param("参数不完整或类型错误"))
}

/// A required, non-empty string field.
pub fn non_empty<'a>(value: &'a str, what: &str) -> Result<&'a str, Reply> {
    if value.is_empty() {
        Err(Reply::param(format!("{what}不能为空")))
    } else {
        Ok(value)
    }
}

/// The body's `mobile`: PARAMERR if empty or not a mainland number.
pub fn mobile(raw: &str) -> Result<Mobile, Reply> {
    Mobile::parse(non_empty(raw, "手机号")?).map_err(|_| Reply::param("手机号格式错误"))
}

/// The body's `sms_code`: PARAMERR if empty or not 6 digits.
pub fn sms_code(raw: &str) -> Result<SmsCode, Reply> {
    SmsCode::parse(non_empty(raw, "短信验证码")?).map_err(|_| Reply::param("短信验证码格式错误"))
}

/// A password offered to prove who one is (`what`: 密码, 原密码): PARAMERR if empty or over
/// 1024 bytes.
pub fn candidate_password(raw: &str, what: &str) -> Result<Password, Reply> {
    Password::candidate(non_empty(raw, what)?).map_err(|_| Reply::param(format!("{what}格式错误")))
}

/// A mobile, the code sent to it and a new password twice: a registration's or a reset's
/// body, checked in that order.
pub fn code_and_new_password(
    raw_mobile: &str,
    raw_code: &str,
    password: &str,
    password2: &str,
) -> Result<CodeAndPassword, Reply> {
    Ok(CodeAndPassword {
        mobile: mobile(raw_mobile)?,
        code: sms_code(raw_code)?,
        password: new_password(password, password2)?,
    })
}

/// A new password and its repetition (`password`, `password2`): both the same, 6–128
/// characters.
pub fn new_password(password: &str, password2: &str) -> Result<Password, Reply> {
    let password = non_empty(password, "密码")?;
    if password != password2 {
        return Err(Reply::param("两次密码不一致"));
    }
    Password::parse(password).map_err(|_| Reply::param("密码长度需为6-128位"))
}
