//! The action log (iotmock's own, for tests): every action a rule ran, with its resolved
//! parameters, payload and outcome. Bounded: the newest 10,000 entries and 16 MiB of payload.

use crate::engine::Invocation;
use base64::Engine as _;
use serde_json::{Value, json};
use std::collections::VecDeque;

const MAX_ENTRIES: usize = 10_000;
const MAX_BYTES: usize = 16 * 1024 * 1024;

/// How an action ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No endpoint is configured for it: recorded, not sent.
    Captured,
    Delivered,
    Failed(String),
}

impl Outcome {
    /// From a runner's answer: `Ok(true)` delivered, `Ok(false)` recorded only.
    pub fn of(result: &Result<bool, String>) -> Self {
        match result {
            Ok(true) => Outcome::Delivered,
            Ok(false) => Outcome::Captured,
            Err(e) => Outcome::Failed(e.clone()),
        }
    }
}

/// One action run.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub time_ms: i64,
    pub rule: String,
    /// The action type (`republish`, `sqs`, ...).
    pub action: String,
    pub params: serde_json::Map<String, Value>,
    pub payload: Vec<u8>,
    pub outcome: Outcome,
}

impl Entry {
    pub fn new(rule: &str, inv: &Invocation, time_ms: i64, outcome: Outcome) -> Self {
        Self {
            time_ms,
            rule: rule.to_string(),
            action: inv.kind.member.to_string(),
            params: inv.params.clone(),
            payload: inv.payload.clone(),
            outcome,
        }
    }

    /// The entry as `GET /iotmock/actions` shows it: the payload as JSON when it is JSON,
    /// else as text, else base64 (`payloadBase64`).
    pub fn to_json(&self) -> Value {
        let (outcome, error) = match &self.outcome {
            Outcome::Captured => ("captured", None),
            Outcome::Delivered => ("delivered", None),
            Outcome::Failed(e) => ("failed", Some(e.clone())),
        };
        let mut v = json!({
            "timestamp": self.time_ms,
            "ruleName": self.rule,
            "actionType": self.action,
            "parameters": self.params,
            "outcome": outcome,
            "payloadBase64": base64::engine::general_purpose::STANDARD.encode(&self.payload),
        });
        if let Some(m) = v.as_object_mut() {
            if let Ok(doc) = serde_json::from_slice::<Value>(&self.payload) {
                m.insert("payload".into(), doc);
            } else if let Ok(text) = std::str::from_utf8(&self.payload) {
                m.insert("payload".into(), Value::String(text.to_string()));
            }
            if let Some(e) = error {
                m.insert("error".into(), Value::String(e));
            }
        }
        v
    }
}

#[derive(Debug, Default)]
pub struct ActionLog {
    entries: VecDeque<Entry>,
    bytes: usize,
}

impl ActionLog {
    pub fn push(&mut self, entry: Entry) {
        self.bytes += entry.payload.len();
        self.entries.push_back(entry);
        while self.entries.len() > MAX_ENTRIES || self.bytes > MAX_BYTES {
            match self.entries.pop_front() {
                Some(old) => self.bytes -= old.payload.len(),
                None => break,
            }
        }
    }

    pub fn entries(&self, rule: Option<&str>) -> Vec<Entry> {
        self.entries
            .iter()
            .filter(|e| rule.is_none_or(|r| e.rule == r))
            .cloned()
            .collect()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }
}

/// Evaluations kept while tracing is on.
const MAX_EVALUATIONS: usize = 1_000;

/// One rule evaluation of one message, matched or not (kept only while tracing is on: the
/// advisor turns it on for the rules it installs).
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub time_ms: i64,
    pub rule: String,
    pub topic: String,
    /// `None` when WHERE held (the actions ran); else why the rule did nothing.
    pub not_matched: Option<String>,
}

/// The newest evaluations, when tracing is on.
#[derive(Debug, Default)]
pub struct EvaluationLog {
    on: bool,
    entries: VecDeque<Evaluation>,
}

impl EvaluationLog {
    pub fn set(&mut self, on: bool) {
        self.on = on;
        if !on {
            self.entries.clear();
        }
    }

    pub fn is_on(&self) -> bool {
        self.on
    }

    pub fn push(&mut self, e: Evaluation) {
        if !self.on {
            return;
        }
        if self.entries.len() >= MAX_EVALUATIONS {
            self.entries.pop_front();
        }
        self.entries.push_back(e);
    }

    pub fn entries(&self) -> Vec<Evaluation> {
        self.entries.iter().cloned().collect()
    }
}
