use domain::{CodeDigest, Mobile, SmsCode};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Turns (mobile, code) into the keyed digest kept at rest: HMAC-SHA256 with
/// `security.code_secret`. Binding the mobile into the MAC means a digest is useless for any
/// other number, and without the secret a dump of the store reveals no code (a 6-digit code
/// under a plain hash would fall to a million guesses).
#[derive(Clone)]
pub struct CodeHasher {
    keyed: Hmac<Sha256>,
}

/// The code secret was empty.
#[derive(Debug, thiserror::Error)]
#[error("the code secret must not be empty")]
pub struct EmptySecret;

impl CodeHasher {
    pub fn new(secret: &[u8]) -> Result<Self, EmptySecret> {
        if secret.is_empty() {
            return Err(EmptySecret);
        }
        let keyed = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| EmptySecret)?;
        Ok(Self { keyed })
    }

    pub fn digest(&self, mobile: &Mobile, code: &SmsCode) -> CodeDigest {
        let mut mac = self.keyed.clone();
        mac.update(mobile.as_str().as_bytes());
        mac.update(b":");
        mac.update(code.expose().as_bytes());
        CodeDigest(mac.finalize().into_bytes().into())
    }
}

impl std::fmt::Debug for CodeHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeHasher(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Mobile {
        Mobile::parse(s).unwrap()
    }
    fn c(s: &str) -> SmsCode {
        SmsCode::parse(s).unwrap()
    }

    #[test]
    fn digest_depends_on_key_mobile_and_code() {
        let h = CodeHasher::new(b"k1").unwrap();
        let base = h.digest(&m("13800138000"), &c("123456"));
        assert_eq!(base, h.digest(&m("13800138000"), &c("123456")));
        assert_ne!(base, h.digest(&m("13800138001"), &c("123456")));
        assert_ne!(base, h.digest(&m("13800138000"), &c("123457")));
        let other_key = CodeHasher::new(b"k2").unwrap();
        assert_ne!(base, other_key.digest(&m("13800138000"), &c("123456")));
    }

    #[test]
    fn matches_a_known_hmac_vector() {
        // python3 -c "import hmac,hashlib;
        //   print(hmac.new(b'key',b'13800138000:123456',hashlib.sha256).hexdigest())"
        let d = CodeHasher::new(b"key")
            .unwrap()
            .digest(&m("13800138000"), &c("123456"));
        let hex: String = d.0.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "fd8f3287d0aa565a8852adaf256a3f43c098e5e59714894a5b3d8294fc20de2e"
        );
    }

    #[test]
    fn empty_secret_is_refused() {
        assert!(CodeHasher::new(b"").is_err());
    }
}
