//! Key names. Everything the adapter writes lives under one prefix; everything about one mobile
//! shares the Redis Cluster hash tag `{m:<mobile>}` so that it maps to one slot.

use domain::{CaptchaId, ClientNet, Mobile, SessionToken, UserId};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: std::sync::Arc<str>,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `{prefix}:captcha:{id}` — the captcha text (string).
    pub(crate) fn captcha(&self, id: &CaptchaId) -> String {
        format!("{}:captcha:{}", self.prefix, id.as_str())
    }

    fn mobile(&self, mobile: &Mobile, what: &str) -> String {
        format!("{}:{{m:{}}}:{what}", self.prefix, mobile.as_str())
    }

    /// `{prefix}:{m:<mobile>}:code` — hash `d` (hex digest), `a` (wrong attempts so far).
    pub(crate) fn code(&self, mobile: &Mobile) -> String {
        self.mobile(mobile, "code")
    }

    /// `{prefix}:{m:<mobile>}:cool` — string: the `reserved_at` (ms) of the last reservation.
    pub(crate) fn cooldown(&self, mobile: &Mobile) -> String {
        self.mobile(mobile, "cool")
    }

    /// `{prefix}:{m:<mobile>}:sends` — sorted set of reservations (score = reserved_at ms), one
    /// day deep; the hourly and daily counts both come from it.
    pub(crate) fn mobile_sends(&self, mobile: &Mobile) -> String {
        self.mobile(mobile, "sends")
    }

    /// `{prefix}:ip:<client>:hour` — sorted set of send reservations from one client (an IPv4
    /// address or an IPv6 prefix such as `2001:db8::/64`).
    pub(crate) fn ip_hour(&self, client: ClientNet) -> String {
        format!("{}:ip:{client}:hour", self.prefix)
    }

    /// `{prefix}:ip:<client>:captchas` — sorted set of captchas issued to one client.
    pub(crate) fn ip_captchas(&self, client: ClientNet) -> String {
        format!("{}:ip:{client}:captchas", self.prefix)
    }

    /// `{prefix}:global:hour` — sorted set of all reservations.
    pub(crate) fn global_hour(&self) -> String {
        format!("{}:global:hour", self.prefix)
    }

    /// `{prefix}:login:<client>` — the client's sign-in window: hash `s` (start, ms), `n`
    /// (attempts counted in it).
    pub(crate) fn client_login(&self, client: ClientNet) -> String {
        format!("{}:login:{client}", self.prefix)
    }

    /// `{prefix}:{m:<mobile>}:login` — the account's sign-in window, as for a client.
    pub(crate) fn mobile_login(&self, mobile: &Mobile) -> String {
        self.mobile(mobile, "login")
    }

    /// `{prefix}:user:<id>:sessions` — sorted set of the user's session keys in creation order
    /// (oldest first), legacy string sessions included; it lives as long as the longest-lived
    /// session in it.
    pub(crate) fn user_sessions(&self, user: UserId) -> String {
        format!("{}:user:{}:sessions", self.prefix, user.0)
    }

    /// `{prefix}:session:<sha256-hex of the token>` — a hash: `u` user id, `i` session id, `c`
    /// created and `l` last used (ms), `t` sliding ttl (ms; `0` for a cookie session, which is
    /// how its kind is told), `a` user agent (absent if none); it expires with the session.
    /// The release before this layout kept a string (the user id) here: the scripts upgrade one
    /// in place when they meet it (see `scripts::READ_SESSION`). The token itself is never
    /// stored, so a dump of Redis holds no usable cookie or bearer token.
    pub(crate) fn session(&self, token: &SessionToken) -> String {
        let digest = Sha256::digest(token.expose().as_bytes());
        format!("{}:session:{}", self.prefix, hex::encode(digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let k = Keys::new("yz");
        let m = Mobile::parse("13800138000").unwrap();
        let id = CaptchaId::parse("abc-1").unwrap();
        assert_eq!(k.captcha(&id), "yz:captcha:abc-1");
        assert_eq!(k.code(&m), "yz:{m:13800138000}:code");
        assert_eq!(k.cooldown(&m), "yz:{m:13800138000}:cool");
        assert_eq!(k.mobile_sends(&m), "yz:{m:13800138000}:sends");
        let ip = ClientNet::of("10.0.0.1".parse().unwrap(), 64);
        assert_eq!(k.ip_hour(ip), "yz:ip:10.0.0.1:hour");
        assert_eq!(k.ip_captchas(ip), "yz:ip:10.0.0.1:captchas");
        assert_eq!(k.client_login(ip), "yz:login:10.0.0.1");
        assert_eq!(k.mobile_login(&m), "yz:{m:13800138000}:login");
        assert_eq!(k.global_hour(), "yz:global:hour");
        assert_eq!(k.user_sessions(UserId(42)), "yz:user:42:sessions");
        let t = SessionToken::parse(&"a".repeat(43)).unwrap();
        assert_eq!(
            k.session(&t),
            "yz:session:66d34fba71f8f450f7e45598853e53bfc23bbd129027cbb131a2f4ffd7878cd0",
            "sha256 hex of the 43-character token"
        );
        let v6 = ClientNet::of("2001:db8::1".parse().unwrap(), 64);
        assert_eq!(k.ip_hour(v6), "yz:ip:2001:db8::/64:hour");
    }

    #[test]
    fn session_key_holds_a_digest_not_the_token() {
        let k = Keys::new("yz");
        let t = SessionToken::from_random([7; 32]);
        let key = k.session(&t);
        assert!(!key.contains(t.expose()));
        let hex_part = key.strip_prefix("yz:session:").unwrap();
        assert_eq!(hex_part.len(), 64);
        assert!(hex_part.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
