//! The account's topic rules, per region, kept in a [`Store`] (the state dir's `rules.db`):
//! every change is written before it is answered, and a stored rule that no longer compiles is
//! quarantined with a warning, never a refusal to start.

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

impl From<RuleError> for BookError {
    fn from(e: RuleError) -> Self {
        BookError::Rule(e)
    }
}

pub struct RuleBook {
    rules: BTreeMap<(String, String), CompiledRule>,
    /// Behind a mutex so the book can be read from many threads (the store is `Send` only).
    store: Mutex<Box<dyn Store>>,
}

fn key(region: &str, name: &str) -> (String, String) {
    (region.to_string(), name.to_string())
}

impl RuleBook {
    /// The rules `store` kept.
    pub fn open(mut store: Box<dyn Store>) -> Result<Self, StoreError> {
        let read = |row: &iotmock_store::Row| {
            if row.kind != KIND_RULE {
                return Ok(Read::Skip);
            }
            let record: RuleRecord = serde_json::from_str(&row.value).map_err(|e| e.to_string())?;
            CompiledRule::compile(record)
                .map(Read::Record)
                .map_err(|e| format!("the stored rule no longer compiles: {e:?}"))
        };
        let mut rules = BTreeMap::new();
        for rule in load_with(&mut *store, "rules", read)? {
            rules.insert(key(&rule.record.region, rule.name()), rule);
        }
        Ok(Self {
            rules,
            store: Mutex::new(store),
        })
    }

    fn write(&mut self, rule: &CompiledRule) -> Result<(), BookError> {
        let value =
            serde_json::to_string(&rule.record).map_err(|e| BookError::Store(e.to_string()))?;
        let change = Change::Put {
            kind: KIND_RULE,
            key: format!("{}/{}", rule.record.region, rule.name()),
            value,
        };
        self.store
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .commit(&[change])
            .map_err(|e| BookError::Store(e.to_string()))
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
        let change = Change::Delete {
            kind: KIND_RULE,
            key: format!("{region}/{name}"),
        };
        self.store
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .commit(&[change])
            .map_err(|e| BookError::Store(e.to_string()))?;
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
