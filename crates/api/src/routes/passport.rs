//! The news site's (新经资讯) field names, mapped onto the same use cases (SPEC §7).

use std::collections::HashMap;

use actix_web::{web, HttpRequest};
use domain::CaptchaId;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::account::{self, register_with, RegisterBody};
use super::{dto, sms, State};
use crate::openapi::answers::{Captcha, Register, Replies, SendCode, SignIn, SignOut};
use crate::reply::{Answer, Reply};

/// A fresh captcha image (the news site's form of `GET /api/v1.0/image_codes/{id}`).
///
/// The id comes from `imageCodeId`, else `code_id`, else `cur_id`; `pre_id`'s captcha, if
/// any, is discarded.
#[utoipa::path(
    get,
    path = "/passport/image_code",
    operation_id = "passport_image_code",
    tag = "news-compat",
    params(
        ("imageCodeId" = Option<String>, Query,
            description = "The captcha's id: 1–64 characters of `[A-Za-z0-9_-]`.",
            example = "5f0f2c2e-8f6d-4a43-9d55-0d6e3c1f2a7b"),
        ("code_id" = Option<String>, Query, description = "The same, as some copies name it."),
        ("cur_id" = Option<String>, Query, description = "The same, with `pre_id`."),
        ("pre_id" = Option<String>, Query,
            description = "The previous captcha's id: its text is forgotten."),
    ),
    responses(Replies<Captcha>),
)]
pub async fn image_code(
    state: web::Data<State>,
    query: web::Query<HashMap<String, String>>,
    req: HttpRequest,
) -> Answer {
    let id = ["imageCodeId", "code_id", "cur_id"]
        .iter()
        .find_map(|k| query.get(*k))
        .and_then(|raw| CaptchaId::parse(raw).ok())
        .ok_or_else(|| Reply::param("图片验证码编号无效"))?;
    let previous = query
        .get("pre_id")
        .and_then(|raw| CaptchaId::parse(raw).ok());
    let image = state
        .app
        .issue_captcha(&id, previous.as_ref(), state.client_ip.of(&req))
        .await?;
    Ok(Reply::image(image))
}

/// `POST /passport/register`: `{mobile, sms_code | smscode, password}` (no repeat field).
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"mobile": "13800138000", "smscode": "246810", "password": "correct horse"}))]
struct NewsRegisterBody {
    /// A mainland China mobile number.
    #[schema(pattern = r"^1[3-9]\d{9}$", example = "13800138000")]
    mobile: String,
    /// The 6-digit code sent to the mobile (`smscode` is accepted too, as the news site
    /// sends it).
    #[serde(alias = "smscode")]
    #[schema(pattern = r"^\d{6}$", example = "246810")]
    sms_code: String,
    /// 6–128 characters.
    #[schema(format = Password, min_length = 6, max_length = 128)]
    password: String,
    /// `app`: a bearer token in the reply instead of the cookie (`web`, the default).
    #[serde(default)]
    #[schema(example = "web", pattern = "^(app|web)$")]
    client: Option<String>,
}

impl From<NewsRegisterBody> for RegisterBody {
    fn from(b: NewsRegisterBody) -> Self {
        RegisterBody {
            mobile: b.mobile,
            sms_code: b.sms_code,
            password2: b.password.clone(),
            password: b.password,
            client: b.client,
        }
    }
}

/// Register and sign in (`POST /api/v1.0/users` without the repeated password).
#[utoipa::path(
    post,
    path = "/passport/register",
    operation_id = "passport_register",
    tag = "news-compat",
    request_body = NewsRegisterBody,
    responses(Replies<Register>),
)]
pub async fn register(state: web::Data<State>, req: HttpRequest, body: web::Json<Value>) -> Answer {
    let body: RegisterBody = dto::<NewsRegisterBody>(body)?.into();
    register_with(&state, &req, body).await
}

/// Send an SMS code (`POST /api/v1.0/sms_codes`).
#[utoipa::path(
    post,
    path = "/passport/sms_code",
    operation_id = "passport_sms_code",
    tag = "news-compat",
    request_body = sms::SendCodeBody,
    responses(Replies<SendCode>),
)]
pub async fn sms_code(state: web::Data<State>, req: HttpRequest, body: web::Json<Value>) -> Answer {
    sms::send_json(state, req, body).await
}

/// Send an SMS code (`POST /api/v1.0/sms_codes`), as other copies spell the path.
#[utoipa::path(
    post,
    path = "/passport/smscode",
    operation_id = "passport_smscode",
    tag = "news-compat",
    request_body = sms::SendCodeBody,
    responses(Replies<SendCode>),
)]
pub async fn smscode(state: web::Data<State>, req: HttpRequest, body: web::Json<Value>) -> Answer {
    sms::send_json(state, req, body).await
}

/// Sign in (`POST /api/v1.0/sessions`).
#[utoipa::path(
    post,
    path = "/passport/login",
    operation_id = "passport_login",
    tag = "news-compat",
    request_body = account::SignInBody,
    responses(Replies<SignIn>),
)]
pub async fn login(state: web::Data<State>, req: HttpRequest, body: web::Json<Value>) -> Answer {
    account::sign_in(state, req, body).await
}

/// Sign out from a plain link (`DELETE /api/v1.0/session`; no token, as in the Flask original).
#[utoipa::path(
    get,
    path = "/passport/logout",
    operation_id = "passport_logout_link",
    tag = "news-compat",
    security(("session" = []), ()),
    responses(Replies<SignOut>),
)]
pub async fn logout_link(state: web::Data<State>, req: HttpRequest) -> Answer {
    account::sign_out_with(&state, &req).await
}

/// Sign out (`DELETE /api/v1.0/session`).
#[utoipa::path(
    post,
    path = "/passport/logout",
    operation_id = "passport_logout",
    tag = "news-compat",
    security(("session" = []), ()),
    responses(Replies<SignOut>),
)]
pub async fn logout(state: web::Data<State>, req: HttpRequest) -> Answer {
    account::sign_out_with(&state, &req).await
}
