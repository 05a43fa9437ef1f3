//! The session cookie: the token of a server-side session, HttpOnly, SameSite=Lax, `Secure`
//! per configuration.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::HttpRequest;
use domain::SessionToken;

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

/// The session token the request carries, if it is well-formed.
pub fn session_token(req: &HttpRequest) -> Option<SessionToken> {
    req.cookie(SESSION_COOKIE)
        .and_then(|c| SessionToken::parse(c.value()).ok())
}
