use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use crate::{InvalidInput, Mobile, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub i64);

/// A registered user as the directory returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub mobile: Mobile,
    pub password_hash: PasswordHash,
    pub created_at: Timestamp,
}

impl User {
    /// The display name the iHome front ends show: the user's own mobile number, as in the
    /// seeds (`user.name = mobile`).
    pub fn name(&self) -> &str {
        self.mobile.as_str()
    }
}

/// What the directory needs to create a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub mobile: Mobile,
    pub password_hash: PasswordHash,
}

/// A plain-text password on its way to the hasher: 6–128 characters, never printed.
#[derive(Clone)]
pub struct Password(SecretString);

impl Password {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        if (6..=128).contains(&raw.chars().count()) {
            Ok(Self(SecretString::from(raw.to_owned())))
        } else {
            Err(InvalidInput::Password)
        }
    }

    /// For sign-in, where the length rule must not leak which accounts exist: any non-empty
    /// text up to 1024 bytes is accepted and simply fails to verify.
    pub fn candidate(raw: &str) -> Result<Self, InvalidInput> {
        if !raw.is_empty() && raw.len() <= 1024 {
            Ok(Self(SecretString::from(raw.to_owned())))
        } else {
            Err(InvalidInput::Password)
        }
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(****)")
    }
}

/// A PHC-format password hash (argon2id).
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(pub String);

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_length_is_counted_in_characters() {
        assert!(Password::parse("12345").is_err());
        assert!(Password::parse("123456").is_ok());
        assert!(Password::parse("密码密码密码").is_ok());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        assert!(!format!("{:?}", Password::parse("secret1").unwrap()).contains("secret1"));
    }
}
