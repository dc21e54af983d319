//! The index itself: each region's thing documents with their searchable fields computed once
//! per change, and an inverted map from `(field, value)` (whole values, their words, and
//! numbers in one spelling) to the things holding them. A query whose terms name fields and
//! values (`attributes.room:kitchen AND thingTypeName:lamp`), a trailing wildcard
//! (`thingName:tv*`) or numeric bounds (`shadow.reported.temp:[10 TO 12]`, `>20`) reads the
//! maps; any other query (inner wildcards, NOT, bare terms, text ranges) runs over the
//! precomputed fields. Either way every candidate is checked by the evaluator, so the maps
//! only ever narrow.

use crate::config::Config;
use crate::doc::{Leaf, ThingDoc, number_text};
use crate::eval::matches;
use crate::query::{Bound, Pattern, Piece, Query};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound as Edge;

/// A document and its searchable fields under the region's configuration.
#[derive(Debug, Clone)]
pub struct Indexed {
    pub doc: ThingDoc,
    pub fields: Vec<(String, Leaf)>,
}

/// One region's thing index.
#[derive(Debug, Default)]
pub struct RegionIndex {
    docs: BTreeMap<String, Indexed>,
    terms: BTreeMap<(String, String), BTreeSet<String>>,
    /// By field: the things holding each number (a value that reads as one counts), and
    /// those holding a value that does not (a range compares it as text).
    numbers: BTreeMap<String, Numbers>,
}

/// One field's numbers.
#[derive(Debug, Default)]
struct Numbers {
    by_value: BTreeMap<Num, BTreeSet<String>>,
    not_numbers: BTreeSet<String>,
}

/// An f64 ordered by `total_cmp`.
#[derive(Debug, Clone, Copy)]
struct Num(f64);

impl PartialEq for Num {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0) == Ordering::Equal
    }
}

impl Eq for Num {}

impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Num {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// The keys a leaf is found under: its whole value, each word, and a number's one spelling.
fn keys(leaf: &Leaf) -> Vec<String> {
    let text = leaf.text().to_lowercase();
    let mut out: Vec<String> = text.split_whitespace().map(str::to_string).collect();
    if let Leaf::Num(n) = leaf {
        out.push(number_text(*n));
    }
    out.push(text);
    out.sort_unstable();
    out.dedup();
    out
}

impl RegionIndex {
    /// Builds the index of `docs` under `config`.
    pub fn build(docs: impl IntoIterator<Item = ThingDoc>, config: &Config) -> Self {
        let mut index = Self::default();
        for doc in docs {
            index.put(doc, config);
        }
        index
    }

    /// The document of `thing`, if indexed.
    pub fn get(&self, thing: &str) -> Option<&ThingDoc> {
        self.docs.get(thing).map(|i| &i.doc)
    }

    /// Adds or replaces a document.
    pub fn put(&mut self, doc: ThingDoc, config: &Config) {
        self.remove(&doc.name);
        let fields = doc.fields(config);
        for (field, leaf) in &fields {
            for key in keys(leaf) {
                let slot = self.terms.entry((field.clone(), key)).or_default();
                slot.insert(doc.name.clone());
            }
            let numbers = self.numbers.entry(field.clone()).or_default();
            match leaf.number() {
                Some(n) => numbers.by_value.entry(Num(n)).or_default(),
                None => &mut numbers.not_numbers,
            }
            .insert(doc.name.clone());
        }
        self.docs.insert(doc.name.clone(), Indexed { doc, fields });
    }

    /// Removes `thing`'s document.
    pub fn remove(&mut self, thing: &str) -> Option<ThingDoc> {
        let old = self.docs.remove(thing)?;
        for (field, leaf) in &old.fields {
            for key in keys(leaf) {
                let k = (field.clone(), key);
                if let Some(set) = self.terms.get_mut(&k) {
                    set.remove(thing);
                    if set.is_empty() {
                        self.terms.remove(&k);
                    }
                }
            }
            if let Some(numbers) = self.numbers.get_mut(field) {
                match leaf.number() {
                    Some(n) => {
                        if let Some(set) = numbers.by_value.get_mut(&Num(n)) {
                            set.remove(thing);
                            if set.is_empty() {
                                numbers.by_value.remove(&Num(n));
                            }
                        }
                    }
                    None => {
                        numbers.not_numbers.remove(thing);
                    }
                }
            }
        }
        Some(old.doc)
    }

    /// Every document `q` selects, by thing name.
    pub fn select(&self, q: &Query) -> Vec<&Indexed> {
        match self.candidates(q) {
            Some(names) => names
                .into_iter()
                .filter_map(|n| self.docs.get(n))
                .filter(|i| matches(q, &i.fields))
                .collect(),
            None => self
                .docs
                .values()
                .filter(|i| matches(q, &i.fields))
                .collect(),
        }
    }

    /// The map's sets a `field:value` term reads (`None`: the map cannot answer it).
    fn term_sets(&self, q: &Query) -> Option<Vec<&BTreeSet<String>>> {
        let Query::Term {
            field: Some(field),
            value,
        } = q
        else {
            return None;
        };
        if value.has_wildcard() {
            return self.prefix_sets(field, value);
        }
        let text = match value {
            Pattern::Phrase(p) => p.to_lowercase(),
            Pattern::Word(_) => value.text().to_lowercase(),
        };
        let mut lookups = vec![text.clone()];
        if let Ok(n) = text.trim().parse::<f64>() {
            lookups.push(number_text(n));
        }
        if let Pattern::Phrase(_) = value {
            lookups.extend(text.split_whitespace().take(1).map(str::to_string));
        }
        let sets = lookups
            .into_iter()
            .filter_map(|key| self.terms.get(&(field.clone(), key)))
            .collect();
        Some(sets)
    }

    /// A word whose only wildcard is a trailing `*`: the sets of every key it starts.
    fn prefix_sets(&self, field: &str, value: &Pattern) -> Option<Vec<&BTreeSet<String>>> {
        let Pattern::Word(pieces) = value else {
            return None;
        };
        let (last, head) = pieces.split_last()?;
        let mut prefix = String::new();
        for p in head {
            match p {
                Piece::Char(c) => prefix.push(*c),
                _ => return None,
            }
        }
        if *last != Piece::Any || prefix.is_empty() {
            return None;
        }
        let prefix = prefix.to_lowercase();
        let from = (field.to_string(), prefix.clone());
        let sets = self
            .terms
            .range(from..)
            .take_while(|((f, key), _)| f == field && key.starts_with(&prefix))
            .map(|(_, set)| set)
            .collect();
        Some(sets)
    }

    /// A range whose bounds are numbers (or open): the things holding a number in it, and
    /// those holding a value that is not a number (compared as text).
    fn range_sets(&self, q: &Query) -> Option<Vec<&BTreeSet<String>>> {
        let Query::Range {
            field: Some(field),
            low,
            high,
        } = q
        else {
            return None;
        };
        let edge = |b: &Bound| -> Option<Edge<Num>> {
            Some(match b {
                Bound::Open => Edge::Unbounded,
                Bound::Inclusive(v) => Edge::Included(Num(v.trim().parse().ok()?)),
                Bound::Exclusive(v) => Edge::Excluded(Num(v.trim().parse().ok()?)),
            })
        };
        let (from, to) = (edge(low)?, edge(high)?);
        let inverted = match (&from, &to) {
            (Edge::Included(a), Edge::Included(b)) => a > b,
            (Edge::Included(a) | Edge::Excluded(a), Edge::Included(b) | Edge::Excluded(b)) => {
                a >= b
            }
            _ => false,
        };
        let Some(numbers) = self.numbers.get(field) else {
            return Some(Vec::new());
        };
        let mut sets: Vec<&BTreeSet<String>> = vec![&numbers.not_numbers];
        if !inverted {
            sets.extend(numbers.by_value.range((from, to)).map(|(_, set)| set));
        }
        Some(sets)
    }

    /// How many candidates `q` would give, when the map can say.
    fn estimate(&self, q: &Query) -> Option<usize> {
        match q {
            Query::Term { .. } => Some(self.term_sets(q)?.iter().map(|s| s.len()).sum()),
            Query::Range { .. } => Some(self.range_sets(q)?.iter().map(|s| s.len()).sum()),
            Query::And(parts) => parts.iter().filter_map(|p| self.estimate(p)).min(),
            Query::Or(parts) => parts.iter().map(|p| self.estimate(p)).sum(),
            _ => None,
        }
    }

    /// The things that may match `q`, by name, when the map can say (`None`: look at every
    /// document). An AND reads only its narrowest part; the evaluator checks the rest.
    fn candidates(&self, q: &Query) -> Option<BTreeSet<&str>> {
        match q {
            Query::Term { .. } => {
                let sets = self.term_sets(q)?;
                Some(sets.into_iter().flatten().map(String::as_str).collect())
            }
            Query::Range { .. } => {
                let sets = self.range_sets(q)?;
                Some(sets.into_iter().flatten().map(String::as_str).collect())
            }
            Query::And(parts) => {
                let narrowest = parts
                    .iter()
                    .filter_map(|p| self.estimate(p).map(|n| (n, p)))
                    .min_by_key(|(n, _)| *n)?;
                self.candidates(narrowest.1)
            }
            Query::Or(parts) => {
                let mut out = BTreeSet::new();
                for p in parts {
                    out.extend(self.candidates(p)?);
                }
                Some(out)
            }
            _ => None,
        }
    }
}
