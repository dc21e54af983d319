//! Thing types: CreateThingType, DescribeThingType, ListThingTypes, DeprecateThingType,
//! DeleteThingType.

use super::{names_page, read, write};
use crate::request::ApiRequest;
use crate::state::ApiState;
use crate::views::ts;
use crate::wire::Reply;
use iotmock_model::IotResult;
use iotmock_registry::ThingTypeRecord;
use serde_json::{Value, json};

fn view(t: &ThingTypeRecord, arn: String) -> Value {
    let mut props = json!({ "searchableAttributes": t.searchable_attributes });
    if let Some(d) = &t.description {
        props["thingTypeDescription"] = json!(d);
    }
    let mut meta =
        json!({ "deprecated": t.deprecated_ms.is_some(), "creationDate": ts(t.created) });
    if let Some(d) = t.deprecated_ms {
        meta["deprecationDate"] = ts(d);
    }
    json!({ "thingTypeName": t.name, "thingTypeId": t.id, "thingTypeArn": arn, "thingTypeProperties": props, "thingTypeMetadata": meta })
}

pub fn create(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let body = req.json()?;
    let props = body.get("thingTypeProperties");
    let description = props
        .and_then(|p| p.get("thingTypeDescription"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let searchable = props.and_then(|p| p.get("searchableAttributes"));
    let searchable = crate::request::str_list(searchable);
    let tags = super::common::tags_from_body(&body)?;
    let mut registry = write(state)?;
    let t = registry.create_thing_type(&req.region, name, description, searchable)?;
    let arn = registry.type_arn(&req.region, name);
    super::common::tag_created(&mut registry, &req.region, &arn, &tags)?;
    Ok(Reply::Json(
        json!({ "thingTypeName": t.name, "thingTypeArn": arn, "thingTypeId": t.id }),
    ))
}

pub fn describe(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let registry = read(state)?;
    let t = registry.describe_thing_type(&req.region, name)?;
    Ok(Reply::Json(view(t, registry.type_arn(&req.region, name))))
}

pub fn list(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let registry = read(state)?;
    let wanted = req.qs("thingTypeName");
    let types = registry
        .list_thing_types(&req.region)
        .into_iter()
        .filter(|t| wanted.is_none_or(|w| w == t.name));
    let items = types
        .map(|t| {
            (
                t.name.clone(),
                view(t, registry.type_arn(&req.region, &t.name)),
            )
        })
        .collect();
    names_page(req, items, "thingTypes", "maxResults")
}

pub fn deprecate(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let undo = req
        .json()?
        .get("undoDeprecate")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    write(state)?.deprecate_thing_type(&req.region, name, undo)?;
    Ok(Reply::Json(json!({})))
}

pub fn delete(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    write(state)?.delete_thing_type(&req.region, name)?;
    Ok(Reply::Json(json!({})))
}
