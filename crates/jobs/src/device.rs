//! The device side of Jobs: GetPendingJobExecutions, StartNextPendingJobExecution,
//! DescribeJobExecution and UpdateJobExecution, with the execution state machine.

use crate::error::{JobsError, JobsErrorCode};
use crate::jobs::{Jobs, Notice, step_deadline};
use crate::model::ExecStatus;
use crate::views::{document_value, execution, execution_state, secs, summary};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// A device request's fields, read leniently as AWS does (`expectedVersion` as a number or a
/// numeric string).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceRequest {
    pub client_token: Option<String>,
    pub status: Option<ExecStatus>,
    pub status_details: Option<BTreeMap<String, String>>,
    pub expected_version: Option<u64>,
    pub step_timeout_min: Option<i64>,
    pub include_document: Option<bool>,
    pub include_state: bool,
    /// `executionNumber`: the execution asked for (the current one unless given).
    pub execution_number: Option<u64>,
}

fn field<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a Value> {
    m.get(k).filter(|v| !v.is_null())
}

fn details(v: &Value) -> Result<BTreeMap<String, String>, JobsError> {
    let obj = v
        .as_object()
        .ok_or_else(|| JobsError::invalid("statusDetails must be an object"))?;
    obj.iter()
        .map(|(k, v)| {
            let key_ok = (1..=128).contains(&k.len())
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-'));
            if !key_ok {
                return Err(JobsError::invalid(format!(
                    "statusDetails key {k:?} must be 1 to 128 characters of [a-zA-Z0-9:_-]"
                )));
            }
            match v {
                Value::String(s)
                    if (1..=1024).contains(&s.chars().count())
                        && !s.chars().any(char::is_control) =>
                {
                    Ok((k.clone(), s.clone()))
                }
                _ => Err(JobsError::invalid(format!(
                    "statusDetails value of {k} must be a string of 1 to 1024 printable characters"
                ))),
            }
        })
        .collect()
}

/// `stepTimeoutInMinutes`: 1 to 10080, or -1 (no step timeout).
fn step_timeout(v: &Value) -> Result<i64, JobsError> {
    match v.as_i64() {
        Some(m) if m == -1 || (1..=10_080).contains(&m) => Ok(m),
        _ => Err(JobsError::invalid(format!(
            "stepTimeoutInMinutes must be between 1 and 10080, or -1, not {v}"
        ))),
    }
}

fn version(v: &Value) -> Result<u64, JobsError> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| JobsError::invalid("expectedVersion must be a number"))
}

/// Reads a request payload (an empty payload is an empty request).
pub fn read_request(payload: &[u8]) -> Result<DeviceRequest, JobsError> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(DeviceRequest::default());
    }
    let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(payload) else {
        return Err(JobsError::new(
            JobsErrorCode::InvalidJson,
            "The request is not a JSON object",
        ));
    };
    let status = match field(&m, "status") {
        None => None,
        Some(v) => Some(
            v.as_str()
                .and_then(ExecStatus::parse)
                .ok_or_else(|| JobsError::invalid(format!("Invalid status: {v}")))?,
        ),
    };
    Ok(DeviceRequest {
        client_token: field(&m, "clientToken")
            .and_then(Value::as_str)
            .map(str::to_string),
        status,
        status_details: field(&m, "statusDetails").map(details).transpose()?,
        expected_version: field(&m, "expectedVersion").map(version).transpose()?,
        step_timeout_min: field(&m, "stepTimeoutInMinutes")
            .map(step_timeout)
            .transpose()?,
        include_document: field(&m, "includeJobDocument").and_then(Value::as_bool),
        include_state: field(&m, "includeJobExecutionState")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        execution_number: field(&m, "executionNumber")
            .map(|v| {
                v.as_u64()
                    .ok_or_else(|| JobsError::invalid("executionNumber must be a number"))
            })
            .transpose()?,
    })
}

impl Jobs {
    /// GetPendingJobExecutions: `{"inProgressJobs", "queuedJobs"}`.
    pub fn device_pending(&self, region: &str, thing: &str) -> Value {
        let pending = self.pending(region, thing);
        let pick = |s: ExecStatus| -> Vec<Value> {
            pending
                .iter()
                .filter(|e| e.status == s)
                .map(|e| summary(e))
                .collect()
        };
        json!({ "inProgressJobs": pick(ExecStatus::InProgress), "queuedJobs": pick(ExecStatus::Queued) })
    }

    /// StartNextPendingJobExecution: the head of the queue, started if it was QUEUED; no
    /// `execution` when nothing is pending.
    pub fn start_next(
        &mut self,
        region: &str,
        thing: &str,
        req: &DeviceRequest,
        now_ms: i64,
    ) -> (Value, Vec<Notice>) {
        let before = self.queue(region, thing);
        let Some(head) = self
            .pending(region, thing)
            .first()
            .map(|e| e.job_id.clone())
        else {
            return (json!({}), Vec::new());
        };
        let job_deadline = self.job_deadline(region, &head, now_ms);
        let key = (region.to_string(), thing.to_string(), head.clone());
        self.touched.insert(crate::jobs::Touched::Exec(key.clone()));
        if let Some(e) = self.execs.get_mut(&key)
            && e.status == ExecStatus::Queued
        {
            e.status = ExecStatus::InProgress;
            e.started_ms = Some(now_ms);
            e.updated_ms = now_ms;
            e.version += 1;
            if let Some(d) = &req.status_details {
                e.status_details = d.clone();
            }
            if let Some(d) = step_deadline(req.step_timeout_min, now_ms) {
                e.step_deadline_ms = d;
            }
            e.job_deadline_ms = job_deadline;
        }
        let notices = self.notices(region, thing, &before, now_ms);
        let e = self
            .execs
            .get(&key)
            .map(|e| execution(e, self.job(region, &head), true, now_ms));
        (json!({ "execution": e }), notices)
    }

    /// DescribeJobExecution over MQTT (`$next` peeks at the head).
    pub fn describe(
        &self,
        region: &str,
        thing: &str,
        job_id: &str,
        req: &DeviceRequest,
        now_ms: i64,
    ) -> Result<Value, JobsError> {
        let with_doc = req.include_document.unwrap_or(true);
        let e = if job_id == "$next" {
            match self.pending(region, thing).first() {
                Some(e) => *e,
                None => return Ok(json!({})),
            }
        } else {
            let key = (region.to_string(), thing.to_string(), job_id.to_string());
            let e = self.execs.get(&key);
            let e = e.and_then(|e| crate::model::attempt(e, req.execution_number));
            e.ok_or_else(|| {
                JobsError::not_found(format!("No job execution of {job_id} for thing {thing}"))
            })?
        };
        Ok(json!({ "execution": execution(e, self.job(region, &e.job_id), with_doc, now_ms) }))
    }

    /// UpdateJobExecution: the state machine, version check and timers.
    pub fn update(
        &mut self,
        region: &str,
        thing: &str,
        job_id: &str,
        req: &DeviceRequest,
        now_ms: i64,
    ) -> Result<(Value, Vec<Notice>), JobsError> {
        let key = (region.to_string(), thing.to_string(), job_id.to_string());
        let before = self.queue(region, thing);
        let job_deadline = self.job_deadline(region, job_id, now_ms);
        let status = req
            .status
            .ok_or_else(|| JobsError::invalid("status is required"))?;
        self.touched.insert(crate::jobs::Touched::Exec(key.clone()));
        let e = self.execs.get_mut(&key);
        let e = e.filter(|e| req.execution_number.is_none_or(|n| n == e.number));
        let e = e.ok_or_else(|| {
            JobsError::not_found(format!("No job execution of {job_id} for thing {thing}"))
        })?;
        let refuse = |code, msg: &str, e: &crate::model::Execution| {
            let mut err = JobsError::new(code, msg);
            err.execution_state = Some(execution_state(e));
            err
        };
        if e.status.terminal() {
            return Err(refuse(
                JobsErrorCode::InvalidStateTransition,
                "The job execution is already in a terminal state",
                e,
            ));
        }
        if !status.device_settable() {
            return Err(JobsError::invalid(format!(
                "A device cannot set the status {}",
                status.name()
            )));
        }
        if req.expected_version.is_some_and(|v| v != e.version) {
            return Err(refuse(
                JobsErrorCode::VersionMismatch,
                "The expected version does not match",
                e,
            ));
        }
        if e.status == ExecStatus::Queued && status == ExecStatus::InProgress {
            e.started_ms = Some(now_ms);
            e.job_deadline_ms = job_deadline;
        }
        e.status = status;
        e.updated_ms = now_ms;
        e.version += 1;
        if let Some(d) = &req.status_details {
            e.status_details = d.clone();
        }
        match step_deadline(req.step_timeout_min, now_ms) {
            Some(d) if !status.terminal() => e.step_deadline_ms = d,
            _ if status.terminal() => (e.step_deadline_ms, e.job_deadline_ms) = (None, None),
            _ => {}
        }
        let mut answer = json!({});
        if req.include_state {
            answer["executionState"] = execution_state(e);
        }
        if req.include_document.unwrap_or(false) {
            let doc = self
                .job(region, job_id)
                .map(|j| document_value(&j.document_at(now_ms)));
            answer["jobDocument"] = doc.unwrap_or(Value::Null);
        }
        if status.terminal() {
            self.say_execution(&key, None);
        }
        if status == ExecStatus::Failed {
            self.retry_if_allowed(&key, now_ms);
        }
        let mut notices = self.notices(region, thing, &before, now_ms);
        self.complete_if_done(region, job_id, now_ms);
        if status.terminal() {
            let aborted = self.abort_if_due(region, job_id, now_ms);
            notices.extend(aborted.into_iter().flat_map(|(_, n)| n));
        }
        Ok((answer, notices))
    }
}

/// Adds `timestamp` and `clientToken` to an accepted answer.
pub fn stamped(mut answer: Value, token: Option<&str>, now_ms: i64) -> Value {
    answer["timestamp"] = json!(secs(now_ms));
    if let Some(t) = token {
        answer["clientToken"] = json!(t);
    }
    answer
}
