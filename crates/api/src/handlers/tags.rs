//! Tags: TagResource, UntagResource, ListTagsForResource, and the `tags` member of the create
//! operations that take one.

use super::{read, write};
use crate::request::ApiRequest;
use crate::state::ApiState;
use crate::wire::Reply;
use iotmock_model::{IotError, IotResult};
use serde_json::{Map, Value, json};

fn resource_arn(body: &Map<String, Value>) -> IotResult<String> {
    body.get("resourceArn")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| IotError::invalid("resourceArn is required"))
}

/// A job or topic rule ARN names one its service holds (the registry keeps their tags but
/// knows neither).
fn check_service_resource(state: &ApiState, req: &ApiRequest, arn: &str) -> IotResult<()> {
    let region = &req.region;
    let known = if let Some((_, id)) = arn.rsplit_once(":job/") {
        let jobs = state.jobs.as_ref();
        jobs.is_some_and(|j| j.with(|jobs| jobs.job(region, id).is_some()))
    } else if let Some((_, name)) = arn.rsplit_once(":rule/") {
        let rules = state.rules.as_ref();
        rules.is_some_and(|r| r.read(|book| book.get(region, name).is_ok()))
    } else {
        return Ok(());
    };
    match known {
        true => Ok(()),
        false => Err(IotError::not_found(format!(
            "The resource {arn} does not exist"
        ))),
    }
}

pub fn tag(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let body = req.json()?;
    let arn = resource_arn(&body)?;
    check_service_resource(state, req, &arn)?;
    let tags = super::common::tags_from_body(&body)?;
    write(state)?.tag_resource(&req.region, &arn, &tags)?;
    Ok(Reply::Json(json!({})))
}

pub fn untag(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let body = req.json()?;
    let arn = resource_arn(&body)?;
    check_service_resource(state, req, &arn)?;
    let keys = crate::request::str_list(body.get("tagKeys"));
    write(state)?.untag_resource(&req.region, &arn, &keys)?;
    Ok(Reply::Json(json!({})))
}

pub fn list(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let arn = req
        .qs("resourceArn")
        .ok_or_else(|| IotError::invalid("resourceArn is required"))?
        .to_string();
    check_service_resource(state, req, &arn)?;
    let tags = read(state)?.list_tags(&req.region, &arn)?;
    let tags: Vec<Value> = tags
        .into_iter()
        .map(|(k, v)| json!({ "Key": k, "Value": v }))
        .collect();
    Ok(Reply::Json(json!({ "tags": tags })))
}
