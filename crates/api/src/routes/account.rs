use actix_web::{web, HttpRequest};
use app::account::{Proof, RegisterRequest, SignInRequest};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::{
    candidate_password, code_and_new_password, device, dto, mobile, sms_code, user_data, State,
};
use crate::openapi::answers::{Profile, Register, Replies, Session, SignIn, SignOut};
use crate::reply::{Answer, Reply};
use crate::web::session::{credential, session_cookie};

/// `POST /api/v1.0/users`: `{mobile, sms_code, password, password2}`.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({
    "mobile": "13800138000",
    "sms_code": "246810",
    "password": "correct horse",
    "password2": "correct horse"
}))]
pub struct RegisterBody {
    /// A mainland China mobile number (`phone_num` is accepted too, as some iHome copies send
    /// it).
    #[serde(alias = "phone_num")]
    #[schema(pattern = r"^1[3-9]\d{9}$", example = "13800138000")]
    pub mobile: String,
    /// The 6-digit code sent to the mobile.
    #[schema(pattern = r"^\d{6}$", example = "246810")]
    pub sms_code: String,
    /// 6–128 characters.
    #[schema(format = Password, min_length = 6, max_length = 128)]
    pub password: String,
    /// The same password again.
    #[schema(format = Password)]
    pub password2: String,
    /// `app`: sign the new user in with a bearer token in the reply instead of the cookie
    /// (`web`, the default).
    #[serde(default)]
    #[schema(example = "web", pattern = "^(app|web)$")]
    pub client: Option<String>,
}

impl RegisterBody {
    pub fn try_into_domain(self) -> Result<RegisterRequest, Reply> {
        code_and_new_password(
            &self.mobile,
            &self.sms_code,
            &self.password,
            &self.password2,
        )
    }
}

/// Register with a verified mobile, and sign in.
///
/// The SMS code is verified and consumed in one atomic step; if the registration fails after
/// that (hashing busy, store or database down), the code is put back for a retry. At most
/// `session.max_per_user` sessions stay live per user; the oldest ends.
#[utoipa::path(
    post,
    path = "/api/v1.0/users",
    tag = "account",
    request_body = RegisterBody,
    responses(Replies<Register>),
)]
pub async fn register(state: web::Data<State>, req: HttpRequest, body: web::Json<Value>) -> Answer {
    register_with(&state, &req, dto::<RegisterBody>(body)?).await
}

/// Create the user and sign them in: the reply carries the session cookie, or for an app the
/// token.
pub async fn register_with(state: &State, req: &HttpRequest, body: RegisterBody) -> Answer {
    let device = device(req, body.client.as_deref())?;
    let request = body.try_into_domain()?;
    let signed_in = state
        .app
        .register(request, device, session_cookie(req).as_ref())
        .await?;
    Ok(state.signed_in(signed_in, "注册成功"))
}

/// `POST /api/v1.0/sessions` and `/passport/login`: `{mobile, password}`, or `{mobile,
/// sms_code}` to sign in with a `login` code.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"mobile": "13800138000", "password": "correct horse"}))]
pub(super) struct SignInBody {
    /// A mainland China mobile number.
    #[schema(pattern = r"^1[3-9]\d{9}$", example = "13800138000")]
    mobile: String,
    /// Up to 1024 bytes. Either this or `sms_code`.
    #[serde(default)]
    #[schema(format = Password)]
    password: Option<String>,
    /// A code sent with `purpose: login`. Either this or `password`.
    #[serde(default)]
    #[schema(pattern = r"^\d{6}$", example = "246810")]
    sms_code: Option<String>,
    /// `app`: a bearer token in the reply instead of the cookie (`web`, the default).
    #[serde(default)]
    #[schema(example = "web", pattern = "^(app|web)$")]
    client: Option<String>,
}

impl SignInBody {
    fn try_into_domain(self, state: &State, req: &HttpRequest) -> Result<SignInRequest, Reply> {
        let mobile = mobile(&self.mobile)?;
        let proof = match (self.password.as_deref(), self.sms_code.as_deref()) {
            (Some(password), None) => Proof::Password(candidate_password(password, "密码")?),
            (None, Some(code)) => Proof::Code(sms_code(code)?),
            _ => return Err(Reply::param("请提供密码或短信验证码（二选一）")),
        };
        Ok(SignInRequest {
            mobile,
            proof,
            client_ip: state.client_ip.of(req),
        })
    }
}

/// Sign in with mobile and password, or with an SMS code.
///
/// Unknown mobile and wrong password give the same reply in about the same time. A code must
/// have been sent with `purpose: login`; it is verified and consumed as at registration. Each
/// attempt, by password or code, is counted before it is judged (and given back on success),
/// per client and per account. `"client": "app"` returns a bearer token instead of the cookie.
#[utoipa::path(
    post,
    path = "/api/v1.0/sessions",
    tag = "account",
    request_body = SignInBody,
    responses(Replies<SignIn>),
)]
pub async fn sign_in(state: web::Data<State>, req: HttpRequest, body: web::Json<Value>) -> Answer {
    let body = dto::<SignInBody>(body)?;
    let device = device(&req, body.client.as_deref())?;
    let request = body.try_into_domain(&state, &req)?;
    let signed_in = state
        .app
        .sign_in(request, device, session_cookie(&req).as_ref())
        .await?;
    Ok(state.signed_in(signed_in, "登录成功"))
}

/// Whether the caller is signed in.
///
/// `{"errno":"0","errmsg":"true","data":{"name":…}}` or `{"errno":"4101","errmsg":"false"}`.
#[utoipa::path(
    get,
    path = "/api/v1.0/session",
    tag = "account",
    security(("session" = []), ("bearer" = [])),
    responses(Replies<Session>),
)]
pub async fn session(state: web::Data<State>, req: HttpRequest) -> Answer {
    let user = state.caller(&req).await?.user;
    Ok(Reply::ok("true").with_data(user_data(&user)))
}

/// The signed-in user's profile, or SESSIONERR.
#[utoipa::path(
    get,
    path = "/api/v1.0/user",
    tag = "account",
    security(("session" = []), ("bearer" = [])),
    responses(Replies<Profile>),
)]
pub async fn profile(state: web::Data<State>, req: HttpRequest) -> Answer {
    let user = state.caller(&req).await?.user;
    let mut data = user_data(&user);
    data["mobile"] = json!(user.mobile.as_str());
    Ok(Reply::ok("成功").with_data(data))
}

/// Sign out: end the session and clear its cookie; with a bearer token, revoke the token.
#[utoipa::path(
    delete,
    path = "/api/v1.0/session",
    tag = "account",
    security(("session" = []), ("bearer" = []), ()),
    responses(Replies<SignOut>),
)]
pub async fn sign_out(state: web::Data<State>, req: HttpRequest) -> Answer {
    sign_out_with(&state, &req).await
}

/// Sign out, on the plural path some iHome copies use.
#[utoipa::path(
    delete,
    path = "/api/v1.0/sessions",
    tag = "account",
    security(("session" = []), ("bearer" = []), ()),
    responses(Replies<SignOut>),
)]
pub async fn sign_out_plural(state: web::Data<State>, req: HttpRequest) -> Answer {
    sign_out_with(&state, &req).await
}

/// End the request's session (if any): a browser's cookie is cleared, an app's token revoked.
pub async fn sign_out_with(state: &State, req: &HttpRequest) -> Answer {
    if let Some(token) = credential(req)?.and_then(|c| c.token) {
        state.app.sign_out(&token).await?;
    }
    Ok(state.session_ended(req, Reply::ok("已退出登录")))
}
