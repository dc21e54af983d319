//! Thing, thing-principal and endpoint operations.

use super::{read, write};
use crate::request::{ApiRequest, body_bool, body_int, body_str};
use crate::state::ApiState;
use crate::views;
use crate::wire::Reply;
use iotmock_model::{IotError, IotResult};
use iotmock_registry::{CreateThing, ThingQuery, UpdateThing};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

type Attributes = Option<BTreeMap<String, String>>;

/// `attributePayload`: `{"attributes": {k: v}, "merge": bool}`.
fn attribute_payload(body: &Map<String, Value>) -> IotResult<(Attributes, bool)> {
    let Some(payload) = body.get("attributePayload").filter(|v| !v.is_null()) else {
        return Ok((None, false));
    };
    let Value::Object(payload) = payload else {
        return Err(IotError::invalid("attributePayload must be an object"));
    };
    let merge = body_bool(payload, "merge")?;
    let attrs = match payload.get("attributes") {
        None | Some(Value::Null) => return Ok((None, merge)),
        Some(Value::Object(a)) => a,
        Some(_) => {
            return Err(IotError::invalid(
                "attributePayload.attributes must be an object",
            ));
        }
    };
    let mut out = BTreeMap::new();
    for (k, v) in attrs {
        let Value::String(v) = v else {
            return Err(IotError::invalid(format!(
                "Attribute {k} must have a string value"
            )));
        };
        out.insert(k.clone(), v.clone());
    }
    Ok((Some(out), merge))
}

fn principal(req: &ApiRequest) -> IotResult<&str> {
    req.header("x-amzn-principal").filter(|v| !v.is_empty()).ok_or_else(|| {
        IotError::invalid("1 validation error detected: Value null at 'principal' failed to satisfy constraint: Member must not be null")
    })
}

pub fn create(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let body = req.json()?;
    let input = CreateThing {
        type_name: body_str(&body, "thingTypeName")?.map(str::to_string),
        attributes: attribute_payload(&body)?.0,
        billing_group: body_str(&body, "billingGroupName")?.map(str::to_string),
    };
    let mut reg = write(state)?;
    let thing = reg.create_thing(&req.region, name, input)?;
    Ok(Reply::Json(json!({
        "thingName": thing.name,
        "thingArn": iotmock_model::Arn::new(&req.region, reg.account()).thing(&thing.name),
        "thingId": thing.id,
    })))
}

pub fn describe(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let reg = read(state)?;
    Ok(Reply::Json(views::thing_description(
        reg.describe_thing(&req.region, name)?,
        reg.account(),
    )))
}

pub fn list(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let query = ThingQuery {
        attribute_name: req.qs("attributeName").map(str::to_string),
        attribute_value: req.qs("attributeValue").map(str::to_string),
        type_name: req.qs("thingTypeName").map(str::to_string),
        use_prefix_attribute_value: req.qs_bool("usePrefixAttributeValue")?,
    };
    let reg = read(state)?;
    let page = reg.list_things(&req.region, &query, &req.page("nextToken", "maxResults")?)?;
    let account = reg.account();
    Ok(Reply::Json(views::page(page, "things", "nextToken", |t| {
        views::thing_summary(t, account)
    })))
}

pub fn update(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let body = req.json()?;
    let (attributes, merge) = attribute_payload(&body)?;
    let input = UpdateThing {
        type_name: body_str(&body, "thingTypeName")?.map(str::to_string),
        attributes,
        merge,
        expected_version: body_int(&body, "expectedVersion")?,
        remove_thing_type: body_bool(&body, "removeThingType")?,
    };
    write(state)?.update_thing(&req.region, name, input)?;
    Ok(Reply::Empty)
}

pub fn delete(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let expected = req.qs_int("expectedVersion")?;
    write(state)?.delete_thing(&req.region, name, expected)?;
    Ok(Reply::Empty)
}

pub fn attach_principal(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let p = principal(req)?;
    write(state)?.attach_thing_principal(&req.region, name, p, req.qs("thingPrincipalType"))?;
    Ok(Reply::Empty)
}

pub fn detach_principal(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let p = principal(req)?;
    write(state)?.detach_thing_principal(&req.region, name, p)?;
    Ok(Reply::Empty)
}

pub fn list_principals(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let reg = read(state)?;
    let page =
        reg.list_thing_principals(&req.region, name, &req.page("nextToken", "maxResults")?)?;
    Ok(Reply::Json(views::page(
        page,
        "principals",
        "nextToken",
        Value::String,
    )))
}

pub fn list_principal_things(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let p = principal(req)?;
    let reg = read(state)?;
    let page = reg.list_principal_things(&req.region, p, &req.page("nextToken", "maxResults")?)?;
    Ok(Reply::Json(views::page(
        page,
        "things",
        "nextToken",
        Value::String,
    )))
}

/// `thingPrincipalType`: EXCLUSIVE_THING or NON_EXCLUSIVE_THING (both when absent).
fn principal_type(req: &ApiRequest) -> IotResult<Option<bool>> {
    match req.qs("thingPrincipalType") {
        None => Ok(None),
        Some("EXCLUSIVE_THING") => Ok(Some(true)),
        Some("NON_EXCLUSIVE_THING") => Ok(Some(false)),
        Some(other) => Err(IotError::invalid(format!(
            "thingPrincipalType must be EXCLUSIVE_THING or NON_EXCLUSIVE_THING, not '{other}'"
        ))),
    }
}

fn type_name(exclusive: bool) -> &'static str {
    if exclusive {
        "EXCLUSIVE_THING"
    } else {
        "NON_EXCLUSIVE_THING"
    }
}

/// ListThingPrincipalsV2 (`GET /things/{thingName}/principals-v2`).
pub fn list_principals_v2(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let only = principal_type(req)?;
    let page = req.page("nextToken", "maxResults")?;
    let page = read(state)?.list_thing_principals_v2(&req.region, name, only, &page)?;
    Ok(Reply::Json(views::page(
        page,
        "thingPrincipalObjects",
        "nextToken",
        |(p, e)| json!({ "principal": p, "thingPrincipalType": type_name(e) }),
    )))
}

/// ListPrincipalThingsV2 (`GET /principals/things-v2`, the principal in `x-amzn-principal`).
pub fn list_principal_things_v2(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let p = principal(req)?;
    let only = principal_type(req)?;
    let page = req.page("nextToken", "maxResults")?;
    let page = read(state)?.list_principal_things_v2(&req.region, p, only, &page)?;
    Ok(Reply::Json(views::page(
        page,
        "principalThingObjects",
        "nextToken",
        |(t, e)| json!({ "thingName": t, "thingPrincipalType": type_name(e) }),
    )))
}

pub fn describe_endpoint(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let address = read(state)?.describe_endpoint(&req.region, req.qs("endpointType"))?;
    Ok(Reply::Json(json!({ "endpointAddress": address })))
}
