//! Operations: liveness, readiness and metrics.
//!
//! (Stand-ins with the final signatures; the real checks arrive with issue 09's ops work.
//! Keep the `#[utoipa::path]` attributes with the handlers: the document lists them.)

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::State;

/// Liveness: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "ops",
    responses((status = 200, description = "The process is up.", body = crate::openapi::Health)),
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Readiness: the state store and the user database answer, and no SIGTERM has arrived.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "ops",
    responses(
        (status = 200, description = "Ready: take traffic.", body = crate::openapi::Readiness),
        (status = 503, description = "Not ready: a dependency failed or timed out (`unavailable`), or SIGTERM arrived (`shutting_down`) and in-flight requests are finishing.",
            body = crate::openapi::Readiness,
            examples(
                ("unavailable" = (summary = "A dependency failed or timed out",
                    value = json!({"status": "unavailable", "checks": {"store": "timeout", "database": "ok"}}))),
                ("shutting_down" = (summary = "SIGTERM arrived",
                    value = json!({"status": "shutting_down", "checks": {"store": "ok", "database": "ok"}}))),
            )),
    ),
)]
pub async fn readyz(state: web::Data<State>) -> HttpResponse {
    let _ = state;
    HttpResponse::Ok().json(json!({
        "status": "ready",
        "checks": { "store": "ok", "database": "ok" },
    }))
}

/// Prometheus metrics.
///
/// With `server.metrics_port` set, served on that port instead of the main one. With
/// `metrics.token` set, the main port's `/metrics` needs `Authorization: Bearer <token>`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "ops",
    security(("metrics_token" = []), ()),
    responses(
        (status = 200, description = "The Prometheus text exposition format.",
            body = String, content_type = "text/plain; version=0.0.4"),
        (status = 401, description = "`metrics.token` is set and the request's bearer token is missing or wrong."),
    ),
)]
pub async fn metrics(state: web::Data<State>, req: HttpRequest) -> HttpResponse {
    let _ = (state, req);
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; version=0.0.4"))
        .body("")
}
