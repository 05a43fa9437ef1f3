use actix_web::web;
use domain::CaptchaId;

use super::State;
use crate::reply::{Answer, Reply};

/// `GET /api/v1.0/image_codes/{image_code_id}`: a fresh captcha image for that id.
pub async fn image_code(state: web::Data<State>, path: web::Path<String>) -> Answer {
    let id = CaptchaId::parse(&path).map_err(|_| Reply::param("图片验证码编号无效"))?;
    let image = state.app.issue_captcha(&id, None).await?;
    Ok(Reply::image(image))
}
