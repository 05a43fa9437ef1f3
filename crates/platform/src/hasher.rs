//! argon2id password hashing, run on tokio's blocking pool, a bounded number at once.

use std::sync::{Arc, Mutex, PoisonError};

use anyhow::anyhow;
use argon2::password_hash::{Output, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use domain::{Password, PasswordHash};
use ports::{HashError, PasswordHasher};
use rand::{RngCore as _, TryRngCore as _};
use tokio::sync::Semaphore;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB (`m`).
    pub memory_kib: u32,
    /// Passes over memory (`t`).
    pub iterations: u32,
    /// Lanes (`p`).
    pub parallelism: u32,
}

impl Argon2Params {
    /// OWASP Password Storage Cheat Sheet's argon2id baseline: m = 19 MiB, t = 2, p = 1.
    pub const OWASP: Self = Self {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };

    /// Far too cheap for real passwords: for tests only.
    pub const INSECURE_FOR_TESTS: Self = Self {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self::OWASP
    }
}

/// [`PasswordHasher`] with argon2id (v0x13), PHC string output
/// (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), a fresh 16-byte salt from the OS CSPRNG
/// per hash. Verification reads the parameters from the stored string, so hashes made with
/// older parameters keep verifying.
///
/// `verify(pw, None)` (unknown user) checks `pw` against a dummy hash with the configured
/// parameters, made once at construction, and answers `false`, so an unknown mobile costs as
/// much as a wrong password. The dummy is a well-formed PHC string with a fixed salt and a
/// fixed, arbitrary 32-byte output: checking a candidate against it runs exactly one argon2id
/// computation with those parameters, the same work as a real check, and no password can be
/// expected to produce that output. (Building it needs no hashing, so construction with the
/// default parameters is infallible and instant.)
///
/// # Bounded (SPEC §4a)
/// Each hash holds `m` of memory and a core for ~25 ms. At most `concurrency` run at once
/// (default: the number of cores); up to [`QUEUE_PER_SLOT`] × `concurrency` more wait for a
/// slot; anything beyond that is answered [`HashError::Busy`] at once, without hashing. So a
/// flood of sign-ins costs at most `concurrency × m` of memory and `concurrency` blocking
/// threads, and other blocking work (SQLite queries) never queues behind it. A hash
/// keeps its slot until it finishes, even if the request that wanted it has gone.
///
/// The working memory of the configured cost is allocated once per slot and reused
/// ([`WorkingMemory`]): a fresh 19 MiB per hash costs page faults on every hash, and the freed
/// blocks left glibc's heap fragmented — a flood of 400 sign-ins grew the process by ~450 MiB
/// with two hashes at a time, ~26 MiB with the memory reused.
#[derive(Clone)]
pub struct Argon2Hasher {
    argon2: Argon2<'static>,
    memory: Arc<WorkingMemory>,
    dummy: Arc<str>,
    slots: Slots,
}

/// The bound on hashing: `concurrency` permits to run, `concurrency × (1 + QUEUE_PER_SLOT)`
/// to run or wait.
#[derive(Clone)]
struct Slots {
    concurrency: usize,
    running: Arc<Semaphore>,
    admitted: Arc<Semaphore>,
}

impl Slots {
    fn new(concurrency: usize) -> Self {
        let n = concurrency.max(1);
        Self {
            concurrency: n,
            running: Arc::new(Semaphore::new(n)),
            admitted: Arc::new(Semaphore::new(n * (1 + QUEUE_PER_SLOT))),
        }
    }
}

/// Waiting hashes allowed per slot: with 25 ms per hash, a queued one starts within ~50 ms.
pub const QUEUE_PER_SLOT: usize = 2;

/// The default number of hashes at once: the machine's cores.
pub fn default_hash_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

impl std::fmt::Debug for Argon2Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Argon2Hasher")
            .field("params", self.argon2.params())
            .field("concurrency", &self.concurrency())
            .finish_non_exhaustive()
    }
}

/// Base64 (PHC alphabet, unpadded) of 16 and 32 fixed bytes.
const DUMMY_SALT: &str = "eWFuemhlbmctZHVtbXkhIQ";
const DUMMY_OUTPUT: &str = "AuPRjirUnDQIqYMixdvHFIaJAN+Mwfh4J7MufkK0nn8";

impl Argon2Hasher {
    /// A hasher with the given cost; refuses parameters argon2 does not accept.
    pub fn new(params: Argon2Params) -> Result<Self, HashError> {
        let params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| HashError::Failed(anyhow!("invalid argon2 parameters: {e}")))?;
        Ok(Self::with_params(params))
    }

    /// At most `concurrency` (at least 1) hashes at once, and a queue of
    /// [`QUEUE_PER_SLOT`] × `concurrency` behind them.
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.slots = Slots::new(concurrency);
        self
    }

    /// How many hashes may run at once.
    pub fn concurrency(&self) -> usize {
        self.slots.concurrency
    }

    /// Run `f` on the blocking pool once a slot is free; [`HashError::Busy`] at once when every
    /// slot and the queue are taken.
    async fn bounded<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let admitted = Arc::clone(&self.slots.admitted)
            .try_acquire_owned()
            .map_err(|_| HashError::Busy)?;
        let running = Arc::clone(&self.slots.running)
            .acquire_owned()
            .await
            .map_err(|_| HashError::Busy)?;
        tokio::task::spawn_blocking(move || {
            let _slot = (admitted, running);
            f()
        })
        .await
        .map_err(|e| {
            HashError::Failed(anyhow::Error::new(e).context("password hashing task failed"))
        })?
    }

    fn with_params(params: Params) -> Self {
        let dummy = format!(
            "$argon2id$v=19$m={},t={},p={}${DUMMY_SALT}${DUMMY_OUTPUT}",
            params.m_cost(),
            params.t_cost(),
            params.p_cost()
        );
        Self {
            memory: Arc::new(WorkingMemory {
                blocks: params.block_count(),
                free: Mutex::default(),
            }),
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            dummy: dummy.into(),
            slots: Slots::new(default_hash_concurrency()),
        }
    }
}

impl Default for Argon2Hasher {
    /// [`Argon2Params::OWASP`].
    fn default() -> Self {
        // `Params::DEFAULT` is the OWASP baseline (m = 19456, t = 2, p = 1); checked in tests.
        Self::with_params(Params::DEFAULT)
    }
}

/// argon2's working memory for the configured cost, kept for the next hash. At most
/// `concurrency` hashes run at once, so at most that many buffers exist; a stored hash with
/// another cost gets a buffer of its own, dropped afterwards.
struct WorkingMemory {
    blocks: usize,
    free: Mutex<Vec<Vec<Block>>>,
}

impl WorkingMemory {
    /// `argon2` over `password` and `salt` into `out`, in a reused buffer when the cost fits.
    fn hash_into(
        &self,
        argon2: &Argon2<'_>,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), HashError> {
        let needed = argon2.params().block_count();
        let reused = (needed == self.blocks)
            .then(|| {
                self.free
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .pop()
            })
            .flatten();
        let mut blocks = reused.unwrap_or_else(|| vec![Block::default(); needed]);
        let hashed = argon2.hash_password_into_with_memory(password, salt, out, &mut blocks);
        if blocks.len() == self.blocks {
            self.free
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(blocks);
        }
        hashed.map_err(|e| HashError::Failed(anyhow!("argon2 hashing failed: {e}")))
    }
}

/// A new PHC string for `password` with a fresh 16-byte salt from the OS CSPRNG.
fn hash_with(
    argon2: &Argon2<'_>,
    memory: &WorkingMemory,
    password: &[u8],
) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.unwrap_err().fill_bytes(&mut salt);
    let mut out = [0u8; 32];
    memory.hash_into(argon2, password, &salt, &mut out)?;
    let encoded = |e| HashError::Failed(anyhow!("argon2 output encoding failed: {e}"));
    let salt = SaltString::encode_b64(&salt).map_err(encoded)?;
    let output = Output::new(&out).map_err(encoded)?;
    let p = argon2.params();
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${output}",
        p.m_cost(),
        p.t_cost(),
        p.p_cost(),
        salt.as_str()
    ))
}

/// Whether `password` matches the PHC string `phc`, with the algorithm, version and cost it
/// names (so hashes made with older parameters keep verifying). Constant-time comparison.
fn verify_with(memory: &WorkingMemory, password: &[u8], phc: &str) -> Result<bool, HashError> {
    let invalid = |e: argon2::password_hash::Error| {
        HashError::Failed(anyhow!(
            "stored password hash is not a valid argon2 PHC string: {e}"
        ))
    };
    let parsed = argon2::PasswordHash::new(phc).map_err(invalid)?;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(invalid)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| invalid(e.into()))?
        .unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(invalid)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(invalid(argon2::password_hash::Error::PhcStringField));
    };
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf).map_err(invalid)?;
    let mut out = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params);
    memory.hash_into(&argon2, password, salt, &mut out)?;
    // `Output`'s equality is constant-time.
    Ok(Output::new(&out).map_err(invalid)? == expected)
}

impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: Password) -> Result<PasswordHash, HashError> {
        let (argon2, memory) = (self.argon2.clone(), Arc::clone(&self.memory));
        self.bounded(move || hash_with(&argon2, &memory, password.expose().as_bytes()))
            .await
            .map(PasswordHash)
    }

    async fn verify(
        &self,
        password: Password,
        stored: Option<PasswordHash>,
    ) -> Result<bool, HashError> {
        let memory = Arc::clone(&self.memory);
        match stored {
            Some(PasswordHash(phc)) => {
                self.bounded(move || verify_with(&memory, password.expose().as_bytes(), &phc))
                    .await
            }
            None => {
                let dummy = Arc::clone(&self.dummy);
                self.bounded(move || {
                    // Same work as a real check; the outcome is irrelevant.
                    let _ = verify_with(&memory, password.expose().as_bytes(), &dummy);
                    Ok(false)
                })
                .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> Argon2Hasher {
        Argon2Hasher::new(Argon2Params::INSECURE_FOR_TESTS).unwrap()
    }

    fn pw(s: &str) -> Password {
        Password::parse(s).unwrap()
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let h = hasher();
        let stored = h.hash(pw("correct horse")).await.unwrap();
        assert!(
            stored.0.starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
            "{}",
            stored.0
        );
        assert!(!stored.0.contains("correct horse"));
        assert!(h
            .verify(pw("correct horse"), Some(stored.clone()))
            .await
            .unwrap());
        assert!(!h.verify(pw("correct horsE"), Some(stored)).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_are_standard_phc_and_reused_memory_changes_nothing() {
        use argon2::PasswordVerifier as _;
        let h = hasher();
        for pw_text in ["first password", "second password", "first password"] {
            let stored = h.hash(pw(pw_text)).await.unwrap();
            let parsed = argon2::PasswordHash::new(&stored.0).unwrap();
            Argon2::default()
                .verify_password(pw_text.as_bytes(), &parsed)
                .expect("the argon2 crate's own verifier accepts our hash");
            assert!(h.verify(pw(pw_text), Some(stored)).await.unwrap());
        }
        assert_eq!(
            h.memory.free.lock().unwrap().len(),
            1,
            "one buffer, reused by every hash"
        );
        // And ours accepts a hash made by the crate's own hasher.
        let theirs = {
            use argon2::PasswordHasher as _;
            let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
            Argon2::default()
                .hash_password(b"made elsewhere", &salt)
                .unwrap()
                .to_string()
        };
        assert!(h
            .verify(pw("made elsewhere"), Some(PasswordHash(theirs.clone())))
            .await
            .unwrap());
        assert!(!h
            .verify(pw("made elsewherE"), Some(PasswordHash(theirs)))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn salts_differ_per_hash() {
        let h = hasher();
        let a = h.hash(pw("same password")).await.unwrap();
        let b = h.hash(pw("same password")).await.unwrap();
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn unknown_user_is_false_even_for_the_dummy_password() {
        let h = hasher();
        assert!(!h.verify(pw("anything"), None).await.unwrap());
        let dummy = Password::candidate("yanzheng dummy password for unknown users").unwrap();
        assert!(!h.verify(dummy, None).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_with_other_parameters_still_verify() {
        let other = Argon2Hasher::new(Argon2Params {
            memory_kib: 128,
            iterations: 2,
            parallelism: 2,
        })
        .unwrap();
        let stored = other.hash(pw("old params")).await.unwrap();
        assert!(stored.0.contains("m=128,t=2,p=2"));
        assert!(hasher()
            .verify(pw("old params"), Some(stored))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn a_corrupt_stored_hash_is_an_error_not_a_match() {
        let h = hasher();
        let r = h
            .verify(pw("whatever"), Some(PasswordHash("not-a-phc".into())))
            .await;
        assert!(r.is_err());
    }

    #[tokio::test]
    async fn beyond_the_slots_and_the_queue_it_is_busy_at_once() {
        let h = hasher().with_concurrency(1);
        assert_eq!(h.concurrency(), 1);
        let capacity = 1 + QUEUE_PER_SLOT;
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(std::sync::Mutex::new(gate));
        let (started, mut running) = tokio::sync::mpsc::unbounded_channel::<()>();
        let mut held = Vec::new();
        for _ in 0..capacity {
            let (h, gate, started) = (h.clone(), Arc::clone(&gate), started.clone());
            held.push(tokio::spawn(async move {
                h.bounded(move || {
                    started.send(()).ok();
                    gate.lock().unwrap().recv().ok();
                    Ok(())
                })
                .await
            }));
        }
        // One runs (and blocks); the others wait in the queue.
        running.recv().await.unwrap();
        while h.slots.admitted.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(
            h.verify(pw("one too many"), None).await,
            Err(HashError::Busy)
        ));
        for _ in 0..capacity {
            release.send(()).unwrap();
        }
        for task in held {
            task.await.unwrap().unwrap();
        }
        // Everything is free again.
        assert!(!h.verify(pw("after the flood"), None).await.unwrap());
        assert_eq!(h.slots.running.available_permits(), 1);
    }

    #[test]
    fn invalid_parameters_are_refused() {
        let r = Argon2Hasher::new(Argon2Params {
            memory_kib: 1,
            iterations: 1,
            parallelism: 1,
        });
        assert!(r.is_err());
    }

    #[test]
    fn the_dummy_hash_is_well_formed_with_the_configured_cost() {
        for (h, m, t, p) in [
            (Argon2Hasher::default(), 19_456, 2, 1),
            (hasher(), 64, 1, 1),
        ] {
            let parsed = argon2::PasswordHash::new(&h.dummy).unwrap();
            assert_eq!(parsed.algorithm.as_str(), "argon2id");
            let params = Params::try_from(&parsed).unwrap();
            assert_eq!(
                (params.m_cost(), params.t_cost(), params.p_cost()),
                (m, t, p)
            );
            assert_eq!(parsed.hash.unwrap().len(), 32);
            let own = h.argon2.params();
            assert_eq!((own.m_cost(), own.t_cost(), own.p_cost()), (m, t, p));
        }
    }

    #[test]
    fn default_is_owasp() {
        assert_eq!(
            Argon2Params::default(),
            Argon2Params {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1
            }
        );
    }
}
