//! One shadow's stored document: `desired` and `reported`, their per-leaf metadata
//! (`{"timestamp": <epoch s>}` for each value, an array of them for arrays), and the version.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub desired: Option<Value>,
    pub reported: Option<Value>,
    pub desired_meta: Option<Value>,
    pub reported_meta: Option<Value>,
    pub version: u64,
}

/// `{"timestamp": ts}`
fn stamp(ts: i64) -> Value {
    json!({ "timestamp": ts })
}

/// Whether a metadata node is a leaf (`{"timestamp": <number>}`) rather than a branch.
fn is_leaf(meta: &Value) -> bool {
    meta.as_object()
        .is_some_and(|m| m.len() == 1 && m.get("timestamp").is_some_and(Value::is_number))
}

/// The metadata of `state` (a section after a merge): leaves `patch` wrote get `ts`, the
/// others keep what `old` held for them.
pub fn metadata(state: &Value, patch: Option<&Value>, old: Option<&Value>, ts: i64) -> Value {
    match state {
        Value::Object(map) => {
            let branch = old.filter(|m| m.is_object() && !is_leaf(m));
            let out: Map<String, Value> = map
                .iter()
                .map(|(k, v)| {
                    let p = patch.and_then(|p| p.as_object()).and_then(|p| p.get(k));
                    let whole = patch.is_some_and(|p| !p.is_object());
                    let p = if whole { patch } else { p };
                    let o = branch.and_then(|b| b.get(k));
                    (k.clone(), metadata(v, p, o, ts))
                })
                .collect();
            Value::Object(out)
        }
        Value::Array(items) => match (patch, old) {
            (None, Some(o @ Value::Array(m))) if m.len() == items.len() => o.clone(),
            (None, Some(o)) if is_leaf(o) => o.clone(),
            _ => Value::Array(items.iter().map(|_| stamp(ts)).collect()),
        },
        _ => match (patch, old) {
            (None, Some(o)) if is_leaf(o) => o.clone(),
            _ => stamp(ts),
        },
    }
}

/// The metadata `update/accepted` echoes for a request section: a timestamp on every leaf
/// the request names, `null` leaves included.
pub fn request_metadata(patch: &Value, ts: i64) -> Value {
    match patch {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), request_metadata(v, ts)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|_| stamp(ts)).collect()),
        _ => stamp(ts),
    }
}

/// Object nesting of a section (the section itself is level 1; values inside arrays count
/// their own objects).
pub fn depth(v: &Value) -> usize {
    match v {
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// An empty section (`{}`) counts as absent.
pub fn present(v: &Option<Value>) -> Option<&Value> {
    v.as_ref()
        .filter(|s| s.as_object().is_none_or(|m| !m.is_empty()))
}

impl Document {
    /// `{"desired"?, "reported"?}`
    pub fn state(&self) -> Value {
        let mut m = Map::new();
        if let Some(d) = present(&self.desired) {
            m.insert("desired".into(), d.clone());
        }
        if let Some(r) = present(&self.reported) {
            m.insert("reported".into(), r.clone());
        }
        Value::Object(m)
    }

    /// `{"desired"?, "reported"?}` of metadata, for the sections present.
    pub fn metadata(&self) -> Value {
        let mut m = Map::new();
        if let (Some(_), Some(d)) = (present(&self.desired), &self.desired_meta) {
            m.insert("desired".into(), d.clone());
        }
        if let (Some(_), Some(r)) = (present(&self.reported), &self.reported_meta) {
            m.insert("reported".into(), r.clone());
        }
        Value::Object(m)
    }

    /// Bytes of `desired` and `reported` as JSON (metadata does not count).
    pub fn size(&self) -> usize {
        let len = |v: &Option<Value>| v.as_ref().map_or(0, |v| v.to_string().len());
        len(&self.desired) + len(&self.reported)
    }

    /// `{"state": {…}, "metadata": {…}, "version": N}`, as `update/documents` shows each side.
    pub fn snapshot(&self) -> Value {
        json!({ "state": self.state(), "metadata": self.metadata(), "version": self.version })
    }
}
