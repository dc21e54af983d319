//! The account's topic rules, per region, kept in a [`Store`] (the state dir's `rules.db`):
//! every change is written before it is answered, and a stored rule that no longer compiles is
//! quarantined with a warning, never a refusal to start.

use crate::destination::{Destination, KIND_DESTINATION};
use crate::rule::{CompiledRule, RuleError, RuleRecord, record_from_payload};
use iotmock_store::{Change, Read, Store, StoreError, load_with};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// The store kind of rule records.
pub const KIND_RULE: &str = "topic_rule";

/// Why a change to the rules was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum BookError {
    NotFound(String),
    AlreadyExists {
        name: String,
    },
    Rule(RuleError),
    /// The store refused the write; nothing changed.
    Store(String),
}

/// A record of `rules.db`.
enum Loaded {
    Rule(Box<CompiledRule>),
    Destination(Destination),
}

impl From<RuleError> for BookError {
    fn from(e: RuleError) -> Self {
        BookError::Rule(e)
    }
}

pub struct RuleBook {
    rules: BTreeMap<(String, String), CompiledRule>,
    /// Topic rule destinations by ARN.
    destinations: BTreeMap<String, Destination>,
    /// Behind a mutex so the book can be read from many threads (the store is `Send` only).
    store: Mutex<Box<dyn Store>>,
}

fn key(region: &str, name: &str) -> (String, String) {
    (region.to_string(), name.to_string())
}

impl RuleBook {
    /// Deletes every rule and destination, in the store and in memory (iotmock's reset).
    pub fn reset(&mut self) -> Result<(), iotmock_store::StoreError> {
        iotmock_store::clear_shared(&self.store)?;
        self.rules.clear();
        self.destinations.clear();
        Ok(())
    }

    /// The rules `store` kept.
    pub fn open(mut store: Box<dyn Store>) -> Result<Self, StoreError> {
        let read = |row: &iotmock_store::Row| match row.kind.as_str() {
            KIND_RULE => {
                let record: RuleRecord =
                    serde_json::from_str(&row.value).map_err(|e| e.to_string())?;
                CompiledRule::compile(record)
                    .map(|r| Read::Record(Loaded::Rule(Box::new(r))))
                    .map_err(|e| format!("the stored rule no longer compiles: {e:?}"))
            }
            KIND_DESTINATION => serde_json::from_str(&row.value)
                .map(|d| Read::Record(Loaded::Destination(d)))
                .map_err(|e| e.to_string()),
            _ => Ok(Read::Skip),
        };
        let (mut rules, mut destinations) = (BTreeMap::new(), BTreeMap::new());
        for loaded in load_with(&mut *store, "rules", read)? {
            match loaded {
                Loaded::Rule(rule) => {
                    rules.insert(key(&rule.record.region, rule.name()), *rule);
                }
                Loaded::Destination(d) => {
                    destinations.insert(d.arn.clone(), d);
                }
            }
        }
        Ok(Self {
            rules,
            destinations,
            store: Mutex::new(store),
        })
    }

    fn commit(&mut self, change: Change) -> Result<(), BookError> {
        self.store
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .commit(&[change])
            .map_err(|e| BookError::Store(e.to_string()))
    }

    /// Stores (creates or replaces) a destination.
    pub fn put_destination(&mut self, d: Destination) -> Result<&Destination, BookError> {
        let value = serde_json::to_string(&d).map_err(|e| BookError::Store(e.to_string()))?;
        self.commit(Change::Put {
            kind: KIND_DESTINATION,
            key: d.arn.clone(),
            value,
        })?;
        Ok(self
            .destinations
            .entry(d.arn.clone())
            .insert_entry(d)
            .into_mut())
    }

    pub fn destination(&self, arn: &str) -> Result<&Destination, BookError> {
        self.destinations
            .get(arn)
            .ok_or_else(|| BookError::NotFound(arn.to_string()))
    }

    /// The destination whose last confirmation carried `token`.
    pub fn destination_by_token(&self, token: &str) -> Result<&Destination, BookError> {
        self.destinations
            .values()
            .find(|d| d.token == token)
            .ok_or_else(|| BookError::NotFound(format!("confirmation token {token}")))
    }

    /// Every destination, by ARN.
    pub fn all_destinations(&self) -> impl Iterator<Item = &Destination> {
        self.destinations.values()
    }

    /// The destinations of `region`, by ARN.
    pub fn destinations(&self, region: &str) -> impl Iterator<Item = &Destination> {
        self.destinations
            .values()
            .filter(move |d| d.region == region)
    }

    pub fn delete_destination(&mut self, arn: &str) -> Result<(), BookError> {
        self.destination(arn)?;
        self.commit(Change::Delete {
            kind: KIND_DESTINATION,
            key: arn.to_string(),
        })?;
        self.destinations.remove(arn);
        Ok(())
    }

    fn write(&mut self, rule: &CompiledRule) -> Result<(), BookError> {
        let value =
            serde_json::to_string(&rule.record).map_err(|e| BookError::Store(e.to_string()))?;
        self.commit(Change::Put {
            kind: KIND_RULE,
            key: format!("{}/{}", rule.record.region, rule.name()),
            value,
        })
    }

    /// CreateTopicRule.
    pub fn create(
        &mut self,
        region: &str,
        name: &str,
        payload: &Value,
        tags: Vec<(String, String)>,
        now_secs: i64,
    ) -> Result<&CompiledRule, BookError> {
        if self.rules.contains_key(&key(region, name)) {
            return Err(BookError::AlreadyExists {
                name: name.to_string(),
            });
        }
        let mut record = record_from_payload(name, region, payload, now_secs)?;
        record.tags = tags;
        self.put(CompiledRule::compile(record)?)
    }

    fn put(&mut self, rule: CompiledRule) -> Result<&CompiledRule, BookError> {
        self.write(&rule)?;
        let k = key(&rule.record.region, rule.name());
        Ok(self.rules.entry(k).insert_entry(rule).into_mut())
    }

    /// ReplaceTopicRule: the new payload, the rule's name, creation time and tags kept.
    pub fn replace(&mut self, region: &str, name: &str, payload: &Value) -> Result<(), BookError> {
        let old = self.get(region, name)?;
        let mut record = record_from_payload(name, region, payload, old.record.created_at)?;
        record.tags = old.record.tags.clone();
        self.put(CompiledRule::compile(record)?).map(|_| ())
    }

    /// Enable/DisableTopicRule.
    pub fn set_disabled(
        &mut self,
        region: &str,
        name: &str,
        disabled: bool,
    ) -> Result<(), BookError> {
        let mut rule = self.get(region, name)?.clone();
        rule.record.rule_disabled = disabled;
        self.put(rule).map(|_| ())
    }

    /// Replaces a rule's tags (TagResource / UntagResource).
    pub fn set_tags(
        &mut self,
        region: &str,
        name: &str,
        tags: Vec<(String, String)>,
    ) -> Result<(), BookError> {
        let mut rule = self.get(region, name)?.clone();
        rule.record.tags = tags;
        self.put(rule).map(|_| ())
    }

    pub fn delete(&mut self, region: &str, name: &str) -> Result<(), BookError> {
        self.get(region, name)?;
        self.commit(Change::Delete {
            kind: KIND_RULE,
            key: format!("{region}/{name}"),
        })?;
        self.rules.remove(&key(region, name));
        Ok(())
    }

    pub fn get(&self, region: &str, name: &str) -> Result<&CompiledRule, BookError> {
        self.rules
            .get(&key(region, name))
            .ok_or_else(|| BookError::NotFound(name.to_string()))
    }

    /// The rules of `region` in name order.
    pub fn list(&self, region: &str) -> impl Iterator<Item = &CompiledRule> {
        self.rules
            .range(key(region, "")..)
            .take_while(move |((r, _), _)| r == region)
            .map(|(_, rule)| rule)
    }

    /// Every enabled rule, of every region.
    pub fn enabled(&self) -> impl Iterator<Item = &CompiledRule> {
        self.rules.values().filter(|r| !r.record.rule_disabled)
    }
}
