//! Certificate transfer between two accounts of this mock (see [`crate::accounts`]): Transfer
//! and Cancel act on the caller's certificate; Accept and Reject find the certificate in the
//! account that offered it to the caller.

use super::{read_lock, write, write_lock};
use crate::accounts::SharedRegistry;
use crate::request::{ApiRequest, body_str};
use crate::state::ApiState;
use crate::wire::Reply;
use iotmock_model::{IotError, IotResult};
use iotmock_registry::{is_account_id, transfer_completed};
use serde_json::json;

fn caller(state: &ApiState) -> IotResult<String> {
    Ok(read_lock(&state.registry)?.account().to_string())
}

/// TransferCertificate: `PATCH /transfer-certificate/{id}?targetAwsAccount=`.
pub fn transfer(state: &ApiState, req: &ApiRequest, id: &str) -> IotResult<Reply> {
    let body = req.json()?;
    let target = req.qs("targetAwsAccount");
    if let Some(t) = target.filter(|t| is_account_id(t) && *t != caller(state).unwrap_or_default())
    {
        state.accounts.open(t)?;
    }
    let arn = write(state)?.transfer_certificate(
        &req.region,
        id,
        target,
        body_str(&body, "transferMessage")?,
    )?;
    Ok(Reply::Json(json!({ "transferredCertificateArn": arn })))
}

/// CancelCertificateTransfer, by the account that offered the certificate.
pub fn cancel(state: &ApiState, req: &ApiRequest, id: &str) -> IotResult<Reply> {
    let me = caller(state)?;
    let cancelled = write(state)?.cancel_certificate_transfer(&req.region, id);
    match cancelled {
        Err(e) if e.code == iotmock_model::ErrorCode::ResourceNotFound => {
            let accepted = state.accounts.all().iter().any(|(_, registry)| {
                read_lock(registry).is_ok_and(|r| r.previous_owner(&req.region, id) == Some(&me))
            });
            Err(if accepted { transfer_completed(id) } else { e })
        }
        other => other.map(|()| Reply::Empty),
    }
}

/// AcceptCertificateTransfer: the certificate moves into the caller's account, INACTIVE unless
/// `setAsActive=true`.
pub fn accept(state: &ApiState, req: &ApiRequest, id: &str) -> IotResult<Reply> {
    let set_active = req.qs_bool("setAsActive")?;
    let me = caller(state)?;
    let (source_id, source) = offered_by(state, req, id, &me)?;
    read_lock(&state.registry)?.check_receivable(&req.region, id)?;
    let cert = write_lock(&source)?.release_certificate(&req.region, id, &me)?;
    let received = write(state)?.receive_certificate(cert.clone(), &source_id, set_active);
    if let Err(e) = received {
        write_lock(&source)?.restore_certificate(cert)?;
        return Err(e);
    }
    Ok(Reply::Empty)
}

/// RejectCertificateTransfer: the certificate returns to the offering account, INACTIVE.
pub fn reject(state: &ApiState, req: &ApiRequest, id: &str) -> IotResult<Reply> {
    let body = req.json()?;
    let me = caller(state)?;
    let (_, source) = offered_by(state, req, id, &me)?;
    write_lock(&source)?.reject_certificate_transfer(
        &req.region,
        id,
        &me,
        body_str(&body, "rejectReason")?,
    )?;
    Ok(Reply::Empty)
}

/// The account (and its registry) that offered certificate `id` to `me`.
fn offered_by(
    state: &ApiState,
    req: &ApiRequest,
    id: &str,
    me: &str,
) -> IotResult<(String, SharedRegistry)> {
    iotmock_registry::check_cert_id(id)?;
    for (account, registry) in state.accounts.all() {
        if account != me
            && read_lock(&registry)?
                .pending_transfer(&req.region, id, me)
                .is_some()
        {
            return Ok((account, registry));
        }
    }
    let own = read_lock(&state.registry)?;
    if own.previous_owner(&req.region, id).is_some() {
        return Err(transfer_completed(id));
    }
    if own.describe_certificate(&req.region, id).is_ok() {
        return Err(IotError::invalid(format!(
            "The certificate {id} is not offered to this account; only the transfer's target can accept or reject it"
        )));
    }
    Err(IotError::not_found(format!(
        "No transfer of certificate {id} is pending for this account"
    )))
}
