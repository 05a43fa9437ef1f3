//! HTTP ↔ use cases. Handlers only turn requests into domain values (PARAMERR otherwise), call
//! one use case and turn its outcome into a [`Reply`](crate::reply::Reply).

pub mod account;
pub mod captcha;
pub mod pages;
pub mod passport;
pub mod sms;

use actix_web::web;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::reply::Reply;

/// `/api/v1.0/…` (SPEC §2).
pub fn api_v1(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1.0")
            .route(
                "/image_codes/{image_code_id}",
                web::get().to(captcha::image_code),
            )
            .route("/sms_codes", web::post().to(sms::send_json))
            .route("/sms_codes/{mobile}", web::get().to(sms::send_query))
            .route("/users", web::post().to(account::register))
            .route("/sessions", web::post().to(account::sign_in))
            // Some iHome copies sign out with DELETE on the plural path.
            .route("/sessions", web::delete().to(account::sign_out))
            .route("/session", web::get().to(account::session))
            .route("/session", web::delete().to(account::sign_out))
            .route("/user", web::get().to(account::profile)),
    );
}

/// `/passport/…`: the news site's paths and field names (SPEC §7), same use cases.
pub fn passport(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/passport")
            .route("/image_code", web::get().to(passport::image_code))
            .route("/sms_code", web::post().to(sms::send_json))
            .route("/smscode", web::post().to(sms::send_json))
            .route("/register", web::post().to(passport::register))
            .route("/login", web::post().to(account::sign_in))
            .route("/logout", web::get().to(account::sign_out))
            .route("/logout", web::post().to(account::sign_out)),
    );
}

/// A JSON body as the DTO `T`: not an object, a missing field or a wrong type is PARAMERR.
/// (Malformed JSON, a wrong content type and oversized bodies are answered by the `JsonConfig`
/// error handler in `startup` before a handler runs.)
pub fn dto<T: DeserializeOwned>(body: Value) -> Result<T, Reply> {
    if !body.is_object() {
        return Err(Reply::param("请求体必须是JSON对象"));
    }
    serde_json::from_value(body).map_err(|_| Reply::param("参数不完整或类型错误"))
}

/// A required, non-empty string field.
pub fn non_empty<'a>(value: &'a str, what: &str) -> Result<&'a str, Reply> {
    if value.is_empty() {
        Err(Reply::param(format!("{what}不能为空")))
    } else {
        Ok(value)
    }
}
