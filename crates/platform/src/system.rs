//! The real clock and the OS CSPRNG.

use std::time::{SystemTime, UNIX_EPOCH};

use domain::Timestamp;
use ports::{Clock, RandomSource};
use rand::rngs::OsRng;
use rand::{RngCore, TryRngCore};

/// Wall-clock time from [`SystemTime`], in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(domain::millis)
            // A clock set before 1970 is broken; the epoch is the least surprising answer.
            .unwrap_or(0);
        Timestamp(ms)
    }
}

/// Randomness straight from the operating system's CSPRNG (`getrandom`), no user-space state.
///
/// If the OS cannot supply randomness this panics (as `rand::rng()` does): there is no safe
/// fallback for codes and tokens.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl OsRandom {
    fn rng() -> rand::rand_core::UnwrapErr<OsRng> {
        OsRng.unwrap_err()
    }
}

impl RandomSource for OsRandom {
    /// Uniform in `0..n` by rejection sampling: values of the last, incomplete block of `n` are
    /// drawn again, so every result is exactly equally likely. `n == 0` answers 0.
    fn below(&self, n: u32) -> u32 {
        if n <= 1 {
            return 0;
        }
        let mut rng = Self::rng();
        // The largest multiple of n that fits in 2^32; draws at or above it are rejected.
        let zone = (1u64 << 32) - ((1u64 << 32) % u64::from(n));
        loop {
            let x = u64::from(rng.next_u32());
            if x < zone {
                // x % n < n ≤ u32::MAX, so the cast is lossless.
                return (x % u64::from(n)) as u32;
            }
        }
    }

    fn bytes32(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        Self::rng().fill_bytes(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_reads_a_plausible_now() {
        let a = SystemClock.now();
        // 2023-11-14 and 2100-01-01, in ms.
        assert!(a.millis() > 1_700_000_000_000 && a.millis() < 4_102_444_800_000);
        assert!(SystemClock.now() >= a);
    }

    #[test]
    fn below_stays_in_range_and_hits_every_value() {
        let r = OsRandom;
        for n in [1u32, 2, 3, 7, 31, 1_000_000] {
            for _ in 0..200 {
                assert!(r.below(n) < n, "below({n})");
            }
        }
        // Every residue of a small modulus shows up (probability of a miss ~ 7 * (6/7)^2000).
        let mut seen = [false; 7];
        for _ in 0..2000 {
            seen[r.below(7) as usize] = true;
        }
        assert!(seen.iter().all(|s| *s), "{seen:?}");
        assert_eq!(r.below(0), 0);
    }

    #[test]
    fn below_is_roughly_uniform_for_a_large_non_power_of_two() {
        // 3 * 2^30 makes a plain `x % n` visibly biased: residues below 2^30 would come up twice
        // as often as the others (1/2 instead of 1/3). Rejection keeps it at 1/3.
        let n = 3u32 << 30;
        let draws = 30_000;
        let low = (0..draws).filter(|_| OsRandom.below(n) < (1 << 30)).count();
        // Expected 10_000, standard deviation ~82; the biased version would give ~15_000.
        assert!(
            (9_000..11_000).contains(&low),
            "low third drawn {low} of {draws} times"
        );
    }

    #[test]
    fn bytes_differ_between_calls() {
        let r = OsRandom;
        assert_ne!(r.bytes32(), r.bytes32());
        assert_ne!(r.bytes32(), [0u8; 32]);
    }
}
