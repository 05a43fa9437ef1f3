use std::collections::HashMap;
use std::net::IpAddr;

use actix_web::{web, HttpRequest};
use app::send_code::SendCodeRequest;
use domain::{CaptchaId, CaptchaText, Mobile};
use serde::Deserialize;
use serde_json::Value;

use super::{dto, non_empty, State};
use crate::reply::{Answer, Reply};

/// The seed handler's body: `{mobile, image_code, image_code_id}`.
#[derive(Deserialize)]
struct SendCodeBody {
    mobile: String,
    image_code: String,
    image_code_id: String,
}

impl SendCodeBody {
    fn try_into_domain(self, client_ip: IpAddr) -> Result<SendCodeRequest, Reply> {
        let mobile = non_empty(&self.mobile, "手机号")?;
        let image_code = non_empty(&self.image_code, "图片验证码")?;
        let image_code_id = non_empty(&self.image_code_id, "图片验证码编号")?;
        Ok(SendCodeRequest {
            mobile: Mobile::parse(mobile).map_err(|_| Reply::param("手机号格式错误"))?,
            captcha_id: CaptchaId::parse(image_code_id)
                .map_err(|_| Reply::param("图片验证码编号无效"))?,
            captcha_text: CaptchaText::parse(image_code)
                .map_err(|_| Reply::param("图片验证码格式错误"))?,
            client_ip,
        })
    }
}

/// `POST /api/v1.0/sms_codes` (and the news site's `/passport/sms_code`).
pub async fn send_json(
    state: web::Data<State>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> Answer {
    let request = dto::<SendCodeBody>(body)?.try_into_domain(state.client_ip.of(&req))?;
    state.app.send_code(request).await?;
    Ok(Reply::ok("发送成功"))
}

/// `GET /api/v1.0/sms_codes/{mobile}?image_code=&image_code_id=` (the iHome 2018 front end).
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
    };
    let request = body.try_into_domain(state.client_ip.of(&req))?;
    state.app.send_code(request).await?;
    Ok(Reply::ok("发送成功"))
}
