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
    pub fn get(&self, key: &K, stamp: i64) -> Option<V> {
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
