//! A span per request with a fresh request id, the method and the route *pattern* (never the
//! path or query: `/api/v1.0/sms_codes/{mobile}` would otherwise log a full number). The id is
//! echoed in `X-Request-Id`.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use tracing::Instrument;

pub async fn request_span(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // A v4 UUID from the thread's CSPRNG: `Uuid::new_v4` asks the kernel (`getrandom`) for
    // every request, and a request id needs no OS entropy.
    let request_id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    let route = req.match_pattern().unwrap_or_else(|| "(unmatched)".into());
    let span = tracing::info_span!(
        "request",
        %request_id,
        method = %req.method(),
        route = %route,
        status = tracing::field::Empty,
    );
    let mut res = next.call(req).instrument(span.clone()).await?;
    span.record("status", res.status().as_u16());
    if let Ok(value) = header::HeaderValue::from_str(&request_id.to_string()) {
        res.headers_mut()
            .insert(header::HeaderName::from_static("x-request-id"), value);
    }
    span.in_scope(|| tracing::info!("request finished"));
    Ok(res)
}
