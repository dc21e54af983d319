//! Retry and abort criteria, one test each.
#![allow(clippy::unwrap_used)]

use crate::{AbortCriterion, ExecStatus, JobStatus, Jobs, NewJob, RetryCriterion, read_request};
use serde_json::json;

const R: &str = "us-east-1";
const T0: i64 = 1_700_000_000_000;

fn req(v: serde_json::Value) -> crate::DeviceRequest {
    read_request(v.to_string().as_bytes()).unwrap()
}

fn retry(kind: &str, n: u32) -> RetryCriterion {
    RetryCriterion {
        failure_type: kind.into(),
        number_of_retries: n,
    }
}

fn job(things: &[&str], retry: Vec<RetryCriterion>, abort: Vec<AbortCriterion>) -> NewJob {
    NewJob {
        document: "{}".into(),
        things: things.iter().map(|t| t.to_string()).collect(),
        retry,
        abort,
        in_progress_timeout_min: Some(5),
        ..NewJob::default()
    }
}

fn fail(j: &mut Jobs, thing: &str, at: i64) -> Vec<crate::Notice> {
    j.start_next(R, thing, &req(json!({})), at);
    j.update(R, thing, "j", &req(json!({"status":"FAILED"})), at)
        .unwrap()
        .1
}

#[test]
fn a_failed_execution_runs_again_as_the_next_number_until_its_retries_are_spent() {
    let mut j = Jobs::default();
    j.create_job(R, "j", job(&["t"], vec![retry("FAILED", 2)], vec![]), T0)
        .unwrap();
    for attempt in 1..=2u64 {
        let n = fail(&mut j, "t", T0 + attempt as i64);
        let next = n.iter().find(|n| n.topic.ends_with("notify-next")).unwrap();
        assert_eq!(next.payload["execution"]["executionNumber"], attempt + 1);
        assert_eq!(next.payload["execution"]["status"], "QUEUED");
        assert_eq!(next.payload["execution"]["versionNumber"], 1);
    }
    fail(&mut j, "t", T0 + 10);
    let e = j.execution(R, "t", "j").unwrap();
    assert_eq!((e.status, e.number), (ExecStatus::Failed, 3));
    assert_eq!(e.earlier.len(), 2, "the earlier attempts are kept");
    let first = j
        .describe(R, "t", "j", &req(json!({"executionNumber": 1})), T0)
        .unwrap();
    assert_eq!(first["execution"]["status"], "FAILED");
    assert_eq!(j.job(R, "j").unwrap().status, JobStatus::Completed);
}

#[test]
fn timed_out_executions_retry_under_their_own_criterion_or_all() {
    let mut j = Jobs::default();
    j.create_job(R, "j", job(&["t"], vec![retry("ALL", 1)], vec![]), T0)
        .unwrap();
    j.start_next(R, "t", &req(json!({})), T0);
    let due = j.tick(T0 + 5 * 60_000);
    assert_eq!(due.len(), 1);
    let e = j.execution(R, "t", "j").unwrap();
    assert_eq!((e.status, e.number), (ExecStatus::Queued, 2));
    fail(&mut j, "t", T0 + 5 * 60_000 + 1);
    let e = j.execution(R, "t", "j").unwrap();
    assert_eq!(
        (e.status, e.number),
        (ExecStatus::Failed, 2),
        "ALL allows one retry in all"
    );
    let mut j = Jobs::default();
    j.create_job(R, "j", job(&["t"], vec![retry("FAILED", 3)], vec![]), T0)
        .unwrap();
    j.start_next(R, "t", &req(json!({})), T0);
    j.tick(T0 + 5 * 60_000);
    let e = j.execution(R, "t", "j").unwrap();
    assert_eq!(
        (e.status, e.number),
        (ExecStatus::TimedOut, 1),
        "a FAILED criterion does not retry a timeout"
    );
}

#[test]
fn a_rejected_execution_is_never_retried() {
    let mut j = Jobs::default();
    j.create_job(R, "j", job(&["t"], vec![retry("ALL", 3)], vec![]), T0)
        .unwrap();
    j.update(R, "t", "j", &req(json!({"status":"REJECTED"})), T0)
        .unwrap();
    assert_eq!(j.execution(R, "t", "j").unwrap().number, 1);
}

#[test]
fn an_abort_threshold_cancels_the_job_and_its_queued_executions() {
    let mut j = Jobs::default();
    let abort = AbortCriterion {
        failure_type: "FAILED".into(),
        action: "CANCEL".into(),
        threshold_percentage: 50.0,
        min_number_of_executed_things: 2,
    };
    let things = ["a", "b", "c", "d"];
    j.create_job(R, "j", job(&things, vec![], vec![abort]), T0)
        .unwrap();
    j.start_next(R, "d", &req(json!({})), T0);
    fail(&mut j, "a", T0 + 1);
    assert_eq!(
        j.job(R, "j").unwrap().status,
        JobStatus::InProgress,
        "one executed thing is below the minimum"
    );
    j.update(R, "b", "j", &req(json!({"status":"SUCCEEDED"})), T0 + 2)
        .unwrap();
    assert_eq!(j.job(R, "j").unwrap().status, JobStatus::Canceled);
    let status = |t: &str| j.execution(R, t, "j").unwrap().status;
    assert_eq!(status("c"), ExecStatus::Canceled);
    assert_eq!(status("d"), ExecStatus::InProgress, "in progress runs on");
}
