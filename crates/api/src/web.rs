//! HTTP plumbing shared by the routes: the request span, the CSRF double submit, cookies and
//! the client IP.

use std::net::IpAddr;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest};
use domain::SessionToken;
use subtle::ConstantTimeEq;
use tracing::Instrument;

use crate::reply::{Errno, Reply};
use crate::startup::State;

pub const SESSION_COOKIE: &str = "session";
pub const CSRF_COOKIE: &str = "csrf_token";
pub const CSRF_HEADER: &str = "X-CSRFToken";

/// A span per request with a fresh request id, the method and the route *pattern* (never the
/// path or query: `/api/v1.0/sms_codes/{mobile}` would otherwise log a full number). The id is
/// echoed in `X-Request-Id`.
pub async fn request_span(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = uuid::Uuid::new_v4();
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

/// Routes whose POST/DELETE change who is signed in: they need `X-CSRFToken` equal to the
/// `csrf_token` cookie (double submit).
fn csrf_protected(method: &Method, path: &str) -> bool {
    (method == Method::POST || method == Method::DELETE)
        && matches!(
            path,
            "/api/v1.0/users"
                | "/api/v1.0/sessions"
                | "/api/v1.0/session"
                | "/passport/register"
                | "/passport/login"
                | "/passport/logout"
        )
}

/// Double-submit CSRF: checks protected requests, and sets a JS-readable `csrf_token` cookie on
/// every response to a request that came without one (pages may come from a static server on
/// the same origin, so API replies such as the captcha image set it too).
pub async fn csrf(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let cookie = req.cookie(CSRF_COOKIE).map(|c| c.value().to_owned());
    if csrf_protected(req.method(), req.path()) {
        let header = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let valid = match &cookie {
            Some(c) if !c.is_empty() => bool::from(c.as_bytes().ct_eq(header.as_bytes())),
            _ => false,
        };
        if !valid {
            let reply = Reply::new(Errno::ReqErr, "CSRF令牌缺失或不匹配，请刷新页面后重试");
            let (http_req, _) = req.into_parts();
            let res = ServiceResponse::new(http_req, reply.into_response());
            return Ok(res.map_into_right_body());
        }
    }
    let state = req.app_data::<web::Data<State>>().cloned();
    let mut res = next.call(req).await?;
    if let (None, Some(state)) = (cookie, state) {
        // Hex: the value always ends in a letter or digit, as the front ends expect.
        let token = hex::encode(state.app.adapters().random.bytes32());
        let c = Cookie::build(CSRF_COOKIE, token)
            .path("/")
            .same_site(SameSite::Lax)
            .secure(state.cookie_secure)
            .http_only(false)
            .finish();
        if let Err(e) = res.response_mut().add_cookie(&c) {
            tracing::warn!(error = %e, "could not set the csrf_token cookie");
        }
    }
    Ok(res.map_into_left_body())
}

/// The session cookie: HttpOnly, SameSite=Lax, `Secure` per configuration.
pub fn session_cookie(token: &SessionToken, secure: bool, ttl_secs: u64) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token.expose().to_owned())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(CookieDuration::seconds(ttl_secs as i64))
        .finish()
}

/// A cookie that removes the session cookie.
pub fn expired_session_cookie(secure: bool) -> Cookie<'static> {
    let mut c = Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .finish();
    c.make_removal();
    c
}

/// The session token the request carries, if it is well-formed.
pub fn session_token(req: &HttpRequest) -> Option<SessionToken> {
    req.cookie(SESSION_COOKIE)
        .and_then(|c| SessionToken::parse(c.value()).ok())
}

/// The client's IP: the socket peer, or with `server.trust_forwarded_for` the right-most
/// address of `X-Forwarded-For` (the one the proxy in front of us appended; left-most entries
/// are whatever the client chose to send).
pub fn client_ip(req: &HttpRequest, trust_forwarded_for: bool) -> IpAddr {
    if trust_forwarded_for {
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse::<IpAddr>().ok())
            .next_back();
        if let Some(ip) = forwarded {
            return ip;
        }
    }
    req.peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn forwarded_for_is_used_only_when_trusted_and_right_most_wins() {
        let req = TestRequest::default()
            .peer_addr("10.0.0.1:5000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "1.1.1.1, 2.2.2.2"))
            .to_http_request();
        assert_eq!(
            client_ip(&req, false),
            "10.0.0.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(&req, true), "2.2.2.2".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn only_session_changing_writes_are_csrf_protected() {
        assert!(csrf_protected(&Method::POST, "/api/v1.0/users"));
        assert!(csrf_protected(&Method::DELETE, "/api/v1.0/session"));
        assert!(csrf_protected(&Method::POST, "/passport/logout"));
        assert!(!csrf_protected(&Method::GET, "/api/v1.0/session"));
        assert!(!csrf_protected(&Method::POST, "/api/v1.0/sms_codes"));
    }
}
