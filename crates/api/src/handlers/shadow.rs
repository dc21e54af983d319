//! iot-data Device Shadow operations on the API port: GetThingShadow, UpdateThingShadow,
//! DeleteThingShadow (`?name=` for a named shadow) and ListNamedShadowsForThing. They share the
//! service devices reach over MQTT, so both faces agree; an accepted HTTP update or delete
//! also publishes its MQTT answers, and errors answer over HTTP only.

use super::read;
use crate::request::ApiRequest;
use crate::state::ApiState;
use crate::views;
use crate::wire::Reply;
use iotmock_model::{ErrorCode, IotError, IotResult};
use iotmock_registry::{PageRequest, paginate};
use iotmock_shadow::{Op, ShadowError, ShadowKey, ShadowService};
use serde_json::json;

fn service(state: &ApiState) -> IotResult<&ShadowService> {
    state.shadows.as_deref().ok_or_else(|| {
        IotError::new(
            ErrorCode::ServiceUnavailable,
            "The shadow service is not running",
        )
    })
}

/// A shadow refusal as iot-data answers it.
fn to_iot(e: ShadowError) -> IotError {
    let code = match e.code {
        401 => ErrorCode::Unauthorized,
        404 => ErrorCode::ResourceNotFound,
        409 => ErrorCode::Conflict,
        413 => ErrorCode::RequestEntityTooLarge,
        415 => ErrorCode::UnsupportedDocumentEncoding,
        429 => ErrorCode::DataThrottling,
        500 => ErrorCode::InternalFailure,
        _ => ErrorCode::InvalidRequest,
    };
    IotError::new(code, e.message)
}

fn key(req: &ApiRequest, thing: &str) -> IotResult<ShadowKey> {
    if !iotmock_shadow::valid_thing_name(thing) {
        return Err(IotError::invalid(format!("Invalid thing name: '{thing}'")));
    }
    match req.qs("name") {
        None => Ok(ShadowKey::classic(thing)),
        Some(n) if iotmock_shadow::valid_shadow_name(n) => Ok(ShadowKey::named(thing, n)),
        Some(n) => Err(IotError::invalid(format!("Invalid shadow name: '{n}'"))),
    }
}

fn run(state: &ApiState, req: &ApiRequest, thing: &str, op: Op) -> IotResult<Reply> {
    let key = key(req, thing)?;
    let now = read(state)?.now_millis();
    let outcome = service(state)?.request(Some(&req.region), &key, op, &req.body, now);
    let doc = outcome.result.map_err(to_iot)?;
    Ok(Reply::Json(doc))
}

pub fn get(state: &ApiState, req: &ApiRequest, thing: &str) -> IotResult<Reply> {
    run(state, req, thing, Op::Get)
}

pub fn update(state: &ApiState, req: &ApiRequest, thing: &str) -> IotResult<Reply> {
    run(state, req, thing, Op::Update)
}

pub fn delete(state: &ApiState, req: &ApiRequest, thing: &str) -> IotResult<Reply> {
    run(state, req, thing, Op::Delete)
}

/// ListNamedShadowsForThing: `{"results", "nextToken"?, "timestamp"}`; an empty list for a
/// thing with no named shadows (or no such thing).
pub fn list_named(state: &ApiState, req: &ApiRequest, thing: &str) -> IotResult<Reply> {
    let page = req.page("nextToken", "pageSize")?;
    if page.page_size.is_some_and(|n| !(1..=100).contains(&n)) {
        return Err(IotError::invalid("pageSize must be between 1 and 100"));
    }
    let page = PageRequest {
        ascending: Some(true),
        ..page
    };
    let names = service(state)?.list_named(Some(&req.region), thing);
    let items = names.into_iter().map(|n| (n.clone(), n)).collect();
    let page = paginate(items, &page, true, "pageSize")?;
    let mut out = views::page(page, "results", "nextToken", |n| json!(n));
    out["timestamp"] = json!(read(state)?.now_millis().div_euclid(1000));
    Ok(Reply::Json(out))
}
