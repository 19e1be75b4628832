//! A bounded map of values read from the database under a change stamp
//! (see `store::stamps`): a value is served only while the stamp read now
//! is the one it was read under. The listing cache and the signed-in users
//! are two such maps.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};

/// At most `CAPACITY` values, each with the stamp it was read under.
#[derive(Debug)]
pub struct Stamped<K, V, const CAPACITY: usize> {
    entries: Mutex<HashMap<K, (i64, V)>>,
}

impl<K, V, const CAPACITY: usize> Default for Stamped<K, V, CAPACITY> {
    fn default() -> Self {
        Self { entries: Mutex::new(HashMap::new()) }
    }
}

impl<K: Eq + Hash, V: Clone, const CAPACITY: usize> Stamped<K, V, CAPACITY> {
    fn entries(&self) -> MutexGuard<'_, HashMap<K, (i64, V)>> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The value kept for `key`, if it was read under `stamp`.
    pub fn get<Q>(&self, key: &Q, stamp: i64) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.entries().get(key).filter(|(kept, _)| *kept == stamp).map(|(_, value)| value.clone())
    }

    /// Keeps a value read under `stamp`. When full, values of older stamps
    /// go first, then all of them.
    pub fn put(&self, key: K, stamp: i64, value: V) {
        let mut entries = self.entries();
        if entries.len() >= CAPACITY && !entries.contains_key(&key) {
            entries.retain(|_, (kept, _)| *kept >= stamp);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        match entries.get(&key) {
            // A slower reader of an older stamp must not replace a newer value.
            Some((kept, _)) if *kept > stamp => {}
            _ => {
                entries.insert(key, (stamp, value));
            }
        }
    }

    pub fn len(&self) -> usize {
        self.entries().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Small = Stamped<i64, &'static str, 4>;

    #[test]
    fn a_value_is_served_only_under_the_stamp_it_was_read_under() {
        let kept = Small::default();
        kept.put(1, 7, "Acme Retail");

        assert_eq!(kept.get(&1, 7), Some("Acme Retail"));
        assert_eq!(kept.get(&1, 8), None, "a moved stamp means reading again");
        assert_eq!(kept.get(&2, 7), None, "another key is not kept");
    }

    #[test]
    fn an_older_read_never_replaces_a_newer_one() {
        let kept = Small::default();
        kept.put(1, 9, "Acme Group");
        kept.put(1, 8, "Acme Retail");

        assert_eq!(kept.get(&1, 9), Some("Acme Group"));
    }

    #[test]
    fn a_full_map_drops_values_of_older_stamps_first_then_everything() {
        let kept = Small::default();
        for key in 0..4 {
            kept.put(key, if key == 0 { 5 } else { 6 }, "kept");
        }
        assert_eq!(kept.len(), 4);

        kept.put(-1, 6, "new");
        assert_eq!(kept.len(), 4, "the one value of an older stamp made room");
        assert!(kept.get(&0, 5).is_none());

        kept.put(-2, 6, "newer");
        assert_eq!(kept.len(), 1, "nothing older to drop: all of it went");
        assert_eq!(kept.get(&-2, 6), Some("newer"));
    }
}
