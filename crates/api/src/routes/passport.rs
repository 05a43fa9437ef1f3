//! The news site's (新经资讯) field names, mapped onto the same use cases (SPEC §7).

use std::collections::HashMap;

use actix_web::{web, HttpRequest};
use domain::CaptchaId;
use serde::Deserialize;
use serde_json::Value;

use super::account::{register_with, RegisterBody};
use super::{dto, State};
use crate::reply::{Answer, Reply};

/// `GET /passport/image_code?imageCodeId=…` (also `code_id=`, or `cur_id=` with `pre_id=`, whose
/// captcha is discarded).
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
#[derive(Deserialize)]
struct NewsRegisterBody {
    mobile: String,
    #[serde(alias = "smscode")]
    sms_code: String,
    password: String,
}

impl From<NewsRegisterBody> for RegisterBody {
    fn from(b: NewsRegisterBody) -> Self {
        RegisterBody {
            mobile: b.mobile,
            sms_code: b.sms_code,
            password2: b.password.clone(),
            password: b.password,
        }
    }
}

pub async fn register(state: web::Data<State>, req: HttpRequest, body: web::Json<Value>) -> Answer {
    let body: RegisterBody = dto::<NewsRegisterBody>(body)?.into();
    register_with(&state, &req, body).await
}
