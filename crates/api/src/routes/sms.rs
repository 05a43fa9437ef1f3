use std::collections::HashMap;

use actix_web::{web, HttpRequest};
use app::send_code::SendCodeRequest;
use domain::{CaptchaId, CaptchaText, CodePurpose};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{dto, mobile, non_empty, State};
use crate::openapi::answers::{Replies, SendCode, SendCodeQuery};
use crate::reply::{Answer, Reply};

/// The seed handler's body: `{mobile, image_code, image_code_id}`.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({
    "mobile": "13800138000",
    "image_code": "AB3D",
    "image_code_id": "5f0f2c2e-8f6d-4a43-9d55-0d6e3c1f2a7b"
}))]
pub(super) struct SendCodeBody {
    /// A mainland China mobile number.
    #[schema(pattern = r"^1[3-9]\d{9}$", example = "13800138000")]
    mobile: String,
    /// The captcha's text as the user read it (case-insensitive).
    #[schema(example = "AB3D")]
    image_code: String,
    /// The id the captcha was issued under.
    #[schema(example = "5f0f2c2e-8f6d-4a43-9d55-0d6e3c1f2a7b")]
    image_code_id: String,
    /// What the code is for; it works for nothing else. `login` and `reset` need a registered
    /// mobile, `register` (the default) and `change_mobile` a free one; `change_mobile` needs
    /// a signed-in caller.
    #[serde(default)]
    #[schema(
        example = "register",
        pattern = "^(register|login|reset|change_mobile)$"
    )]
    purpose: Option<String>,
}

impl SendCodeBody {
    /// The request, for the signed-in caller if `purpose` needs one.
    async fn into_request(
        self,
        state: &State,
        req: &HttpRequest,
    ) -> Result<SendCodeRequest, Reply> {
        let purpose = match self.purpose.as_deref() {
            None => CodePurpose::Register,
            Some(raw) => CodePurpose::parse(raw)
                .map_err(|_| Reply::param("purpose必须是register、login、reset或change_mobile"))?,
        };
        let mobile = mobile(&self.mobile)?;
        let image_code = non_empty(&self.image_code, "图片验证码")?;
        let image_code_id = non_empty(&self.image_code_id, "图片验证码编号")?;
        let captcha_id =
            CaptchaId::parse(image_code_id).map_err(|_| Reply::param("图片验证码编号无效"))?;
        let captcha_text =
            CaptchaText::parse(image_code).map_err(|_| Reply::param("图片验证码格式错误"))?;
        // Only a code to change the number needs to know who asks (one store lookup).
        let caller = match purpose {
            CodePurpose::ChangeMobile => state.maybe_session(req).await?.map(|s| s.user),
            _ => None,
        };
        Ok(SendCodeRequest {
            mobile,
            captcha_id,
            captcha_text,
            client_ip: state.client_ip.of(req),
            purpose,
            caller,
        })
    }
}

/// Send an SMS code, gated by a captcha.
///
/// The captcha is used up by this request whatever the outcome (except a `change_mobile`
/// request from someone not signed in, refused first). Then, in order: whether the mobile is
/// the right kind for the purpose (registered or not), the send limits (checked and reserved
/// in one atomic step, per mobile whatever the purpose), the provider.
#[utoipa::path(
    post,
    path = "/api/v1.0/sms_codes",
    tag = "sms",
    request_body = SendCodeBody,
    responses(Replies<SendCode>),
)]
pub async fn send_json(
    state: web::Data<State>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> Answer {
    let request = dto::<SendCodeBody>(body)?
        .into_request(&state, &req)
        .await?;
    state.app.send_code(request).await?;
    Ok(Reply::ok("发送成功"))
}

/// Send an SMS code: the iHome 2018 front end's GET form of `POST /api/v1.0/sms_codes`.
#[utoipa::path(
    get,
    path = "/api/v1.0/sms_codes/{mobile}",
    tag = "sms",
    params(
        ("mobile" = String, Path, description = "A mainland China mobile number.",
            pattern = r"^1[3-9]\d{9}$", example = "13800138000"),
        ("image_code" = Option<String>, Query,
            description = "The captcha's text as the user read it (required, or `image_code_text`).",
            example = "AB3D"),
        ("image_code_text" = Option<String>, Query,
            description = "What some iHome copies send instead of `image_code`."),
        ("image_code_id" = Option<String>, Query,
            description = "The id the captcha was issued under (required).",
            example = "5f0f2c2e-8f6d-4a43-9d55-0d6e3c1f2a7b"),
        ("purpose" = Option<String>, Query,
            description = "`register` (default), `login`, `reset` or `change_mobile`, as in the POST form.",
            example = "login"),
    ),
    responses(Replies<SendCodeQuery>),
)]
pub async fn send_query(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
) -> Answer {
    let mut query = query.into_inner();
    let body = SendCodeBody {
        mobile: path.into_inner(),
        // `image_code_text` in some iHome copies.
        image_code: query
            .remove("image_code")
            .or_else(|| query.remove("image_code_text"))
            .unwrap_or_default(),
        image_code_id: query.remove("image_code_id").unwrap_or_default(),
        purpose: query.remove("purpose"),
    };
    let request = body.into_request(&state, &req).await?;
    state.app.send_code(request).await?;
    Ok(Reply::ok("发送成功"))
}
