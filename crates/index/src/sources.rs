//! Where documents come from: a thing's registry record and groups, its shadows (from the
//! shadow service at build time, from `update/documents` and `delete/accepted` messages after),
//! and its connectivity.

use crate::doc::{Connectivity, ShadowDoc, ThingDoc};
use iotmock_registry::{Registry, ThingRecord};
use serde_json::Value;
use std::collections::BTreeMap;

/// A thing's shadows as the index keeps them: the classic one and the named ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shadows {
    pub classic: Option<ShadowDoc>,
    pub named: BTreeMap<String, ShadowDoc>,
}

impl Shadows {
    pub fn set(&mut self, name: Option<String>, doc: Option<ShadowDoc>) {
        match (name, doc) {
            (None, doc) => self.classic = doc,
            (Some(n), Some(doc)) => {
                self.named.insert(n, doc);
            }
            (Some(n), None) => {
                self.named.remove(&n);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.classic.is_none() && self.named.is_empty()
    }
}

/// A shadow document from the shadow service's state.
pub fn shadow_of(doc: &iotmock_shadow::Document, delta: Option<Value>) -> ShadowDoc {
    ShadowDoc {
        desired: doc.desired.clone(),
        reported: doc.reported.clone(),
        delta,
        metadata: doc.metadata(),
        version: doc.version,
    }
}

/// A shadow document from an `update/documents` message's `current`.
pub fn shadow_from_documents(payload: &[u8]) -> Option<ShadowDoc> {
    let message: Value = serde_json::from_slice(payload).ok()?;
    let current = message.get("current")?;
    let state = current.get("state");
    let section = |k: &str| {
        state
            .and_then(|s| s.get(k))
            .filter(|v| !v.is_null())
            .cloned()
    };
    let (desired, reported) = (section("desired"), section("reported"));
    let delta = desired
        .as_ref()
        .and_then(|d| iotmock_shadow::delta(d, reported.as_ref()));
    Some(ShadowDoc {
        desired,
        reported,
        delta,
        metadata: current
            .get("metadata")
            .cloned()
            .unwrap_or(Value::Object(Default::default())),
        version: current.get("version").and_then(Value::as_u64).unwrap_or(0),
    })
}

/// A thing's document from its parts.
pub fn thing_doc(
    record: &ThingRecord,
    groups: Vec<String>,
    shadows: Option<&Shadows>,
    connectivity: Option<&Connectivity>,
) -> ThingDoc {
    let shadows = shadows.cloned().unwrap_or_default();
    ThingDoc {
        name: record.name.clone(),
        id: record.id.clone(),
        type_name: record.type_name.clone(),
        groups,
        attributes: record.attributes.clone(),
        version: record.version,
        shadow: shadows.classic,
        named: shadows.named,
        connectivity: connectivity.cloned(),
    }
}

/// `thing`'s record and groups in `region`, if it exists.
pub fn registered(
    registry: &Registry,
    region: &str,
    thing: &str,
) -> Option<(ThingRecord, Vec<String>)> {
    let record = registry.describe_thing(region, thing).ok()?.clone();
    let groups = registry.groups_of_thing(region, thing).unwrap_or_default();
    Some((record, groups))
}

/// The thing and shadow name of a shadow message topic, and whether it is a deletion.
pub fn shadow_topic(topic: &str) -> Option<(&str, Option<&str>, bool)> {
    let rest = topic.strip_prefix("$aws/things/")?;
    let (thing, rest) = rest.split_once("/shadow/")?;
    let (name, op) = match rest.strip_prefix("name/") {
        Some(named) => {
            let (name, op) = named.split_once('/')?;
            (Some(name), op)
        }
        None => (None, rest),
    };
    match op {
        "update/documents" => Some((thing, name, false)),
        "delete/accepted" => Some((thing, name, true)),
        _ => None,
    }
}
