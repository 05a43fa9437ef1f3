//! What every deployment takes from the machine it runs on, whichever store, database and SMS
//! provider it is configured with:
//!
//! - [`SystemClock`]: wall-clock time ([`ports::Clock`]).
//! - [`OsRandom`]: the OS CSPRNG ([`ports::RandomSource`]).
//! - [`Argon2Hasher`]: argon2id password hashing on tokio's blocking pool.
//!
//! The captcha renderer has a crate of its own, `captcha-image`; the development-only
//! adapters live apart too: `memory-store` and `console-sms`.

mod hasher;
mod system;

pub use hasher::{default_hash_concurrency, Argon2Hasher, Argon2Params, QUEUE_PER_SLOT};
pub use system::{OsRandom, SystemClock};
