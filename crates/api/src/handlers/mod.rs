//! One handler module per resource. A handler decodes its inputs from the [`ApiRequest`],
//! makes one registry call under the lock, and renders the answer; nothing else.

pub mod authorizers;
pub mod authz;
pub mod cas;
pub mod certs;
pub(crate) mod common;
pub mod data;
mod data_props;
pub mod defender;
pub mod destinations;
pub mod events;
pub mod groups;
pub mod iam;
pub mod indexing;
pub mod jobs;
pub mod jobs_config;
pub mod jobs_data;
pub mod policies;
pub mod reset;
pub mod rules;
pub mod shadow;
pub mod tags;
pub mod templates;
pub mod things;
pub mod transfer;
pub mod types;

use crate::state::ApiState;
use iotmock_model::{IotError, IotResult};
use iotmock_registry::Registry;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

pub(crate) fn read(state: &ApiState) -> IotResult<RwLockReadGuard<'_, Registry>> {
    read_lock(&state.registry)
}

pub(crate) fn write(state: &ApiState) -> IotResult<RwLockWriteGuard<'_, Registry>> {
    write_lock(&state.registry)
}

pub(crate) fn read_lock(registry: &RwLock<Registry>) -> IotResult<RwLockReadGuard<'_, Registry>> {
    registry
        .read()
        .map_err(|_| IotError::internal("registry lock poisoned"))
}

pub(crate) fn write_lock(registry: &RwLock<Registry>) -> IotResult<RwLockWriteGuard<'_, Registry>> {
    registry
        .write()
        .map_err(|_| IotError::internal("registry lock poisoned"))
}

/// A fresh `x-amzn-RequestId` (UUID v4).
pub(crate) fn request_id() -> String {
    iotmock_registry::random_uuid()
}

/// One page of `items` (sorted by key) under `member`, with `nextToken`; `size` names the
/// page-size query parameter.
pub(crate) fn names_page(
    req: &crate::request::ApiRequest,
    items: Vec<(String, serde_json::Value)>,
    member: &str,
    size: &str,
) -> IotResult<crate::wire::Reply> {
    let page = iotmock_registry::PageRequest {
        ascending: Some(true),
        ..req.page("nextToken", size)?
    };
    let page = iotmock_registry::paginate(items, &page, true, size)?;
    Ok(crate::wire::Reply::Json(crate::views::page(
        page,
        member,
        "nextToken",
        |v| v,
    )))
}
