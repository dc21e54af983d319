//! A map split across independently locked shards, so connections with different keys
//! (client ids, certificates) never wait on one another. One shard lock at a time, never
//! across an await.

use foldhash::quality::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::{Mutex, MutexGuard};

const SHARDS: usize = 32;

/// One shard's map. Keys (client ids, certificate ids) are hashed with foldhash, seeded per
/// map and per process (minimally DoS-resistant, docs/performance.md): every delivery looks
/// its receiver up here (SipHash took ~10 % of a QoS 0 fan-out).
pub(crate) type Map<K, V> = HashMap<K, V, RandomState>;

pub(crate) struct Sharded<K, V> {
    shards: Box<[Mutex<Map<K, V>>]>,
    hasher: RandomState,
}

impl<K, V> Default for Sharded<K, V> {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Map::default())).collect(),
            hasher: RandomState::default(),
        }
    }
}

impl<K: Hash + Eq, V> Sharded<K, V> {
    /// The shard holding `key`, locked.
    pub fn lock<Q: Hash + ?Sized>(&self, key: &Q) -> MutexGuard<'_, Map<K, V>> {
        let i = (self.hasher.hash_one(key) as usize) % self.shards.len();
        self.shards[i]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Folds over every entry, one shard at a time.
    pub fn fold<T>(&self, init: T, mut f: impl FnMut(T, &K, &V) -> T) -> T {
        let mut acc = init;
        for shard in self.shards.iter() {
            let map = shard.lock().unwrap_or_else(|p| p.into_inner());
            for (k, v) in map.iter() {
                acc = f(acc, k, v);
            }
        }
        acc
    }

    /// Fills the shards from `entries`.
    pub fn extend(&self, entries: impl IntoIterator<Item = (K, V)>) {
        for (k, v) in entries {
            self.lock(&k).insert(k, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_land_in_one_shard_each() {
        let m: Sharded<String, u32> = Sharded::default();
        m.extend((0..100).map(|i| (format!("k{i}"), i)));
        assert_eq!(m.lock("k7").get("k7"), Some(&7));
        assert_eq!(m.fold(0, |n, _, _| n + 1), 100);
    }
}
