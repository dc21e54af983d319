//! The Jobs control plane (restJson1, as the aws CLI and boto3 call it): CreateJob,
//! DescribeJob, ListJobs, CancelJob, DeleteJob, GetJobDocument, DescribeJobExecution,
//! ListJobExecutionsForJob, ListJobExecutionsForThing, CancelJobExecution. Changes publish the
//! devices' `notify` / `notify-next` like the MQTT side does.

use super::common::{jobs as service, jobs_error as to_iot};
use super::names_page;
use super::read;
use crate::request::{ApiRequest, body_str};
use crate::state::ApiState;
use crate::views::ts;
use crate::wire::Reply;
use iotmock_jobs::{Execution, Job, NewJob};
use iotmock_model::{IotError, IotResult};
use serde_json::{Map, Value, json};

fn now(state: &ApiState) -> IotResult<i64> {
    Ok(read(state)?.now_millis())
}

fn arn(state: &ApiState, req: &ApiRequest, kind: &str, name: &str) -> IotResult<String> {
    let account = read(state)?.account().to_string();
    Ok(format!(
        "arn:aws:iot:{}:{account}:{kind}/{name}",
        req.region
    ))
}

/// The things `targets` name now: registered things, and the members of thing groups, of
/// this region.
fn things(state: &ApiState, req: &ApiRequest, targets: &[String]) -> IotResult<Vec<String>> {
    let registry = read(state)?;
    let mut out = Vec::new();
    for t in targets {
        if let Some((_, name)) = t.split_once(":thing/") {
            registry.describe_thing(&req.region, name)?;
            out.push(name.to_string());
        } else if let Some((_, group)) = t.split_once(":thinggroup/") {
            out.extend(registry.things_in_group(&req.region, group)?);
        } else {
            return Err(IotError::invalid(format!("Invalid target: {t}")));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn new_job(state: &ApiState, req: &ApiRequest, body: &Map<String, Value>) -> IotResult<NewJob> {
    let targets = crate::request::str_list(body.get("targets"));
    if targets.is_empty() {
        return Err(IotError::invalid("targets must name at least one thing"));
    }
    if body.contains_key("documentSource") {
        return Err(IotError::invalid(
            "documentSource cannot be fetched offline; give the job document inline as document",
        ));
    }
    let document =
        body_str(body, "document")?.ok_or_else(|| IotError::invalid("document is required"))?;
    if document.len() > 32_768 {
        return Err(IotError::invalid(
            "document is longer than 32768 characters",
        ));
    }
    let continuous = match body_str(body, "targetSelection")? {
        None | Some("SNAPSHOT") => false,
        Some("CONTINUOUS") => true,
        Some(other) => {
            return Err(IotError::invalid(format!(
                "Invalid targetSelection: {other}"
            )));
        }
    };
    let timeout = in_progress_timeout(body)?;
    Ok(NewJob {
        document: document.to_string(),
        description: body_str(body, "description")?.map(str::to_string),
        things: things(state, req, &targets)?,
        targets,
        continuous,
        in_progress_timeout_min: timeout,
        retry: super::jobs_config::retry(body)?,
        abort: super::jobs_config::abort(body)?,
        rollout: super::jobs_config::rollout(body)?,
        presign_expires: super::jobs_config::presign(body)?,
        schedule: super::jobs_config::schedule(body, now(state)?)?,
    })
}

/// `timeoutConfig.inProgressTimeoutInMinutes`: 1 to 10080 when given.
fn in_progress_timeout(body: &Map<String, Value>) -> IotResult<Option<i64>> {
    let given = body
        .get("timeoutConfig")
        .and_then(|t| t.get("inProgressTimeoutInMinutes"));
    match given {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(m) if (1..=10_080).contains(&m) => Ok(Some(m)),
            _ => Err(IotError::invalid(format!(
                "inProgressTimeoutInMinutes must be between 1 and 10080, not {v}"
            ))),
        },
    }
}

pub fn create_job(state: &ApiState, req: &ApiRequest, id: &str) -> IotResult<Reply> {
    let body = req.json()?;
    let tags = super::common::tags_from_body(&body)?;
    let new = new_job(state, req, &body)?;
    let job = service(state)?
        .create_job(&req.region, id, new, now(state)?)
        .map_err(to_iot)?;
    let job_arn = arn(state, req, "job", id)?;
    super::common::tag_created(&mut *super::write(state)?, &req.region, &job_arn, &tags)?;
    let mut out = json!({ "jobArn": job_arn, "jobId": id });
    if let Some(d) = &job.description {
        out["description"] = json!(d);
    }
    Ok(Reply::Json(out))
}

fn counts(execs: &[Execution]) -> Value {
    let n = |s: &str| execs.iter().filter(|e| e.status.name() == s).count();
    json!({
        "numberOfCanceledThings": n("CANCELED"), "numberOfSucceededThings": n("SUCCEEDED"),
        "numberOfFailedThings": n("FAILED"), "numberOfRejectedThings": n("REJECTED"),
        "numberOfQueuedThings": n("QUEUED"), "numberOfInProgressThings": n("IN_PROGRESS"),
        "numberOfRemovedThings": n("REMOVED"), "numberOfTimedOutThings": n("TIMED_OUT"),
    })
}

fn job_view(state: &ApiState, req: &ApiRequest, j: &Job, execs: &[Execution]) -> IotResult<Value> {
    let mut v = json!({
        "jobArn": arn(state, req, "job", &j.id)?, "jobId": j.id,
        "targetSelection": if j.continuous { "CONTINUOUS" } else { "SNAPSHOT" },
        "status": j.status.name(), "forceCanceled": j.force_canceled, "targets": j.targets,
        "createdAt": ts(j.created_ms), "lastUpdatedAt": ts(j.updated_ms),
        "jobProcessDetails": counts(execs), "isConcurrent": false,
    });
    for (k, val) in [
        ("description", &j.description),
        ("reasonCode", &j.reason_code),
        ("comment", &j.comment),
    ] {
        if let Some(x) = val {
            v[k] = json!(x);
        }
    }
    if let Some(c) = j.completed_ms {
        v["completedAt"] = ts(c);
    }
    if let Some(m) = j.in_progress_timeout_min {
        v["timeoutConfig"] = json!({ "inProgressTimeoutInMinutes": m });
    }
    super::jobs_config::show(j, &mut v);
    Ok(v)
}

fn job_and_execs(state: &ApiState, req: &ApiRequest, id: &str) -> IotResult<(Job, Vec<Execution>)> {
    service(state)?.with(|jobs| {
        let job = jobs
            .job(&req.region, id)
            .cloned()
            .ok_or_else(|| IotError::not_found(format!("Job {id} does not exist")))?;
        Ok((job, jobs.executions_of_job(&req.region, id)))
    })
}

pub fn describe_job(state: &ApiState, req: &ApiRequest, id: &str) -> IotResult<Reply> {
    let (job, execs) = job_and_execs(state, req, id)?;
    Ok(Reply::Json(
        json!({ "job": job_view(state, req, &job, &execs)? }),
    ))
}

pub fn job_document(state: &ApiState, req: &ApiRequest, id: &str) -> IotResult<Reply> {
    let (job, _) = job_and_execs(state, req, id)?;
    Ok(Reply::Json(
        json!({ "document": job.document_at(now(state)?) }),
    ))
}

pub fn list_jobs(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let status = req.qs("status");
    let jobs = service(state)?.with(|j| j.jobs_in(&req.region));
    let account = read(state)?.account().to_string();
    let items = jobs
        .into_iter()
        .filter(|j| status.is_none_or(|s| s == j.status.name()))
        .map(|j| {
            let v = json!({
                "jobArn": format!("arn:aws:iot:{}:{account}:job/{}", req.region, j.id), "jobId": j.id,
                "targetSelection": if j.continuous { "CONTINUOUS" } else { "SNAPSHOT" },
                "status": j.status.name(), "createdAt": ts(j.created_ms), "lastUpdatedAt": ts(j.updated_ms),
            });
            (j.id.clone(), v)
        })
        .collect();
    names_page(req, items, "jobs", "maxResults")
}

pub fn cancel_job(state: &ApiState, req: &ApiRequest, id: &str) -> IotResult<Reply> {
    let body = req.json()?;
    let force = req.qs_bool("force")?;
    let reason = (
        body_str(&body, "reasonCode")?.map(str::to_string),
        body_str(&body, "comment")?.map(str::to_string),
    );
    let t = now(state)?;
    let svc = service(state)?;
    svc.change(|j| j.cancel_job(&req.region, id, force, reason, t))
        .map_err(to_iot)?;
    Ok(Reply::Json(
        json!({ "jobArn": arn(state, req, "job", id)?, "jobId": id }),
    ))
}

pub fn update_job(state: &ApiState, req: &ApiRequest, id: &str) -> IotResult<Reply> {
    let body = req.json()?;
    let description = body_str(&body, "description")?.map(str::to_string);
    let timeout = in_progress_timeout(&body)?;
    let t = now(state)?;
    service(state)?
        .try_with(|j| j.update_job(&req.region, id, description, timeout, t))
        .map_err(to_iot)?;
    Ok(Reply::Empty)
}

pub fn delete_execution(
    state: &ApiState,
    req: &ApiRequest,
    thing: &str,
    id: &str,
    number: &str,
) -> IotResult<Reply> {
    let number: u64 = number
        .parse()
        .map_err(|_| IotError::invalid(format!("Invalid executionNumber: {number}")))?;
    let force = req.qs_bool("force")?;
    let t = now(state)?;
    service(state)?
        .change(|j| j.delete_execution(&req.region, thing, id, number, force, t))
        .map_err(to_iot)?;
    Ok(Reply::Empty)
}

pub fn delete_job(state: &ApiState, req: &ApiRequest, id: &str) -> IotResult<Reply> {
    let force = req.qs_bool("force")?;
    let t = now(state)?;
    service(state)?
        .change(|j| j.delete_job(&req.region, id, force, t))
        .map_err(to_iot)?;
    Ok(Reply::Empty)
}

fn execution_view(state: &ApiState, req: &ApiRequest, e: &Execution) -> IotResult<Value> {
    let mut v = json!({
        "jobId": e.job_id, "status": e.status.name(), "forceCanceled": e.force_canceled,
        "statusDetails": { "detailsMap": e.status_details },
        "thingArn": arn(state, req, "thing", &e.thing)?,
        "queuedAt": ts(e.queued_ms), "lastUpdatedAt": ts(e.updated_ms),
        "executionNumber": e.number, "versionNumber": e.version,
    });
    if let Some(s) = e.started_ms {
        v["startedAt"] = ts(s);
    }
    Ok(v)
}

fn summary_view(e: &Execution) -> Value {
    let mut s = json!({
        "status": e.status.name(), "queuedAt": ts(e.queued_ms), "lastUpdatedAt": ts(e.updated_ms),
        "executionNumber": e.number, "retryAttempt": e.number.saturating_sub(1),
    });
    if let Some(t) = e.started_ms {
        s["startedAt"] = ts(t);
    }
    s
}

pub fn describe_execution(
    state: &ApiState,
    req: &ApiRequest,
    thing: &str,
    id: &str,
) -> IotResult<Reply> {
    let number = match req.qs("executionNumber") {
        Some(n) => Some(
            n.parse::<u64>()
                .map_err(|_| IotError::invalid(format!("Invalid executionNumber: {n}")))?,
        ),
        None => None,
    };
    let e = service(state)?.with(|j| j.execution(&req.region, thing, id));
    let e = e.and_then(|e| iotmock_jobs::attempt(&e, number).cloned());
    let e =
        e.ok_or_else(|| IotError::not_found(format!("No execution of job {id} on thing {thing}")))?;
    Ok(Reply::Json(
        json!({ "execution": execution_view(state, req, &e)? }),
    ))
}

pub fn executions_for_thing(state: &ApiState, req: &ApiRequest, thing: &str) -> IotResult<Reply> {
    let status = req.qs("status");
    let execs = service(state)?.with(|j| j.executions_of_thing(&req.region, thing));
    let items = execs
        .into_iter()
        .filter(|e| status.is_none_or(|s| s == e.status.name()))
        .map(|e| {
            (
                e.job_id.clone(),
                json!({ "jobId": e.job_id, "jobExecutionSummary": summary_view(&e) }),
            )
        })
        .collect();
    names_page(req, items, "executionSummaries", "maxResults")
}

pub fn executions_for_job(state: &ApiState, req: &ApiRequest, id: &str) -> IotResult<Reply> {
    let (_, execs) = job_and_execs(state, req, id)?;
    let status = req.qs("status");
    let mut items = Vec::new();
    for e in execs
        .iter()
        .filter(|e| status.is_none_or(|s| s == e.status.name()))
    {
        let v = json!({ "thingArn": arn(state, req, "thing", &e.thing)?, "jobExecutionSummary": summary_view(e) });
        items.push((e.thing.clone(), v));
    }
    names_page(req, items, "executionSummaries", "maxResults")
}

pub fn cancel_execution(
    state: &ApiState,
    req: &ApiRequest,
    thing: &str,
    id: &str,
) -> IotResult<Reply> {
    let force = req.qs_bool("force")?;
    let t = now(state)?;
    service(state)?
        .change(|j| j.cancel_execution(&req.region, thing, id, force, t))
        .map_err(to_iot)?;
    Ok(Reply::Empty)
}
