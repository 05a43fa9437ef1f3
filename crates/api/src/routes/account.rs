use actix_web::{web, HttpRequest, HttpResponse};
use app::account::{RegisterRequest, SignInRequest, SignedIn};
use domain::{Mobile, Password, SmsCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{dto, non_empty};
use crate::reply::{Errno, Reply};
use crate::startup::State;
use crate::web::{client_ip, expired_session_cookie, session_cookie, session_token};

/// `POST /api/v1.0/users`: `{mobile, sms_code, password, password2}`.
#[derive(Deserialize)]
pub struct RegisterBody {
    /// `phone_num` in some iHome copies.
    #[serde(alias = "phone_num")]
    pub mobile: String,
    pub sms_code: String,
    pub password: String,
    pub password2: String,
}

impl RegisterBody {
    pub fn try_into_domain(self) -> Result<RegisterRequest, Reply> {
        let mobile = non_empty(&self.mobile, "手机号")?;
        let code = non_empty(&self.sms_code, "短信验证码")?;
        let password = non_empty(&self.password, "密码")?;
        if self.password != self.password2 {
            return Err(Reply::param("两次密码不一致"));
        }
        Ok(RegisterRequest {
            mobile: Mobile::parse(mobile).map_err(|_| Reply::param("手机号格式错误"))?,
            code: SmsCode::parse(code).map_err(|_| Reply::param("短信验证码格式错误"))?,
            password: Password::parse(password).map_err(|_| Reply::param("密码长度需为6-128位"))?,
        })
    }
}

/// Create the user and sign them in: the reply carries the session cookie.
pub async fn register_with(state: &State, req: &HttpRequest, body: RegisterBody) -> HttpResponse {
    let request = match body.try_into_domain() {
        Ok(r) => r,
        Err(reply) => return reply.into_response(),
    };
    match state
        .app
        .register(request, session_token(req).as_ref())
        .await
    {
        Ok(signed_in) => signed_in_reply(state, signed_in, "注册成功"),
        Err(e) => Reply::from(e).into_response(),
    }
}

pub async fn register(
    state: web::Data<State>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> HttpResponse {
    match dto::<RegisterBody>(body.into_inner()) {
        Ok(body) => register_with(&state, &req, body).await,
        Err(reply) => reply.into_response(),
    }
}

#[derive(Deserialize)]
struct SignInBody {
    mobile: String,
    password: String,
}

/// `POST /api/v1.0/sessions` and `/passport/login`: `{mobile, password}`.
pub async fn sign_in(
    state: web::Data<State>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> HttpResponse {
    let body = match dto::<SignInBody>(body.into_inner()) {
        Ok(b) => b,
        Err(reply) => return reply.into_response(),
    };
    let parsed = non_empty(&body.mobile, "手机号")
        .and_then(|m| Mobile::parse(m).map_err(|_| Reply::param("手机号格式错误")))
        .and_then(|m| {
            let p = non_empty(&body.password, "密码")?;
            Ok((
                m,
                Password::candidate(p).map_err(|_| Reply::param("密码格式错误"))?,
            ))
        });
    let (mobile, password) = match parsed {
        Ok(p) => p,
        Err(reply) => return reply.into_response(),
    };
    let request = SignInRequest {
        mobile,
        password,
        client_ip: client_ip(&req, state.trust_forwarded_for),
    };
    match state
        .app
        .sign_in(request, session_token(&req).as_ref())
        .await
    {
        Ok(signed_in) => signed_in_reply(&state, signed_in, "登录成功"),
        Err(e) => Reply::from(e).into_response(),
    }
}

fn signed_in_reply(state: &State, signed_in: SignedIn, msg: &str) -> HttpResponse {
    let cookie = session_cookie(
        &signed_in.token,
        state.cookie_secure,
        state.session_ttl_secs,
    );
    let mut res = Reply::ok(msg)
        .with_data(json!({ "name": signed_in.user.name(), "user_id": signed_in.user.id.0 }))
        .into_response();
    if let Err(e) = res.add_cookie(&cookie) {
        tracing::error!(error = %e, "could not set the session cookie");
        return Reply::of(Errno::ServerErr).into_response();
    }
    res
}

/// `GET /api/v1.0/session`: `{"errno":"0","errmsg":"true","data":{"name":…}}` or
/// `{"errno":"4101","errmsg":"false"}`.
pub async fn session(state: web::Data<State>, req: HttpRequest) -> Reply {
    let Some(token) = session_token(&req) else {
        return Reply::new(Errno::SessionErr, "false");
    };
    match state.app.current_user(&token).await {
        Ok(Some(user)) => {
            Reply::ok("true").with_data(json!({ "name": user.name(), "user_id": user.id.0 }))
        }
        Ok(None) => Reply::new(Errno::SessionErr, "false"),
        Err(e) => e.into(),
    }
}

/// `GET /api/v1.0/user`: the signed-in user's profile, or SESSIONERR.
pub async fn profile(state: web::Data<State>, req: HttpRequest) -> Reply {
    let Some(token) = session_token(&req) else {
        return Reply::of(Errno::SessionErr);
    };
    match state.app.current_user(&token).await {
        Ok(Some(user)) => Reply::ok("成功").with_data(json!({
            "user_id": user.id.0,
            "name": user.name(),
            "mobile": user.mobile.as_str(),
        })),
        Ok(None) => Reply::of(Errno::SessionErr),
        Err(e) => e.into(),
    }
}

/// `DELETE /api/v1.0/session` and `/passport/logout`: end the session, clear the cookie.
pub async fn sign_out(state: web::Data<State>, req: HttpRequest) -> HttpResponse {
    if let Some(token) = session_token(&req) {
        if let Err(e) = state.app.sign_out(&token).await {
            return Reply::from(e).into_response();
        }
    }
    let mut res = Reply::ok("已退出登录").into_response();
    if let Err(e) = res.add_cookie(&expired_session_cookie(state.cookie_secure)) {
        tracing::warn!(error = %e, "could not clear the session cookie");
    }
    res
}
