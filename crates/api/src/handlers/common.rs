//! Helpers more than one handler uses: the `tags` member of create operations, the jobs
//! service and its errors, and the certificates other accounts offer. Handlers import from
//! here, never from each other.

use super::read_lock;
use crate::state::ApiState;
use iotmock_jobs::{JobsError, JobsErrorCode, JobsService};
use iotmock_model::{ErrorCode, IotError, IotResult};
use iotmock_registry::Registry;
use serde_json::{Map, Value};

/// `tags`: `[{"Key", "Value"}]` (a missing value is empty).
pub(crate) fn tags_from_body(body: &Map<String, Value>) -> IotResult<Vec<(String, String)>> {
    let Some(list) = body.get("tags") else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| IotError::invalid("tags must be a list of {Key, Value}"))?;
    let tags = list
        .iter()
        .map(|t| {
            let key = t.get("Key").and_then(Value::as_str);
            let key = key.ok_or_else(|| IotError::invalid("every tag needs a Key"))?;
            let value = t.get("Value").and_then(Value::as_str).unwrap_or_default();
            Ok((key.to_string(), value.to_string()))
        })
        .collect::<IotResult<Vec<_>>>()?;
    iotmock_registry::check_tags(&tags)?;
    Ok(tags)
}

/// Tags a resource just created (the tags were checked before it was).
pub(crate) fn tag_created(
    registry: &mut Registry,
    region: &str,
    arn: &str,
    tags: &[(String, String)],
) -> IotResult<()> {
    if tags.is_empty() {
        return Ok(());
    }
    registry.tag_resource(region, arn, tags)
}

/// The jobs service, or ServiceUnavailable when the mock runs without one.
pub(crate) fn jobs(state: &ApiState) -> IotResult<&JobsService> {
    state.jobs.as_deref().ok_or_else(|| {
        IotError::new(
            ErrorCode::ServiceUnavailable,
            "The jobs service is not running",
        )
    })
}

/// A jobs refusal as the control plane answers it.
pub(crate) fn jobs_error(e: JobsError) -> IotError {
    let code = match e.code {
        JobsErrorCode::ResourceNotFound => ErrorCode::ResourceNotFound,
        JobsErrorCode::InternalError => ErrorCode::InternalFailure,
        JobsErrorCode::ResourceAlreadyExists => ErrorCode::ResourceAlreadyExists,
        JobsErrorCode::InvalidStateTransition | JobsErrorCode::VersionMismatch => {
            ErrorCode::InvalidStateTransition
        }
        _ => ErrorCode::InvalidRequest,
    };
    IotError::new(code, e.message)
}

/// The certificates other accounts of this mock offer to `me` in `region`, with the offering
/// account.
pub(crate) fn offered_to(
    state: &ApiState,
    region: &str,
    me: &str,
) -> Vec<(String, iotmock_registry::CertRecord)> {
    let mut out = Vec::new();
    for (account, registry) in state.accounts.all() {
        if account == me {
            continue;
        }
        let Ok(reg) = read_lock(&registry) else {
            continue;
        };
        let Some(r) = reg.region(region) else {
            continue;
        };
        let offered = r.certs.values().filter(|c| c.is_offered_to(me));
        out.extend(offered.map(|c| (account.clone(), c.clone())));
    }
    out
}
