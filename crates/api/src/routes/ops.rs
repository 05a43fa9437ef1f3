//! Operations: liveness, readiness and metrics.
//!
//! (Stand-ins with the final signatures; the real checks arrive with issue 09's ops work.)

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::State;

/// Liveness: the process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Readiness: the state store and the user database answer, and no SIGTERM has arrived.
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
pub async fn metrics(state: web::Data<State>, req: HttpRequest) -> HttpResponse {
    let _ = (state, req);
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; version=0.0.4"))
        .body("")
}
