//! yanzheng's in-process adapters: the embedded default that needs no external service.
//!
//! - [`MemoryStore`]: captchas, SMS codes, rate-limit state and sessions in process memory
//!   (`CaptchaStore`, `CodeStore`, `RateLimiter`, `SessionStore`). One replica only: with N
//!   replicas use the Redis adapter, which passes the same contract suites.
//! - [`ConsoleSms`]: prints the code message to stdout for a local developer.
//! - [`SystemClock`] and [`OsRandom`]: wall-clock time and the OS CSPRNG.
//! - [`Argon2Hasher`]: argon2id password hashing off the async executor.
//! - [`PngCaptchaRenderer`]: draws the captcha text as a PNG.

mod captcha_png;
mod console_sms;
mod hasher;
mod memory;
mod system;

pub use captcha_png::{PngCaptchaRenderer, CAPTCHA_HEIGHT, CAPTCHA_WIDTH};
pub use console_sms::ConsoleSms;
pub use hasher::{Argon2Hasher, Argon2Params};
pub use memory::MemoryStore;
pub use system::{OsRandom, SystemClock};
