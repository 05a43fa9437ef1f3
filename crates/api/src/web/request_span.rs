//! A span per request with a fresh request id, the method and the route *pattern* (never the
//! path or query: `/api/v1.0/sms_codes/{mobile}` would otherwise log a full number). The id is
//! echoed in `X-Request-Id`. Every line logged while the request runs carries the span's fields
//! (the JSON format nests them under `span`), and one line says how the request finished —
//! at debug for probes and scrapes, at info for everything else.
//!
//! The same place counts the request for the metrics: route pattern, method, status, errno
//! and latency.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web;
use tracing::Instrument;

use crate::reply::Errno;
use crate::routes::{ops, State};

/// The route label of a request no route matched (its path is the client's, not ours).
const UNMATCHED: &str = "(unmatched)";

pub async fn request_span(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    // A v4 UUID from the thread's CSPRNG: `Uuid::new_v4` asks the kernel (`getrandom`) for
    // every request, and a request id needs no OS entropy.
    let request_id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    let route = req.match_pattern().unwrap_or_else(|| UNMATCHED.into());
    let method = req.method().clone();
    let state = req.app_data::<web::Data<State>>().cloned();
    let span = tracing::info_span!(
        "request",
        %request_id,
        %method,
        route = %route,
        status = tracing::field::Empty,
        errno = tracing::field::Empty,
    );
    let mut res = next.call(req).instrument(span.clone()).await?;
    let status = res.status().as_u16();
    let errno = res.response().extensions().get::<Errno>().map(|e| e.code());
    span.record("status", status);
    if let Some(errno) = errno {
        span.record("errno", errno);
    }
    if let Ok(value) = header::HeaderValue::from_str(&request_id.to_string()) {
        res.headers_mut()
            .insert(header::HeaderName::from_static("x-request-id"), value);
    }
    let elapsed = started.elapsed();
    span.in_scope(|| {
        if ops::QUIET_ROUTES.contains(&route.as_str()) {
            tracing::debug!(elapsed_ms = elapsed.as_secs_f64() * 1e3, "request finished");
        } else {
            tracing::info!(elapsed_ms = elapsed.as_secs_f64() * 1e3, "request finished");
        }
    });
    if let Some(state) = state {
        state
            .ops
            .metrics
            .http_request(&route, method.as_str(), status, errno, elapsed);
    }
    Ok(res)
}
