//! The sandbox's count of sends per number and wall-clock second: how
//! many it accepted and how many it refused with 130429, so tests can
//! check a sender's pacing from outside. Meta counts a number's
//! throughput per second, so the window here is fixed Unix seconds,
//! not a sliding or smoothed one.

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

/// How many seconds of counts each number keeps.
pub const SECONDS_KEPT: i64 = 120;
/// How many numbers are counted at once; the longest idle go first.
pub const NUMBERS_KEPT: usize = 5_000;

/// One second of one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SecondCount {
    /// Unix seconds.
    pub second: i64,
    pub accepted: u32,
    pub refused: u32,
}

/// The counts of one number, oldest second first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NumberRates {
    /// The most accepted in any one second since the number was first counted.
    pub max_accepted: u32,
    pub seconds: VecDeque<SecondCount>,
}

impl NumberRates {
    fn newest_second(&self) -> i64 {
        self.seconds.back().map_or(i64::MIN, |c| c.second)
    }

    /// Where the count of `second` sits, made when missing; seconds stay
    /// in order even if the clock steps back.
    fn count_of(&mut self, second: i64) -> usize {
        let at = match self.seconds.iter().rposition(|c| c.second <= second) {
            Some(at) if self.seconds[at].second == second => at,
            found => {
                let at = found.map_or(0, |at| at + 1);
                self.seconds.insert(at, SecondCount { second, accepted: 0, refused: 0 });
                at
            }
        };
        let newest = self.newest_second();
        let before = self.seconds.len();
        while self.seconds.front().is_some_and(|c| c.second <= newest - SECONDS_KEPT) {
            self.seconds.pop_front();
        }
        let at = at.saturating_sub(before - self.seconds.len());
        // A second older than the window was dropped at once: count into the oldest kept.
        at.min(self.seconds.len() - 1)
    }
}

/// Every counted number's seconds, bounded in seconds and in numbers.
#[derive(Debug, Default)]
pub struct SendRates {
    numbers: HashMap<String, NumberRates>,
}

impl SendRates {
    /// Counts one send of `number` in `second`: accepted unless `limit` is
    /// given and the second already holds that many; true when accepted.
    pub fn take(&mut self, number: &str, second: i64, limit: Option<u32>) -> bool {
        if !self.numbers.contains_key(number) && self.numbers.len() >= NUMBERS_KEPT {
            self.forget_idle();
        }
        let rates = self.numbers.entry(number.to_owned()).or_default();
        let at = rates.count_of(second);
        let count = &mut rates.seconds[at];
        let accepted = limit.is_none_or(|limit| count.accepted < limit);
        if accepted {
            count.accepted += 1;
            rates.max_accepted = rates.max_accepted.max(count.accepted);
        } else {
            count.refused += 1;
        }
        accepted
    }

    /// The counts of every number.
    pub fn numbers(&self) -> &HashMap<String, NumberRates> {
        &self.numbers
    }

    /// Drops the numbers idle the longest until a quarter of the room is
    /// free, so a stream of new numbers pays for this once in many sends.
    fn forget_idle(&mut self) {
        let mut newest: Vec<i64> = self.numbers.values().map(NumberRates::newest_second).collect();
        let keep = NUMBERS_KEPT * 3 / 4;
        let drop = newest.len().saturating_sub(keep);
        if drop == 0 {
            return;
        }
        let (_, &mut cut, _) = newest.select_nth_unstable(drop - 1);
        let mut to_drop = drop;
        self.numbers.retain(|_, rates| {
            let idle = rates.newest_second() <= cut && to_drop > 0;
            if idle {
                to_drop -= 1;
            }
            !idle
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_765_000_000;

    #[test]
    fn sends_within_the_limit_are_accepted_and_the_rest_of_the_second_refused() {
        let mut rates = SendRates::default();

        let answers: Vec<bool> = (0..5).map(|_| rates.take("1", T, Some(3))).collect();

        assert_eq!(answers, [true, true, true, false, false]);
        let number = &rates.numbers()["1"];
        assert_eq!(number.seconds, [SecondCount { second: T, accepted: 3, refused: 2 }]);
        assert_eq!(number.max_accepted, 3);
    }

    #[test]
    fn a_new_second_starts_a_new_count() {
        let mut rates = SendRates::default();
        for _ in 0..4 {
            rates.take("1", T, Some(3));
        }

        let accepted = rates.take("1", T + 1, Some(3));

        assert!(accepted);
        let seconds: Vec<(i64, u32, u32)> = rates.numbers()["1"].seconds.iter().map(|c| (c.second, c.accepted, c.refused)).collect();
        assert_eq!(seconds, [(T, 3, 1), (T + 1, 1, 0)]);
    }

    #[test]
    fn without_a_limit_every_send_is_accepted_and_the_busiest_second_is_the_max() {
        let mut rates = SendRates::default();
        for (second, sends) in [(T, 5), (T + 1, 9), (T + 2, 2)] {
            for _ in 0..sends {
                assert!(rates.take("1", second, None));
            }
        }

        let number = &rates.numbers()["1"];

        assert_eq!(number.max_accepted, 9);
        assert_eq!(number.seconds.iter().map(|c| c.refused).sum::<u32>(), 0);
    }

    #[test]
    fn each_number_is_counted_apart() {
        let mut rates = SendRates::default();

        rates.take("1", T, Some(1));
        let other = rates.take("2", T, Some(1));

        assert!(other);
        assert_eq!(rates.numbers()["1"].seconds[0].accepted, 1);
        assert_eq!(rates.numbers()["2"].seconds[0].accepted, 1);
    }

    #[test]
    fn only_the_last_seconds_are_kept_and_the_max_outlives_them() {
        let mut rates = SendRates::default();
        for _ in 0..7 {
            rates.take("1", T, None);
        }

        for second in T + 1..T + 1 + 2 * SECONDS_KEPT {
            rates.take("1", second, None);
        }

        let number = &rates.numbers()["1"];
        assert_eq!(number.seconds.len(), SECONDS_KEPT as usize);
        assert_eq!(number.seconds.front().map(|c| c.second), Some(T + SECONDS_KEPT + 1));
        assert_eq!(number.seconds.back().map(|c| c.second), Some(T + 2 * SECONDS_KEPT));
        assert_eq!(number.max_accepted, 7);
    }

    #[test]
    fn a_clock_stepping_back_keeps_the_seconds_in_order() {
        let mut rates = SendRates::default();
        rates.take("1", T + 2, None);
        rates.take("1", T, None);
        rates.take("1", T + 1, None);
        rates.take("1", T, None);
        rates.take("1", T - 10 * SECONDS_KEPT, None);

        let seconds: Vec<(i64, u32)> = rates.numbers()["1"].seconds.iter().map(|c| (c.second, c.accepted)).collect();

        assert_eq!(seconds, [(T, 3), (T + 1, 1), (T + 2, 1)], "a second older than the window counts into the oldest kept");
    }

    #[test]
    fn the_numbers_idle_longest_are_forgotten_when_the_room_is_full() {
        let mut rates = SendRates::default();
        for n in 0..NUMBERS_KEPT as i64 {
            rates.take(&n.to_string(), T + n, None);
        }

        rates.take("new", T + NUMBERS_KEPT as i64, None);

        let kept = rates.numbers();
        assert!(kept.len() <= NUMBERS_KEPT * 3 / 4 + 1, "{}", kept.len());
        assert!(kept.contains_key("new"));
        assert!(!kept.contains_key("0"), "the longest idle went first");
        assert!(kept.contains_key(&(NUMBERS_KEPT as i64 - 1).to_string()), "the latest stayed");
    }
}
