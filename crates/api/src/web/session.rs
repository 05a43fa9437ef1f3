//! How a request says who it is (SPEC §5a): a browser by the session cookie (HttpOnly,
//! SameSite=Lax, `Secure` per configuration), an app by `Authorization: Bearer <token>`. Both
//! carry the token of a server-side session; never both at once.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::dev::ServiceRequest;
use actix_web::http::header::{HeaderMap, AUTHORIZATION, USER_AGENT};
use actix_web::HttpRequest;
use app::sessions::Device;
use domain::{SessionKind, SessionToken};

use crate::reply::Reply;

pub const SESSION_COOKIE: &str = "session";

#[derive(Debug, Clone, Copy)]
pub struct SessionCookie {
    pub secure: bool,
}

impl SessionCookie {
    /// The cookie of a new session, living as long as the session.
    pub fn set(&self, token: &SessionToken, lifetime: std::time::Duration) -> Cookie<'static> {
        let max_age = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
        Cookie::build(SESSION_COOKIE, token.expose().to_owned())
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .max_age(CookieDuration::seconds(max_age))
            .finish()
    }

    /// A cookie that removes the session cookie.
    pub fn clear(&self) -> Cookie<'static> {
        let mut c = Cookie::build(SESSION_COOKIE, "")
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .finish();
        c.make_removal();
        c
    }
}

/// The session token a request presents, and how.
#[derive(Debug, Clone)]
pub struct Credential {
    /// `None`: presented, but malformed — as good as an unknown token.
    pub token: Option<SessionToken>,
    pub via: SessionKind,
}

/// The request's credential: its session cookie or its bearer token, `None` if neither.
/// Both at once is PARAMERR: a request says who it is one way.
pub fn credential(req: &HttpRequest) -> Result<Option<Credential>, Reply> {
    let cookie = req.cookie(SESSION_COOKIE).filter(|c| !c.value().is_empty());
    match (cookie, bearer(req.headers())) {
        (Some(_), Some(_)) => Err(Reply::param("不能同时使用会话Cookie和Bearer令牌")),
        (Some(cookie), None) => Ok(Some(Credential {
            token: SessionToken::parse(cookie.value()).ok(),
            via: SessionKind::Cookie,
        })),
        (None, Some(raw)) => Ok(Some(Credential {
            token: SessionToken::parse(raw).ok(),
            via: SessionKind::App,
        })),
        (None, None) => Ok(None),
    }
}

/// The well-formed session cookie of the request, if any: the browser session a new sign-in
/// replaces.
pub fn session_cookie(req: &HttpRequest) -> Option<SessionToken> {
    req.cookie(SESSION_COOKIE)
        .and_then(|c| SessionToken::parse(c.value()).ok())
}

/// The value of `Authorization: Bearer <value>` (scheme case-insensitive), if the request
/// has one. Other schemes are not ours and are ignored.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// Whether a request is an app's rather than a browser's, as far as its headers tell: no
/// session cookie, and a bearer token (a browser never adds `Authorization` on its own).
pub fn is_bearer_request(req: &ServiceRequest) -> bool {
    req.cookie(SESSION_COOKIE).is_none() && bearer(req.headers()).is_some()
}

/// The client a new session is for: `kind`, with the request's `User-Agent`.
pub fn device_of(req: &HttpRequest, kind: SessionKind) -> Device {
    let user_agent = req
        .headers()
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(domain::user_agent);
    Device { kind, user_agent }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::*;

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn only_the_bearer_scheme_is_read() {
        assert_eq!(bearer(&with_authorization("Bearer abc")), Some("abc"));
        assert_eq!(bearer(&with_authorization("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(&with_authorization("Basic dXNlcjpwYXNz")), None);
        assert_eq!(bearer(&with_authorization("Bearer")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
