//! `iot-jobs-data` on the API port (GetPendingJobExecutions, StartNextPendingJobExecution,
//! DescribeJobExecution, UpdateJobExecution): the device side over HTTP. Two of its paths are
//! the control plane's too; a request signed for `iot-jobs-data` goes here. Over HTTP the job
//! document is a string (over MQTT an object); notify / notify-next still go to MQTT
//! subscribers.

use super::common::{jobs as service, jobs_error as to_iot};
use super::read;
use crate::request::ApiRequest;
use crate::state::ApiState;
use crate::wire::Reply;
use iotmock_jobs::{DeviceRequest, read_request};
use iotmock_model::{IotError, IotResult};
use serde_json::{Value, json};

/// Whether the request was signed for the Jobs data plane.
pub fn is_jobs_data(req: &ApiRequest) -> bool {
    req.service.as_deref() == Some("iot-jobs-data")
}

fn now(state: &ApiState) -> IotResult<i64> {
    Ok(read(state)?.now_millis())
}

fn body(req: &ApiRequest) -> IotResult<DeviceRequest> {
    read_request(&req.body).map_err(to_iot)
}

/// An execution as HTTP carries it: `thingName`, and the document as a string.
fn http_execution(
    state: &ApiState,
    req: &ApiRequest,
    thing: &str,
    mut v: Value,
) -> IotResult<Value> {
    if let Some(job) = v.get("jobId").and_then(Value::as_str).map(str::to_string) {
        v["thingName"] = json!(thing);
        if v.get("jobDocument").is_some() {
            let at = now(state)?;
            let doc = service(state)?.with(|j| {
                j.job(&req.region, &job)
                    .map(|j| j.document_at(at).into_owned())
            });
            v["jobDocument"] = json!(doc);
        }
    }
    Ok(v)
}

pub fn pending(state: &ApiState, req: &ApiRequest, thing: &str) -> IotResult<Reply> {
    Ok(Reply::Json(
        service(state)?.with(|j| j.device_pending(&req.region, thing)),
    ))
}

pub fn start_next(state: &ApiState, req: &ApiRequest, thing: &str) -> IotResult<Reply> {
    let (body, t) = (body(req)?, now(state)?);
    let answer = service(state)?.change(|j| j.start_next(&req.region, thing, &body, t));
    let mut out = json!({});
    if let Some(e) = answer.get("execution").filter(|e| !e.is_null()) {
        out["execution"] = http_execution(state, req, thing, e.clone())?;
    }
    Ok(Reply::Json(out))
}

pub fn describe(state: &ApiState, req: &ApiRequest, thing: &str, job: &str) -> IotResult<Reply> {
    let include = match req.qs("includeJobDocument") {
        None => None,
        Some(_) => Some(req.qs_bool("includeJobDocument")?),
    };
    let body = DeviceRequest {
        include_document: include,
        execution_number: req
            .qs_int("executionNumber")?
            .map(|n| u64::try_from(n).unwrap_or(u64::MAX)),
        ..DeviceRequest::default()
    };
    let t = now(state)?;
    let answer = service(state)?
        .with(|j| j.describe(&req.region, thing, job, &body, t))
        .map_err(to_iot)?;
    let e = answer.get("execution").cloned().ok_or_else(|| {
        IotError::not_found(format!("No pending job execution for thing {thing}"))
    })?;
    Ok(Reply::Json(
        json!({ "execution": http_execution(state, req, thing, e)? }),
    ))
}

pub fn update(state: &ApiState, req: &ApiRequest, thing: &str, job: &str) -> IotResult<Reply> {
    let (body, t) = (body(req)?, now(state)?);
    let svc = service(state)?;
    let mut answer = svc
        .change(|j| j.update(&req.region, thing, job, &body, t))
        .map_err(to_iot)?;
    if answer.get("jobDocument").is_some() {
        let doc = svc.with(|j| {
            j.job(&req.region, job)
                .map(|j| j.document_at(t).into_owned())
        });
        answer["jobDocument"] = json!(doc);
    }
    Ok(Reply::Json(answer))
}
