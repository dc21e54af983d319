//! The mock's own IAM for SigV4 data-plane callers (MQTT over WebSocket): an access key's
//! IAM policies and the Cognito identity its credentials stand for. AWS sets these in IAM
//! and Cognito; the mock takes them here, under `/iotmock/iam/access-keys/{accessKeyId}`.
//! - `GET` the key: `{"accessKeyId", "policies": {name: document}, "identityId"}`
//! - `PUT .../policies/{name}` with the policy document as the body; `DELETE` it
//! - `PUT .../identity` with `{"identityId": "region:uuid"}`; `DELETE` it

use super::{read, write};
use crate::request::ApiRequest;
use crate::state::ApiState;
use crate::wire::Reply;
use iotmock_model::{IotError, IotResult};
use serde_json::{Value, json};

fn text(req: &ApiRequest) -> IotResult<&str> {
    std::str::from_utf8(&req.body)
        .map_err(|_| IotError::invalid("The policy document is not UTF-8"))
}

pub fn get(state: &ApiState, key: &str) -> IotResult<Reply> {
    let registry = read(state)?;
    let record = registry.iam_key(key);
    let policies: serde_json::Map<String, Value> = record
        .map(|r| {
            r.policies
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect()
        })
        .unwrap_or_default();
    let identity = record.and_then(|r| r.identity_id.clone());
    Ok(Reply::Json(json!({
        "accessKeyId": key,
        "policies": policies,
        "identityId": identity,
        "allowAll": policies.is_empty(),
    })))
}

pub fn put_policy(state: &ApiState, req: &ApiRequest, key: &str, name: &str) -> IotResult<Reply> {
    let document = text(req)?;
    write(state)?.put_iam_policy(key, name, document)?;
    get(state, key)
}

pub fn delete_policy(state: &ApiState, key: &str, name: &str) -> IotResult<Reply> {
    write(state)?.delete_iam_policy(key, name)?;
    get(state, key)
}

pub fn put_identity(state: &ApiState, req: &ApiRequest, key: &str) -> IotResult<Reply> {
    let body: Value = serde_json::from_slice(&req.body)
        .map_err(|e| IotError::invalid(format!("The body is not JSON: {e}")))?;
    let id = body["identityId"]
        .as_str()
        .ok_or_else(|| IotError::invalid("identityId is required"))?;
    write(state)?.bind_identity(key, Some(id))?;
    get(state, key)
}

pub fn delete_identity(state: &ApiState, key: &str) -> IotResult<Reply> {
    write(state)?.bind_identity(key, None)?;
    get(state, key)
}
