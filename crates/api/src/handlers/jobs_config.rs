//! CreateJob's `jobExecutionsRetryConfig` and `abortConfig`, checked against the model's
//! ranges and enums, and shown back by DescribeJob.

use iotmock_jobs::{AbortCriterion, Job, RetryCriterion};
use iotmock_model::{IotError, IotResult};
use serde_json::{Map, Value, json};

/// The criteria list of `config` (`None` when the config is absent), 1 to `max` items.
fn criteria<'a>(
    body: &'a Map<String, Value>,
    config: &str,
    max: usize,
) -> IotResult<Option<&'a Vec<Value>>> {
    let Some(c) = body.get(config).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let list = c.get("criteriaList").and_then(Value::as_array);
    match list {
        Some(l) if (1..=max).contains(&l.len()) => Ok(Some(l)),
        _ => Err(IotError::invalid(format!(
            "{config}.criteriaList must hold 1 to {max} criteria"
        ))),
    }
}

fn one_of(v: &Value, key: &str, allowed: &[&str], config: &str) -> IotResult<String> {
    match v.get(key).and_then(Value::as_str) {
        Some(s) if allowed.contains(&s) => Ok(s.to_string()),
        other => Err(IotError::invalid(format!(
            "{config}: {key} must be one of {}, not {}",
            allowed.join(", "),
            other.unwrap_or("missing")
        ))),
    }
}

/// `jobExecutionsRetryConfig`: 1 or 2 criteria, `failureType` FAILED / TIMED_OUT / ALL,
/// `numberOfRetries` 0 to 10.
pub fn retry(body: &Map<String, Value>) -> IotResult<Vec<RetryCriterion>> {
    const CONFIG: &str = "jobExecutionsRetryConfig";
    let Some(list) = criteria(body, CONFIG, 2)? else {
        return Ok(Vec::new());
    };
    let mut out: Vec<RetryCriterion> = Vec::new();
    for c in list {
        let failure_type = one_of(c, "failureType", &["FAILED", "TIMED_OUT", "ALL"], CONFIG)?;
        let n = c.get("numberOfRetries").and_then(Value::as_u64);
        let Some(n) = n.filter(|n| *n <= 10) else {
            return Err(IotError::invalid(format!(
                "{CONFIG}: numberOfRetries must be between 0 and 10"
            )));
        };
        if out.iter().any(|o| o.failure_type == failure_type) {
            return Err(IotError::invalid(format!(
                "{CONFIG}: failureType {failure_type} is given twice"
            )));
        }
        out.push(RetryCriterion {
            failure_type,
            number_of_retries: u32::try_from(n).unwrap_or(10),
        });
    }
    Ok(out)
}

/// `abortConfig`: `failureType` FAILED / REJECTED / TIMED_OUT / ALL, `action` CANCEL,
/// `thresholdPercentage` 0 to 100, `minNumberOfExecutedThings` at least 1.
pub fn abort(body: &Map<String, Value>) -> IotResult<Vec<AbortCriterion>> {
    const CONFIG: &str = "abortConfig";
    let Some(list) = criteria(body, CONFIG, 4)? else {
        return Ok(Vec::new());
    };
    let types = ["FAILED", "REJECTED", "TIMED_OUT", "ALL"];
    list.iter()
        .map(|c| {
            let failure_type = one_of(c, "failureType", &types, CONFIG)?;
            let action = one_of(c, "action", &["CANCEL"], CONFIG)?;
            let pct = c.get("thresholdPercentage").and_then(Value::as_f64);
            let Some(pct) = pct.filter(|p| (0.0..=100.0).contains(p)) else {
                return Err(IotError::invalid(format!(
                    "{CONFIG}: thresholdPercentage must be between 0 and 100"
                )));
            };
            let min = c.get("minNumberOfExecutedThings").and_then(Value::as_u64);
            let Some(min) = min.filter(|m| *m >= 1).and_then(|m| u32::try_from(m).ok()) else {
                return Err(IotError::invalid(format!(
                    "{CONFIG}: minNumberOfExecutedThings must be at least 1"
                )));
            };
            Ok(AbortCriterion {
                failure_type,
                action,
                threshold_percentage: pct,
                min_number_of_executed_things: min,
            })
        })
        .collect()
}

/// The configs DescribeJob shows, as CreateJob took them.
pub fn show(job: &Job, view: &mut Value) {
    if !job.retry.is_empty() {
        view["jobExecutionsRetryConfig"] = json!({ "criteriaList": job.retry });
    }
    if !job.abort.is_empty() {
        view["abortConfig"] = json!({ "criteriaList": job.abort });
    }
}
