//! Device certificate operations.

use super::{read, write};
use crate::request::{ApiRequest, body_str};
use crate::state::ApiState;
use crate::views;
use crate::wire::Reply;
use iotmock_model::IotResult;
use iotmock_registry::Registered;
use serde_json::json;

fn registered(r: Registered) -> Reply {
    Reply::Json(json!({ "certificateArn": r.arn, "certificateId": r.id }))
}

pub fn register(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let body = req.json()?;
    let out = write(state)?.register_certificate(
        &req.region,
        body_str(&body, "certificatePem")?,
        body_str(&body, "caCertificatePem")?,
        req.qs_bool("setAsActive")?,
        body_str(&body, "status")?,
    )?;
    Ok(registered(out))
}

pub fn register_without_ca(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let body = req.json()?;
    let out = write(state)?.register_certificate_without_ca(
        &req.region,
        body_str(&body, "certificatePem")?,
        body_str(&body, "status")?,
    )?;
    Ok(registered(out))
}

pub fn create_keys(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let set_as_active = req.qs_bool("setAsActive")?;
    let (ca, now) = read(state)?.issuer();
    let keys = iotmock_registry::mint_keys(&ca, now)?;
    let out = write(state)?.register_created_keys(&req.region, keys, set_as_active)?;
    Ok(Reply::Json(json!({
        "certificateArn": out.registered.arn,
        "certificateId": out.registered.id,
        "certificatePem": out.keys.certificate_pem,
        "keyPair": { "PublicKey": out.keys.public_key_pem, "PrivateKey": out.keys.private_key_pem },
    })))
}

pub fn create_from_csr(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let body = req.json()?;
    let set_as_active = req.qs_bool("setAsActive")?;
    let csr = body_str(&body, "certificateSigningRequest")?;
    let (out, pem) = write(state)?.create_certificate_from_csr(&req.region, csr, set_as_active)?;
    Ok(Reply::Json(json!({
        "certificateArn": out.arn,
        "certificateId": out.id,
        "certificatePem": pem,
    })))
}

pub fn describe(state: &ApiState, req: &ApiRequest, id: &str) -> IotResult<Reply> {
    let reg = read(state)?;
    let described = match reg.describe_certificate(&req.region, id) {
        Ok(cert) => views::cert_description(cert, reg.account()),
        Err(e) => {
            // A certificate offered to this account is visible to it until accepted or not.
            let me = reg.account().to_string();
            drop(reg);
            let offered = super::common::offered_to(state, &req.region, &me);
            let (source, cert) = offered
                .iter()
                .find(|(_, c)| c.id.eq_ignore_ascii_case(id))
                .ok_or(e)?;
            views::cert_description(cert, source)
        }
    };
    Ok(Reply::Json(json!({ "certificateDescription": described })))
}

pub fn update(state: &ApiState, req: &ApiRequest, id: &str) -> IotResult<Reply> {
    write(state)?.update_certificate(&req.region, id, req.qs("newStatus"))?;
    Ok(Reply::Empty)
}

pub fn list(state: &ApiState, req: &ApiRequest, ca: Option<&str>) -> IotResult<Reply> {
    if ca.is_none() {
        return list_with_offered(state, req);
    }
    let reg = read(state)?;
    let page = reg.list_certificates(&req.region, &req.page("marker", "pageSize")?, ca)?;
    let account = reg.account();
    Ok(Reply::Json(views::page(
        page,
        "certificates",
        "nextMarker",
        |c| views::cert_summary(c, account),
    )))
}

pub fn delete(state: &ApiState, req: &ApiRequest, id: &str) -> IotResult<Reply> {
    let force = req.qs_bool("forceDelete")?;
    write(state)?.delete_certificate(&req.region, id, force)?;
    Ok(Reply::Empty)
}

/// ListCertificates: this account's certificates and those other accounts of this mock offer
/// it (PENDING_TRANSFER, under the offering account's ARN), as AWS tells a transfer's target to
/// find them.
fn list_with_offered(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let page_req = req.page("marker", "pageSize")?;
    let reg = read(state)?;
    let me = reg.account().to_string();
    let mut items: Vec<(String, serde_json::Value)> = reg
        .region(&req.region)
        .map(|r| {
            r.certs
                .values()
                .filter(|c| c.claim_template.is_none())
                .map(|c| (c.list_key(), views::cert_summary(c, &me)))
                .collect()
        })
        .unwrap_or_default();
    drop(reg);
    for (source, cert) in super::common::offered_to(state, &req.region, &me) {
        items.push((cert.list_key(), views::cert_summary(&cert, &source)));
    }
    let page = iotmock_registry::paginate(items, &page_req, false, "pageSize")?;
    Ok(Reply::Json(views::page(
        page,
        "certificates",
        "nextMarker",
        |v| v,
    )))
}
