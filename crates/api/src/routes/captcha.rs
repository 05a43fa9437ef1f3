use actix_web::{web, HttpRequest};
use domain::CaptchaId;

use super::State;
use crate::openapi::answers::{Captcha, Replies};
use crate::reply::{Answer, Reply};

/// A fresh captcha image for the id.
///
/// Beyond `limits.captcha_per_ip_per_minute` (30) per client in any minute, nothing is drawn
/// or stored.
#[utoipa::path(
    get,
    path = "/api/v1.0/image_codes/{image_code_id}",
    tag = "captcha",
    params(
        ("image_code_id" = String, Path,
            description = "The client's id for this captcha (front ends send a UUID): 1–64 characters of `[A-Za-z0-9_-]`.",
            pattern = "^[A-Za-z0-9_-]{1,64}$", example = "5f0f2c2e-8f6d-4a43-9d55-0d6e3c1f2a7b"),
    ),
    responses(Replies<Captcha>),
)]
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
