//! Registration code and CA certificate operations.

use super::{read, write};
use crate::request::{ApiRequest, body_bool, body_str};
use crate::state::ApiState;
use crate::views;
use crate::wire::Reply;
use iotmock_model::{IotError, IotResult};
use iotmock_registry::RegisterCa;
use serde_json::{Value, json};

pub fn get_registration_code(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let code = write(state)?.get_registration_code(&req.region)?;
    Ok(Reply::Json(json!({ "registrationCode": code })))
}

pub fn delete_registration_code(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    write(state)?.delete_registration_code(&req.region)?;
    Ok(Reply::Empty)
}

fn registration_config(body: &serde_json::Map<String, Value>) -> IotResult<Option<Value>> {
    match body.get("registrationConfig") {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v.clone())),
        Some(other) => Err(IotError::invalid(format!(
            "registrationConfig must be an object, got {other}"
        ))),
    }
}

pub fn register_ca(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let body = req.json()?;
    let input = RegisterCa {
        ca_certificate: body_str(&body, "caCertificate")?.map(str::to_string),
        verification_certificate: body_str(&body, "verificationCertificate")?.map(str::to_string),
        set_as_active: req.qs_bool("setAsActive")?,
        allow_auto_registration: req.qs_bool("allowAutoRegistration")?,
        registration_config: registration_config(&body)?,
        certificate_mode: body_str(&body, "certificateMode")?.map(str::to_string),
    };
    let tags = super::common::tags_from_body(&body)?;
    let mut registry = write(state)?;
    let (arn, id) = registry.register_ca_certificate(&req.region, input)?;
    super::common::tag_created(&mut registry, &req.region, &arn, &tags)?;
    Ok(Reply::Json(
        json!({ "certificateArn": arn, "certificateId": id }),
    ))
}

pub fn describe_ca(state: &ApiState, req: &ApiRequest, id: &str) -> IotResult<Reply> {
    let reg = read(state)?;
    let ca = reg.describe_ca_certificate(&req.region, id)?;
    let mut out = json!({ "certificateDescription": views::ca_description(ca, reg.account()) });
    if let Some(config) = &ca.registration_config {
        out["registrationConfig"] = config.clone();
    }
    Ok(Reply::Json(out))
}

pub fn update_ca(state: &ApiState, req: &ApiRequest, id: &str) -> IotResult<Reply> {
    let body = req.json()?;
    write(state)?.update_ca_certificate(
        &req.region,
        id,
        req.qs("newStatus"),
        req.qs("newAutoRegistrationStatus"),
        registration_config(&body)?,
        body_bool(&body, "removeAutoRegistration")?,
    )?;
    Ok(Reply::Empty)
}

pub fn list_cas(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let reg = read(state)?;
    let page = reg.list_ca_certificates(
        &req.region,
        &req.page("marker", "pageSize")?,
        req.qs("templateName"),
    )?;
    let account = reg.account();
    Ok(Reply::Json(views::page(
        page,
        "certificates",
        "nextMarker",
        |c| views::ca_summary(c, account),
    )))
}

pub fn delete_ca(state: &ApiState, req: &ApiRequest, id: &str) -> IotResult<Reply> {
    write(state)?.delete_ca_certificate(&req.region, id)?;
    Ok(Reply::Empty)
}
