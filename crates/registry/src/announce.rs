//! AWS IoT's registry events (`$aws/events/thing/...`, `thingType`, `thingTypeAssociation`,
//! `thingGroup`, `thingGroupMembership`), built from a commit's ops and the registry as it was
//! before them, as [`RegistryEvent::Announced`]: whoever publishes them decides, by the event
//! type, whether the account enabled them (UpdateEventConfigurations).

use crate::events::RegistryEvent;
use crate::random_uuid;
use crate::records::{Op, RegionState, ThingGroupRecord, ThingRecord, ThingTypeRecord};
use iotmock_model::Arn;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// What the announcements are built with: the account, the time, the registry before.
pub(crate) struct Before<'a> {
    pub account: &'a str,
    pub now_ms: i64,
    pub regions: &'a BTreeMap<String, RegionState>,
}

fn announced(region: &str, kind: &'static str, topic: String, payload: Value) -> RegistryEvent {
    RegistryEvent::Announced {
        region: region.to_string(),
        kind,
        topic,
        payload: payload.to_string(),
    }
}

fn operation(existed: bool, deleted: bool) -> (&'static str, &'static str) {
    match (deleted, existed) {
        (true, _) => ("DELETED", "deleted"),
        (false, true) => ("UPDATED", "updated"),
        (false, false) => ("CREATED", "created"),
    }
}

impl Before<'_> {
    fn state(&self, region: &str) -> Option<&RegionState> {
        self.regions.get(region)
    }

    fn base(&self, event_type: &str, operation: &str) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("eventType".into(), json!(event_type));
        m.insert("eventId".into(), json!(random_uuid()));
        m.insert("timestamp".into(), json!(self.now_ms));
        m.insert("operation".into(), json!(operation));
        m.insert("accountId".into(), json!(self.account));
        m
    }

    /// The announcements of one op.
    pub fn of(&self, op: &Op) -> Vec<RegistryEvent> {
        match op {
            Op::PutThing(t) => {
                let prior = self.state(&t.region).and_then(|s| s.things.get(&t.name));
                let mut out = vec![self.thing(t, prior.is_some(), false)];
                let old_type = prior.and_then(|p| p.type_name.clone());
                if old_type != t.type_name {
                    out.extend(old_type.map(|ty| self.association(t, &ty, "DELETED")));
                    out.extend(
                        t.type_name
                            .as_ref()
                            .map(|ty| self.association(t, ty, "CREATED")),
                    );
                }
                out
            }
            Op::DelThing { region, name } => {
                let prior = self.state(region).and_then(|s| s.things.get(name));
                prior
                    .map(|t| self.thing(t, true, true))
                    .into_iter()
                    .collect()
            }
            Op::PutType(t) => {
                let existed = self
                    .state(&t.region)
                    .is_some_and(|s| s.types.contains_key(&t.name));
                vec![self.thing_type(t, existed, false)]
            }
            Op::DelType { region, name } => {
                let prior = self.state(region).and_then(|s| s.types.get(name));
                prior
                    .map(|t| self.thing_type(t, true, true))
                    .into_iter()
                    .collect()
            }
            Op::PutGroup(g) => {
                let existed = self
                    .state(&g.region)
                    .is_some_and(|s| s.groups.contains_key(&g.name));
                vec![self.group(g, existed, false)]
            }
            Op::DelGroup { region, name } => {
                let prior = self.state(region).and_then(|s| s.groups.get(name));
                prior
                    .map(|g| self.group(g, true, true))
                    .into_iter()
                    .collect()
            }
            Op::AddMember(m) | Op::RemoveMember(m) => {
                let added = matches!(op, Op::AddMember(_));
                self.membership(&m.region, &m.group, &m.thing, added)
                    .into_iter()
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    fn thing(&self, t: &ThingRecord, existed: bool, deleted: bool) -> RegistryEvent {
        let (op, verb) = operation(existed, deleted);
        let mut m = self.base("THING_EVENT", op);
        m.insert("thingId".into(), json!(t.id));
        m.insert("thingName".into(), json!(t.name));
        m.insert("versionNumber".into(), json!(t.version));
        m.insert("thingTypeName".into(), json!(t.type_name));
        m.insert("attributes".into(), json!(t.attributes));
        let topic = format!("$aws/events/thing/{}/{verb}", t.name);
        announced(&t.region, "THING", topic, Value::Object(m))
    }

    fn association(&self, t: &ThingRecord, type_name: &str, op: &str) -> RegistryEvent {
        let payload = json!({
            "eventId": random_uuid(), "eventType": "THING_TYPE_ASSOCIATION_EVENT",
            "operation": op, "thingId": t.id, "thingName": t.name,
            "thingTypeName": type_name, "timestamp": self.now_ms,
        });
        let topic = format!(
            "$aws/events/thingTypeAssociation/thing/{}/{type_name}",
            t.name
        );
        announced(&t.region, "THING_TYPE_ASSOCIATION", topic, payload)
    }

    fn thing_type(&self, t: &ThingTypeRecord, existed: bool, deleted: bool) -> RegistryEvent {
        let (op, verb) = operation(existed, deleted);
        let mut m = self.base("THING_TYPE_EVENT", op);
        m.insert("thingTypeId".into(), json!(t.id));
        m.insert("thingTypeName".into(), json!(t.name));
        m.insert("isDeprecated".into(), json!(t.deprecated_ms.is_some()));
        m.insert("deprecationDate".into(), json!(t.deprecated_ms));
        m.insert(
            "searchableAttributes".into(),
            json!(t.searchable_attributes),
        );
        m.insert("description".into(), json!(t.description));
        let topic = format!("$aws/events/thingType/{}/{verb}", t.name);
        announced(&t.region, "THING_TYPE", topic, Value::Object(m))
    }

    fn group(&self, g: &ThingGroupRecord, existed: bool, deleted: bool) -> RegistryEvent {
        let (op, verb) = operation(existed, deleted);
        let mut m = self.base("THING_GROUP_EVENT", op);
        m.insert("thingGroupId".into(), json!(g.id));
        m.insert("thingGroupName".into(), json!(g.name));
        m.insert("versionNumber".into(), json!(g.version));
        m.insert("parentGroupName".into(), Value::Null);
        m.insert("parentGroupId".into(), Value::Null);
        m.insert("description".into(), json!(g.description));
        m.insert("rootToParentThingGroups".into(), json!([]));
        m.insert("attributes".into(), json!(g.attributes));
        m.insert("dynamicGroupMappingId".into(), Value::Null);
        let topic = format!("$aws/events/thingGroup/{}/{verb}", g.name);
        announced(&g.region, "THING_GROUP", topic, Value::Object(m))
    }

    fn membership(
        &self,
        region: &str,
        group: &str,
        thing: &str,
        added: bool,
    ) -> Option<RegistryEvent> {
        let state = self.state(region)?;
        let (g, t) = (state.groups.get(group)?, state.things.get(thing)?);
        let arn = Arn::new(region, self.account);
        let (op, verb) = if added {
            ("ADDED", "added")
        } else {
            ("REMOVED", "removed")
        };
        let mut m = self.base("THING_GROUP_MEMBERSHIP_EVENT", op);
        m.insert("groupArn".into(), json!(arn.resource("thinggroup", group)));
        m.insert("groupId".into(), json!(g.id));
        m.insert("thingArn".into(), json!(arn.thing(thing)));
        m.insert("thingId".into(), json!(t.id));
        m.insert("membershipId".into(), json!(format!("{}-{}", g.id, t.id)));
        let topic =
            format!("$aws/events/thingGroupMembership/thingGroup/{group}/thing/{thing}/{verb}");
        Some(announced(
            region,
            "THING_GROUP_MEMBERSHIP",
            topic,
            Value::Object(m),
        ))
    }
}
