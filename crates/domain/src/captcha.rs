use std::fmt;

use crate::InvalidInput;

/// Characters a captcha may show: no 0/O, 1/I/L, and no lower-case look-alikes either, since
/// the comparison is case-insensitive anyway.
pub const CAPTCHA_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// Characters per captcha unless `captcha.length` says otherwise.
pub const CAPTCHA_LEN: usize = 4;
/// The longest text a guess or a configured captcha text may have.
pub const CAPTCHA_TEXT_MAX: usize = 16;
/// The lengths `captcha.length` may take: fewer than 4 is guessable, more than 8 is a chore.
pub const CAPTCHA_LENGTHS: std::ops::RangeInclusive<usize> = 4..=8;

/// The client-chosen key of a captcha: 1–64 characters of `[A-Za-z0-9_-]` (front ends send a
/// UUID).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CaptchaId(String);

impl CaptchaId {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let ok = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidInput::CaptchaId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CaptchaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CaptchaId({})", self.0)
    }
}

/// The text a captcha shows, or a user's guess at it. Stored upper-case; compared
/// case-insensitively. Not secret once rendered, but still kept out of logs.
#[derive(Clone, PartialEq, Eq)]
pub struct CaptchaText(String);

impl CaptchaText {
    /// A user's guess or a configured fixed text: 1–16 ASCII letters or digits.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let ok = (1..=CAPTCHA_TEXT_MAX).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_alphanumeric());
        if ok {
            Ok(Self(raw.to_ascii_uppercase()))
        } else {
            Err(InvalidInput::CaptchaText)
        }
    }

    /// Build a text from indices into [`CAPTCHA_ALPHABET`] (taken modulo its length).
    pub fn from_alphabet_indices(indices: impl IntoIterator<Item = u32>) -> Self {
        let text = indices
            .into_iter()
            .map(|i| CAPTCHA_ALPHABET[i as usize % CAPTCHA_ALPHABET.len()] as char)
            .collect();
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Case-insensitive: `ab3d` matches `AB3D`.
    pub fn matches(&self, guess: &CaptchaText) -> bool {
        self.0.eq_ignore_ascii_case(&guess.0)
    }
}

impl fmt::Debug for CaptchaText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CaptchaText(****)")
    }
}

/// A rendered captcha: the encoded image and its MIME type.
#[derive(Clone, PartialEq, Eq)]
pub struct CaptchaImage {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
}

impl fmt::Debug for CaptchaImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CaptchaImage({}, {} bytes)",
            self.content_type,
            self.bytes.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_charset_and_length() {
        assert!(CaptchaId::parse("0b4c7f2e-9a4d-4a9c-8d0e-3e2f1a5b6c7d").is_ok());
        assert!(CaptchaId::parse("a").is_ok());
        assert!(CaptchaId::parse(&"x".repeat(64)).is_ok());
        for bad in ["", "a b", "a/b", "ä", "a.b", &"x".repeat(65)] {
            assert!(CaptchaId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn texts_are_one_to_the_maximum_letters_or_digits_stored_upper_case() {
        assert_eq!(CaptchaText::parse("ab3d").unwrap().as_str(), "AB3D");
        assert!(CaptchaText::parse(&"a".repeat(CAPTCHA_TEXT_MAX)).is_ok());
        for bad in [
            "",
            "ab d",
            "ab-d",
            "ab3д",
            &"a".repeat(CAPTCHA_TEXT_MAX + 1),
        ] {
            assert_eq!(
                CaptchaText::parse(bad),
                Err(InvalidInput::CaptchaText),
                "{bad:?}"
            );
        }
        assert_eq!(
            InvalidInput::CaptchaText.to_string(),
            "captcha text must be 1-16 ASCII letters or digits"
        );
    }

    #[test]
    fn the_default_length_is_configurable_and_every_configurable_length_is_a_valid_text() {
        assert!(CAPTCHA_LENGTHS.contains(&CAPTCHA_LEN));
        for n in CAPTCHA_LENGTHS {
            let t = CaptchaText::from_alphabet_indices(0..n as u32);
            assert_eq!(CaptchaText::parse(t.as_str()).as_ref(), Ok(&t));
        }
    }

    #[test]
    fn comparison_ignores_case() {
        let shown = CaptchaText::parse("AB3D").unwrap();
        assert!(shown.matches(&CaptchaText::parse("ab3d").unwrap()));
        assert!(!shown.matches(&CaptchaText::parse("ab3e").unwrap()));
    }

    #[test]
    fn alphabet_has_no_look_alikes() {
        for c in b"01OIL" {
            assert!(!CAPTCHA_ALPHABET.contains(c), "{}", *c as char);
        }
        let t = CaptchaText::from_alphabet_indices([0, 1, 30, 31]);
        assert_eq!(t.as_str().len(), CAPTCHA_LEN);
        assert!(t.as_str().bytes().all(|b| CAPTCHA_ALPHABET.contains(&b)));
        assert_eq!(t.as_str(), "23Z2", "indices are taken modulo the alphabet");
    }

    #[test]
    fn debug_hides_the_text() {
        let t = CaptchaText::parse("AB3D").unwrap();
        assert!(!format!("{t:?}").contains("AB3D"));
    }
}
