//! One HTTP worker per core: each worker thread is kept on a core of its own.
//!
//! Left to the kernel, the workers drift together. A worker is woken on the
//! core of whoever woke it, and when the other core is busy (a password check
//! at the lowest priority still counts as busy) nothing pulls the worker back:
//! the kernel spreads waiting threads at once only onto an idle core, and
//! otherwise at its periodic balance, tens of milliseconds apart on busy cores.
//! Both workers then share one core while the other runs the password check,
//! and every request waits, 50 to 150 ms at a time. A worker kept on its own core is never queued behind the other, and
//! a check on its core gives way to it at once.
//!
//! A thread started by a worker inherits its one core; the blocking pool's
//! threads, which run the database work, are started that way, so each frees
//! itself onto every core before its first piece of work
//! ([`free_this_thread`]).
//!
//! Off Linux the workers are left to the kernel. `WABAPOOL_PIN_WORKERS=false`
//! leaves them there too, for hosts that share their cores with other busy
//! services.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The cores the workers take, one each, in the order they start.
#[derive(Debug)]
pub struct WorkerCores {
    cores: Vec<usize>,
    next: AtomicUsize,
}

thread_local! {
    /// Set once this thread has been placed, pinned as a worker or freed
    /// onto every core; it is not moved again, so a worker which builds its
    /// services again (after a failure) keeps the core it has.
    static PLACED: Cell<bool> = const { Cell::new(false) };
}

impl WorkerCores {
    /// One core for each worker, from the cores this process may run on.
    /// None when there are no cores to name (off Linux, or the list could
    /// not be read).
    pub fn allowed() -> Option<Self> {
        let cores = process_cores()?;
        if cores.is_empty() {
            return None;
        }
        Some(Self { cores, next: AtomicUsize::new(0) })
    }

    /// How many workers the server runs: one per core.
    pub fn workers(&self) -> usize {
        self.cores.len()
    }

    /// Keeps the calling thread on the next core, the first time it asks;
    /// later calls from the same thread change nothing. Returns the core.
    pub fn pin_this_worker(&self) -> Option<usize> {
        if PLACED.with(Cell::get) {
            return None;
        }
        let core = self.cores[self.next.fetch_add(1, Ordering::Relaxed) % self.cores.len()];
        if set_current_thread_cores(&[core]) {
            PLACED.with(|placed| placed.set(true));
            Some(core)
        } else {
            None
        }
    }
}

/// Gives the calling thread every core the process may run on, the first
/// time it asks, unless it is a pinned worker. A thread started by a pinned
/// worker (actix's blocking pool) would otherwise run its work on that
/// worker's core alone.
pub fn free_this_thread() {
    if PLACED.with(Cell::get) {
        return;
    }
    PLACED.with(|placed| placed.set(true));
    if let Some(cores) = process_cores() {
        set_current_thread_cores(&cores);
    }
}

/// The cores the process may run on: those of its main thread, which is
/// never pinned.
#[cfg(target_os = "linux")]
fn process_cores() -> Option<Vec<usize>> {
    // SAFETY: getpid only returns the process id.
    cores_of(unsafe { libc::getpid() })
}

#[cfg(not(target_os = "linux"))]
fn process_cores() -> Option<Vec<usize>> {
    None
}

/// The cores a thread may run on; 0 is the calling thread.
#[cfg(target_os = "linux")]
fn cores_of(thread: libc::pid_t) -> Option<Vec<usize>> {
    // SAFETY: cpu_set_t is plain bits; sched_getaffinity writes at most its
    // size into it, and CPU_ISSET only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(thread, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return None;
        }
        Some((0..libc::CPU_SETSIZE as usize).filter(|&cpu| libc::CPU_ISSET(cpu, &set)).collect())
    }
}

#[cfg(target_os = "linux")]
fn set_current_thread_cores(cores: &[usize]) -> bool {
    // SAFETY: as above; CPU_SET ignores cores past the set's size, and pid 0
    // is the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &core in cores {
            libc::CPU_SET(core, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

#[cfg(not(target_os = "linux"))]
fn set_current_thread_cores(_cores: &[usize]) -> bool {
    false
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn cores_of_this_thread() -> Vec<usize> {
        cores_of(0).expect("the affinity of a thread can be read")
    }

    #[test]
    fn each_worker_takes_the_next_allowed_core_and_keeps_it() {
        let cores = WorkerCores::allowed().expect("Linux names the cores");
        assert_eq!(cores.workers(), cores_of_this_thread().len());
        let allowed = cores.cores.clone();
        let cores = std::sync::Arc::new(cores);
        // As many threads as cores and two more: the extra ones wrap around.
        let taken: Vec<(Option<usize>, Option<usize>, Vec<usize>)> = (0..allowed.len() + 2)
            .map(|_| {
                let cores = std::sync::Arc::clone(&cores);
                std::thread::spawn(move || {
                    let first = cores.pin_this_worker();
                    let again = cores.pin_this_worker();
                    (first, again, cores_of_this_thread())
                })
                .join()
                .expect("the thread ends")
            })
            .collect();
        for (n, (first, again, now)) in taken.iter().enumerate() {
            let expected = allowed[n % allowed.len()];
            assert_eq!(*first, Some(expected), "thread {n} takes the next core");
            assert_eq!(*again, None, "thread {n} asked twice and was not moved");
            assert_eq!(now, &vec![expected], "thread {n} runs on its core only");
        }
    }

    #[test]
    fn a_thread_started_by_a_pinned_worker_frees_itself_onto_every_core() {
        let allowed = cores_of_this_thread();
        let cores = WorkerCores::allowed().expect("Linux names the cores");
        let (inherited, freed, worker_after) = std::thread::spawn(move || {
            let core = cores.pin_this_worker().expect("the worker is pinned");
            let (inherited, freed) = std::thread::spawn(|| {
                let inherited = cores_of_this_thread();
                free_this_thread();
                (inherited, cores_of_this_thread())
            })
            .join()
            .expect("the blocking thread ends");
            free_this_thread();
            (inherited, freed, (core, cores_of_this_thread()))
        })
        .join()
        .expect("the worker ends");
        let (core, worker_cores) = worker_after;
        assert_eq!(inherited, vec![core], "a thread inherits its starter's core");
        assert_eq!(freed, allowed, "freed, it may run on every allowed core");
        assert_eq!(worker_cores, vec![core], "a pinned worker stays where it is");
    }

    #[test]
    fn a_thread_that_was_not_pinned_keeps_every_allowed_core() {
        let before = cores_of_this_thread();
        let _cores = WorkerCores::allowed().expect("Linux names the cores");
        assert_eq!(cores_of_this_thread(), before);
    }
}
