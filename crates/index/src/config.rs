//! The indexing configuration (UpdateIndexingConfiguration / GetIndexingConfiguration): what
//! the thing index and the thing-group index hold, with AWS's validation, the managed fields
//! of each mode and the `schema` DescribeIndex reports.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What the thing index holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ThingMode {
    #[default]
    Off,
    Registry,
    RegistryAndShadow,
}

/// A field's type, as custom fields declare it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldType {
    Number,
    String,
    Boolean,
}

impl FieldType {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "Number" => Some(Self::Number),
            "String" => Some(Self::String),
            "Boolean" => Some(Self::Boolean),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Number => "Number",
            Self::String => "String",
            Self::Boolean => "Boolean",
        }
    }
}

/// One declared field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    pub kind: FieldType,
}

/// Both indexes' configuration in one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Config {
    pub thing_mode: ThingMode,
    pub connectivity: bool,
    pub defender: bool,
    pub named_shadows: bool,
    /// `filter.namedShadowNames`: the named shadows indexed when `named_shadows` is on.
    pub named_shadow_names: Vec<String>,
    pub custom_fields: Vec<Field>,
    pub groups: bool,
    pub group_custom_fields: Vec<Field>,
}

fn bad(m: impl Into<String>) -> String {
    m.into()
}

fn fields(v: Option<&Value>) -> Result<Vec<Field>, String> {
    let Some(list) = v else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| bad("customFields must be a list"))?;
    list.iter()
        .map(|f| {
            let name = f.get("name").and_then(Value::as_str).unwrap_or_default();
            if name.is_empty() {
                return Err(bad("a custom field needs a name"));
            }
            let kind = f.get("type").and_then(Value::as_str).unwrap_or_default();
            let kind = FieldType::parse(kind).ok_or_else(|| {
                bad(format!(
                    "the custom field {name} has type {kind:?}; it must be Number, String or Boolean"
                ))
            })?;
            Ok(Field {
                name: name.to_string(),
                kind,
            })
        })
        .collect()
}

fn switch(v: Option<&Value>, member: &str, on: &str) -> Result<bool, String> {
    match v.and_then(Value::as_str) {
        None | Some("OFF") => Ok(false),
        Some(s) if s == on => Ok(true),
        Some(s) => Err(bad(format!("{member} must be OFF or {on}, not {s}"))),
    }
}

impl Config {
    /// `self` updated by an UpdateIndexingConfiguration body (`InvalidRequestException`'s
    /// message when it is refused). Each configuration given replaces its whole part.
    pub fn updated(&self, body: &Value) -> Result<Config, String> {
        let mut next = self.clone();
        if let Some(t) = body.get("thingIndexingConfiguration") {
            next.thing_mode = match t.get("thingIndexingMode").and_then(Value::as_str) {
                Some("OFF") => ThingMode::Off,
                Some("REGISTRY") => ThingMode::Registry,
                Some("REGISTRY_AND_SHADOW") => ThingMode::RegistryAndShadow,
                Some(other) => {
                    return Err(bad(format!(
                        "thingIndexingMode must be OFF, REGISTRY or REGISTRY_AND_SHADOW, not {other}"
                    )));
                }
                None => return Err(bad("thingIndexingConfiguration needs thingIndexingMode")),
            };
            next.connectivity = switch(
                t.get("thingConnectivityIndexingMode"),
                "thingConnectivityIndexingMode",
                "STATUS",
            )?;
            next.defender = switch(
                t.get("deviceDefenderIndexingMode"),
                "deviceDefenderIndexingMode",
                "VIOLATIONS",
            )?;
            next.named_shadows = switch(
                t.get("namedShadowIndexingMode"),
                "namedShadowIndexingMode",
                "ON",
            )?;
            next.named_shadow_names = t
                .pointer("/filter/namedShadowNames")
                .and_then(Value::as_array)
                .map(|l| {
                    l.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            next.custom_fields = fields(t.get("customFields"))?;
        }
        if let Some(g) = body.get("thingGroupIndexingConfiguration") {
            next.groups = match g.get("thingGroupIndexingMode").and_then(Value::as_str) {
                Some(m) => switch(Some(&json!(m)), "thingGroupIndexingMode", "ON")?,
                None => {
                    return Err(bad(
                        "thingGroupIndexingConfiguration needs thingGroupIndexingMode",
                    ));
                }
            };
            next.group_custom_fields = fields(g.get("customFields"))?;
        }
        next.check()?;
        Ok(next)
    }

    fn check(&self) -> Result<(), String> {
        let off = self.thing_mode == ThingMode::Off;
        if off && (self.connectivity || self.defender || self.named_shadows) {
            return Err(bad(
                "connectivity, Device Defender and named shadow indexing need thing indexing on (thingIndexingMode REGISTRY or REGISTRY_AND_SHADOW)",
            ));
        }
        let shadow_ok = self.thing_mode == ThingMode::RegistryAndShadow || self.named_shadows;
        for f in &self.custom_fields {
            if f.name.starts_with("shadow.") && !shadow_ok {
                return Err(bad(format!(
                    "the custom field {} needs shadow indexing (thingIndexingMode REGISTRY_AND_SHADOW)",
                    f.name
                )));
            }
            if !f.name.starts_with("attributes.") && !f.name.starts_with("shadow.") {
                return Err(bad(format!(
                    "the custom field {} must be an attribute (attributes.*) or a shadow field (shadow.*)",
                    f.name
                )));
            }
        }
        Ok(())
    }

    /// The fields AWS manages for this configuration, with their types.
    pub fn managed_fields(&self) -> Vec<Field> {
        let f = |name: &str, kind| Field {
            name: name.to_string(),
            kind,
        };
        let mut out = Vec::new();
        if self.thing_mode == ThingMode::Off {
            return out;
        }
        out.extend([
            f("registry.version", FieldType::Number),
            f("thingName", FieldType::String),
            f("thingId", FieldType::String),
            f("thingTypeName", FieldType::String),
            f("thingGroupNames", FieldType::String),
        ]);
        if self.thing_mode == ThingMode::RegistryAndShadow {
            out.extend([
                f("shadow.version", FieldType::Number),
                f("shadow.hasDelta", FieldType::Boolean),
            ]);
        }
        if self.connectivity {
            out.extend([
                f("connectivity.connected", FieldType::Boolean),
                f("connectivity.timestamp", FieldType::Number),
                f("connectivity.disconnectReason", FieldType::String),
            ]);
        }
        out
    }

    fn group_managed_fields() -> Vec<Field> {
        [
            "thingGroupName",
            "thingGroupId",
            "parentGroupNames",
            "thingGroupDescription",
        ]
        .iter()
        .map(|n| Field {
            name: (*n).to_string(),
            kind: FieldType::String,
        })
        .collect()
    }

    /// The type of `field` for aggregations: managed or custom, else `None`.
    pub fn field_type(&self, field: &str) -> Option<FieldType> {
        self.managed_fields()
            .into_iter()
            .chain(self.custom_fields.iter().cloned())
            .find(|f| f.name == field)
            .map(|f| f.kind)
    }

    /// DescribeIndex's `schema` of `AWS_Things`.
    pub fn schema(&self) -> &'static str {
        match (self.thing_mode, self.connectivity) {
            _ if self.defender || self.named_shadows => "MULTI_INDEXING_MODE",
            (ThingMode::Off, _) => "OFF",
            (ThingMode::Registry, false) => "REGISTRY",
            (ThingMode::Registry, true) => "REGISTRY_AND_CONNECTIVITY",
            (ThingMode::RegistryAndShadow, false) => "REGISTRY_AND_SHADOW",
            (ThingMode::RegistryAndShadow, true) => "REGISTRY_AND_SHADOW_AND_CONNECTIVITY_STATUS",
        }
    }

    /// GetIndexingConfiguration's answer.
    pub fn to_json(&self) -> Value {
        let list = |fs: &[Field]| -> Vec<Value> {
            fs.iter()
                .map(|f| json!({ "name": f.name, "type": f.kind.name() }))
                .collect()
        };
        let on_off = |on: bool, word: &str| if on { word.to_string() } else { "OFF".into() };
        let mode = match self.thing_mode {
            ThingMode::Off => "OFF",
            ThingMode::Registry => "REGISTRY",
            ThingMode::RegistryAndShadow => "REGISTRY_AND_SHADOW",
        };
        let mut thing = json!({
            "thingIndexingMode": mode,
            "thingConnectivityIndexingMode": on_off(self.connectivity, "STATUS"),
            "deviceDefenderIndexingMode": on_off(self.defender, "VIOLATIONS"),
            "namedShadowIndexingMode": on_off(self.named_shadows, "ON"),
            "managedFields": list(&self.managed_fields()),
            "customFields": list(&self.custom_fields),
        });
        if !self.named_shadow_names.is_empty() {
            thing["filter"] = json!({ "namedShadowNames": self.named_shadow_names });
        }
        let groups = if self.groups {
            Self::group_managed_fields()
        } else {
            Vec::new()
        };
        json!({
            "thingIndexingConfiguration": thing,
            "thingGroupIndexingConfiguration": {
                "thingGroupIndexingMode": on_off(self.groups, "ON"),
                "managedFields": list(&groups),
                "customFields": list(&self.group_custom_fields),
            },
        })
    }
}
