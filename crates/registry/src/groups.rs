//! Static thing groups: create, describe, list, delete, and membership (jobs target groups).

use crate::records::{GroupMember, Op, ThingGroupRecord, ThingRecord};
use crate::{Registry, validate};
use iotmock_model::{IotError, IotResult};
use std::collections::BTreeMap;

fn group_missing(name: &str) -> IotError {
    IotError::not_found(format!("Thing group {name} does not exist"))
}

impl Registry {
    /// The ARN of a thing group.
    pub fn group_arn(&self, region: &str, name: &str) -> String {
        self.arn(region).resource("thinggroup", name)
    }

    /// CreateThingGroup: creating an existing group again returns it.
    pub fn create_thing_group(
        &mut self,
        region: &str,
        name: &str,
        description: Option<String>,
        attributes: BTreeMap<String, String>,
    ) -> IotResult<ThingGroupRecord> {
        validate::thing_name("thingGroupName", name)?;
        if let Some(existing) = self.state(region).groups.get(name) {
            return Ok(existing.clone());
        }
        let record = ThingGroupRecord {
            region: region.to_string(),
            name: name.to_string(),
            id: crate::random_uuid(),
            description,
            attributes,
            version: 1,
            created: self.now(),
        };
        self.commit(vec![Op::PutGroup(record.clone())])?;
        Ok(record)
    }

    pub fn describe_thing_group(&self, region: &str, name: &str) -> IotResult<&ThingGroupRecord> {
        self.state(region)
            .groups
            .get(name)
            .ok_or_else(|| group_missing(name))
    }

    pub fn list_thing_groups(&self, region: &str) -> Vec<&ThingGroupRecord> {
        self.state(region).groups.values().collect()
    }

    /// DeleteThingGroup (deleting a group that does not exist succeeds, as in AWS).
    pub fn delete_thing_group(&mut self, region: &str, name: &str) -> IotResult<()> {
        if !self.state(region).groups.contains_key(name) {
            return Ok(());
        }
        let untag = self.untag_all(region, &self.group_arn(region, name));
        let (region, name) = (region.to_string(), name.to_string());
        self.commit(vec![Op::DelGroup { region, name }, untag])
    }

    fn member(&self, region: &str, group: &str, thing: &str) -> IotResult<GroupMember> {
        self.describe_thing_group(region, group)?;
        self.describe_thing(region, thing)?;
        Ok(GroupMember {
            region: region.into(),
            group: group.into(),
            thing: thing.into(),
        })
    }

    /// AddThingToThingGroup; true when the thing was not in the group before.
    pub fn add_thing_to_group(
        &mut self,
        region: &str,
        group: &str,
        thing: &str,
    ) -> IotResult<bool> {
        self.set_member(region, group, thing, true)
    }

    /// RemoveThingFromThingGroup; true when the thing was in the group.
    pub fn remove_thing_from_group(
        &mut self,
        region: &str,
        group: &str,
        thing: &str,
    ) -> IotResult<bool> {
        self.set_member(region, group, thing, false)
    }

    /// Puts `thing` in `group` or takes it out; true when that changed anything.
    fn set_member(
        &mut self,
        region: &str,
        group: &str,
        thing: &str,
        member: bool,
    ) -> IotResult<bool> {
        let m = self.member(region, group, thing)?;
        let now = self
            .state(region)
            .members
            .contains(&(m.group.clone(), m.thing.clone()));
        if now == member {
            return Ok(false);
        }
        let op = if member {
            Op::AddMember(m)
        } else {
            Op::RemoveMember(m)
        };
        self.commit(vec![op])?;
        Ok(true)
    }

    /// Every thing of `region` with the static groups it belongs to, by name (what fleet
    /// indexing reads).
    pub fn things_with_groups(&self, region: &str) -> Vec<(&ThingRecord, Vec<String>)> {
        let state = self.state(region);
        let mut groups: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (g, t) in &state.members {
            groups.entry(t.as_str()).or_default().push(g.clone());
        }
        state
            .things
            .values()
            .map(|t| (t, groups.remove(t.name.as_str()).unwrap_or_default()))
            .collect()
    }

    /// ListThingsInThingGroup.
    pub fn things_in_group(&self, region: &str, group: &str) -> IotResult<Vec<String>> {
        self.describe_thing_group(region, group)?;
        let members = self.state(region).members.iter();
        Ok(members
            .filter(|(g, _)| g == group)
            .map(|(_, t)| t.clone())
            .collect())
    }

    /// ListThingGroupsForThing.
    pub fn groups_of_thing(&self, region: &str, thing: &str) -> IotResult<Vec<String>> {
        self.describe_thing(region, thing)?;
        let members = self.state(region).members.iter();
        Ok(members
            .filter(|(_, t)| t == thing)
            .map(|(g, _)| g.clone())
            .collect())
    }
}
