//! argon2id password hashing at OWASP's parameters (m=19 MiB, t=2, p=1).
//! Each check takes tens of milliseconds of CPU and 19 MiB on purpose, so
//! checks run on a few dedicated password threads at a lowered scheduling
//! priority: a storm of sign-ins queues there instead of taking every core
//! and hundreds of megabytes, and the rest of the portal keeps its latency.
//! Each password thread owns one 19 MiB argon2 memory and reuses it for
//! every check, so sign-ins never map, fault in and return 19 MiB apiece.

use std::sync::{Arc, Mutex, mpsc};

use argon2::password_hash::PasswordHasher as _;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq as _;

/// The nice value of the password threads: below request handling, so that
/// pages and the API preempt hashing, yet never starved on an idle machine.
const PASSWORD_THREAD_NICE: i32 = 10;

type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// Hashes and verifies passwords. Holds a dummy hash so that an unknown
/// email costs the same time as a wrong password.
#[derive(Clone)]
pub struct PasswordHasher {
    dummy_hash: Arc<str>,
    jobs: mpsc::Sender<Job>,
}

fn owasp_params() -> Params {
    // 19 MiB, two passes, one lane: OWASP's first argon2id recommendation.
    Params::new(19 * 1024, 2, 1, None).expect("constant argon2 parameters are valid")
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, owasp_params())
}

/// A password thread's argon2 working memory, allocated by its first check.
#[derive(Default)]
struct Memory {
    blocks: Vec<Block>,
}

impl Memory {
    fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.blocks.len() < count {
            self.blocks = vec![Block::default(); count.max(owasp_params().block_count())];
        }
        &mut self.blocks[..count]
    }
}

/// Whether `candidate` hashes to the PHC string `stored`, computed in
/// `memory`; a malformed string never matches.
fn check(memory: &mut Memory, stored: &str, candidate: &SecretString) -> bool {
    let Ok(hash) = PasswordHash::new(stored) else { return false };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else { return false };
    let (Ok(algorithm), Ok(version), Ok(params)) =
        (Algorithm::try_from(hash.algorithm.as_str()), hash.version.map_or(Ok(Version::default()), Version::try_from), Params::try_from(&hash))
    else {
        return false;
    };
    // Hashes are made here at OWASP's cost; a larger one from elsewhere
    // would grow this thread's memory for good, so it gets its own.
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let mut computed = vec![0u8; expected.len()];
    let password = candidate.expose_secret().as_bytes();
    let hashed = if blocks <= owasp_params().block_count() {
        argon2.hash_password_into_with_memory(password, salt.as_ref(), &mut computed, memory.blocks(blocks))
    } else {
        argon2.hash_password_into(password, salt.as_ref(), &mut computed)
    };
    hashed.is_ok() && bool::from(expected.as_ref().ct_eq(&computed))
}

/// One password thread per two cores, at least one.
fn password_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // On Linux the nice value belongs to the thread; `who` 0 is this thread.
    // SAFETY: setpriority only reads its integer arguments.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, PASSWORD_THREAD_NICE);
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

impl PasswordHasher {
    /// Starts the password threads; they end when the last clone is dropped.
    pub fn new() -> anyhow::Result<Self> {
        let dummy_hash: Arc<str> = hash_password(&SecretString::from("wabapool dummy password for unknown users"))?.into();
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..password_threads() {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new().name(format!("password-{n}")).spawn(move || {
                lower_priority();
                let mut memory = Memory::default();
                loop {
                    let job = match queue.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(&mut memory),
                        Err(_) => return,
                    }
                }
            })?;
        }
        Ok(Self { dummy_hash, jobs })
    }

    fn verify_job(&self, stored: Option<String>, candidate: SecretString, reply: impl FnOnce(bool) + Send + 'static) -> Job {
        let dummy = Arc::clone(&self.dummy_hash);
        Box::new(move |memory| {
            let matches = check(memory, stored.as_deref().unwrap_or(&dummy), &candidate);
            reply(matches && stored.is_some());
        })
    }

    /// Verifies `candidate` against `stored`, or against the dummy hash when
    /// there is no such user; false in that case whatever was typed. Waits
    /// for a password thread without blocking the async worker.
    pub async fn verify(&self, stored: Option<String>, candidate: SecretString) -> bool {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job = self.verify_job(stored, candidate, move |ok| {
            let _ = tx.send(ok);
        });
        // A stopped password thread fails closed.
        self.jobs.send(job).is_ok() && rx.await.unwrap_or(false)
    }

    /// [`verify`](Self::verify) for synchronous code already off the async
    /// workers (inside `web::block`).
    pub fn verify_blocking(&self, stored: Option<&str>, candidate: &SecretString) -> bool {
        let (tx, rx) = mpsc::channel();
        let job = self.verify_job(stored.map(str::to_owned), candidate.clone(), move |ok| {
            let _ = tx.send(ok);
        });
        self.jobs.send(job).is_ok() && rx.recv().unwrap_or(false)
    }
}

/// A fresh argon2id hash in PHC form, with a random salt.
pub fn hash_password(password: &SecretString) -> anyhow::Result<String> {
    argon2()
        .hash_password(password.expose_secret().as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_at_owasp_parameters() {
        let hash = hash_password(&SecretString::from("correct horse battery")).unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    }

    #[test]
    fn the_right_password_verifies_and_a_wrong_one_does_not() {
        let hasher = PasswordHasher::new().unwrap();
        let hash = hash_password(&SecretString::from("correct horse battery")).unwrap();
        assert!(hasher.verify_blocking(Some(&hash), &SecretString::from("correct horse battery")));
        assert!(!hasher.verify_blocking(Some(&hash), &SecretString::from("wrong horse battery")));
    }

    #[tokio::test]
    async fn the_async_check_agrees_with_the_blocking_one() {
        let hasher = PasswordHasher::new().unwrap();
        let hash = hash_password(&SecretString::from("correct horse battery")).unwrap();
        assert!(hasher.verify(Some(hash.clone()), SecretString::from("correct horse battery")).await);
        assert!(!hasher.verify(Some(hash), SecretString::from("wrong horse battery")).await);
    }

    #[test]
    fn an_unknown_user_never_verifies_even_with_the_dummy_password() {
        let hasher = PasswordHasher::new().unwrap();
        assert!(!hasher.verify_blocking(None, &SecretString::from("wabapool dummy password for unknown users")));
    }

    #[test]
    fn hashes_at_other_argon2_costs_still_verify() {
        let hasher = PasswordHasher::new().unwrap();
        for params in [Params::new(8 * 1024, 1, 1, None).unwrap(), Params::new(24 * 1024, 1, 1, None).unwrap()] {
            let hash = Argon2::new(Algorithm::Argon2id, Version::V0x13, params).hash_password(b"correct horse battery").unwrap().to_string();
            assert!(hasher.verify_blocking(Some(&hash), &SecretString::from("correct horse battery")), "{hash}");
            assert!(!hasher.verify_blocking(Some(&hash), &SecretString::from("wrong horse battery")), "{hash}");
        }
    }

    #[test]
    fn a_malformed_stored_hash_does_not_verify() {
        let hasher = PasswordHasher::new().unwrap();
        assert!(!hasher.verify_blocking(Some("not a hash"), &SecretString::from("x")));
        assert!(!hasher.verify_blocking(Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ"), &SecretString::from("x")));
        assert!(!hasher.verify_blocking(Some("$argon2id$v=19$m=99999999999,t=2,p=1$c2FsdHNhbHQ$aGFzaA"), &SecretString::from("x")));
    }

    #[test]
    fn simultaneous_checks_queue_on_the_password_threads_and_each_gets_its_own_answer() {
        let hasher = PasswordHasher::new().unwrap();
        let hash = hash_password(&SecretString::from("correct horse battery")).unwrap();
        let answers: Vec<bool> = std::thread::scope(|scope| {
            let checks: Vec<_> = (0..6)
                .map(|i| {
                    let (hasher, hash) = (&hasher, &hash);
                    let typed = if i % 2 == 0 { "correct horse battery" } else { "wrong horse battery" };
                    scope.spawn(move || hasher.verify_blocking(Some(hash), &SecretString::from(typed)))
                })
                .collect();
            checks.into_iter().map(|c| c.join().unwrap()).collect()
        });
        assert_eq!(answers, vec![true, false, true, false, true, false]);
    }
}
