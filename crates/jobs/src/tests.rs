//! Jobs rules, one test each.
#![allow(clippy::unwrap_used)]

use crate::{ExecStatus, JobStatus, Jobs, JobsErrorCode, NewJob, read_request};
use serde_json::json;

const R: &str = "us-east-1";
const T0: i64 = 1_700_000_000_000;

fn new_job(things: &[&str]) -> NewJob {
    NewJob {
        document: r#"{"op":"reboot"}"#.into(),
        things: things.iter().map(|t| t.to_string()).collect(),
        ..NewJob::default()
    }
}

fn topics(n: &[crate::Notice]) -> Vec<String> {
    n.iter()
        .map(|n| n.topic.rsplit('/').next().unwrap().to_string())
        .collect()
}

fn req(v: serde_json::Value) -> crate::DeviceRequest {
    read_request(v.to_string().as_bytes()).unwrap()
}

#[test]
fn creating_jobs_notifies_the_set_and_the_head() {
    let mut j = Jobs::default();
    let (_, n) = j.create_job(R, "j1", new_job(&["t"]), T0).unwrap();
    assert_eq!(topics(&n), ["notify", "notify-next"]);
    assert_eq!(n[0].payload["jobs"]["QUEUED"][0]["jobId"], "j1");
    assert_eq!(
        n[1].payload["execution"]["jobDocument"],
        json!({"op":"reboot"})
    );
    assert_eq!(n[1].payload["execution"]["versionNumber"], 1);
    let (_, n) = j.create_job(R, "j2", new_job(&["t"]), T0 + 1).unwrap();
    assert_eq!(
        topics(&n),
        ["notify"],
        "a second job does not change the head"
    );
    let dup = j.create_job(R, "j2", new_job(&["t"]), T0).unwrap_err();
    assert_eq!(dup.code, JobsErrorCode::ResourceAlreadyExists);
}

#[test]
fn start_next_starts_the_head_quietly_and_returns_it_again() {
    let mut j = Jobs::default();
    j.create_job(R, "j1", new_job(&["t"]), T0).unwrap();
    let (a, n) = j.start_next(R, "t", &req(json!({"statusDetails":{"step":"1"}})), T0 + 5);
    assert!(n.is_empty(), "QUEUED -> IN_PROGRESS publishes nothing");
    assert_eq!(a["execution"]["status"], "IN_PROGRESS");
    assert_eq!(a["execution"]["versionNumber"], 2);
    assert_eq!(a["execution"]["statusDetails"], json!({"step":"1"}));
    let (again, _) = j.start_next(R, "t", &req(json!({})), T0 + 6);
    assert_eq!(
        again["execution"]["versionNumber"], 2,
        "an IN_PROGRESS head comes back unchanged"
    );
    let empty = Jobs::default().start_next(R, "t", &req(json!({})), T0).0;
    assert!(empty.get("execution").is_none());
}

#[test]
fn finishing_notifies_and_completes_a_snapshot_job() {
    let mut j = Jobs::default();
    j.create_job(R, "j1", new_job(&["t"]), T0).unwrap();
    j.create_job(R, "j2", new_job(&["t"]), T0 + 1).unwrap();
    j.start_next(R, "t", &req(json!({})), T0 + 2);
    let (a, n) = j
        .update(
            R,
            "t",
            "j1",
            &req(json!({"status":"SUCCEEDED","includeJobExecutionState":true})),
            T0 + 3,
        )
        .unwrap();
    assert_eq!(a["executionState"]["status"], "SUCCEEDED");
    assert_eq!(topics(&n), ["notify", "notify-next"]);
    assert_eq!(n[1].payload["execution"]["jobId"], "j2");
    assert_eq!(j.job(R, "j1").unwrap().status, JobStatus::Completed);
    let (_, n) = j
        .update(R, "t", "j2", &req(json!({"status":"FAILED"})), T0 + 4)
        .unwrap();
    assert_eq!(n[0].payload["jobs"], json!({}), "an empty pending set");
    assert!(
        n[1].payload.get("execution").is_none(),
        "an empty queue has no next"
    );
}

#[test]
fn terminal_states_stay_terminal_and_versions_are_checked() {
    let mut j = Jobs::default();
    j.create_job(R, "j1", new_job(&["t"]), T0).unwrap();
    let mismatch = j
        .update(
            R,
            "t",
            "j1",
            &req(json!({"status":"IN_PROGRESS","expectedVersion":"5"})),
            T0,
        )
        .unwrap_err();
    assert_eq!(mismatch.code, JobsErrorCode::VersionMismatch);
    assert_eq!(mismatch.execution_state.unwrap()["versionNumber"], 1);
    j.update(
        R,
        "t",
        "j1",
        &req(json!({"status":"IN_PROGRESS","expectedVersion":"1"})),
        T0,
    )
    .unwrap();
    j.update(
        R,
        "t",
        "j1",
        &req(json!({"status":"IN_PROGRESS","expectedVersion":2})),
        T0,
    )
    .unwrap();
    j.update(R, "t", "j1", &req(json!({"status":"REJECTED"})), T0)
        .unwrap();
    let again = j
        .update(R, "t", "j1", &req(json!({"status":"SUCCEEDED"})), T0)
        .unwrap_err();
    assert_eq!(again.code, JobsErrorCode::InvalidStateTransition);
    assert_eq!(again.execution_state.unwrap()["status"], "REJECTED");
    j.create_job(R, "j2", new_job(&["t"]), T0).unwrap();
    let service_only = j
        .update(R, "t", "j2", &req(json!({"status":"CANCELED"})), T0)
        .unwrap_err();
    assert_eq!(service_only.code, JobsErrorCode::InvalidRequest);
    assert!(read_request(b"{nope").is_err());
}

#[test]
fn step_and_job_timeouts_end_in_timed_out() {
    let mut j = Jobs::default();
    let job = NewJob {
        in_progress_timeout_min: Some(10),
        ..new_job(&["a", "b"])
    };
    j.create_job(R, "j1", job, T0).unwrap();
    j.start_next(R, "a", &req(json!({"stepTimeoutInMinutes": 1})), T0);
    j.start_next(R, "b", &req(json!({})), T0);
    assert!(j.tick(T0 + 59_999).is_empty());
    let due = j.tick(T0 + 60_000);
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].0, "a");
    let (d, _) = (
        j.describe(R, "b", "j1", &req(json!({})), T0 + 60_000)
            .unwrap(),
        (),
    );
    assert_eq!(d["execution"]["approximateSecondsBeforeTimedOut"], 540);
    assert_eq!(
        j.tick(T0 + 600_000).len(),
        1,
        "the job's in-progress timeout"
    );
    let a = j.describe(R, "a", "j1", &req(json!({})), T0).unwrap();
    assert_eq!(a["execution"]["status"], ExecStatus::TimedOut.name());
}

#[test]
fn cancel_takes_queued_executions_and_in_progress_ones_with_force() {
    let mut j = Jobs::default();
    j.create_job(R, "j1", new_job(&["a", "b"]), T0).unwrap();
    j.start_next(R, "a", &req(json!({})), T0);
    let (job, _) = j.cancel_job(R, "j1", false, (None, None), T0).unwrap();
    assert_eq!(job.status, JobStatus::Canceled);
    let a = j.describe(R, "a", "j1", &req(json!({})), T0).unwrap();
    let b = j.describe(R, "b", "j1", &req(json!({})), T0).unwrap();
    assert_eq!(
        (
            a["execution"]["status"].clone(),
            b["execution"]["status"].clone()
        ),
        (json!("IN_PROGRESS"), json!("CANCELED"))
    );
    j.cancel_job(R, "j1", true, (None, None), T0).unwrap();
    let a = j.describe(R, "a", "j1", &req(json!({})), T0).unwrap();
    assert_eq!(a["execution"]["status"], "CANCELED");
    let late = j
        .update(R, "a", "j1", &req(json!({"status":"SUCCEEDED"})), T0)
        .unwrap_err();
    assert_eq!(late.code, JobsErrorCode::InvalidStateTransition);
}

#[test]
fn next_peeks_without_changing_anything() {
    let mut j = Jobs::default();
    assert_eq!(
        j.describe(R, "t", "$next", &req(json!({})), T0).unwrap(),
        json!({})
    );
    j.create_job(R, "j1", new_job(&["t"]), T0).unwrap();
    let peek = j
        .describe(
            R,
            "t",
            "$next",
            &req(json!({"includeJobDocument": false})),
            T0,
        )
        .unwrap();
    assert_eq!(peek["execution"]["status"], "QUEUED");
    assert!(peek["execution"].get("jobDocument").is_none());
    assert_eq!(j.device_pending(R, "t")["queuedJobs"][0]["jobId"], "j1");
}

/// A store that takes what it is given until it is told to refuse.
struct Flaky(
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    Vec<iotmock_store::Row>,
);

impl iotmock_store::Store for Flaky {
    fn load(&mut self) -> Result<Vec<iotmock_store::Row>, iotmock_store::StoreError> {
        Ok(self.1.clone())
    }
    fn commit(
        &mut self,
        changes: &[iotmock_store::Change],
    ) -> Result<(), iotmock_store::StoreError> {
        if self.0.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(iotmock_store::StoreError::other("database or disk is full"));
        }
        for c in changes {
            match c {
                iotmock_store::Change::Put { kind, key, value } => {
                    self.1.retain(|r| !(r.kind == *kind && r.key == *key));
                    let row = iotmock_store::Row {
                        kind: kind.to_string(),
                        key: key.clone(),
                        value: value.clone(),
                    };
                    self.1.push(row);
                }
                iotmock_store::Change::Delete { kind, key } => {
                    self.1.retain(|r| !(r.kind == *kind && r.key == *key));
                }
            }
        }
        Ok(())
    }
    fn quarantine(
        &mut self,
        _: &iotmock_store::Row,
        _: &str,
    ) -> Result<(), iotmock_store::StoreError> {
        Ok(())
    }
}

#[test]
fn a_change_the_store_refuses_is_undone_and_answered_as_an_error() {
    let refuse = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let svc = crate::JobsService::open(Box::new(Flaky(refuse.clone(), Vec::new())), R).unwrap();
    svc.create_job(R, "kept", new_job(&["t"]), T0).unwrap();
    refuse.store(true, std::sync::atomic::Ordering::SeqCst);
    let refused = svc
        .create_job(R, "lost", new_job(&["t"]), T0 + 1)
        .unwrap_err();
    assert_eq!(refused.code, JobsErrorCode::InternalError);
    assert!(
        refused.message.contains("disk is full"),
        "{}",
        refused.message
    );
    assert!(
        svc.with(|j| j.job(R, "lost").is_none()),
        "the refused job is not served"
    );
    assert!(
        svc.with(|j| j.job(R, "kept").is_some()),
        "what was stored stays"
    );
    let cancel = svc.change(|j| j.cancel_job(R, "kept", false, (None, None), T0 + 2));
    assert_eq!(cancel.unwrap_err().code, JobsErrorCode::InternalError);
    assert_eq!(
        svc.with(|j| j.job(R, "kept").map(|job| job.status)),
        Some(JobStatus::InProgress),
        "a refused cancel leaves the job as it was"
    );
}

#[test]
fn device_requests_are_checked_as_aws_checks_them() {
    use crate::read_request;
    let bad = [
        r#"{"status":"IN_PROGRESS","stepTimeoutInMinutes":0}"#,
        r#"{"status":"IN_PROGRESS","stepTimeoutInMinutes":10081}"#,
        r#"{"status":"SUCCEEDED","statusDetails":{"n":5}}"#,
        r#"{"status":"SUCCEEDED","statusDetails":{"bad key":"x"}}"#,
        r#"{"status":"SUCCEEDED","statusDetails":{"k":""}}"#,
        r#"{"executionNumber":"two"}"#,
    ];
    for payload in bad {
        assert!(read_request(payload.as_bytes()).is_err(), "{payload}");
    }
    let ok = read_request(
        br#"{"stepTimeoutInMinutes":-1,"statusDetails":{"step:1":"ok"},"executionNumber":1}"#,
    )
    .unwrap();
    assert_eq!(
        (ok.step_timeout_min, ok.execution_number),
        (Some(-1), Some(1))
    );
}
