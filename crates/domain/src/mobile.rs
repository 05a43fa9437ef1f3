use std::fmt;

use crate::InvalidInput;

/// A mainland China mobile number, exactly `^1[3-9]\d{9}$`.
///
/// `Debug` and `Display` both mask the middle four digits (`138****8000`) so that a number can
/// be logged freely; adapters that need the full number call [`Mobile::as_str`] on purpose.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mobile(String);

impl Mobile {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let b = raw.as_bytes();
        let valid = b.len() == 11
            && b[0] == b'1'
            && (b'3'..=b'9').contains(&b[1])
            && b.iter().all(u8::is_ascii_digit);
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidInput::Mobile)
        }
    }

    /// The full number: for the SMS provider, the user table and storage keys only.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `138****8000`: safe for logs, traces and replies.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

impl fmt::Debug for Mobile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mobile({})", self.masked())
    }
}

impl fmt::Display for Mobile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_well_formed_number_parses(second in 3u8..=9, rest in "[0-9]{9}") {
            let raw = format!("1{second}{rest}");
            let m = Mobile::parse(&raw).unwrap();
            prop_assert_eq!(m.as_str(), raw.as_str());
        }

        #[test]
        fn trailing_or_leading_garbage_is_refused(ok in "1[3-9][0-9]{9}", junk in "[^\n]{1,4}") {
            let trailing = format!("{ok}{junk}");
            let leading = format!("{junk}{ok}");
            prop_assert!(Mobile::parse(&trailing).is_err());
            prop_assert!(Mobile::parse(&leading).is_err());
        }

        #[test]
        fn anything_parsed_matches_the_pattern(raw in "\\PC{0,14}") {
            if let Ok(m) = Mobile::parse(&raw) {
                let b = m.as_str().as_bytes();
                prop_assert_eq!(b.len(), 11);
                prop_assert_eq!(b[0], b'1');
                prop_assert!((b'3'..=b'9').contains(&b[1]));
                prop_assert!(b.iter().all(u8::is_ascii_digit));
            }
        }

        #[test]
        fn masking_never_shows_the_middle(ok in "1[3-9][0-9]{9}") {
            let m = Mobile::parse(&ok).unwrap();
            let shown = format!("{m} {m:?}");
            let masked = format!("{}****{}", &ok[..3], &ok[7..]);
            prop_assert!(!shown.contains(&ok));
            prop_assert!(shown.contains(&masked));
        }
    }

    #[test]
    fn known_bad_numbers() {
        for bad in [
            "",
            "1380013800",
            "13800138000x",
            "12800138000",
            "23800138000",
            "138001380000",
            " 13800138000",
            "１3800138000",
            "1380013800０",
        ] {
            assert!(Mobile::parse(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
