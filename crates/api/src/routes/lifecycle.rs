//! The account's life (SPEC §5a): reset a forgotten password, change the password, move to a
//! new number.

use actix_web::{web, HttpRequest};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{
    candidate_password, code_and_new_password, device, dto, mobile, new_password, sms_code, State,
};
use crate::openapi::answers::{ChangeMobile, ChangePassword, Replies, ResetPassword};
use crate::reply::{Answer, Reply};

/// `POST /api/v1.0/password_resets`: `{mobile, sms_code, password, password2, client?}`.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({
    "mobile": "13800138000",
    "sms_code": "246810",
    "password": "new horse battery",
    "password2": "new horse battery"
}))]
pub(super) struct ResetBody {
    /// The account's mobile number.
    #[schema(pattern = r"^1[3-9]\d{9}$", example = "13800138000")]
    mobile: String,
    /// A code sent with `purpose: reset`.
    #[schema(pattern = r"^\d{6}$", example = "246810")]
    sms_code: String,
    /// The new password, 6–128 characters.
    #[schema(format = Password, min_length = 6, max_length = 128)]
    password: String,
    /// The same password again.
    #[schema(format = Password)]
    password2: String,
    /// `app`: a bearer token in the reply instead of the cookie (`web`, the default).
    #[serde(default)]
    #[schema(example = "web", pattern = "^(app|web)$")]
    client: Option<String>,
}

/// Reset a forgotten password with a code, and sign in.
///
/// The code must have been sent with `purpose: reset`; it is verified and consumed as at
/// registration. Every session and app token of the user ends, and the caller is signed in
/// afresh (the cookie, or for `"client": "app"` a token). If anything fails after the code
/// was accepted, the old password stays valid and the code can be used again.
#[utoipa::path(
    post,
    path = "/api/v1.0/password_resets",
    tag = "account",
    request_body = ResetBody,
    responses(Replies<ResetPassword>),
)]
pub async fn reset_password(
    state: web::Data<State>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> Answer {
    let body = dto::<ResetBody>(body)?;
    let device = device(&req, body.client.as_deref())?;
    let request = code_and_new_password(
        &body.mobile,
        &body.sms_code,
        &body.password,
        &body.password2,
    )?;
    let signed_in = state.app.reset_password(request, device).await?;
    Ok(state.signed_in(signed_in, "密码已重置"))
}

/// `PUT /api/v1.0/user/password`: `{old_password, password, password2}`.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({
    "old_password": "correct horse",
    "password": "new horse battery",
    "password2": "new horse battery"
}))]
pub(super) struct ChangePasswordBody {
    /// The current password.
    #[schema(format = Password)]
    old_password: String,
    /// The new password, 6–128 characters.
    #[schema(format = Password, min_length = 6, max_length = 128)]
    password: String,
    /// The same password again.
    #[schema(format = Password)]
    password2: String,
}

/// Change the signed-in user's password.
///
/// A wrong old password is PWDERR and counts toward the sign-in lockouts like a failed
/// sign-in. On success every other session and app token of the user ends; the caller's own
/// stays.
#[utoipa::path(
    put,
    path = "/api/v1.0/user/password",
    tag = "account",
    security(("session" = []), ("bearer" = [])),
    request_body = ChangePasswordBody,
    responses(Replies<ChangePassword>),
)]
pub async fn change_password(
    state: web::Data<State>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> Answer {
    let body = dto::<ChangePasswordBody>(body)?;
    let old = candidate_password(&body.old_password, "原密码")?;
    let new = new_password(&body.password, &body.password2)?;
    let caller = state.caller(&req).await?;
    state
        .app
        .change_password(&caller, old, new, state.client_ip.of(&req))
        .await?;
    Ok(Reply::ok("密码已修改"))
}

/// `PUT /api/v1.0/user/mobile`: `{mobile, sms_code}`.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"mobile": "13900139000", "sms_code": "246810"}))]
pub(super) struct ChangeMobileBody {
    /// The new number.
    #[schema(pattern = r"^1[3-9]\d{9}$", example = "13900139000")]
    mobile: String,
    /// A code sent to the new number with `purpose: change_mobile`.
    #[schema(pattern = r"^\d{6}$", example = "246810")]
    sms_code: String,
}

/// Move the signed-in user to a new number.
///
/// The code must have been sent to the new number with `purpose: change_mobile` (asking for it
/// needs a signed-in caller). The user keeps their id and every session; if another user took
/// the number meanwhile the reply is DATAEXIST.
#[utoipa::path(
    put,
    path = "/api/v1.0/user/mobile",
    tag = "account",
    security(("session" = []), ("bearer" = [])),
    request_body = ChangeMobileBody,
    responses(Replies<ChangeMobile>),
)]
pub async fn change_mobile(
    state: web::Data<State>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> Answer {
    let body = dto::<ChangeMobileBody>(body)?;
    let (mobile, code) = (mobile(&body.mobile)?, sms_code(&body.sms_code)?);
    let this = state.session(&req).await?;
    state.app.change_mobile(this.user, mobile, code).await?;
    Ok(Reply::ok("手机号已更换"))
}
