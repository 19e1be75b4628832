//! argon2id password hashing at OWASP's parameters (m=7 MiB, t=5, p=1).
//! Each check takes milliseconds of CPU and 7 MiB on purpose, so checks
//! queue for a few dedicated password threads at the lowest scheduling
//! priority: a storm of sign-ins waits there instead of taking every core
//! and hundreds of megabytes, and the rest of the portal keeps its latency.
//!
//! At that priority a busy machine may give a check almost no time, so a
//! check unanswered after [`URGENT_AFTER`], whether still queued or already
//! started on a low-priority thread, is taken by one more thread at the
//! normal priority: sign-ins still finish in about a second while the cores
//! are saturated. A check taken over that way may run twice; the first run
//! to finish answers, and a run that has not started by then does nothing.
//!
//! Each low-priority thread has an argon2 memory, and the urgent thread one
//! of its own, allocated by its first check and reused for every check after
//! it: sign-ins never map, fault in and return 7 MiB apiece.
//!
//! A hash stored at another cost (OWASP's 19 MiB, t=2 set, which wabapool
//! used before) still verifies, in a memory of its own; a sign-in that
//! matches one also gets the password hashed again at the current cost,
//! for the caller to store in its place.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use argon2::password_hash::PasswordHasher as _;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq as _;

/// The nice value of the password threads, the lowest: pages and the API
/// come first, and hashing takes the time they leave.
const PASSWORD_THREAD_NICE: i32 = 19;

/// How long a check may go unanswered on the low-priority threads before the
/// urgent thread, at the normal priority, takes it.
pub const URGENT_AFTER: Duration = Duration::from_secs(1);

/// A check, run by one thread or, when taken over, by two; it answers once.
type Job = Arc<dyn Fn(&mut Memory) + Send + Sync>;

/// Hashes and verifies passwords. Holds a dummy hash so that an unknown
/// email costs the same time as a wrong password.
#[derive(Clone)]
pub struct PasswordHasher {
    dummy_hash: Arc<str>,
    checks: Arc<Checks>,
}

fn owasp_params() -> Params {
    // 7 MiB, five passes, one lane: of the argon2id sets OWASP lists as
    // equally strong, the one whose memory stays in cache beside the portal
    // and whose checks are the quickest.
    Params::new(7 * 1024, 5, 1, None).expect("constant argon2 parameters are valid")
}

/// What a sign-in's password check found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verified {
    /// The typed password matches the stored hash.
    pub matches: bool,
    /// When it matches a hash made at another cost: the same password
    /// hashed at the current one, to store instead.
    pub renewed_hash: Option<String>,
}

/// What comparing a typed password with a stored hash found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checked {
    Mismatch,
    Matches { at_current_cost: bool },
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, owasp_params())
}

/// An argon2 working memory, allocated by its first check.
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
/// `memory`, and whether that string is of the current cost; a malformed
/// string never matches.
fn check(memory: &mut Memory, stored: &str, candidate: &SecretString) -> Checked {
    let Ok(hash) = PasswordHash::new(stored) else { return Checked::Mismatch };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else { return Checked::Mismatch };
    let (Ok(algorithm), Ok(version), Ok(params)) =
        (Algorithm::try_from(hash.algorithm.as_str()), hash.version.map_or(Ok(Version::default()), Version::try_from), Params::try_from(&hash))
    else {
        return Checked::Mismatch;
    };
    let current = owasp_params();
    let at_current_cost = algorithm == Algorithm::Argon2id
        && version == Version::V0x13
        && (params.m_cost(), params.t_cost(), params.p_cost()) == (current.m_cost(), current.t_cost(), current.p_cost())
        && expected.len() == Params::DEFAULT_OUTPUT_LEN;
    // Hashes are made here at the current cost; a larger one (from before,
    // or from elsewhere) would grow this memory for good, so it gets its own.
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let mut computed = vec![0u8; expected.len()];
    let password = candidate.expose_secret().as_bytes();
    let hashed = if blocks <= owasp_params().block_count() {
        argon2.hash_password_into_with_memory(password, salt.as_ref(), &mut computed, memory.blocks(blocks))
    } else {
        argon2.hash_password_into(password, salt.as_ref(), &mut computed)
    };
    if hashed.is_ok() && bool::from(expected.as_ref().ct_eq(&computed)) { Checked::Matches { at_current_cost } } else { Checked::Mismatch }
}

/// One low-priority password thread per two cores, at least one.
fn password_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // On Linux the nice value belongs to the thread; `who` 0 is this thread.
    // Raising it needs no privilege; lowering it again would, which is why
    // the urgent thread is a thread of its own.
    // SAFETY: setpriority only reads its integer arguments.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, PASSWORD_THREAD_NICE);
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

/// A check waiting for a thread, and since when.
struct Queued {
    since: Instant,
    job: Job,
}

/// The waiting checks and the checks running at low priority.
#[derive(Default)]
struct Waiting {
    queue: VecDeque<Queued>,
    /// Started on a low-priority thread, oldest first, and not yet taken
    /// over by the urgent thread.
    running: VecDeque<Queued>,
    closed: bool,
}

/// Which checks a thread takes. Each thread runs its checks in an argon2
/// memory of its own.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lane {
    /// Low priority: queued checks that have waited less than
    /// [`URGENT_AFTER`].
    Patient,
    /// Normal priority: checks unanswered for longer, queued or running.
    Urgent,
}

/// What a password thread does next: run a check; wait, for at most so
/// long; or end.
enum Next {
    Run(Queued),
    Wait(Option<Duration>),
    Stop,
}

/// The queue the password threads share. Dropping the last handle closes
/// it: the threads finish what is queued and end.
struct Checks {
    waiting: Arc<(Mutex<Waiting>, Condvar)>,
}

impl Drop for Checks {
    fn drop(&mut self) {
        let (waiting, changed) = &*self.waiting;
        lock(waiting).closed = true;
        changed.notify_all();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Waiting {
    /// The next step of a thread of `lane` at `now`.
    fn next(&mut self, lane: Lane, now: Instant) -> Next {
        match lane {
            Lane::Patient => self.next_patient(now),
            Lane::Urgent => self.next_urgent(now),
        }
    }

    /// The queue's head while it is fresh (any head once the queue is
    /// closed); it then counts as running.
    fn next_patient(&mut self, now: Instant) -> Next {
        let Some(head) = self.queue.pop_front() else {
            return if self.closed { Next::Stop } else { Next::Wait(None) };
        };
        if now.saturating_duration_since(head.since) < URGENT_AFTER || self.closed {
            self.running.push_back(Queued { since: head.since, job: Arc::clone(&head.job) });
            Next::Run(head)
        } else {
            self.queue.push_front(head);
            Next::Wait(None)
        }
    }

    /// The oldest unanswered check, running at low priority or queued, once
    /// it has waited [`URGENT_AFTER`] (any queued check once the queue is
    /// closed); until then, a wait for that moment.
    fn next_urgent(&mut self, now: Instant) -> Next {
        // Checks start in the order they were queued, so a running check is
        // older than any still queued.
        let started = !self.running.is_empty();
        let closed = self.closed;
        let source = if started { &mut self.running } else { &mut self.queue };
        let Some(oldest) = source.pop_front() else {
            return if closed { Next::Stop } else { Next::Wait(None) };
        };
        let waited = now.saturating_duration_since(oldest.since);
        // A closed queue's checks are taken at once; a running one still gets its second.
        let due = waited >= URGENT_AFTER || (closed && !started);
        if !due {
            source.push_front(oldest);
            return Next::Wait(Some(URGENT_AFTER - waited));
        }
        Next::Run(oldest)
    }

    /// A low-priority thread's check has ended: it no longer runs.
    fn finished(&mut self, job: &Job) {
        self.running.retain(|running| !Arc::ptr_eq(&running.job, job));
    }
}

/// A password thread's loop: take the checks of its lane, until the queue
/// closes.
fn serve(waiting: &(Mutex<Waiting>, Condvar), lane: Lane) {
    let (state, changed) = waiting;
    let mut memory = Memory::default();
    let mut guard = lock(state);
    loop {
        match guard.next(lane, Instant::now()) {
            Next::Stop => return,
            Next::Wait(None) => guard = changed.wait(guard).unwrap_or_else(std::sync::PoisonError::into_inner),
            Next::Wait(Some(timeout)) => {
                guard = changed.wait_timeout(guard, timeout).unwrap_or_else(std::sync::PoisonError::into_inner).0;
            }
            Next::Run(queued) => {
                // The next check may be another thread's to take, and a
                // running check is the urgent thread's to watch.
                changed.notify_all();
                drop(guard);
                (queued.job)(&mut memory);
                guard = lock(state);
                if lane == Lane::Patient {
                    guard.finished(&queued.job);
                }
            }
        }
    }
}

impl PasswordHasher {
    /// Starts the password threads; they end when the last clone is dropped.
    pub fn new() -> anyhow::Result<Self> {
        let dummy_hash: Arc<str> = hash_password(&SecretString::from("wabapool dummy password for unknown users"))?.into();
        let patient = password_threads();
        let waiting = Arc::new((Mutex::new(Waiting::default()), Condvar::new()));
        for n in 0..patient {
            let waiting = Arc::clone(&waiting);
            std::thread::Builder::new().name(format!("password-{n}")).spawn(move || {
                lower_priority();
                serve(&waiting, Lane::Patient);
            })?;
        }
        let urgent = Arc::clone(&waiting);
        std::thread::Builder::new().name("password-urgent".to_owned()).spawn(move || serve(&urgent, Lane::Urgent))?;
        Ok(Self { dummy_hash, checks: Arc::new(Checks { waiting }) })
    }

    fn queue(&self, job: Job) {
        let (waiting, changed) = &*self.checks.waiting;
        lock(waiting).queue.push_back(Queued { since: Instant::now(), job });
        changed.notify_all();
    }

    /// A check of `candidate` against `stored`, or against the dummy hash
    /// when there is no such user; with `renew`, a match at another cost
    /// comes back with a fresh hash.
    fn verify_job(&self, stored: Option<String>, candidate: SecretString, renew: bool, reply: impl FnOnce(Verified) + Send + 'static) -> Job {
        let dummy = Arc::clone(&self.dummy_hash);
        let reply = Mutex::new(Some(reply));
        Arc::new(move |memory| {
            if lock(&reply).is_none() {
                // The other run of a check taken over has answered.
                return;
            }
            let verified = match (check(memory, stored.as_deref().unwrap_or(&dummy), &candidate), stored.is_some()) {
                (Checked::Matches { at_current_cost }, true) => {
                    // A renewal that fails leaves the old hash in place, still good.
                    let renewed_hash = (renew && !at_current_cost).then(|| hash_password(&candidate).ok()).flatten();
                    Verified { matches: true, renewed_hash }
                }
                _ => Verified::default(),
            };
            if let Some(reply) = lock(&reply).take() {
                reply(verified);
            }
        })
    }

    /// Verifies a sign-in's `candidate` against `stored`, or against the
    /// dummy hash when there is no such user; no match in that case whatever
    /// was typed. With `renew`, a match against a hash of another cost
    /// brings the hash to store instead. Waits for a password thread without
    /// blocking the async worker.
    pub async fn verify(&self, stored: Option<String>, candidate: SecretString, renew: bool) -> Verified {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.queue(self.verify_job(stored, candidate, renew, move |verified| {
            let _ = tx.send(verified);
        }));
        // A check that never ran fails closed.
        rx.await.unwrap_or_default()
    }

    /// Whether `candidate` matches `stored`, for synchronous code already
    /// off the async workers (inside `web::block`); renews nothing.
    pub fn verify_blocking(&self, stored: Option<&str>, candidate: &SecretString) -> bool {
        let (tx, rx) = mpsc::channel();
        self.queue(self.verify_job(stored.map(str::to_owned), candidate.clone(), false, move |verified| {
            let _ = tx.send(verified.matches);
        }));
        rx.recv().unwrap_or(false)
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
        assert!(hash.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{hash}");
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
        assert!(hasher.verify(Some(hash.clone()), SecretString::from("correct horse battery"), true).await.matches);
        assert!(!hasher.verify(Some(hash), SecretString::from("wrong horse battery"), true).await.matches);
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

    /// A hash at OWASP's 19 MiB, t=2 set, which wabapool stored before.
    fn hash_at_the_former_cost(password: &str) -> String {
        let former = Params::new(19 * 1024, 2, 1, None).unwrap();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, former).hash_password(password.as_bytes()).unwrap().to_string()
    }

    #[tokio::test]
    async fn a_sign_in_matching_a_hash_of_the_former_cost_brings_a_hash_at_the_current_one() {
        let hasher = PasswordHasher::new().unwrap();
        let stored = hash_at_the_former_cost("correct horse battery");

        let verified = hasher.verify(Some(stored.clone()), SecretString::from("correct horse battery"), true).await;

        assert!(verified.matches);
        let renewed = verified.renewed_hash.expect("a match at the former cost is renewed");
        assert!(renewed.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{renewed}");
        assert_ne!(renewed, stored);
        let again = hasher.verify(Some(renewed), SecretString::from("correct horse battery"), true).await;
        assert_eq!(again, Verified { matches: true, renewed_hash: None }, "the renewed hash is of the current cost");
    }

    #[tokio::test]
    async fn nothing_is_renewed_without_a_match_for_an_unknown_user_or_when_not_asked() {
        let hasher = PasswordHasher::new().unwrap();
        let stored = hash_at_the_former_cost("correct horse battery");

        let wrong = hasher.verify(Some(stored.clone()), SecretString::from("wrong horse battery"), true).await;
        let unknown = hasher.verify(None, SecretString::from("wabapool dummy password for unknown users"), true).await;
        let not_asked = hasher.verify(Some(stored), SecretString::from("correct horse battery"), false).await;

        assert_eq!(wrong, Verified::default());
        assert_eq!(unknown, Verified::default());
        assert_eq!(not_asked, Verified { matches: true, renewed_hash: None });
    }

    #[test]
    fn a_hash_of_the_same_cost_but_another_variant_is_renewed() {
        let mut memory = Memory::default();
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, owasp_params()).hash_password(b"correct horse battery").unwrap().to_string();
        let current = hash_password(&SecretString::from("correct horse battery")).unwrap();

        assert_eq!(check(&mut memory, &argon2i, &SecretString::from("correct horse battery")), Checked::Matches { at_current_cost: false });
        assert_eq!(check(&mut memory, &current, &SecretString::from("correct horse battery")), Checked::Matches { at_current_cost: true });
    }

    #[test]
    fn a_malformed_stored_hash_does_not_verify() {
        let hasher = PasswordHasher::new().unwrap();
        assert!(!hasher.verify_blocking(Some("not a hash"), &SecretString::from("x")));
        assert!(!hasher.verify_blocking(Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ"), &SecretString::from("x")));
        assert!(!hasher.verify_blocking(Some("$argon2id$v=19$m=99999999999,t=2,p=1$c2FsdHNhbHQ$aGFzaA"), &SecretString::from("x")));
    }

    fn waiting(ages_ms: &[u64], now: Instant) -> Waiting {
        let mut waiting = Waiting::default();
        for age in ages_ms {
            let job: Job = Arc::new(|_| {});
            waiting.queue.push_back(Queued { since: now - Duration::from_millis(*age), job });
        }
        waiting
    }

    #[test]
    fn a_fresh_check_goes_to_a_low_priority_thread_and_the_urgent_thread_waits_until_it_turns_urgent() {
        let now = Instant::now();
        let mut fresh = waiting(&[100], now);

        assert!(
            matches!(fresh.next(Lane::Urgent, now), Next::Wait(Some(left)) if left == URGENT_AFTER - Duration::from_millis(100)),
            "the urgent thread sleeps until the check has waited long enough"
        );
        assert!(matches!(fresh.next(Lane::Patient, now), Next::Run(_)));
        assert!(fresh.queue.is_empty());
        assert_eq!(fresh.running.len(), 1, "the check runs at low priority");
    }

    #[test]
    fn a_check_still_running_at_low_priority_after_a_second_is_taken_over_by_the_urgent_thread() {
        let now = Instant::now();
        let mut starved = waiting(&[0], now);
        let Next::Run(started) = starved.next(Lane::Patient, now) else { panic!("a low-priority thread starts the check") };

        assert!(
            matches!(starved.next(Lane::Urgent, now), Next::Wait(Some(left)) if left == URGENT_AFTER),
            "the urgent thread sleeps until the running check has gone unanswered long enough"
        );
        let later = now + URGENT_AFTER;
        let Next::Run(taken) = starved.next(Lane::Urgent, later) else { panic!("the urgent thread runs it again") };
        assert!(Arc::ptr_eq(&taken.job, &started.job));
        assert!(starved.running.is_empty());
        assert!(matches!(starved.next(Lane::Urgent, later), Next::Wait(None)), "it takes a check over once");

        starved.finished(&started.job);
        assert!(starved.running.is_empty() && starved.queue.is_empty(), "the low-priority run ending later changes nothing");
    }

    #[test]
    fn a_check_finished_at_low_priority_in_time_is_never_taken_over() {
        let now = Instant::now();
        let mut answered = waiting(&[0, 0], now);
        let Next::Run(first) = answered.next(Lane::Patient, now) else { panic!("a low-priority thread starts the first check") };
        let Next::Run(_) = answered.next(Lane::Patient, now) else { panic!("another starts the second") };

        answered.finished(&first.job);

        assert_eq!(answered.running.len(), 1, "only the unfinished check still counts as running");
        assert!(!Arc::ptr_eq(&answered.running[0].job, &first.job));
        let later = now + URGENT_AFTER;
        let Next::Run(taken) = answered.next(Lane::Urgent, later) else { panic!("the unfinished check is taken over") };
        assert!(!Arc::ptr_eq(&taken.job, &first.job), "the finished one is not");
        assert!(matches!(answered.next(Lane::Urgent, later), Next::Wait(None)));
    }

    #[test]
    fn the_urgent_thread_takes_unanswered_checks_oldest_first_whether_running_or_queued() {
        let start = Instant::now();
        let mut busy = waiting(&[100, 0], start + Duration::from_millis(100));
        let Next::Run(first) = busy.next(Lane::Patient, start) else { panic!("the first check starts") };

        let Next::Run(taken) = busy.next(Lane::Urgent, start + URGENT_AFTER) else { panic!("the running check is due first") };
        assert!(Arc::ptr_eq(&taken.job, &first.job));
        assert!(
            matches!(busy.next(Lane::Urgent, start + URGENT_AFTER), Next::Wait(Some(left)) if left == Duration::from_millis(100)),
            "then the queued one, when its second is up"
        );
        assert!(matches!(busy.next(Lane::Urgent, start + URGENT_AFTER + Duration::from_millis(100)), Next::Run(_)));
        assert!(busy.queue.is_empty());
    }

    #[test]
    fn a_check_that_waited_too_long_goes_to_the_urgent_thread_only() {
        let now = Instant::now();
        let mut late = waiting(&[URGENT_AFTER.as_millis() as u64], now);

        assert!(matches!(late.next(Lane::Patient, now), Next::Wait(None)), "a low-priority thread leaves it");
        assert!(late.running.is_empty());
        assert_eq!(late.queue.len(), 1, "queued for the urgent thread");
        assert!(matches!(late.next(Lane::Urgent, now), Next::Run(_)));
        assert!(late.queue.is_empty());
    }

    #[test]
    fn a_closed_queue_is_drained_by_any_thread_and_then_stops_them() {
        let now = Instant::now();
        let mut closing = waiting(&[0], now);
        closing.closed = true;

        assert!(matches!(closing.next(Lane::Urgent, now), Next::Run(_)), "any thread drains a closed queue");
        assert!(matches!(closing.next(Lane::Patient, now), Next::Stop));
        assert!(matches!(closing.next(Lane::Urgent, now), Next::Stop));
    }

    #[test]
    fn a_check_run_twice_answers_once() {
        let hasher = PasswordHasher::new().unwrap();
        let hash = hash_password(&SecretString::from("correct horse battery")).unwrap();
        let (tx, rx) = mpsc::channel();
        let job = hasher.verify_job(Some(hash), SecretString::from("correct horse battery"), false, move |verified| {
            let _ = tx.send(verified.matches);
        });

        job(&mut Memory::default());
        job(&mut Memory::default());
        drop(job);

        assert_eq!(rx.iter().collect::<Vec<_>>(), vec![true]);
    }

    #[test]
    fn a_check_stalled_on_a_low_priority_thread_is_answered_by_the_urgent_thread() {
        let hasher = PasswordHasher::new().unwrap();
        let (release, stalled) = mpsc::channel::<()>();
        let stalled = Mutex::new(stalled);
        let runs = std::sync::atomic::AtomicUsize::new(0);
        let (answer, answers) = mpsc::channel();
        // The first run stands for a low-priority thread the machine gives no time.
        hasher.queue(Arc::new(move |_| {
            let run = runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if run == 0 {
                let _ = lock(&stalled).recv();
            }
            let _ = answer.send(run);
        }));

        assert_eq!(answers.recv_timeout(Duration::from_secs(30)), Ok(1), "the urgent thread's run answers while the first is stalled");
        release.send(()).unwrap();
        assert_eq!(answers.recv_timeout(Duration::from_secs(30)), Ok(0), "and the stalled run still ends");
    }

    #[test]
    fn checks_still_queued_when_the_last_handle_goes_are_answered() {
        let hasher = PasswordHasher::new().unwrap();
        let hash = hash_password(&SecretString::from("correct horse battery")).unwrap();
        let (tx, rx) = mpsc::channel();
        for _ in 0..3 {
            let tx = tx.clone();
            hasher.queue(hasher.verify_job(Some(hash.clone()), SecretString::from("correct horse battery"), false, move |verified| {
                let _ = tx.send(verified.matches);
            }));
        }
        drop((hasher, tx));
        assert_eq!(rx.iter().collect::<Vec<_>>(), vec![true, true, true]);
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
