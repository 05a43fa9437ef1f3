//! The news site's (新经资讯) field names, mapped onto the same use cases (SPEC §7).

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use domain::CaptchaId;
use serde::Deserialize;
use serde_json::Value;

use super::account::{register_with, RegisterBody};
use super::captcha::render;
use super::dto;
use crate::reply::Reply;
use crate::startup::State;

/// `GET /passport/image_code?imageCodeId=…` (also `code_id=`, or `cur_id=` with `pre_id=`, whose
/// captcha is discarded).
pub async fn image_code(
    state: web::Data<State>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let q = query.into_inner();
    let id = ["imageCodeId", "code_id", "cur_id"]
        .iter()
        .find_map(|k| q.get(*k))
        .and_then(|raw| CaptchaId::parse(raw).ok());
    let Some(id) = id else {
        return Reply::param("图片验证码编号无效").into_response();
    };
    let previous = q.get("pre_id").and_then(|raw| CaptchaId::parse(raw).ok());
    render(&state, &id, previous.as_ref()).await
}

/// `POST /passport/register`: `{mobile, sms_code | smscode, password}` (no repeat field).
#[derive(Deserialize)]
struct NewsRegisterBody {
    mobile: String,
    #[serde(alias = "smscode")]
    sms_code: String,
    password: String,
}

pub async fn register(
    state: web::Data<State>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> HttpResponse {
    match dto::<NewsRegisterBody>(body.into_inner()) {
        Ok(b) => {
            let body = RegisterBody {
                mobile: b.mobile,
                sms_code: b.sms_code,
                password2: b.password.clone(),
                password: b.password,
            };
            register_with(&state, &req, body).await
        }
        Err(reply) => reply.into_response(),
    }
}
