//! CreateJob's `jobExecutionsRetryConfig` and `abortConfig`, checked against the model's
//! ranges and enums, and shown back by DescribeJob.

use iotmock_jobs::rollout::{ExponentialRate, RateIncrease, Rollout, Schedule};
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
    show_pacing(job, view);
}

/// `jobExecutionsRolloutConfig`: `maximumPerMinute` 1 to 1000; `exponentialRate` with
/// `baseRatePerMinute` 1 to 1000, `incrementFactor` 1.1 to 5 and at least one increase
/// criterion of at least 1.
pub fn rollout(body: &Map<String, Value>) -> IotResult<Option<Rollout>> {
    const CONFIG: &str = "jobExecutionsRolloutConfig";
    let Some(c) = body.get(CONFIG).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let bad = |what: &str| IotError::invalid(format!("{CONFIG}: {what}"));
    let count = |v: Option<&Value>, lo: u64, hi: u64| {
        v.and_then(Value::as_u64)
            .filter(|n| (lo..=hi).contains(n))
            .and_then(|n| u32::try_from(n).ok())
    };
    let maximum_per_minute = match c.get("maximumPerMinute").filter(|v| !v.is_null()) {
        None => None,
        Some(v) => {
            Some(count(Some(v), 1, 1000).ok_or_else(|| bad("maximumPerMinute must be 1 to 1000"))?)
        }
    };
    let exponential_rate = match c.get("exponentialRate").filter(|v| !v.is_null()) {
        None => None,
        Some(e) => Some(exponential(e).map_err(|why| bad(&why))?),
    };
    Ok(Some(Rollout {
        maximum_per_minute,
        exponential_rate,
    }))
}

fn exponential(e: &Value) -> Result<ExponentialRate, String> {
    let base = e.get("baseRatePerMinute").and_then(Value::as_u64);
    let base = base
        .filter(|n| (1..=1000).contains(n))
        .and_then(|n| u32::try_from(n).ok())
        .ok_or("exponentialRate.baseRatePerMinute must be 1 to 1000")?;
    let factor = e.get("incrementFactor").and_then(Value::as_f64);
    let factor = factor
        .filter(|f| (1.1..=5.0).contains(f))
        .ok_or("exponentialRate.incrementFactor must be 1.1 to 5")?;
    let criteria = e.get("rateIncreaseCriteria");
    let at_least_one = |k: &str| -> Result<Option<u32>, String> {
        match criteria.and_then(|c| c.get(k)).filter(|v| !v.is_null()) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .filter(|n| *n >= 1)
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or(format!("rateIncreaseCriteria.{k} must be at least 1")),
        }
    };
    let increase = RateIncrease {
        number_of_notified_things: at_least_one("numberOfNotifiedThings")?,
        number_of_succeeded_things: at_least_one("numberOfSucceededThings")?,
    };
    if increase.number_of_notified_things.is_none() && increase.number_of_succeeded_things.is_none()
    {
        return Err("exponentialRate.rateIncreaseCriteria needs numberOfNotifiedThings or numberOfSucceededThings".into());
    }
    Ok(ExponentialRate {
        base_rate_per_minute: base,
        increment_factor: factor,
        rate_increase_criteria: increase,
    })
}

/// `schedulingConfig`: `startTime` 30 minutes to a year ahead, `endTime` 30 minutes to two
/// years ahead and at least 30 minutes after the start, both `YYYY-MM-DDTHH:MM` (seconds and
/// a `Z` are taken too); `endBehavior` STOP_ROLLOUT, CANCEL or FORCE_CANCEL.
pub fn schedule(body: &Map<String, Value>, now_ms: i64) -> IotResult<Option<Schedule>> {
    const CONFIG: &str = "schedulingConfig";
    const MIN: i64 = 60_000;
    const DAY: i64 = 24 * 60 * MIN;
    let Some(c) = body.get(CONFIG).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let bad = |what: String| IotError::invalid(format!("{CONFIG}: {what}"));
    let time = |k: &str| -> IotResult<Option<(String, i64)>> {
        match c.get(k).and_then(Value::as_str) {
            None => Ok(None),
            Some(s) => match parse_time(s) {
                Some(ms) => Ok(Some((s.to_string(), ms))),
                None => Err(bad(format!("{k} must be YYYY-MM-DDTHH:MM, not {s}"))),
            },
        }
    };
    let (start, end) = (time("startTime")?, time("endTime")?);
    if let Some((_, ms)) = &start
        && (*ms < now_ms + 30 * MIN || *ms > now_ms + 366 * DAY)
    {
        return Err(bad("startTime must be 30 minutes to a year from now".into()));
    }
    if let Some((_, ms)) = &end {
        let from = start.as_ref().map_or(now_ms, |(_, s)| *s);
        if *ms < from + 30 * MIN || *ms > now_ms + 2 * 366 * DAY {
            return Err(bad(
                "endTime must be at least 30 minutes after the start (and now) and within two years".into(),
            ));
        }
    }
    let behavior = match c.get("endBehavior").and_then(Value::as_str) {
        None => None,
        Some(b @ ("STOP_ROLLOUT" | "CANCEL" | "FORCE_CANCEL")) => Some(b.to_string()),
        Some(other) => return Err(bad(format!("invalid endBehavior {other}"))),
    };
    Ok(Some(Schedule {
        start_ms: start.as_ref().map(|(_, ms)| *ms),
        end_ms: end.as_ref().map(|(_, ms)| *ms),
        start_time: start.map(|(s, _)| s),
        end_time: end.map(|(s, _)| s),
        end_behavior: behavior,
        ended: false,
    }))
}

/// `YYYY-MM-DDTHH:MM[:SS[.fff]][Z]` as epoch milliseconds (UTC).
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim_end_matches('Z');
    let (date, clock) = s.split_once('T')?;
    let mut d = date.splitn(3, '-').map(str::parse::<i64>);
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = clock.splitn(3, ':');
    let h = t.next()?.parse::<i64>().ok()?;
    let min = t.next()?.parse::<i64>().ok()?;
    let sec = match t.next() {
        Some(x) => x.split('.').next()?.parse::<i64>().ok()?,
        None => 0,
    };
    let valid = (1..=12).contains(&m) && (1..=31).contains(&day) && h < 24 && min < 60 && sec < 60;
    if !valid || h < 0 || min < 0 || sec < 0 {
        return None;
    }
    let days = iotmock_model::days_from_civil(y, m, day);
    Some(((days * 24 + h) * 60 + min) * 60_000 + sec * 1000)
}

/// The rollout and schedule DescribeJob shows, as CreateJob took them.
pub fn show_pacing(job: &Job, view: &mut Value) {
    if let Some(r) = &job.rollout {
        view["jobExecutionsRolloutConfig"] = json!(r);
    }
    if let Some(expires) = job.presign_expires {
        view["presignedUrlConfig"] = json!({ "expiresInSec": expires });
    }
    if let Some(s) = &job.schedule {
        let mut c = json!({});
        for (k, v) in [
            ("startTime", &s.start_time),
            ("endTime", &s.end_time),
            ("endBehavior", &s.end_behavior),
        ] {
            if let Some(v) = v {
                c[k] = json!(v);
            }
        }
        view["schedulingConfig"] = c;
    }
}

/// `presignedUrlConfig`: `roleArn` (20 to 2048 characters) and `expiresInSec` 60 to 3600
/// (default 3600); the seconds the document's presigned URLs are valid.
pub fn presign(body: &Map<String, Value>) -> IotResult<Option<i64>> {
    const CONFIG: &str = "presignedUrlConfig";
    let Some(c) = body.get(CONFIG).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let role = c.get("roleArn").and_then(Value::as_str).unwrap_or_default();
    if !(20..=2048).contains(&role.len()) {
        return Err(IotError::invalid(format!(
            "{CONFIG}.roleArn must be an IAM role ARN (20 to 2048 characters)"
        )));
    }
    match c.get("expiresInSec").filter(|v| !v.is_null()) {
        None => Ok(Some(3600)),
        Some(v) => match v.as_i64().filter(|s| (60..=3600).contains(s)) {
            Some(s) => Ok(Some(s)),
            None => Err(IotError::invalid(format!(
                "{CONFIG}.expiresInSec must be between 60 and 3600"
            ))),
        },
    }
}
