//! For the operator and the load balancer: `GET /healthz` (alive), `GET /readyz` (the store and
//! the user database answer, and no shutdown has begun) and `GET /metrics` (Prometheus). None is
//! subject to CSRF or limits, and their requests are logged at debug only. (Keep the
//! `#[utoipa::path]` attributes with the handlers: the OpenAPI document lists them.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use prometheus_metrics::Prometheus;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use subtle::ConstantTimeEq;

use super::State;
use crate::web::session::bearer;

/// Routes whose requests are logged at debug, not info: probes and scrapes arrive every few
/// seconds and would drown the log.
pub const QUIET_ROUTES: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// How long each readiness check may take. Below Kubernetes' default probe timeout (1 s), so a
/// slow dependency reads as "not ready", never as a probe that timed out.
pub const READY_BOUND: Duration = Duration::from_millis(800);

/// What the operational routes share.
pub struct Ops {
    pub metrics: Arc<Prometheus>,
    /// `metrics.token`: asked for on the main port only (a separate `server.metrics_port` is
    /// meant to be reachable by the scraper alone).
    pub metrics_token: Option<SecretString>,
    pub draining: Draining,
}

/// Set once a shutdown begins: from then on `/readyz` answers 503.
#[derive(Clone, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    pub fn begin(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_on(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// `GET /healthz`: the process answers. Touches nothing.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "ops",
    responses((status = 200, description = "The process is up.", body = crate::openapi::Health)),
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 when the store and the user database each answer within
/// [`READY_BOUND`]; 503 naming which did not (`error` or `timeout`, causes to the log only), or
/// `shutting_down` once a shutdown began.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "ops",
    responses(
        (status = 200, description = "Ready: take traffic.", body = crate::openapi::Readiness),
        (status = 503, description = "Not ready: a dependency failed or did not answer within 800 ms (`unavailable`; each check `ok`, `error` or `timeout`), or a shutdown began (`shutting_down`) and in-flight requests are finishing.",
            body = crate::openapi::Readiness,
            examples(
                ("unavailable" = (summary = "A dependency failed or timed out",
                    value = json!({"status": "unavailable", "checks": {"store": "timeout", "database": "ok"}}))),
                ("shutting_down" = (summary = "SIGTERM arrived",
                    value = json!({"status": "shutting_down"}))),
            )),
    ),
)]
pub async fn readyz(state: web::Data<State>) -> HttpResponse {
    if state.ops.draining.is_on() {
        return HttpResponse::ServiceUnavailable()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(json!({ "status": "shutting_down" }));
    }
    let (store, database) = tokio::join!(
        check("store", state.app.check_store()),
        check("database", state.app.check_users()),
    );
    let ready = store == "ok" && database == "ok";
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "checks": { "store": store, "database": database },
    });
    let mut reply = if ready {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    reply
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// `ok`, `error` or `timeout`; the cause of a failure goes to the log.
async fn check(
    what: &'static str,
    answer: impl std::future::Future<Output = anyhow::Result<()>>,
) -> &'static str {
    match tokio::time::timeout(READY_BOUND, answer).await {
        Ok(Ok(())) => "ok",
        Ok(Err(e)) => {
            tracing::warn!(check = what, error = ?e, "readiness: not ready");
            "error"
        }
        Err(_) => {
            tracing::warn!(check = what, bound = ?READY_BOUND, "readiness: no answer in time");
            "timeout"
        }
    }
}

/// `GET /metrics` on the main port: the metrics (OpenMetrics or the classic text format, as the
/// scraper's `Accept` asks), or 401 (nothing else) without the right
/// `Authorization: Bearer <metrics.token>` when one is set.
///
/// With `server.metrics_port` set, served on that port (without a token) instead of the main
/// one.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "ops",
    security(("metrics_token" = []), ()),
    responses(
        (status = 200, description = "The metrics, listed in docs/operations.md: OpenMetrics text when `Accept` names `application/openmetrics-text` (as Prometheus does), else the classic Prometheus text format 0.0.4.",
            content(
                (String = "text/plain; version=0.0.4; charset=utf-8"),
                (String = "application/openmetrics-text; version=1.0.0; charset=utf-8"),
            )),
        (status = 401, description = "`metrics.token` is set and the request's bearer token is missing or wrong: `WWW-Authenticate: Bearer`, no body."),
    ),
)]
pub async fn metrics(state: web::Data<State>, req: HttpRequest) -> HttpResponse {
    if let Some(token) = &state.ops.metrics_token {
        if !bearer_matches(&req, token) {
            return HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
                .finish();
        }
    }
    scrape(&req, &state.ops.metrics)
}

/// `GET /metrics` on `server.metrics_port`: no token (the port is the protection).
pub async fn metrics_port(metrics: web::Data<Prometheus>, req: HttpRequest) -> HttpResponse {
    scrape(&req, &metrics)
}

/// OpenMetrics to a scraper that accepts it (Prometheus asks for it first), the classic text
/// format (0.0.4) to everyone else.
fn scrape(req: &HttpRequest, metrics: &Prometheus) -> HttpResponse {
    let openmetrics = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/openmetrics-text"));
    let (content_type, body) = if openmetrics {
        (prometheus_metrics::CONTENT_TYPE, metrics.encode())
    } else {
        (prometheus_metrics::TEXT_CONTENT_TYPE, metrics.encode_text())
    };
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// `Authorization: Bearer <token>` (read as every bearer is), compared in constant time.
fn bearer_matches(req: &HttpRequest, token: &SecretString) -> bool {
    bearer(req.headers())
        .is_some_and(|given| bool::from(given.as_bytes().ct_eq(token.expose_secret().as_bytes())))
}
