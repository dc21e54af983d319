//! `POST /iotmock/reset` (iotmock's own, as moto and LocalStack offer one): every store emptied
//! without a restart. Connections are closed first (their sessions dropped, no will), then the
//! services forget what they hold, then every account's registry is emptied (the mock root CA
//! and the listeners stay). Answers what it did.

use crate::state::ApiState;
use crate::wire::Reply;
use iotmock_model::{IotError, IotResult};
use iotmock_store::StoreError;
use serde_json::json;

fn refused(what: &str, e: &StoreError) -> IotError {
    tracing::error!(error = %e, what, "reset: a store could not be emptied");
    iotmock_registry::stored_error(e)
}

/// Empties the services of the default account.
fn reset_services(state: &ApiState) -> IotResult<()> {
    if let Some(s) = &state.shadows {
        s.reset().map_err(|e| refused("shadows", &e))?;
    }
    if let Some(j) = &state.jobs {
        j.reset().map_err(|e| refused("jobs", &e))?;
    }
    if let Some(r) = &state.rules {
        r.reset().map_err(|e| refused("rules", &e))?;
    }
    if let Some(a) = &state.authorizers {
        a.reset().map_err(|e| refused("authorizers", &e))?;
    }
    if let Some(i) = &state.index {
        i.reset().map_err(|e| refused("indexing", &e))?;
    }
    if let Some(e) = &state.events {
        e.reset()
            .map_err(|err| refused("event configurations", &err))?;
    }
    if let Some(d) = &state.defender {
        d.reset();
    }
    Ok(())
}

pub fn reset(state: &ApiState) -> IotResult<Reply> {
    let closed = state.data.as_ref().map_or(0, |d| d.reset());
    reset_services(state)?;
    let accounts = state.accounts.all();
    for (_, registry) in &accounts {
        let mut registry = registry
            .write()
            .map_err(|_| IotError::internal("registry lock poisoned"))?;
        registry.reset()?;
    }
    if let Some(d) = &state.data {
        d.settle();
    }
    tracing::info!(
        closed,
        accounts = accounts.len(),
        "reset: every store emptied"
    );
    Ok(Reply::Json(
        json!({ "reset": true, "connectionsClosed": closed, "accounts": accounts.len() }),
    ))
}
