use actix_web::{web, HttpRequest};
use domain::CaptchaId;

use super::State;
use crate::reply::{Answer, Reply};

/// `GET /api/v1.0/image_codes/{image_code_id}`: a fresh captcha image for that id.
pub async fn image_code(
    state: web::Data<State>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Answer {
    let id = CaptchaId::parse(&path).map_err(|_| Reply::param("图片验证码编号无效"))?;
    let image = state
        .app
        .issue_captcha(&id, None, state.client_ip.of(&req))
        .await?;
    Ok(Reply::image(image))
}
