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

/// A job ARN names a job the jobs service holds.
fn check_job(state: &ApiState, req: &ApiRequest, arn: &str) -> IotResult<()> {
    let Some(id) = arn.rsplit_once(":job/").map(|(_, id)| id) else {
        return Ok(());
    };
    let known = state
        .jobs
        .as_ref()
        .is_some_and(|j| j.with(|jobs| jobs.job(&req.region, id).is_some()));
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
    check_job(state, req, &arn)?;
    super::rules::check_rule(state, req, &arn)?;
    let tags = super::common::tags_from_body(&body)?;
    write(state)?.tag_resource(&req.region, &arn, &tags)?;
    Ok(Reply::Json(json!({})))
}

pub fn untag(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let body = req.json()?;
    let arn = resource_arn(&body)?;
    check_job(state, req, &arn)?;
    super::rules::check_rule(state, req, &arn)?;
    let keys = crate::request::str_list(body.get("tagKeys"));
    write(state)?.untag_resource(&req.region, &arn, &keys)?;
    Ok(Reply::Json(json!({})))
}

pub fn list(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let arn = req
        .qs("resourceArn")
        .ok_or_else(|| IotError::invalid("resourceArn is required"))?
        .to_string();
    check_job(state, req, &arn)?;
    super::rules::check_rule(state, req, &arn)?;
    let tags = read(state)?.list_tags(&req.region, &arn)?;
    let tags: Vec<Value> = tags
        .into_iter()
        .map(|(k, v)| json!({ "Key": k, "Value": v }))
        .collect();
    Ok(Reply::Json(json!({ "tags": tags })))
}
