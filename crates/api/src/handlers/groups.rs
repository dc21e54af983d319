//! Static thing groups: CreateThingGroup, DescribeThingGroup, ListThingGroups,
//! DeleteThingGroup, AddThingToThingGroup, RemoveThingFromThingGroup, ListThingsInThingGroup,
//! ListThingGroupsForThing. Joining or leaving a group reaches the CONTINUOUS jobs that target it.

use super::{names_page, read, write};
use crate::request::{ApiRequest, body_str};
use crate::state::ApiState;
use crate::views::ts;
use crate::wire::Reply;
use iotmock_model::{IotError, IotResult};
use iotmock_registry::ThingGroupRecord;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

fn attributes(props: Option<&Value>) -> BTreeMap<String, String> {
    let attrs = props
        .and_then(|p| p.get("attributePayload"))
        .and_then(|a| a.get("attributes"));
    let attrs = attrs
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    attrs
        .into_iter()
        .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string())))
        .collect()
}

pub fn create(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let body = req.json()?;
    let props = body.get("thingGroupProperties");
    let description = props
        .and_then(|p| p.get("thingGroupDescription"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let tags = super::common::tags_from_body(&body)?;
    let mut registry = write(state)?;
    let g = registry.create_thing_group(&req.region, name, description, attributes(props))?;
    let arn = registry.group_arn(&req.region, name);
    super::common::tag_created(&mut registry, &req.region, &arn, &tags)?;
    Ok(Reply::Json(
        json!({ "thingGroupName": g.name, "thingGroupArn": arn, "thingGroupId": g.id }),
    ))
}

fn description(g: &ThingGroupRecord, arn: String) -> Value {
    let mut props = json!({ "attributePayload": { "attributes": g.attributes } });
    if let Some(d) = &g.description {
        props["thingGroupDescription"] = json!(d);
    }
    json!({
        "thingGroupName": g.name, "thingGroupId": g.id, "thingGroupArn": arn, "version": g.version,
        "thingGroupProperties": props, "thingGroupMetadata": { "creationDate": ts(g.created) },
    })
}

pub fn describe(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let registry = read(state)?;
    let g = registry.describe_thing_group(&req.region, name)?;
    Ok(Reply::Json(description(
        g,
        registry.group_arn(&req.region, name),
    )))
}

fn group_refs(
    state: &ApiState,
    req: &ApiRequest,
    names: Vec<String>,
) -> IotResult<Vec<(String, Value)>> {
    let registry = read(state)?;
    let arn = |n: &str| registry.group_arn(&req.region, n);
    Ok(names
        .into_iter()
        .map(|n| (n.clone(), json!({ "groupName": n, "groupArn": arn(&n) })))
        .collect())
}

pub fn list(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let names = read(state)?
        .list_thing_groups(&req.region)
        .into_iter()
        .map(|g| g.name.clone())
        .collect();
    names_page(
        req,
        group_refs(state, req, names)?,
        "thingGroups",
        "maxResults",
    )
}

pub fn delete(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    write(state)?.delete_thing_group(&req.region, name)?;
    Ok(Reply::Json(json!({})))
}

/// The group and thing a membership call names, by name or by ARN.
fn names(body: &Map<String, Value>) -> IotResult<(String, String)> {
    let tail = |arn: &str, kind: &str| {
        arn.split_once(&format!(":{kind}/"))
            .map(|(_, n)| n.to_string())
    };
    let group = body_str(body, "thingGroupName")?.map(str::to_string);
    let group = group.or(body_str(body, "thingGroupArn")?.and_then(|a| tail(a, "thinggroup")));
    let thing = body_str(body, "thingName")?.map(str::to_string);
    let thing = thing.or(body_str(body, "thingArn")?.and_then(|a| tail(a, "thing")));
    match (group, thing) {
        (Some(g), Some(t)) => Ok((g, t)),
        _ => Err(IotError::invalid(
            "Give thingGroupName or thingGroupArn, and thingName or thingArn",
        )),
    }
}

/// AddThingToThingGroup / RemoveThingFromThingGroup.
pub fn membership(state: &ApiState, req: &ApiRequest, join: bool) -> IotResult<Reply> {
    let (group, thing) = names(&req.json()?)?;
    // Jobs hears the membership change from the registry (continuous jobs reach the thing).
    let mut registry = write(state)?;
    match join {
        true => registry.add_thing_to_group(&req.region, &group, &thing)?,
        false => registry.remove_thing_from_group(&req.region, &group, &thing)?,
    };
    Ok(Reply::Json(json!({})))
}

pub fn things_in(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let things = read(state)?.things_in_group(&req.region, name)?;
    let items = things.into_iter().map(|t| (t.clone(), json!(t))).collect();
    names_page(req, items, "things", "maxResults")
}

pub fn of_thing(state: &ApiState, req: &ApiRequest, thing: &str) -> IotResult<Reply> {
    let names = read(state)?.groups_of_thing(&req.region, thing)?;
    names_page(
        req,
        group_refs(state, req, names)?,
        "thingGroups",
        "maxResults",
    )
}
