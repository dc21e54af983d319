//! The documents the indexes hold: a thing (registry, shadows, connectivity) and a thing
//! group, as the fields a query searches and as SearchIndex's `ThingDocument` /
//! `ThingGroupDocument`.

use crate::config::{Config, ThingMode};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// One searchable value.
#[derive(Debug, Clone, PartialEq)]
pub enum Leaf {
    Str(String),
    Num(f64),
    Bool(bool),
}

impl Leaf {
    /// The value as text (what terms and phrases match).
    pub fn text(&self) -> String {
        match self {
            Leaf::Str(s) => s.clone(),
            Leaf::Num(n) => number_text(*n),
            Leaf::Bool(b) => b.to_string(),
        }
    }

    /// The value as a number, where it is one (strings that read as one count).
    pub fn number(&self) -> Option<f64> {
        match self {
            Leaf::Num(n) => Some(*n),
            Leaf::Str(s) => s.trim().parse().ok(),
            Leaf::Bool(_) => None,
        }
    }
}

/// A number as the index spells it: whole numbers without a fraction.
pub fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// One shadow, as the index keeps it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShadowDoc {
    pub desired: Option<Value>,
    pub reported: Option<Value>,
    pub delta: Option<Value>,
    pub metadata: Value,
    pub version: u64,
}

impl ShadowDoc {
    fn to_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        if let Some(d) = &self.desired {
            m.insert("desired".into(), d.clone());
        }
        if let Some(r) = &self.reported {
            m.insert("reported".into(), r.clone());
        }
        if let Some(d) = &self.delta {
            m.insert("delta".into(), d.clone());
        }
        m.insert("metadata".into(), self.metadata.clone());
        m.insert("version".into(), json!(self.version));
        m.insert("hasDelta".into(), json!(self.delta.is_some()));
        m
    }

    fn flatten(&self, prefix: &str, out: &mut Vec<(String, Leaf)>) {
        let sections = [
            ("desired", self.desired.as_ref()),
            ("reported", self.reported.as_ref()),
            ("delta", self.delta.as_ref()),
            ("metadata", Some(&self.metadata)),
        ];
        for (name, v) in sections {
            if let Some(v) = v {
                flatten_value(&format!("{prefix}.{name}"), v, out);
            }
        }
        out.push((format!("{prefix}.version"), Leaf::Num(self.version as f64)));
        out.push((
            format!("{prefix}.hasDelta"),
            Leaf::Bool(self.delta.is_some()),
        ));
    }
}

/// `connectivity`, from the broker's lifecycle events.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Connectivity {
    pub connected: bool,
    /// Of the last connect or disconnect (ms).
    pub timestamp: i64,
    pub disconnect_reason: Option<String>,
}

/// One thing as the index holds it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ThingDoc {
    pub name: String,
    pub id: String,
    pub type_name: Option<String>,
    pub groups: Vec<String>,
    pub attributes: BTreeMap<String, String>,
    pub version: i64,
    pub shadow: Option<ShadowDoc>,
    pub named: BTreeMap<String, ShadowDoc>,
    pub connectivity: Option<Connectivity>,
}

/// Every nested value of `v` under `path` (arrays give one entry per element).
pub fn flatten_value(path: &str, v: &Value, out: &mut Vec<(String, Leaf)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                flatten_value(&format!("{path}.{k}"), v, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                flatten_value(path, v, out);
            }
        }
        Value::String(s) => out.push((path.to_string(), Leaf::Str(s.clone()))),
        Value::Number(n) => out.push((path.to_string(), Leaf::Num(n.as_f64().unwrap_or(0.0)))),
        Value::Bool(b) => out.push((path.to_string(), Leaf::Bool(*b))),
        Value::Null => {}
    }
}

impl ThingDoc {
    /// The named shadows this configuration indexes.
    fn indexed_named<'a>(
        &'a self,
        c: &'a Config,
    ) -> impl Iterator<Item = (&'a String, &'a ShadowDoc)> {
        self.named
            .iter()
            .filter(move |(n, _)| c.named_shadows && c.named_shadow_names.contains(n))
    }

    /// The searchable fields under `config`.
    pub fn fields(&self, config: &Config) -> Vec<(String, Leaf)> {
        let mut out = vec![
            ("thingName".to_string(), Leaf::Str(self.name.clone())),
            ("thingId".to_string(), Leaf::Str(self.id.clone())),
            (
                "registry.version".to_string(),
                Leaf::Num(self.version as f64),
            ),
        ];
        if let Some(t) = &self.type_name {
            out.push(("thingTypeName".into(), Leaf::Str(t.clone())));
        }
        for g in &self.groups {
            out.push(("thingGroupNames".into(), Leaf::Str(g.clone())));
        }
        for (k, v) in &self.attributes {
            out.push((format!("attributes.{k}"), Leaf::Str(v.clone())));
        }
        if let (ThingMode::RegistryAndShadow, Some(s)) = (config.thing_mode, &self.shadow) {
            s.flatten("shadow", &mut out);
        }
        for (name, s) in self.indexed_named(config) {
            s.flatten(&format!("shadow.name.{name}"), &mut out);
        }
        if let (true, Some(c)) = (config.connectivity, &self.connectivity) {
            out.push(("connectivity.connected".into(), Leaf::Bool(c.connected)));
            out.push((
                "connectivity.timestamp".into(),
                Leaf::Num(c.timestamp as f64),
            ));
            if let Some(r) = &c.disconnect_reason {
                out.push(("connectivity.disconnectReason".into(), Leaf::Str(r.clone())));
            }
        }
        out
    }

    /// SearchIndex's `ThingDocument` (`shadow` is a JSON string, as AWS sends it).
    pub fn to_json(&self, config: &Config) -> Value {
        let mut m = Map::new();
        m.insert("thingName".into(), json!(self.name));
        m.insert("thingId".into(), json!(self.id));
        if let Some(t) = &self.type_name {
            m.insert("thingTypeName".into(), json!(t));
        }
        m.insert("thingGroupNames".into(), json!(self.groups));
        m.insert("attributes".into(), json!(self.attributes));
        let mut shadow = Map::new();
        if let (ThingMode::RegistryAndShadow, Some(s)) = (config.thing_mode, &self.shadow) {
            shadow = s.to_json();
        }
        let named: Map<String, Value> = self
            .indexed_named(config)
            .map(|(n, s)| (n.clone(), Value::Object(s.to_json())))
            .collect();
        if !named.is_empty() {
            shadow.insert("name".into(), Value::Object(named));
        }
        if !shadow.is_empty() {
            m.insert("shadow".into(), json!(Value::Object(shadow).to_string()));
        }
        // A thing that never connected since the mock started has no connectivity yet.
        if let (true, Some(c)) = (config.connectivity, &self.connectivity) {
            let mut conn = json!({ "connected": c.connected, "timestamp": c.timestamp });
            if let Some(r) = &c.disconnect_reason {
                conn["disconnectReason"] = json!(r);
            }
            m.insert("connectivity".into(), conn);
        }
        Value::Object(m)
    }
}

/// One thing group as the group index holds it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupDoc {
    pub name: String,
    pub id: String,
    pub description: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub parents: Vec<String>,
}

impl GroupDoc {
    pub fn fields(&self) -> Vec<(String, Leaf)> {
        let mut out = vec![
            ("thingGroupName".to_string(), Leaf::Str(self.name.clone())),
            ("thingGroupId".to_string(), Leaf::Str(self.id.clone())),
        ];
        if let Some(d) = &self.description {
            out.push(("thingGroupDescription".into(), Leaf::Str(d.clone())));
        }
        for p in &self.parents {
            out.push(("parentGroupNames".into(), Leaf::Str(p.clone())));
        }
        for (k, v) in &self.attributes {
            out.push((format!("attributes.{k}"), Leaf::Str(v.clone())));
        }
        out
    }

    /// SearchIndex's `ThingGroupDocument`.
    pub fn to_json(&self) -> Value {
        let mut m = json!({
            "thingGroupName": self.name,
            "thingGroupId": self.id,
            "attributes": self.attributes,
            "parentGroupNames": self.parents,
        });
        if let Some(d) = &self.description {
            m["thingGroupDescription"] = json!(d);
        }
        m
    }
}
