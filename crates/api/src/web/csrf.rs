//! Double-submit CSRF (SPEC §2): a JS-readable `csrf_token` cookie, and an `X-CSRFToken` header
//! that must equal it on every route that changes who is signed in.
//!
//! - [`CsrfCookie`], app-wide: sets the cookie on every response to a request that came without
//!   one (pages may come from a static server on the same origin, so API replies such as the
//!   captcha image set it too, and so does a refusal).
//! - [`post`] and [`delete`]: how the route table declares a state-changing route. The check is
//!   part of the route itself (`Route::wrap`), so it runs exactly on the routes declared with
//!   them, on the path as routing decoded it. `clippy.toml` refuses actix's own `web::post()`,
//!   `web::delete()` and friends, so a new state-changing route cannot be written without
//!   choosing: [`post`] / [`delete`], or [`exempt_post`] for a route another guard protects.
//! - Every state-changing route — those three and [`action_get`], for the GET forms the front
//!   ends use to send a code or sign out — refuses a request whose browser says it came from
//!   another site (`Sec-Fetch-Site: cross-site`, SPEC §4a): no other site can make a visitor's
//!   browser send codes or sign them out, token or not.
//! - Apps (SPEC §5a): a request with no session cookie that carries a bearer token, or says
//!   `"client": "app"` in its JSON body, needs no token — the double submit exists because a
//!   browser attaches the session cookie on its own, and such a request has none to attach (a
//!   browser never adds `Authorization` on its own either, and an app sign-in sets no cookie).
//!   A request with the session cookie is always checked. A request with a bearer token, or let
//!   through as an app's, gets no `csrf_token` cookie (others do — an app's captcha request
//!   among them; it may ignore it). Such a request is an app's to the end: a sign-in it makes
//!   answers with a token, never a cookie (`routes::device`).

use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, FromRequest, Handler, HttpMessage, Responder};
use ports::RandomSource;
use subtle::ConstantTimeEq;

use super::session::{is_bearer_request, SESSION_COOKIE};
use super::table::{Declared, Protection};
use crate::reply::{Errno, Reply};

pub const CSRF_COOKIE: &str = "csrf_token";
pub const CSRF_HEADER: &str = "X-CSRFToken";

/// A POST route whose handler runs only with a valid `X-CSRFToken`.
pub fn post<F, Args>(handler: F) -> Declared
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    state_changing(Method::POST, handler, Protection::Token)
}

/// A PUT route whose handler runs only with a valid `X-CSRFToken`.
pub fn put<F, Args>(handler: F) -> Declared
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    state_changing(Method::PUT, handler, Protection::Token)
}

/// A DELETE route whose handler runs only with a valid `X-CSRFToken`.
pub fn delete<F, Args>(handler: F) -> Declared
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    state_changing(Method::DELETE, handler, Protection::Token)
}

/// A POST route without the token, for a route another guard protects: sending a code, which
/// needs a solved captcha, and whose front ends post it without `X-CSRFToken`.
pub fn exempt_post<F, Args>(handler: F) -> Declared
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    state_changing(Method::POST, handler, Protection::SameSite)
}

/// A GET route that changes state (the seeds' `GET /sms_codes/{mobile}` send, the news site's
/// sign-out link): no token — the front ends send none.
pub fn action_get<F, Args>(handler: F) -> Declared
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    state_changing(Method::GET, handler, Protection::SameSite)
}

/// A `method` route answered by `handler`, never for a cross-site request, and with
/// [`Protection::Token`] only with a valid `X-CSRFToken`. (The last `wrap` runs first: the site
/// check, then the token.) The one place that builds a writable route: the constructors above
/// are how the route table reaches it.
fn state_changing<F, Args>(method: Method, handler: F, protection: Protection) -> Declared
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    #[allow(clippy::disallowed_methods)] // this is the protected constructor
    let route = web::method(method.clone()).to(handler);
    let route = match protection {
        Protection::Token => route.wrap(from_fn(require_token)),
        Protection::SameSite | Protection::None => route,
    };
    Declared::new(method, protection, route.wrap(from_fn(require_same_site)))
}

pub const NO_TOKEN: &str = "CSRF令牌缺失或不匹配，请刷新页面后重试";

/// Lets the request through only if `X-CSRFToken` equals the `csrf_token` cookie, or it is an
/// app's (see the module docs); otherwise answers REQERR without calling the handler.
async fn require_token(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if !carries_token(&req) && !is_app_request(&mut req).await {
        return Ok(refuse(req, NO_TOKEN));
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Marks a request judged to be an app's, so that [`CsrfCookie`] sets it no cookie.
#[derive(Clone, Copy)]
struct AppRequest;

/// No session cookie, and a bearer token or `"client": "app"` in the JSON body. The body is
/// read (within the payload limit) and put back for the handler; it is only read when the
/// request has no session cookie and no valid token of its own.
async fn is_app_request(req: &mut ServiceRequest) -> bool {
    if req.cookie(SESSION_COOKIE).is_some() {
        return false;
    }
    let app = is_bearer_request(req) || says_client_app(req).await;
    if app {
        req.extensions_mut().insert(AppRequest);
    }
    app
}

async fn says_client_app(req: &mut ServiceRequest) -> bool {
    #[derive(serde::Deserialize)]
    struct Client<'a> {
        #[serde(borrow)]
        client: Option<&'a str>,
    }
    let Ok(body) = req.extract::<web::Bytes>().await else {
        return false;
    };
    let app = serde_json::from_slice::<Client<'_>>(&body).is_ok_and(|c| c.client == Some("app"));
    req.set_payload(Payload::from(body));
    app
}

/// Lets the request through unless the browser says it came from another site.
async fn require_same_site(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if is_cross_site(&req) {
        return Ok(refuse(req, CROSS_SITE));
    }
    Ok(next.call(req).await?.map_into_left_body())
}

pub const CROSS_SITE: &str = "拒绝来自其他网站的请求";

/// REQERR without calling the handler (the app-wide [`CsrfCookie`] still sets the cookie, so
/// a page opened without one can submit again).
fn refuse<B>(req: ServiceRequest, errmsg: &str) -> ServiceResponse<EitherBody<B>> {
    tracing::info!(reason = errmsg, "state-changing request refused");
    req.into_response(Reply::new(Errno::ReqErr, errmsg).into_response())
        .map_into_right_body()
}

/// `Sec-Fetch-Site: cross-site` (browsers send it; `same-origin`, `same-site` and `none` —
/// typed or bookmarked — pass, as do clients that send no such header).
fn is_cross_site(req: &ServiceRequest) -> bool {
    req.headers()
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
}

fn carries_token(req: &ServiceRequest) -> bool {
    let header = req
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match req.cookie(CSRF_COOKIE) {
        Some(c) if !c.value().is_empty() => c.value().as_bytes().ct_eq(header.as_bytes()).into(),
        _ => false,
    }
}

/// Sets the `csrf_token` cookie on responses to requests that came without one (but not to
/// apps').
#[derive(Clone)]
pub struct CsrfCookie {
    random: Arc<dyn RandomSource>,
    secure: bool,
}

impl CsrfCookie {
    pub fn new(random: Arc<dyn RandomSource>, secure: bool) -> Self {
        Self { random, secure }
    }

    /// The middleware: `App::wrap(from_fn(move |req, next| csrf.clone().issue(req, next)))`.
    pub async fn issue(
        self,
        req: ServiceRequest,
        next: Next<impl MessageBody>,
    ) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
        let needs_one = req.cookie(CSRF_COOKIE).is_none() && !is_bearer_request(&req);
        let mut res = next.call(req).await?;
        let app = res.request().extensions().get::<AppRequest>().is_some();
        if needs_one && !app {
            // Hex: the value always ends in a letter or digit, as the front ends expect.
            let token = hex::encode(self.random.bytes32());
            let cookie = Cookie::build(CSRF_COOKIE, token)
                .path("/")
                .same_site(SameSite::Lax)
                .secure(self.secure)
                .http_only(false)
                .finish();
            if let Err(e) = res.response_mut().add_cookie(&cookie) {
                tracing::warn!(error = %e, "could not set the csrf_token cookie");
            }
        }
        Ok(res)
    }
}
