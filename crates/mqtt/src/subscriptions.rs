//! The subscription table: who is subscribed to what, and who receives a topic. Filters live
//! in a trie by level, so routing a topic visits only the branches that can match it (its own
//! levels, `+` and `#`), whatever the number of filters. Shared subscriptions
//! (`$share/<group>/<filter>`) deliver each message to one member of the group, in turn.

use crate::topic::shared;
use foldhash::quality::RandomState as Fast;
use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Subscribers that end at one place of the trie: plain ones, and shared ones by group.
#[derive(Debug)]
struct Slot<K> {
    plain: Vec<(K, u8)>,
    groups: BTreeMap<String, Vec<(K, u8)>>,
}

impl<K> Default for Slot<K> {
    fn default() -> Self {
        Self {
            plain: Vec::new(),
            groups: BTreeMap::new(),
        }
    }
}

impl<K: Clone + Eq> Slot<K> {
    fn members(&mut self, group: Option<&str>) -> &mut Vec<(K, u8)> {
        match group {
            Some(g) => self.groups.entry(g.to_string()).or_default(),
            None => &mut self.plain,
        }
    }

    fn remove<Q: Eq + ?Sized>(&mut self, client: &Q, group: Option<&str>)
    where
        K: Borrow<Q>,
    {
        self.members(group).retain(|(k, _)| k.borrow() != client);
        if let Some(g) = group
            && self.groups.get(g).is_some_and(Vec::is_empty)
        {
            self.groups.remove(g);
        }
    }

    fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.groups.is_empty()
    }

    /// Adds this slot's receivers to `out` (one member per shared group, by `turn`); returns
    /// how many lists (the plain one, each group) added someone.
    fn collect(&self, turn: usize, out: &mut Vec<(K, u8)>) -> usize {
        let chosen = self
            .groups
            .values()
            .filter(|m| !m.is_empty())
            .map(|m| m[turn % m.len()].clone());
        let before = out.len();
        out.extend(self.plain.iter().cloned());
        let plain = usize::from(out.len() > before);
        let len = out.len();
        out.extend(chosen);
        plain + (out.len() - len)
    }
}

/// Keeps one entry per client, with the highest QoS it was given.
fn highest_per_client<K: Clone + Eq + Hash>(out: &mut Vec<(K, u8)>) {
    let mut best: HashMap<K, u8, Fast> =
        HashMap::with_capacity_and_hasher(out.len(), Fast::default());
    for (k, q) in out.drain(..) {
        let e = best.entry(k).or_insert(q);
        *e = (*e).max(q);
    }
    out.extend(best);
}

/// The levels of a topic still to match.
type Levels<'a> = std::str::Split<'a, char>;

#[derive(Debug)]
struct Node<K> {
    /// Hashed with foldhash: routing looks a level up here per topic level per message.
    children: HashMap<String, Node<K>, Fast>,
    /// Filters ending at this level.
    exact: Slot<K>,
    /// Filters ending in `/#` below this level (one or more further levels, as AWS matches).
    rest: Slot<K>,
}

impl<K> Default for Node<K> {
    fn default() -> Self {
        Self {
            children: HashMap::default(),
            exact: Slot::default(),
            rest: Slot::default(),
        }
    }
}

impl<K> Node<K> {
    fn is_empty(&self) -> bool
    where
        K: Clone + Eq,
    {
        self.children.is_empty() && self.exact.is_empty() && self.rest.is_empty()
    }
}

impl<K: Clone + Eq + Hash> Node<K> {
    /// The slot `levels` (a filter split at `/`) ends in, created on the way.
    fn slot_mut(&mut self, levels: &[&str]) -> &mut Slot<K> {
        match levels {
            [] => &mut self.exact,
            ["#"] => &mut self.rest,
            [first, more @ ..] => self
                .children
                .entry((*first).to_string())
                .or_default()
                .slot_mut(more),
        }
    }

    /// Removes `client` from the slot `levels` ends in, pruning emptied branches.
    fn remove<Q: Eq + ?Sized>(&mut self, levels: &[&str], client: &Q, group: Option<&str>)
    where
        K: Borrow<Q>,
    {
        match levels {
            [] => self.exact.remove(client, group),
            ["#"] => self.rest.remove(client, group),
            [first, more @ ..] => {
                if let Some(child) = self.children.get_mut(*first) {
                    child.remove(more, client, group);
                    if child.is_empty() {
                        self.children.remove(*first);
                    }
                }
            }
        }
    }

    /// Collects the receivers of the topic whose remaining levels are `levels`. Wildcards
    /// at the first level never match a `$` topic.
    /// Returns how many subscriber lists added someone (more than one may repeat a client).
    fn route(
        &self,
        mut levels: Levels<'_>,
        first: bool,
        turn: usize,
        out: &mut Vec<(K, u8)>,
    ) -> usize {
        let Some(level) = levels.next() else {
            return self.exact.collect(turn, out);
        };
        let mut lists = 0;
        let wildcards = !(first && level.starts_with('$'));
        if wildcards {
            lists += self.rest.collect(turn, out);
            if let Some(plus) = self.children.get("+") {
                lists += plus.route(levels.clone(), false, turn, out);
            }
        }
        if level != "+"
            && let Some(child) = self.children.get(level)
        {
            lists += child.route(levels, false, turn, out);
        }
        lists
    }
}

#[derive(Debug)]
pub struct Subscriptions<K> {
    root: Node<K>,
    by_client: HashMap<K, HashMap<String, u8>>,
    turn: AtomicUsize,
}

impl<K> Default for Subscriptions<K> {
    fn default() -> Self {
        Self {
            root: Node::default(),
            by_client: HashMap::new(),
            turn: AtomicUsize::new(0),
        }
    }
}

/// A filter's group (when shared) and its levels.
fn parts(filter: &str) -> (Option<&str>, Vec<&str>) {
    let (group, inner) = match shared(filter) {
        Some((g, f)) => (Some(g), f),
        None => (None, filter),
    };
    (group, inner.split('/').collect())
}

impl<K: Clone + Eq + Hash> Subscriptions<K> {
    /// Adds or replaces `client`'s subscription to `filter`; true when it is new.
    /// A client's subscriptions share the key it was first added with (one allocation for a
    /// shared key such as `Arc<str>`).
    pub fn add(&mut self, client: &K, filter: &str, qos: u8) -> bool {
        let key = match self.by_client.get_key_value(client) {
            Some((kept, _)) => kept.clone(),
            None => client.clone(),
        };
        let (group, levels) = parts(filter);
        let members = self.root.slot_mut(&levels).members(group);
        members.retain(|(k, _)| *k != key);
        members.push((key.clone(), qos));
        self.by_client
            .entry(key)
            .or_default()
            .insert(filter.to_string(), qos)
            .is_none()
    }

    /// Removes one subscription; true when it existed.
    pub fn remove<Q: Hash + Eq + ?Sized>(&mut self, client: &Q, filter: &str) -> bool
    where
        K: Borrow<Q>,
    {
        let existed = self
            .by_client
            .get_mut(client)
            .is_some_and(|m| m.remove(filter).is_some());
        if existed {
            let (group, levels) = parts(filter);
            self.root.remove(&levels, client, group);
        }
        existed
    }

    /// Removes every subscription of `client`, returning them.
    pub fn remove_client<Q: Hash + Eq + ?Sized>(&mut self, client: &Q) -> HashMap<String, u8>
    where
        K: Borrow<Q>,
    {
        let filters = self.by_client.remove(client).unwrap_or_default();
        for filter in filters.keys() {
            let (group, levels) = parts(filter);
            self.root.remove(&levels, client, group);
        }
        filters
    }

    pub fn count<Q: Hash + Eq + ?Sized>(&self, client: &Q) -> usize
    where
        K: Borrow<Q>,
    {
        self.by_client.get(client).map_or(0, HashMap::len)
    }

    pub fn of<Q: Hash + Eq + ?Sized>(&self, client: &Q) -> Option<&HashMap<String, u8>>
    where
        K: Borrow<Q>,
    {
        self.by_client.get(client)
    }

    /// Whether anyone receives `topic` (without using up a shared group's turn).
    pub fn any(&self, topic: &str) -> bool {
        let mut out = Vec::new();
        self.root.route(topic.split('/'), true, 0, &mut out) > 0
    }

    /// Every client that receives `topic`, with the highest QoS among its matching filters.
    pub fn route(&self, topic: &str) -> Vec<(K, u8)> {
        let turn = self.turn.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        let mut out = Vec::new();
        // One list holds each client once; only several lists need merging.
        if self.root.route(topic.split('/'), true, turn, &mut out) > 1 {
            highest_per_client(&mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topic::matches;
    use proptest::prelude::*;

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
        assert_eq!(s.route("x"), vec![], "AWS: x/# does not match x");
        assert_eq!(s.remove_client(&"a").len(), 2);
        assert!(s.route("x/y").is_empty());
        assert_eq!(s.count(&"a"), 0);
        assert!(s.root.is_empty(), "emptied branches are pruned");
    }

    #[test]
    fn a_clients_subscriptions_share_its_first_key() {
        let mut s: Subscriptions<std::sync::Arc<str>> = Subscriptions::default();
        let first: std::sync::Arc<str> = "a".into();
        s.add(&first, "x/1", 0);
        s.add(&"a".into(), "x/2", 1);
        let routed = s.route("x/2");
        assert!(std::sync::Arc::ptr_eq(&routed[0].0, &first), "{routed:?}");
        assert_eq!(s.count("a"), 2);
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

    #[test]
    fn one_client_in_several_lists_of_one_slot_is_delivered_once_at_its_highest_qos() {
        let mut s = Subscriptions::default();
        s.add(&"a", "t", 0);
        s.add(&"a", "$share/g/t", 1);
        s.add(&"a", "$share/h/t", 0);
        assert_eq!(s.route("t"), vec![("a", 1)]);
        s.add(&"b", "$share/g/t", 0);
        s.remove(&"a", "t");
        s.remove(&"a", "$share/h/t");
        let mut seen: Vec<_> = (0..2).map(|_| s.route("t")).collect();
        seen.sort();
        assert_eq!(seen, vec![vec![("a", 1)], vec![("b", 0)]]);
    }

    /// What the linear table did: every filter tested against the topic.
    fn linear(subs: &[(u8, String, u8)], topic: &str) -> Vec<(u8, u8)> {
        let mut out: HashMap<u8, u8> = HashMap::new();
        for (k, f, q) in subs {
            if matches(f, topic) {
                let e = out.entry(*k).or_insert(*q);
                *e = (*e).max(*q);
            }
        }
        let mut v: Vec<_> = out.into_iter().collect();
        v.sort();
        v
    }

    /// Well-formed filters: literal, empty, `$` and `+` levels, optionally ending in `#`.
    fn filter() -> impl Strategy<Value = String> {
        let level = proptest::sample::select(vec!["a", "b", "+", "", "$a"]).prop_map(String::from);
        (proptest::collection::vec(level, 0..4), any::<bool>()).prop_filter_map(
            "an empty filter",
            |(mut levels, hash)| {
                if hash {
                    levels.push("#".into());
                }
                (!levels.is_empty()).then(|| levels.join("/"))
            },
        )
    }

    proptest! {
        #[test]
        fn the_trie_routes_as_the_linear_matcher(
            subs in proptest::collection::vec((0u8..4, filter(), 0u8..2), 0..12),
            topic in "[ab$]{0,2}(/[ab]{0,2}){0,4}",
        ) {
            let mut table = Subscriptions::default();
            let mut kept: HashMap<(u8, String), u8> = HashMap::new();
            for (k, f, q) in &subs {
                table.add(k, f, *q);
                kept.insert((*k, f.clone()), *q);
            }
            let flat: Vec<(u8, String, u8)> = kept.into_iter().map(|((k, f), q)| (k, f, q)).collect();
            let mut got = table.route(&topic);
            got.sort();
            prop_assert_eq!(got, linear(&flat, &topic));
        }
    }
}
