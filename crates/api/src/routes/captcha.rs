use actix_web::http::header;
use actix_web::{web, HttpResponse};
use domain::CaptchaId;

use crate::reply::Reply;
use crate::startup::State;

/// `GET /api/v1.0/image_codes/{image_code_id}`: a fresh captcha image for that id.
pub async fn image_code(state: web::Data<State>, path: web::Path<String>) -> HttpResponse {
    let Ok(id) = CaptchaId::parse(&path) else {
        return Reply::param("图片验证码编号无效").into_response();
    };
    render(&state, &id, None).await
}

/// Issue and answer with the image (no caching), or an errno reply.
pub async fn render(state: &State, id: &CaptchaId, discard: Option<&CaptchaId>) -> HttpResponse {
    match state.app.issue_captcha(id, discard).await {
        Ok(image) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, image.content_type))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(image.bytes),
        Err(e) => Reply::from(e).into_response(),
    }
}
