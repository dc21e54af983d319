//! The subscription table: who is subscribed to what, and who receives a topic. Shared
//! subscriptions (`$share/<group>/<filter>`) deliver each message to one member, in turn.

use crate::topic::{matches, shared};
use std::collections::HashMap;
use std::hash::Hash;

#[derive(Debug)]
pub struct Subscriptions<K> {
    by_filter: HashMap<String, Vec<(K, u8)>>,
    by_client: HashMap<K, HashMap<String, u8>>,
    turn: usize,
}

impl<K> Default for Subscriptions<K> {
    fn default() -> Self {
        Self {
            by_filter: HashMap::new(),
            by_client: HashMap::new(),
            turn: 0,
        }
    }
}

impl<K: Clone + Eq + Hash> Subscriptions<K> {
    /// Adds or replaces `client`'s subscription to `filter`; true when it is new.
    pub fn add(&mut self, client: &K, filter: &str, qos: u8) -> bool {
        let subs = self.by_filter.entry(filter.to_string()).or_default();
        subs.retain(|(k, _)| k != client);
        subs.push((client.clone(), qos));
        self.by_client
            .entry(client.clone())
            .or_default()
            .insert(filter.to_string(), qos)
            .is_none()
    }

    /// Removes one subscription; true when it existed.
    pub fn remove(&mut self, client: &K, filter: &str) -> bool {
        if let Some(subs) = self.by_filter.get_mut(filter) {
            subs.retain(|(k, _)| k != client);
            if subs.is_empty() {
                self.by_filter.remove(filter);
            }
        }
        self.by_client
            .get_mut(client)
            .is_some_and(|m| m.remove(filter).is_some())
    }

    /// Removes every subscription of `client`, returning them.
    pub fn remove_client(&mut self, client: &K) -> HashMap<String, u8> {
        let filters = self.by_client.remove(client).unwrap_or_default();
        for filter in filters.keys() {
            if let Some(subs) = self.by_filter.get_mut(filter) {
                subs.retain(|(k, _)| k != client);
                if subs.is_empty() {
                    self.by_filter.remove(filter);
                }
            }
        }
        filters
    }

    pub fn count(&self, client: &K) -> usize {
        self.by_client.get(client).map_or(0, HashMap::len)
    }

    pub fn of(&self, client: &K) -> Option<&HashMap<String, u8>> {
        self.by_client.get(client)
    }

    /// Every client that receives `topic`, with the highest QoS among its matching filters.
    pub fn route(&mut self, topic: &str) -> Vec<(K, u8)> {
        let mut out: HashMap<K, u8> = HashMap::new();
        self.turn = self.turn.wrapping_add(1);
        for (filter, subs) in &self.by_filter {
            let (inner, is_shared) = match shared(filter) {
                Some((_, f)) => (f, true),
                None => (filter.as_str(), false),
            };
            if subs.is_empty() || !matches(inner, topic) {
                continue;
            }
            let chosen: &[(K, u8)] = if is_shared {
                let i = self.turn % subs.len();
                &subs[i..=i]
            } else {
                subs
            };
            for (k, q) in chosen {
                let e = out.entry(k.clone()).or_insert(*q);
                *e = (*e).max(*q);
            }
        }
        out.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_to_matching_clients_with_max_qos() {
        let mut s = Subscriptions::default();
        assert!(s.add(&"a", "x/+", 0));
        assert!(s.add(&"a", "x/#", 1));
        assert!(s.add(&"b", "x/y", 0));
        assert!(!s.add(&"b", "x/y", 1));
        let mut got = s.route("x/y");
        got.sort();
        assert_eq!(got, vec![("a", 1), ("b", 1)]);
        assert!(s.remove(&"b", "x/y"));
        assert_eq!(s.route("x/y"), vec![("a", 1)]);
        assert_eq!(s.remove_client(&"a").len(), 2);
        assert!(s.route("x/y").is_empty());
        assert_eq!(s.count(&"a"), 0);
    }

    #[test]
    fn shared_subscriptions_take_turns() {
        let mut s = Subscriptions::default();
        s.add(&"a", "$share/g/t", 0);
        s.add(&"b", "$share/g/t", 0);
        let first = s.route("t");
        let second = s.route("t");
        assert_eq!((first.len(), second.len()), (1, 1));
        assert_ne!(first[0].0, second[0].0);
    }
}
