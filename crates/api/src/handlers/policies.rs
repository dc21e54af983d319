//! Policy, policy version and policy attachment operations.

use super::{read, write};
use crate::request::{ApiRequest, body_str};
use crate::state::ApiState;
use crate::views;
use crate::wire::Reply;
use iotmock_model::{IotError, IotResult};
use serde_json::{Value, json};

fn header<'a>(req: &'a ApiRequest, name: &str, member: &str) -> IotResult<&'a str> {
    req.header(name).filter(|v| !v.is_empty()).ok_or_else(|| {
        IotError::invalid(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

fn target(req: &ApiRequest) -> IotResult<String> {
    let body = req.json()?;
    Ok(body_str(&body, "target")?.unwrap_or_default().to_string())
}

pub fn create(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let body = req.json()?;
    let doc = body_str(&body, "policyDocument")?;
    let tags = super::common::tags_from_body(&body)?;
    let mut registry = write(state)?;
    let out = registry.create_policy(&req.region, name, doc)?;
    super::common::tag_created(&mut registry, &req.region, &out.arn, &tags)?;
    Ok(Reply::Json(json!({
        "policyName": name,
        "policyArn": out.arn,
        "policyDocument": doc,
        "policyVersionId": out.version_id.to_string(),
    })))
}

pub fn get(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let reg = read(state)?;
    Ok(Reply::Json(views::policy(
        reg.get_policy(&req.region, name)?,
        reg.account(),
    )))
}

pub fn list(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let reg = read(state)?;
    let page = reg.list_policies(&req.region, &req.page("marker", "pageSize")?)?;
    let account = reg.account();
    Ok(Reply::Json(views::page(
        page,
        "policies",
        "nextMarker",
        |p| {
            views::policy_summary(
                &p.name,
                &iotmock_model::Arn::new(&p.region, account).policy(&p.name),
            )
        },
    )))
}

pub fn delete(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    write(state)?.delete_policy(&req.region, name)?;
    Ok(Reply::Empty)
}

pub fn create_version(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let body = req.json()?;
    let doc = body_str(&body, "policyDocument")?;
    let set_default = req.qs_bool("setAsDefault")?;
    let out = write(state)?.create_policy_version(&req.region, name, doc, set_default)?;
    Ok(Reply::Json(json!({
        "policyArn": out.arn,
        "policyDocument": doc,
        "policyVersionId": out.version_id.to_string(),
        "isDefaultVersion": out.is_default,
    })))
}

pub fn get_version(state: &ApiState, req: &ApiRequest, name: &str, v: &str) -> IotResult<Reply> {
    let reg = read(state)?;
    let (policy, id, version) = reg.get_policy_version(&req.region, name, v)?;
    Ok(Reply::Json(json!({
        "policyArn": iotmock_model::Arn::new(&req.region, reg.account()).policy(name),
        "policyName": name,
        "policyDocument": version.document,
        "policyVersionId": id.to_string(),
        "isDefaultVersion": id == policy.default_version,
        "creationDate": views::ts(version.created),
        "lastModifiedDate": views::ts(policy.modified),
        "generationId": policy.generation_id,
    })))
}

pub fn list_versions(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let reg = read(state)?;
    let policy = reg.get_policy(&req.region, name)?;
    let versions: Vec<Value> = policy
        .versions
        .iter()
        .rev()
        .map(|(id, v)| {
            json!({
                "versionId": id.to_string(),
                "isDefaultVersion": *id == policy.default_version,
                "createDate": views::ts(v.created),
            })
        })
        .collect();
    Ok(Reply::Json(json!({ "policyVersions": versions })))
}

pub fn set_default(state: &ApiState, req: &ApiRequest, name: &str, v: &str) -> IotResult<Reply> {
    write(state)?.set_default_policy_version(&req.region, name, v)?;
    Ok(Reply::Empty)
}

pub fn delete_version(state: &ApiState, req: &ApiRequest, name: &str, v: &str) -> IotResult<Reply> {
    write(state)?.delete_policy_version(&req.region, name, v)?;
    Ok(Reply::Empty)
}

pub fn attach(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let target = target(req)?;
    write(state)?.attach_policy(&req.region, name, &target)?;
    Ok(Reply::Empty)
}

pub fn detach(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let target = target(req)?;
    write(state)?.detach_policy(&req.region, name, &target, false)?;
    Ok(Reply::Empty)
}

pub fn attach_principal(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let principal = header(req, "x-amzn-iot-principal", "principal")?;
    write(state)?.attach_policy(&req.region, name, principal)?;
    Ok(Reply::Empty)
}

pub fn detach_principal(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let principal = header(req, "x-amzn-iot-principal", "principal")?;
    write(state)?.detach_policy(&req.region, name, principal, true)?;
    Ok(Reply::Empty)
}

fn policies_page(state: &ApiState, req: &ApiRequest, target: &str) -> IotResult<Reply> {
    let reg = read(state)?;
    let page = reg.list_attached_policies(&req.region, target, &req.page("marker", "pageSize")?)?;
    Ok(Reply::Json(views::page(
        page,
        "policies",
        "nextMarker",
        |(n, a)| views::policy_summary(&n, &a),
    )))
}

pub fn list_attached(state: &ApiState, req: &ApiRequest, target: &str) -> IotResult<Reply> {
    req.qs_bool("recursive")?;
    policies_page(state, req, target)
}

pub fn list_principal_policies(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let principal = header(req, "x-amzn-iot-principal", "principal")?;
    policies_page(state, req, principal)
}

fn targets_page(state: &ApiState, req: &ApiRequest, name: &str, member: &str) -> IotResult<Reply> {
    let reg = read(state)?;
    let page = reg.list_targets_for_policy(&req.region, name, &req.page("marker", "pageSize")?)?;
    Ok(Reply::Json(views::page(
        page,
        member,
        "nextMarker",
        Value::String,
    )))
}

pub fn list_targets(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    targets_page(state, req, name, "targets")
}

pub fn list_policy_principals(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let name = header(req, "x-amzn-iot-policy", "policyName")?.to_string();
    targets_page(state, req, &name, "principals")
}
