//! Shadow topics: `$aws/things/{thing}/shadow[/name/{shadow}]/{get|update|delete}`.

use serde::{Deserialize, Serialize};

/// Which shadow: the classic one of a thing, or one of its named shadows.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ShadowKey {
    pub thing: String,
    pub name: Option<String>,
}

impl ShadowKey {
    pub fn classic(thing: &str) -> Self {
        Self {
            thing: thing.to_string(),
            name: None,
        }
    }

    pub fn named(thing: &str, name: &str) -> Self {
        Self {
            thing: thing.to_string(),
            name: Some(name.to_string()),
        }
    }

    /// The topic prefix `$aws/things/{thing}/shadow[/name/{shadow}]`.
    pub fn prefix(&self) -> String {
        match &self.name {
            None => format!("$aws/things/{}/shadow", self.thing),
            Some(n) => format!("$aws/things/{}/shadow/name/{n}", self.thing),
        }
    }

    /// The store key (region, thing, shadow name; empty for classic).
    pub fn store_key(&self, region: &str) -> String {
        let name = self.name.as_deref().unwrap_or("");
        format!("{region}\n{}\n{name}", self.thing)
    }
}

/// A shadow request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Get,
    Update,
    Delete,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Update => "update",
            Op::Delete => "delete",
        }
    }
}

/// Thing names: 1-128 of `[a-zA-Z0-9:_-]`; shadow names: 1-64 of `[$a-zA-Z0-9:_-]`.
fn valid_name(s: &str, max: usize, dollar: bool) -> bool {
    let ok =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-') || (dollar && c == '$');
    !s.is_empty() && s.len() <= max && s.chars().all(ok)
}

pub fn valid_thing_name(s: &str) -> bool {
    valid_name(s, 128, false)
}

pub fn valid_shadow_name(s: &str) -> bool {
    valid_name(s, 64, true)
}

/// The shadow and operation a request topic names; `None` for any other topic (answers,
/// or a malformed shadow topic, which the service leaves alone).
pub fn parse_topic(topic: &str) -> Option<(ShadowKey, Op)> {
    let rest = topic.strip_prefix("$aws/things/")?;
    let (thing, rest) = rest.split_once('/')?;
    let rest = rest.strip_prefix("shadow/")?;
    let (name, op) = match rest.strip_prefix("name/") {
        Some(named) => {
            let (name, op) = named.split_once('/')?;
            (Some(name), op)
        }
        None => (None, rest),
    };
    let op = match op {
        "get" => Op::Get,
        "update" => Op::Update,
        "delete" => Op::Delete,
        _ => return None,
    };
    if !valid_thing_name(thing) || name.is_some_and(|n| !valid_shadow_name(n)) {
        return None;
    }
    let key = match name {
        Some(n) => ShadowKey::named(thing, n),
        None => ShadowKey::classic(thing),
    };
    Some((key, op))
}
