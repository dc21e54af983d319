//! Scheduling and rollout rates on the injected clock, one test each.
#![allow(clippy::unwrap_used)]

use crate::rollout::{ExponentialRate, RateIncrease, Rollout, Schedule};
use crate::{ExecStatus, JobStatus, Jobs, NewJob, read_request};

const R: &str = "us-east-1";
const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

fn job(n: usize) -> NewJob {
    NewJob {
        document: "{}".into(),
        things: (0..n).map(|i| format!("t{i}")).collect(),
        ..NewJob::default()
    }
}

fn queued(j: &Jobs) -> usize {
    j.executions_of_job(R, "j").len()
}

#[test]
fn a_scheduled_job_waits_for_its_start_and_stops_at_its_end() {
    let mut j = Jobs::default();
    let schedule = Schedule {
        start_ms: Some(T0 + 30 * MIN),
        end_ms: Some(T0 + 60 * MIN),
        end_behavior: Some("CANCEL".into()),
        ..Schedule::default()
    };
    let new = NewJob {
        schedule: Some(schedule),
        ..job(2)
    };
    let (created, n) = j.create_job(R, "j", new, T0).unwrap();
    assert_eq!(created.status, JobStatus::Scheduled);
    assert!(
        n.is_empty() && queued(&j) == 0,
        "nothing is queued before the start"
    );
    assert!(j.tick(T0 + 30 * MIN - 1).is_empty());
    let started = j.tick(T0 + 30 * MIN);
    assert_eq!(started.len(), 4, "notify and notify-next for each thing");
    assert_eq!(j.job(R, "j").unwrap().status, JobStatus::InProgress);
    j.start_next(R, "t0", &read_request(b"{}").unwrap(), T0 + 31 * MIN);
    j.tick(T0 + 60 * MIN);
    assert_eq!(j.job(R, "j").unwrap().status, JobStatus::Canceled);
    let status = |t: &str| j.execution(R, t, "j").unwrap().status;
    assert_eq!(
        status("t0"),
        ExecStatus::InProgress,
        "CANCEL leaves it running"
    );
    assert_eq!(status("t1"), ExecStatus::Canceled);
}

#[test]
fn maximum_per_minute_paces_the_rollout() {
    let mut j = Jobs::default();
    let rollout = Rollout {
        maximum_per_minute: Some(2),
        exponential_rate: None,
    };
    let new = NewJob {
        rollout: Some(rollout),
        ..job(5)
    };
    j.create_job(R, "j", new, T0).unwrap();
    assert_eq!(queued(&j), 2);
    j.tick(T0 + MIN - 1);
    assert_eq!(queued(&j), 2, "the minute is not over");
    j.tick(T0 + MIN);
    assert_eq!(queued(&j), 4);
    j.tick(T0 + 2 * MIN);
    assert_eq!(queued(&j), 5);
    assert_eq!(j.job(R, "j").unwrap().waiting.len(), 0);
}

#[test]
fn an_exponential_rate_grows_as_things_are_notified() {
    let mut j = Jobs::default();
    let rollout = Rollout {
        maximum_per_minute: None,
        exponential_rate: Some(ExponentialRate {
            base_rate_per_minute: 2,
            increment_factor: 2.0,
            rate_increase_criteria: RateIncrease {
                number_of_notified_things: Some(2),
                number_of_succeeded_things: None,
            },
        }),
    };
    let new = NewJob {
        rollout: Some(rollout),
        ..job(20)
    };
    j.create_job(R, "j", new, T0).unwrap();
    assert_eq!(queued(&j), 2);
    j.tick(T0 + MIN);
    assert_eq!(queued(&j), 6, "2 notified: the rate doubles to 4");
    j.tick(T0 + 2 * MIN);
    assert_eq!(queued(&j), 14, "4 more notified: 8 a minute");
}
