//! Sessions: who is signed in, on which device. A browser holds its session's token in a
//! cookie, an app as a bearer token (SPEC §5a); the store keeps only a digest of it.

use std::fmt;
use std::time::Duration;

use crate::{InvalidInput, Timestamp, UserId};

/// The secret a client holds for its session (the cookie value, or an app's bearer token):
/// 32 random bytes as unpadded base64url (43 chars). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionToken(String);

impl SessionToken {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let ok = raw.len() == 43
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidInput::SessionToken)
        }
    }

    /// A token from 32 random bytes (the caller's CSPRNG).
    pub fn from_random(bytes: [u8; 32]) -> Self {
        use base64::Engine;
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(..)")
    }
}

/// The public name of a session, for listing the user's sessions and ending one of them:
/// 16 random bytes as 32 lowercase hex characters, unrelated to the token. Knowing it grants
/// nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let ok = raw.len() == 32
            && raw
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidInput::SessionId)
        }
    }

    /// An id from the first 16 of 32 random bytes (the caller's CSPRNG).
    pub fn from_random(bytes: [u8; 32]) -> Self {
        Self(bytes[..16].iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which kind of client holds a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionKind {
    /// A browser, by the session cookie. Lives a fixed time from sign-in.
    Cookie,
    /// A mobile app (or any non-browser client), by `Authorization: Bearer`. Its lifetime
    /// slides: every use (at most once per [`SESSION_TOUCH_INTERVAL`]) renews it.
    App,
}

impl SessionKind {
    /// `cookie` / `app`: the wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cookie => "cookie",
            Self::App => "app",
        }
    }
}

/// A session records its use, and a sliding one is renewed, at most this often: a client
/// polling every second costs one write a minute, not one per request.
pub const SESSION_TOUCH_INTERVAL: Duration = Duration::from_secs(60);

/// The longest user agent a session keeps (characters beyond it are cut).
pub const USER_AGENT_MAX: usize = 256;

/// A live session as the store keeps it (never its token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user: UserId,
    pub kind: SessionKind,
    pub created_at: Timestamp,
    /// The last use that was recorded (uses closer together than [`SESSION_TOUCH_INTERVAL`]
    /// are not).
    pub last_used_at: Timestamp,
    /// The `User-Agent` it was started with, cleaned by [`user_agent`]; `None` if it sent none.
    pub user_agent: Option<String>,
}

/// A `User-Agent` as a session keeps it: control characters dropped, at most
/// [`USER_AGENT_MAX`] characters, `None` if nothing is left.
pub fn user_agent(raw: &str) -> Option<String> {
    let cleaned: String = raw
        .chars()
        .filter(|c| !c.is_control())
        .take(USER_AGENT_MAX)
        .collect();
    let cleaned = cleaned.trim();
    (!cleaned.is_empty()).then(|| cleaned.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_tokens_are_43_base64url_chars() {
        assert!(SessionToken::parse(&"a".repeat(43)).is_ok());
        assert!(SessionToken::parse(&"a".repeat(42)).is_err());
        assert!(SessionToken::parse(&format!("{}=", "a".repeat(42))).is_err());
        let t = SessionToken::from_random([0xfb; 32]);
        assert_eq!(SessionToken::parse(t.expose()).unwrap(), t);
        assert!(!format!("{t:?}").contains(t.expose()));
    }

    #[test]
    fn session_ids_are_32_lowercase_hex_chars() {
        let id = SessionId::from_random([0xab; 32]);
        assert_eq!(id.as_str(), "ab".repeat(16));
        assert_eq!(SessionId::parse(id.as_str()).unwrap(), id);
        for bad in [
            "",
            "AB".repeat(16).as_str(),
            &"a".repeat(31),
            &"g".repeat(32),
        ] {
            assert!(SessionId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn user_agents_are_cleaned_and_cut() {
        assert_eq!(user_agent("curl/8.5\r\n").as_deref(), Some("curl/8.5"));
        assert_eq!(user_agent(" \t"), None);
        assert_eq!(user_agent(&"x".repeat(1000)).unwrap().len(), USER_AGENT_MAX);
        assert_eq!(
            user_agent(&"验".repeat(300)).unwrap().chars().count(),
            USER_AGENT_MAX
        );
    }
}
