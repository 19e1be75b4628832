//! Brute-force defence, counted per account and per client address over a
//! sliding hour. Past a number of failures each further attempt must wait
//! twice as long as the last (1 s, 2 s, 4 s …). An account waits after 5
//! failures, at most a minute, and is locked after 20, so that twenty fit
//! in the hour. An address, which may be a whole office behind one gateway,
//! waits only after 25 failures, at most 30 s, and is locked after 100:
//! twenty typos an hour across its accounts never slow its other people
//! down, while guessing from it is held to about two attempts a minute
//! after its first 25.
//!
//! Failures are audited one by one while the address has fewer than 5 in
//! the hour; then one entry marks the burst, and the address's further
//! failures are not audited until its count falls below 5 again.

use chrono::{Duration, NaiveDateTime};

pub const WINDOW_MINUTES: i64 = 60;
/// Failures from one address audited one by one before its burst's single entry.
pub const AUDITED_ONE_BY_ONE: i64 = 5;

/// How many failures start the waits and how many lock, and how long a
/// wait may grow: for an account or a client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub delay_after: i64,
    pub lock_after: i64,
    pub max_delay_seconds: i64,
}

pub const PER_ACCOUNT: Limits = Limits { delay_after: 5, lock_after: 20, max_delay_seconds: 60 };
pub const PER_ADDRESS: Limits = Limits { delay_after: 25, lock_after: 100, max_delay_seconds: 30 };

/// Whether another attempt is allowed now, given the failures in the window.
pub fn attempt_allowed(limits: Limits, failures: i64, latest: Option<NaiveDateTime>, now: NaiveDateTime) -> bool {
    if failures >= limits.lock_after {
        return false;
    }
    if failures < limits.delay_after {
        return true;
    }
    let max = limits.max_delay_seconds;
    // Capped before shifting: a shift of 63 would turn the wait negative.
    let wait = (1_i64 << (failures - limits.delay_after).min(62)).min(max);
    latest.is_none_or(|at| now - at >= Duration::seconds(wait))
}

/// How a failed sign-in from an address with `failures_before` failures
/// in the window is audited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureAudit {
    /// An entry of its own.
    Each,
    /// The one entry that marks the address's burst.
    BurstStarts,
    /// None: the burst's entry is written.
    InBurst,
}

pub fn failure_audit(failures_before: i64, allowed: bool) -> FailureAudit {
    match failures_before {
        n if n < AUDITED_ONE_BY_ONE => FailureAudit::Each,
        // Only an allowed attempt is counted, so only one moves the count past it.
        n if n == AUDITED_ONE_BY_ONE && allowed => FailureAudit::BurstStarts,
        _ => FailureAudit::InBurst,
    }
}

pub fn window_start(now: NaiveDateTime) -> NaiveDateTime {
    now - Duration::minutes(WINDOW_MINUTES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(seconds: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap().naive_utc()
    }

    #[test]
    fn four_failures_never_slow_anyone_down() {
        assert!(attempt_allowed(PER_ACCOUNT, 4, Some(at(0)), at(0)));
    }

    #[test]
    fn the_delay_doubles_after_five_failures() {
        assert!(!attempt_allowed(PER_ACCOUNT, 5, Some(at(0)), at(0)));
        assert!(attempt_allowed(PER_ACCOUNT, 5, Some(at(0)), at(1)));
        assert!(!attempt_allowed(PER_ACCOUNT, 7, Some(at(0)), at(3)));
        assert!(attempt_allowed(PER_ACCOUNT, 7, Some(at(0)), at(4)));
    }

    #[test]
    fn twenty_failures_lock_an_account_whatever_the_wait() {
        assert!(!attempt_allowed(PER_ACCOUNT, 20, Some(at(0)), at(3_000)));
    }

    #[test]
    fn twenty_failures_from_one_address_never_slow_it_down_and_a_hundred_lock_it() {
        assert!(attempt_allowed(PER_ADDRESS, 20, Some(at(0)), at(0)));
        assert!(attempt_allowed(PER_ADDRESS, 24, Some(at(0)), at(0)));
        assert!(!attempt_allowed(PER_ADDRESS, 25, Some(at(0)), at(0)));
        assert!(attempt_allowed(PER_ADDRESS, 25, Some(at(0)), at(1)));
        assert!(!attempt_allowed(PER_ADDRESS, 99, Some(at(0)), at(29)));
        assert!(attempt_allowed(PER_ADDRESS, 99, Some(at(0)), at(30)));
        assert!(!attempt_allowed(PER_ADDRESS, 100, Some(at(0)), at(3_000)));
    }

    #[test]
    fn a_hundred_failures_from_one_address_fit_in_the_hour() {
        let waits: i64 = (PER_ADDRESS.delay_after..PER_ADDRESS.lock_after)
            .map(|n| (0..=PER_ADDRESS.max_delay_seconds).find(|&w| attempt_allowed(PER_ADDRESS, n, Some(at(0)), at(w))).unwrap())
            .sum();
        assert!(waits < WINDOW_MINUTES * 60, "{waits} s");
    }

    #[test]
    fn a_burst_from_one_address_is_audited_once_after_its_first_failures() {
        let audits: Vec<FailureAudit> = (0..8).map(|n| failure_audit(n, true)).collect();
        assert_eq!(audits.iter().filter(|a| **a == FailureAudit::Each).count(), 5);
        assert_eq!(audits.iter().filter(|a| **a == FailureAudit::BurstStarts).count(), 1);
        assert_eq!(failure_audit(5, false), FailureAudit::InBurst, "a refused attempt is not counted, so it cannot start the burst");
    }

    proptest! {
        #[test]
        fn waiting_longer_never_turns_an_allowed_attempt_into_a_refused_one(failures in 0i64..100, wait in 0i64..2_000, more in 0i64..2_000) {
            for limits in [PER_ACCOUNT, PER_ADDRESS] {
                if attempt_allowed(limits, failures, Some(at(0)), at(wait)) {
                    prop_assert!(attempt_allowed(limits, failures, Some(at(0)), at(wait + more)));
                }
            }
        }
    }
}
