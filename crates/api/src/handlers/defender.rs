//! Device Defender: ListMetricValues over the metrics reports devices published on
//! `$aws/things/{thing}/defender/metrics/{json|cbor}`.

use crate::request::ApiRequest;
use crate::state::ApiState;
use crate::wire::Reply;
use aws_smithy_types::date_time::{DateTime, Format};
use iotmock_model::{ErrorCode, IotError, IotResult};
use serde_json::json;

/// A query-string timestamp (ISO 8601, as the SDKs send it, or epoch seconds) in ms.
fn millis(req: &ApiRequest, name: &str) -> IotResult<i64> {
    let raw = req
        .qs(name)
        .ok_or_else(|| IotError::new(ErrorCode::InvalidRequest, format!("{name} is required")))?;
    let parsed = DateTime::from_str(raw, Format::DateTimeWithOffset)
        .or_else(|_| DateTime::from_str(raw, Format::EpochSeconds))
        .map_err(|_| {
            IotError::new(
                ErrorCode::InvalidRequest,
                format!("{name} {raw:?} is not a timestamp"),
            )
        })?;
    parsed
        .to_millis()
        .map_err(|_| IotError::new(ErrorCode::InvalidRequest, format!("{name} is out of range")))
}

pub fn list_metric_values(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let defender = state.defender.as_deref().ok_or_else(|| {
        IotError::new(
            ErrorCode::InvalidRequest,
            "Device Defender is served for the mock's own account only",
        )
    })?;
    let required = |name: &str| {
        req.qs(name)
            .ok_or_else(|| IotError::new(ErrorCode::InvalidRequest, format!("{name} is required")))
    };
    let (thing, metric) = (required("thingName")?, required("metricName")?);
    let window = (millis(req, "startTime")?, millis(req, "endTime")?);
    if let Some(data) = &state.data {
        data.settle_service("defender");
    }
    let values = defender.metric_values(&req.region, thing, metric, window);
    let max = req.qs_int("maxResults")?.unwrap_or(250).clamp(1, 250);
    let start = match req.qs("nextToken") {
        None | Some("") => 0,
        Some(t) => t.parse::<usize>().map_err(|_| {
            IotError::new(
                ErrorCode::InvalidRequest,
                format!("the nextToken {t:?} is not one this call gave"),
            )
        })?,
    };
    let end = start
        .saturating_add(usize::try_from(max).unwrap_or(250))
        .min(values.len());
    let list: Vec<_> = values
        .get(start..end)
        .unwrap_or_default()
        .iter()
        .map(iotmock_defender::datum_json)
        .collect();
    let mut answer = json!({ "metricDatumList": list });
    if end < values.len() {
        answer["nextToken"] = json!(end.to_string());
    }
    Ok(Reply::Json(answer))
}
