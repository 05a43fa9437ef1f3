//! Is `security.code_secret` strong enough for production (SPEC §4a)? A key that was published
//! (an example value) or guessed (a short, patterned or wordy string) lets anyone who reads the
//! store recover every code by trying the million six-digit codes against each digest.
//!
//! [`weakness`] is a pure check of the string as written. It wants ≥ 128 bits of entropy if the
//! string was drawn at random from its alphabet, and refuses what is clearly not random. Every
//! rule below is chosen so that a random secret of the minimum length passes it with
//! overwhelming probability; the one-in-many-thousands exceptions are stated with the rule, and
//! the refusal says to generate another.

use std::collections::HashSet;
use std::fmt;

/// Values published in this repository (`deploy/production.env.example`, the docs, the tests).
/// They are refused by the other rules too; naming them gives the clearer message.
const DOCUMENTED_EXAMPLES: [&str; 4] = [
    "CHANGE-ME-TO-64-HEX-CHARACTERS",
    "CHANGE-ME-run-openssl-rand-hex-32",
    "0123456789abcdef0123456789abcdef",
    "limits-test-secret-0123456789abcdef",
];

/// Refused as substrings, case-insensitively: words people put in a secret they make up.
/// None can appear in a hex string (each has a letter past `f`); in a random base64 string of
/// 43 characters the four-letter `test` appears with probability about 4·10⁻⁵.
const WORDS: [&str; 16] = [
    "secret",
    "password",
    "passwd",
    "changeme",
    "change-me",
    "example",
    "sample",
    "default",
    "yanzheng",
    "test",
    "dummy",
    "admin",
    "qwerty",
    "letmein",
    "please",
    "replace",
];

/// 128 bits as hex: 4 bits a character.
const MIN_HEX: usize = 32;
/// 128 bits as base64 (6 bits a character, 21⅓ rounded up), and for any other printable
/// string, which is at least as rich as base64 per character.
const MIN_OTHER: usize = 22;

/// Fewer distinct characters than this is refused. A random 32-character hex string has fewer
/// than 8 distinct characters with probability 3.5·10⁻⁸ (fewer than 10: 9.5·10⁻⁵, too often,
/// hence 8); 64 hex characters: 1.2·10⁻¹⁹; 22 base64 characters: 3.5·10⁻¹³ (exact occupancy
/// computation, drawing n characters uniformly from an alphabet of 16 or 64).
const MIN_DISTINCT: usize = 8;

/// A run of this many characters each one more (or each one less) than the one before, as in
/// `012345`, `abcdef` or `fedcba`, is refused. Random strings hold one with probability
/// 1.9·10⁻⁵ (32 hex), 4.0·10⁻⁵ (64 hex, `openssl rand -hex 32`), 5·10⁻⁸ (43 base64) — exact,
/// by a Markov chain over (last character, run lengths).
const MAX_RUN: usize = 6;

/// Why a secret is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Weakness {
    /// One of the values published in this repository.
    DocumentedExample,
    /// Shorter than 128 bits in its alphabet.
    TooShort {
        alphabet: &'static str,
        len: usize,
        min: usize,
    },
    /// Contains a word from [`WORDS`].
    Word(&'static str),
    /// A run of [`MAX_RUN`] or more consecutive characters.
    Sequence,
    /// The same unit over and over (`abcabcabc…`).
    Repeated { unit: usize },
    /// Too few distinct characters.
    FewDistinct { distinct: usize },
}

impl fmt::Display for Weakness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Weakness::DocumentedExample => {
                f.write_str("is an example value published with yanzheng")
            }
            Weakness::TooShort { alphabet, len, min } => write!(
                f,
                "is {len} {alphabet} characters; 128 bits need at least {min}"
            ),
            Weakness::Word(word) => write!(f, "contains the word `{word}`"),
            Weakness::Sequence => write!(
                f,
                "contains a run of {MAX_RUN} or more consecutive characters (like 012345 or fedcba)"
            ),
            Weakness::Repeated { unit } => {
                write!(f, "repeats the same {unit} character(s) over and over")
            }
            Weakness::FewDistinct { distinct } => write!(
                f,
                "has only {distinct} distinct characters (a random one has at least {MIN_DISTINCT})"
            ),
        }
    }
}

/// Why `secret` is not fit for production, or `None` if it is.
pub fn weakness(secret: &str) -> Option<Weakness> {
    if DOCUMENTED_EXAMPLES
        .iter()
        .any(|e| e.eq_ignore_ascii_case(secret))
    {
        return Some(Weakness::DocumentedExample);
    }
    guessable(secret)
}

/// The rules that do not need to know the published values.
fn guessable(secret: &str) -> Option<Weakness> {
    let (alphabet, len, min) = measure(secret);
    if len < min {
        return Some(Weakness::TooShort { alphabet, len, min });
    }
    let lower = secret.to_lowercase();
    if let Some(word) = WORDS.iter().find(|w| lower.contains(*w)) {
        return Some(Weakness::Word(word));
    }
    let chars: Vec<char> = secret.chars().collect();
    if has_run(&chars) {
        return Some(Weakness::Sequence);
    }
    if let Some(unit) = repeated_unit(&chars) {
        return Some(Weakness::Repeated { unit });
    }
    let distinct = chars.iter().collect::<HashSet<_>>().len();
    if distinct < MIN_DISTINCT {
        return Some(Weakness::FewDistinct { distinct });
    }
    None
}

/// The alphabet the secret is written in, its length there, and the length 128 bits need.
fn measure(secret: &str) -> (&'static str, usize, usize) {
    if !secret.is_empty() && secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return ("hex", secret.len(), MIN_HEX);
    }
    let unpadded = secret.trim_end_matches('=');
    let base64 = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_');
    if unpadded.bytes().all(base64) {
        return ("base64", unpadded.len(), MIN_OTHER);
    }
    ("printable", secret.chars().count(), MIN_OTHER)
}

/// A run of `MAX_RUN` characters, each one code point above (or each one below) the previous.
fn has_run(chars: &[char]) -> bool {
    let step = |a: char, b: char| i64::from(u32::from(b)) - i64::from(u32::from(a));
    [1, -1].into_iter().any(|dir| {
        let mut run = 1;
        chars.windows(2).any(|w| {
            run = if step(w[0], w[1]) == dir { run + 1 } else { 1 };
            run >= MAX_RUN
        })
    })
}

/// The length of the shortest unit that, repeated, makes the whole string (a trailing partial
/// unit allowed: `abcabcab`), if it is shorter than half the string.
fn repeated_unit(chars: &[char]) -> Option<usize> {
    (1..=chars.len() / 2).find(|&unit| chars.iter().zip(&chars[unit..]).all(|(a, b)| a == b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64: a deterministic stand-in for `openssl rand`, so a failure reproduces.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next().to_le_bytes()[0]).collect()
        }
    }

    fn base64(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..=chunk.len() {
                out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
            }
            if pad {
                out.extend(std::iter::repeat_n('=', 3 - chunk.len()));
            }
        }
        out
    }

    const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    #[test]
    fn the_helpers_encode_like_openssl() {
        assert_eq!(base64(b"yanzheng", STANDARD, true), "eWFuemhlbmc=");
        assert_eq!(base64(b"\xfb\xff", URL_SAFE, false), "-_8");
    }

    #[test]
    fn random_secrets_of_the_recommended_and_minimum_sizes_pass() {
        let mut rng = Rng(0x5eed_cafe);
        for _ in 0..300 {
            let samples = [
                hex::encode(rng.bytes(32)),              // openssl rand -hex 32
                hex::encode(rng.bytes(16)),              // the minimum hex
                hex::encode_upper(rng.bytes(16)),        // upper-case hex
                base64(&rng.bytes(32), STANDARD, true),  // openssl rand -base64 32
                base64(&rng.bytes(16), STANDARD, true),  // 22 + "=="
                base64(&rng.bytes(16), URL_SAFE, false), // 22, base64url
                base64(&rng.bytes(24), URL_SAFE, false), // 32, base64url
            ];
            for s in samples {
                assert_eq!(weakness(&s), None, "{s}");
            }
        }
    }

    #[test]
    fn the_documented_examples_are_refused() {
        for e in DOCUMENTED_EXAMPLES {
            assert_eq!(weakness(e), Some(Weakness::DocumentedExample), "{e}");
            assert_eq!(
                weakness(&e.to_lowercase()),
                Some(Weakness::DocumentedExample)
            );
            assert!(
                guessable(e).is_some(),
                "refused by the other rules too: {e}"
            );
        }
    }

    #[test]
    fn hex_needs_32_characters_and_base64_or_anything_else_22() {
        let hex31 = "9f3c1a7e52b8d04e6a1f93c27d5b8e0";
        assert_eq!(
            weakness(hex31),
            Some(Weakness::TooShort {
                alphabet: "hex",
                len: 31,
                min: 32
            })
        );
        assert_eq!(weakness(&format!("{hex31}4")), None);
        // 21 base64 characters, padding not counted.
        let b64 = "q8Zr+T3w/Lm0XyK7pV2nE";
        assert_eq!(
            weakness(&format!("{b64}===")),
            Some(Weakness::TooShort {
                alphabet: "base64",
                len: 21,
                min: 22
            })
        );
        assert_eq!(weakness(&format!("{b64}a=")), None);
        assert_eq!(weakness("q8Zr-T3w_Lm0XyK7pV2nEa"), None, "base64url");
        // Other printable characters: 22 of them.
        let other = "q8Z!r T3w@Lm0#XyK7%pV";
        assert_eq!(
            weakness(other),
            Some(Weakness::TooShort {
                alphabet: "printable",
                len: 21,
                min: 22
            })
        );
        assert_eq!(weakness(&format!("{other}&")), None);
        assert!(matches!(weakness(""), Some(Weakness::TooShort { .. })));
    }

    #[test]
    fn words_are_refused_in_any_case() {
        for w in WORDS {
            let s = format!("q8Zr3w9Lm0XyK7pV2nE{}", w.to_uppercase());
            assert_eq!(weakness(&s), Some(Weakness::Word(w)), "{s}");
        }
        assert_eq!(
            weakness("my-Super-Secret-key-for-prod"),
            Some(Weakness::Word("secret"))
        );
    }

    #[test]
    fn runs_of_six_consecutive_characters_are_refused() {
        for s in [
            "0123456789abcdef9e1c4b7a2d5f83e0",
            "9e1c4b7a2d5f83e0abcdefa19c4b7d2e",
            "9e1c4b7a2d5f83e0fedcba19c4b7d2e6",
            "q8Zr3w9Lm0XyK7pV2nEMNOPQR",
            "q8Zr3w9Lm0XyK7pV2nE987654",
        ] {
            assert_eq!(weakness(s), Some(Weakness::Sequence), "{s}");
        }
        // Five is not a run.
        assert_eq!(weakness("9e1c4b7a2d5f83e0abcde1a9c4b7d2e6"), None);
    }

    #[test]
    fn repetitions_of_a_shorter_unit_are_refused() {
        assert_eq!(
            weakness("9e1c4b7a2d5f83e09e1c4b7a2d5f83e0"),
            Some(Weakness::Repeated { unit: 16 })
        );
        assert_eq!(
            weakness("q8Zr3w9q8Zr3w9q8Zr3w9q8Z"),
            Some(Weakness::Repeated { unit: 7 })
        );
    }

    #[test]
    fn few_distinct_characters_are_refused() {
        assert_eq!(
            weakness("a1b2a1b2c3a1b2c3b2a1c3a1a1b2c3b2"),
            Some(Weakness::FewDistinct { distinct: 6 })
        );
        assert_eq!(
            weakness("1111111111111111111111111111111x"),
            Some(Weakness::FewDistinct { distinct: 2 })
        );
    }

    #[test]
    fn no_reason_repeats_the_secret() {
        for s in [
            "CHANGE-ME-TO-64-HEX-CHARACTERS",
            "abc",
            "q8Zr3w9Lm0XyK7pV2nEtest",
            "q8Zr3w9Lm0XyK7pV2nEMNOPQR",
            "q8Zr3w9q8Zr3w9q8Zr3w9q8Z",
            "1111111111111111111111111111111x",
        ] {
            let why = weakness(s).unwrap().to_string();
            assert!(!why.contains(s), "{why}");
        }
    }
}
