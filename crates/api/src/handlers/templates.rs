//! Provisioning templates: Create/Describe/List/Update/DeleteProvisioningTemplate, their
//! versions, and RegisterThing.

use super::{names_page, read, write};
use crate::request::ApiRequest;
use crate::state::ApiState;
use crate::views::ts;
use crate::wire::Reply;
use iotmock_model::{IotError, IotResult};
use iotmock_registry::{NewTemplate, TemplateRecord, TemplateUpdate};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

fn text(body: &Map<String, Value>, key: &str) -> Option<String> {
    body.get(key).and_then(Value::as_str).map(str::to_string)
}

fn summary(t: &TemplateRecord, arn: String) -> Value {
    json!({
        "templateArn": arn, "templateName": t.name, "description": t.description,
        "creationDate": ts(t.created), "lastModifiedDate": ts(t.modified),
        "enabled": t.enabled, "type": t.kind,
    })
}

pub fn create(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let body = req.json()?;
    let new = NewTemplate {
        name: text(&body, "templateName").unwrap_or_default(),
        body: text(&body, "templateBody"),
        role_arn: text(&body, "provisioningRoleArn"),
        description: text(&body, "description"),
        enabled: body
            .get("enabled")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        kind: text(&body, "type"),
        hook: body.contains_key("preProvisioningHook"),
    };
    let tags = super::common::tags_from_body(&body)?;
    let mut registry = write(state)?;
    let t = registry.create_template(&req.region, new)?;
    let arn = registry.template_arn(&req.region, &t.name);
    super::common::tag_created(&mut registry, &req.region, &arn, &tags)?;
    Ok(Reply::Json(
        json!({ "templateArn": arn, "templateName": t.name, "defaultVersionId": t.default_version }),
    ))
}

pub fn describe(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let registry = read(state)?;
    let t = registry.describe_template(&req.region, name)?;
    let mut view = summary(t, registry.template_arn(&req.region, name));
    view["defaultVersionId"] = json!(t.default_version);
    view["templateBody"] = json!(t.body());
    view["provisioningRoleArn"] = json!(t.role_arn);
    Ok(Reply::Json(view))
}

pub fn list(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let registry = read(state)?;
    let items = registry
        .list_templates(&req.region)
        .into_iter()
        .map(|t| {
            let arn = registry.template_arn(&req.region, &t.name);
            (t.name.clone(), summary(t, arn))
        })
        .collect();
    names_page(req, items, "templates", "maxResults")
}

pub fn update(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let body = req.json()?;
    let update = TemplateUpdate {
        description: text(&body, "description"),
        enabled: body.get("enabled").and_then(Value::as_bool),
        default_version: body.get("defaultVersionId").and_then(Value::as_u64),
        role_arn: text(&body, "provisioningRoleArn"),
        hook: body.contains_key("preProvisioningHook"),
    };
    write(state)?.update_template(&req.region, name, update)?;
    Ok(Reply::Json(json!({})))
}

pub fn delete(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    write(state)?.delete_template(&req.region, name)?;
    Ok(Reply::Json(json!({})))
}

pub fn create_version(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let body = req.json()?;
    let set_default = req.qs_bool("setAsDefault")?;
    let mut registry = write(state)?;
    let template_body = text(&body, "templateBody");
    let id = registry.create_template_version(
        &req.region,
        name,
        template_body.as_deref(),
        set_default,
    )?;
    let t = registry.describe_template(&req.region, name)?;
    Ok(Reply::Json(json!({
        "templateArn": registry.template_arn(&req.region, name), "templateName": name,
        "versionId": id, "isDefaultVersion": t.default_version == id,
    })))
}

fn version_id(v: &str) -> IotResult<u64> {
    v.parse()
        .map_err(|_| IotError::invalid(format!("versionId must be a number, got {v}")))
}

pub fn list_versions(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let registry = read(state)?;
    let t = registry.describe_template(&req.region, name)?;
    let versions: Vec<Value> = t
        .versions
        .iter()
        .map(|(id, v)| json!({ "versionId": id, "creationDate": ts(v.created), "isDefaultVersion": *id == t.default_version }))
        .collect();
    Ok(Reply::Json(json!({ "versions": versions })))
}

pub fn describe_version(
    state: &ApiState,
    req: &ApiRequest,
    name: &str,
    v: &str,
) -> IotResult<Reply> {
    let id = version_id(v)?;
    let registry = read(state)?;
    let t = registry.describe_template(&req.region, name)?;
    let version = t.versions.get(&id).ok_or_else(|| {
        IotError::not_found(format!(
            "Version {id} of the provisioning template {name} does not exist"
        ))
    })?;
    Ok(Reply::Json(json!({
        "versionId": id, "creationDate": ts(version.created), "templateBody": version.body,
        "isDefaultVersion": id == t.default_version,
    })))
}

pub fn delete_version(state: &ApiState, req: &ApiRequest, name: &str, v: &str) -> IotResult<Reply> {
    write(state)?.delete_template_version(&req.region, name, version_id(v)?)?;
    Ok(Reply::Json(json!({})))
}

/// RegisterThing: runs a template body for the certificate its parameters name
/// (`AWS::IoT::Certificate::Id`).
pub fn register_thing(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let body = req.json()?;
    let template = text(&body, "templateBody");
    iotmock_registry::check_body(template.as_deref())?;
    let parameters: BTreeMap<String, String> = body
        .get("parameters")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let cert_id = parameters
        .get("AWS::IoT::Certificate::Id")
        .cloned()
        .ok_or_else(|| {
            IotError::invalid(
                "parameters must give AWS::IoT::Certificate::Id, the certificate to provision",
            )
        })?;
    let mut registry = write(state)?;
    let done = registry.provision(
        &req.region,
        ("(RegisterThing)", template.as_deref().unwrap_or_default()),
        &parameters,
        &cert_id,
        BTreeMap::new(),
    )?;
    let pem = registry
        .describe_certificate(&req.region, &cert_id)?
        .pem
        .clone();
    Ok(Reply::Json(
        json!({ "certificatePem": pem, "resourceArns": done.resource_arns }),
    ))
}

/// CreateProvisioningClaim: a claim certificate and its keys, valid for 5 minutes.
pub fn create_claim(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    read(state)?.claim_template(&req.region, name)?;
    let (ca, now) = read(state)?.issuer();
    let until = now + iotmock_registry::claims::CLAIM_SECONDS;
    let keys = ca
        .issue_keys_until(now, Some(until))
        .map_err(|e| IotError::internal(e.to_string()))?;
    let claim = write(state)?.create_provisioning_claim(&req.region, name, keys)?;
    Ok(Reply::Json(json!({
        "certificateId": claim.registered.id,
        "certificatePem": claim.keys.certificate_pem,
        "keyPair": { "PublicKey": claim.keys.public_key_pem, "PrivateKey": claim.keys.private_key_pem },
        "expiration": ts(claim.expires_secs * 1000),
    })))
}
