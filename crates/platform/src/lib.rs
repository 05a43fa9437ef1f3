//! What every deployment takes from the machine it runs on, whichever store, database and SMS
//! provider it is configured with:
//!
//! - [`SystemClock`]: wall-clock time ([`ports::Clock`]).
//! - [`OsRandom`]: the OS CSPRNG ([`ports::RandomSource`]).
//! - [`Argon2Hasher`]: argon2id password hashing on tokio's blocking pool.
//! - [`PngCaptchaRenderer`]: draws the captcha text as a PNG on tokio's blocking pool.
//!
//! The development-only adapters live apart: `memory-store` and `console-sms`.

mod captcha_png;
mod hasher;
mod system;

pub use captcha_png::{PngCaptchaRenderer, CAPTCHA_HEIGHT, CAPTCHA_WIDTH};
pub use hasher::{default_hash_concurrency, Argon2Hasher, Argon2Params, QUEUE_PER_SLOT};
pub use system::{OsRandom, SystemClock};
