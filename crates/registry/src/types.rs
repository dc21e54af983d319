//! Thing types: create, describe, list, deprecate (and undo), delete; a thing may carry a type
//! that exists and is not deprecated (and then up to 50 attributes instead of 3).

use crate::records::{Op, ThingTypeRecord};
use crate::{Registry, random_uuid, validate};
use iotmock_model::{IotError, IotResult};

/// How long a type stays deprecated before DeleteThingType accepts it (AWS: 5 minutes).
pub const DEPRECATION_WAIT_MS: i64 = 5 * 60 * 1000;

fn type_missing(name: &str) -> IotError {
    IotError::not_found(format!("Thing type {name} does not exist"))
}

impl Registry {
    pub fn type_arn(&self, region: &str, name: &str) -> String {
        self.arn(region).resource("thingtype", name)
    }

    /// CreateThingType.
    pub fn create_thing_type(
        &mut self,
        region: &str,
        name: &str,
        description: Option<String>,
        searchable_attributes: Vec<String>,
    ) -> IotResult<ThingTypeRecord> {
        validate::thing_name("thingTypeName", name)?;
        if let Some(existing) = self.state(region).types.get(name) {
            let arn = self.type_arn(region, name);
            let msg = format!("Thing type {name} already exists");
            return Err(IotError::already_exists(msg, &existing.id, &arn));
        }
        if searchable_attributes.len() > 3 {
            return Err(IotError::invalid(
                "A thing type has at most 3 searchable attributes",
            ));
        }
        let record = ThingTypeRecord {
            region: region.to_string(),
            name: name.to_string(),
            id: random_uuid(),
            description,
            searchable_attributes,
            deprecated_ms: None,
            created: self.now(),
        };
        self.commit(vec![Op::PutType(record.clone())])?;
        Ok(record)
    }

    pub fn describe_thing_type(&self, region: &str, name: &str) -> IotResult<&ThingTypeRecord> {
        self.state(region)
            .types
            .get(name)
            .ok_or_else(|| type_missing(name))
    }

    pub fn list_thing_types(&self, region: &str) -> Vec<&ThingTypeRecord> {
        self.state(region).types.values().collect()
    }

    /// DeprecateThingType (`undo` restores it).
    pub fn deprecate_thing_type(&mut self, region: &str, name: &str, undo: bool) -> IotResult<()> {
        let mut t = self.describe_thing_type(region, name)?.clone();
        t.deprecated_ms = if undo { None } else { Some(self.now()) };
        self.commit(vec![Op::PutType(t)])
    }

    /// DeleteThingType: only a type deprecated for 5 minutes, used by no thing.
    pub fn delete_thing_type(&mut self, region: &str, name: &str) -> IotResult<()> {
        let t = self.describe_thing_type(region, name)?;
        let waited = t
            .deprecated_ms
            .is_some_and(|d| self.now() - d >= DEPRECATION_WAIT_MS);
        if !waited {
            let msg =
                format!("Thing type {name} must be deprecated for 5 minutes before it is deleted");
            return Err(IotError::invalid(msg));
        }
        if self
            .state(region)
            .things
            .values()
            .any(|th| th.type_name.as_deref() == Some(name))
        {
            return Err(IotError::invalid(format!(
                "Thing type {name} is still used by things"
            )));
        }
        let untag = self.untag_all(region, &self.type_arn(region, name));
        let (region, name) = (region.to_string(), name.to_string());
        self.commit(vec![Op::DelType { region, name }, untag])
    }

    /// A type a thing may take now: it exists and is not deprecated.
    pub(crate) fn usable_type(&self, region: &str, name: &str) -> IotResult<()> {
        validate::thing_name("thingTypeName", name)?;
        let t = self.describe_thing_type(region, name)?;
        if t.deprecated_ms.is_some() {
            return Err(IotError::invalid(format!(
                "Thing type {name} is deprecated"
            )));
        }
        Ok(())
    }
}
