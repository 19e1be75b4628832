//! Brute-force defence: after 5 failed sign-ins within an hour each further
//! attempt must wait twice as long as the last (1 s, 2 s, 4 s … at most a
//! minute, so that twenty failures fit in the hour); after 20 the account
//! (or client address) is locked until the hour has passed. Counted per
//! account and per client address.

use chrono::{Duration, NaiveDateTime};

pub const WINDOW_MINUTES: i64 = 60;
pub const DELAY_AFTER: i64 = 5;
pub const LOCK_AFTER: i64 = 20;
const MAX_DELAY_SECONDS: i64 = 60;

/// Whether another attempt is allowed now, given the failures in the window.
pub fn attempt_allowed(failures: i64, latest: Option<NaiveDateTime>, now: NaiveDateTime) -> bool {
    if failures >= LOCK_AFTER {
        return false;
    }
    if failures < DELAY_AFTER {
        return true;
    }
    let wait = 1_i64.checked_shl((failures - DELAY_AFTER) as u32).unwrap_or(MAX_DELAY_SECONDS).min(MAX_DELAY_SECONDS);
    latest.is_none_or(|at| now - at >= Duration::seconds(wait))
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
        assert!(attempt_allowed(4, Some(at(0)), at(0)));
    }

    #[test]
    fn the_delay_doubles_after_five_failures() {
        assert!(!attempt_allowed(5, Some(at(0)), at(0)));
        assert!(attempt_allowed(5, Some(at(0)), at(1)));
        assert!(!attempt_allowed(7, Some(at(0)), at(3)));
        assert!(attempt_allowed(7, Some(at(0)), at(4)));
    }

    #[test]
    fn twenty_failures_lock_whatever_the_wait() {
        assert!(!attempt_allowed(20, Some(at(0)), at(3_000)));
    }

    proptest! {
        #[test]
        fn waiting_longer_never_turns_an_allowed_attempt_into_a_refused_one(failures in 0i64..20, wait in 0i64..2_000, more in 0i64..2_000) {
            if attempt_allowed(failures, Some(at(0)), at(wait)) {
                prop_assert!(attempt_allowed(failures, Some(at(0)), at(wait + more)));
            }
        }
    }
}
