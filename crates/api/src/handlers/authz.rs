//! Policy decisions explained: TestAuthorization and GetEffectivePolicies, answered by the same
//! engine and variables the broker uses.

use super::read;
use crate::request::ApiRequest;
use crate::state::ApiState;
use crate::wire::Reply;
use iotmock_model::{IotError, IotResult};
use iotmock_registry::{Principal, Registry};
use iotmock_session::explain::{AuthInfo, action_of, explain};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The certificate a `principal` (certificate ARN or id) names, in the request's region.
fn principal(
    registry: &Registry,
    req: &ApiRequest,
    body: &Map<String, Value>,
) -> IotResult<Principal> {
    let given = body
        .get("principal")
        .and_then(Value::as_str)
        .ok_or_else(|| IotError::invalid("principal is required (a certificate ARN)"))?;
    let id = given.rsplit_once("cert/").map_or(given, |(_, id)| id);
    registry
        .principal_in(&req.region, &id.to_ascii_lowercase())
        .ok_or_else(|| IotError::not_found(format!("The principal {given} does not exist")))
}

fn names(body: &Map<String, Value>, key: &str) -> Vec<String> {
    crate::request::str_list(body.get(key))
}

fn auth_infos(body: &Map<String, Value>) -> IotResult<Vec<AuthInfo>> {
    let list = body
        .get("authInfos")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty() && a.len() <= 10)
        .ok_or_else(|| IotError::invalid("authInfos must list 1 to 10 authInfo"))?;
    list.iter()
        .map(|i| {
            let action_type = i
                .get("actionType")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if action_of(action_type).is_none() {
                return Err(IotError::invalid(format!(
                    "actionType must be PUBLISH, SUBSCRIBE, RECEIVE or CONNECT, not '{action_type}'"
                )));
            }
            Ok(AuthInfo {
                action_type: action_type.to_string(),
                resources: crate::request::str_list(i.get("resources")),
            })
        })
        .collect()
}

fn policies(registry: &Registry, region: &str, list: &[String]) -> Value {
    Value::Array(
        list.iter()
            .map(|n| json!({ "policyName": n, "policyArn": iotmock_model::Arn::new(region, registry.account()).policy(n) }))
            .collect(),
    )
}

/// TestAuthorization (`POST /test-authorization?clientId=`).
pub fn test_authorization(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let body = req.json()?;
    let registry = read(state)?;
    let mut p = principal(&registry, req, &body)?;
    let skip = names(&body, "policyNamesToSkip");
    p.policies.retain(|pol| !skip.contains(&pol.name));
    for name in names(&body, "policyNamesToAdd") {
        if !p.policies.iter().any(|pol| pol.name == name) {
            p.policies.push(registry.named_policy(&req.region, &name)?);
        }
    }
    let infos = auth_infos(&body)?;
    let client_id = req.qs("clientId").unwrap_or_default();
    let results: Vec<Value> = explain(Arc::new(p), client_id, &infos)
        .into_iter()
        .map(|r| {
            let list = |l: &[String]| json!({ "policies": policies(&registry, &req.region, l) });
            json!({
                "authInfo": { "actionType": r.info.action_type, "resources": r.info.resources },
                "allowed": list(&r.allowed),
                "denied": { "implicitDeny": list(&r.implicit_deny), "explicitDeny": list(&r.explicit_deny) },
                "authDecision": r.decision.name(),
                "missingContextValues": [],
            })
        })
        .collect();
    Ok(Reply::Json(json!({ "authResults": results })))
}

/// GetEffectivePolicies (`POST /effective-policies?thingName=`): the principal's policies with
/// their default documents.
pub fn effective_policies(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let body = req.json()?;
    let registry = read(state)?;
    let p = principal(&registry, req, &body)?;
    if let Some(thing) = req.qs("thingName") {
        registry.describe_thing(&req.region, thing)?;
    }
    let effective: Vec<Value> = p
        .policies
        .iter()
        .filter_map(|pol| {
            let stored = registry.get_policy(&req.region, &pol.name).ok()?;
            Some(json!({
                "policyName": pol.name,
                "policyArn": iotmock_model::Arn::new(&req.region, registry.account()).policy(&pol.name),
                "policyDocument": stored.default_document(),
            }))
        })
        .collect();
    Ok(Reply::Json(json!({ "effectivePolicies": effective })))
}
