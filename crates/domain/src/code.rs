use std::fmt;

use crate::InvalidInput;

/// Digits in an SMS code.
pub const SMS_CODE_LEN: usize = 6;

/// A one-time SMS code: exactly six ASCII digits. `Debug` never shows it; the only ways to the
/// digits are [`SmsCode::expose`] (for the SMS sender) and hashing.
#[derive(Clone, PartialEq, Eq)]
pub struct SmsCode(String);

impl SmsCode {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        if raw.len() == SMS_CODE_LEN && raw.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidInput::SmsCode)
        }
    }

    /// From a number below 1 000 000, zero-padded (`42` → `"000042"`).
    pub fn from_number(n: u32) -> Self {
        Self(format!("{:06}", n % 1_000_000))
    }

    /// The digits, for the message itself. Never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SmsCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SmsCode(******)")
    }
}

/// What a code was sent for (SPEC §5a). A code works only for its purpose: the purpose is bound
/// into the code's digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CodePurpose {
    /// Prove a new number to register with (the seeds' only purpose). Needs an unregistered
    /// mobile.
    #[default]
    Register,
    /// Sign in without a password. Needs a registered mobile.
    Login,
    /// Set a new password. Needs a registered mobile.
    Reset,
    /// Move the signed-in user to a new number. Needs an unregistered mobile.
    ChangeMobile,
}

impl CodePurpose {
    pub const ALL: [Self; 4] = [Self::Register, Self::Login, Self::Reset, Self::ChangeMobile];

    /// `register` / `login` / `reset` / `change_mobile`: the wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::Login => "login",
            Self::Reset => "reset",
            Self::ChangeMobile => "change_mobile",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == raw)
            .ok_or(InvalidInput::CodePurpose)
    }

    /// Whether the mobile must belong to a user already (`login`, `reset`) rather than to
    /// nobody (`register`, `change_mobile`).
    pub fn needs_registered_mobile(self) -> bool {
        matches!(self, Self::Login | Self::Reset)
    }
}

/// What is kept of a code at rest: a keyed MAC of (mobile, code), never the code itself.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CodeDigest(pub [u8; 32]);

impl fmt::Debug for CodeDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeDigest(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_zero_padded() {
        assert_eq!(SmsCode::from_number(42).expose(), "000042");
        assert_eq!(SmsCode::from_number(999_999).expose(), "999999");
        assert!(SmsCode::parse("123456").is_ok());
        for bad in ["", "12345", "1234567", "12345a", "１２３４５６"] {
            assert!(SmsCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn purposes_round_trip_their_wire_names() {
        for p in CodePurpose::ALL {
            assert_eq!(CodePurpose::parse(p.as_str()), Ok(p));
        }
        for bad in ["", "Register", "login ", "sign_in"] {
            assert!(CodePurpose::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(CodePurpose::default(), CodePurpose::Register);
    }

    #[test]
    fn debug_hides_the_digits() {
        assert!(!format!("{:?}", SmsCode::from_number(123_456)).contains("123456"));
    }
}
