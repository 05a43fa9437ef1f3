use domain::{CodeDigest, CodePurpose, Mobile, SmsCode};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Turns (mobile, purpose, code) into the keyed digest kept at rest: HMAC-SHA256 with
/// `security.code_secret`. Binding the mobile into the MAC means a digest is useless for any
/// other number, binding the purpose that a code sent to register cannot reset a password
/// (SPEC §5a), and without the secret a dump of the store reveals no code (a 6-digit code
/// under a plain hash would fall to a million guesses).
///
/// The message is `mobile:code` for [`CodePurpose::Register`] — as before purposes existed, so
/// codes sent by the previous release still register after an upgrade — and
/// `mobile:code:purpose` for the others (mobile and code have fixed lengths, so no two
/// messages collide).
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

    pub fn digest(&self, mobile: &Mobile, purpose: CodePurpose, code: &SmsCode) -> CodeDigest {
        let mut mac = self.keyed.clone();
        mac.update(mobile.as_str().as_bytes());
        mac.update(b":");
        mac.update(code.expose().as_bytes());
        if purpose != CodePurpose::Register {
            mac.update(b":");
            mac.update(purpose.as_str().as_bytes());
        }
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

    const REGISTER: CodePurpose = CodePurpose::Register;

    #[test]
    fn digest_depends_on_key_mobile_purpose_and_code() {
        let h = CodeHasher::new(b"k1").unwrap();
        let base = h.digest(&m("13800138000"), REGISTER, &c("123456"));
        assert_eq!(base, h.digest(&m("13800138000"), REGISTER, &c("123456")));
        assert_ne!(base, h.digest(&m("13800138001"), REGISTER, &c("123456")));
        assert_ne!(base, h.digest(&m("13800138000"), REGISTER, &c("123457")));
        let other_key = CodeHasher::new(b"k2").unwrap();
        assert_ne!(
            base,
            other_key.digest(&m("13800138000"), REGISTER, &c("123456"))
        );
        let mut all: Vec<_> = CodePurpose::ALL
            .iter()
            .map(|&p| h.digest(&m("13800138000"), p, &c("123456")).0)
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), CodePurpose::ALL.len(), "one digest per purpose");
    }

    #[test]
    fn matches_a_known_hmac_vector() {
        // python3 -c "import hmac,hashlib;
        //   print(hmac.new(b'key',b'13800138000:123456',hashlib.sha256).hexdigest())"
        let h = CodeHasher::new(b"key").unwrap();
        let hex = |p| -> String {
            let d = h.digest(&m("13800138000"), p, &c("123456"));
            d.0.iter().map(|b| format!("{b:02x}")).collect()
        };
        assert_eq!(
            hex(REGISTER),
            "fd8f3287d0aa565a8852adaf256a3f43c098e5e59714894a5b3d8294fc20de2e"
        );
        // The same with b'13800138000:123456:login'.
        assert_eq!(
            hex(CodePurpose::Login),
            "52b26c9e24a96b2f350101ac345d8a6096d96e5113b72eade2c52ffa6734ab2a"
        );
    }

    #[test]
    fn empty_secret_is_refused() {
        assert!(CodeHasher::new(b"").is_err());
    }
}
