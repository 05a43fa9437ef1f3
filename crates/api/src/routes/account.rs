use actix_web::{web, HttpRequest};
use app::account::{RegisterRequest, SignInRequest};
use domain::{Mobile, Password, SmsCode, User};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{dto, non_empty, State};
use crate::reply::{Answer, Errno, Reply};
use crate::web::session::session_token;

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

pub async fn register(state: web::Data<State>, req: HttpRequest, body: web::Json<Value>) -> Answer {
    register_with(&state, &req, dto::<RegisterBody>(body)?).await
}

/// Create the user and sign them in: the reply carries the session cookie.
pub async fn register_with(state: &State, req: &HttpRequest, body: RegisterBody) -> Answer {
    let request = body.try_into_domain()?;
    let signed_in = state
        .app
        .register(request, session_token(req).as_ref())
        .await?;
    Ok(state.signed_in(signed_in, "注册成功"))
}

#[derive(Deserialize)]
struct SignInBody {
    mobile: String,
    password: String,
}

impl SignInBody {
    fn try_into_domain(self, state: &State, req: &HttpRequest) -> Result<SignInRequest, Reply> {
        let mobile = non_empty(&self.mobile, "手机号")?;
        let mobile = Mobile::parse(mobile).map_err(|_| Reply::param("手机号格式错误"))?;
        let password = non_empty(&self.password, "密码")?;
        Ok(SignInRequest {
            mobile,
            password: Password::candidate(password).map_err(|_| Reply::param("密码格式错误"))?,
            client_ip: state.client_ip.of(req),
        })
    }
}

/// `POST /api/v1.0/sessions` and `/passport/login`: `{mobile, password}`.
pub async fn sign_in(state: web::Data<State>, req: HttpRequest, body: web::Json<Value>) -> Answer {
    let request = dto::<SignInBody>(body)?.try_into_domain(&state, &req)?;
    let signed_in = state
        .app
        .sign_in(request, session_token(&req).as_ref())
        .await?;
    Ok(state.signed_in(signed_in, "登录成功"))
}

/// The user of the request's live session, if it has one.
async fn signed_in_user(state: &State, req: &HttpRequest) -> Result<Option<User>, Reply> {
    match session_token(req) {
        Some(token) => Ok(state.app.current_user(&token).await?),
        None => Ok(None),
    }
}

/// `GET /api/v1.0/session`: `{"errno":"0","errmsg":"true","data":{"name":…}}` or
/// `{"errno":"4101","errmsg":"false"}`.
pub async fn session(state: web::Data<State>, req: HttpRequest) -> Answer {
    let user = signed_in_user(&state, &req)
        .await?
        .ok_or_else(|| Reply::new(Errno::SessionErr, "false"))?;
    Ok(Reply::ok("true").with_data(json!({ "name": user.name(), "user_id": user.id.0 })))
}

/// `GET /api/v1.0/user`: the signed-in user's profile, or SESSIONERR.
pub async fn profile(state: web::Data<State>, req: HttpRequest) -> Answer {
    let user = signed_in_user(&state, &req)
        .await?
        .ok_or_else(|| Reply::of(Errno::SessionErr))?;
    Ok(Reply::ok("成功").with_data(json!({
        "user_id": user.id.0,
        "name": user.name(),
        "mobile": user.mobile.as_str(),
    })))
}

/// `DELETE /api/v1.0/session` and `/passport/logout`: end the session, clear the cookie.
pub async fn sign_out(state: web::Data<State>, req: HttpRequest) -> Answer {
    if let Some(token) = session_token(&req) {
        state.app.sign_out(&token).await?;
    }
    Ok(Reply::ok("已退出登录").with_cookie(state.session_cookie.clear()))
}
