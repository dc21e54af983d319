//! AWS IoT's job events (`$aws/events/job/{jobId}/{operation}`) and job execution events
//! (`$aws/events/jobExecution/{jobId}/{operation}`): what a change said, kept until the
//! service hands it to whoever publishes the enabled event types.

use crate::model::{ExecStatus, Execution, Job, JobStatus};
use serde_json::{Value, json};

/// One job or execution change AWS announces.
#[derive(Debug, Clone, PartialEq)]
pub enum Said {
    /// `completed`, `canceled` or `deleted`.
    Job {
        job: Box<Job>,
        operation: &'static str,
        counts: Counts,
    },
    /// `succeeded`, `failed`, `rejected`, `canceled`, `removed`, `timed_out` or `deleted`.
    Execution {
        exec: Execution,
        operation: &'static str,
    },
}

/// `jobProcessDetails` of a job event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub canceled: usize,
    pub rejected: usize,
    pub failed: usize,
    pub removed: usize,
    pub succeeded: usize,
}

impl Counts {
    pub fn of<'a>(execs: impl Iterator<Item = &'a Execution>) -> Self {
        let mut c = Counts::default();
        for e in execs {
            match e.status {
                ExecStatus::Canceled => c.canceled += 1,
                ExecStatus::Rejected => c.rejected += 1,
                ExecStatus::Failed => c.failed += 1,
                ExecStatus::Removed => c.removed += 1,
                ExecStatus::Succeeded => c.succeeded += 1,
                _ => {}
            }
        }
        c
    }
}

/// The operation an execution's terminal status is announced as.
pub fn execution_operation(status: ExecStatus) -> Option<&'static str> {
    Some(match status {
        ExecStatus::Succeeded => "succeeded",
        ExecStatus::Failed => "failed",
        ExecStatus::Rejected => "rejected",
        ExecStatus::Canceled => "canceled",
        ExecStatus::Removed => "removed",
        ExecStatus::TimedOut => "timed_out",
        _ => return None,
    })
}

fn id() -> String {
    iotmock_registry::random_uuid()
}

impl Said {
    /// The event type (`JOB` or `JOB_EXECUTION`), region, topic and payload; timestamps in
    /// seconds as AWS's documented examples show them.
    pub fn message(&self, account: &str, now_ms: i64) -> (&'static str, &str, String, Value) {
        let now = now_ms / 1000;
        match self {
            Said::Job {
                job,
                operation,
                counts,
            } => {
                let payload = json!({
                    "eventType": "JOB", "eventId": id(), "timestamp": now,
                    "operation": operation, "jobId": job.id, "status": job_status(job.status),
                    "targetSelection": if job.continuous { "CONTINUOUS" } else { "SNAPSHOT" },
                    "targets": job.targets, "description": job.description,
                    "createdAt": job.created_ms / 1000, "lastUpdatedAt": job.updated_ms / 1000,
                    "completedAt": job.completed_ms.map(|t| t / 1000),
                    "jobProcessDetails": {
                        "numberOfCanceledThings": counts.canceled,
                        "numberOfRejectedThings": counts.rejected,
                        "numberOfFailedThings": counts.failed,
                        "numberOfRemovedThings": counts.removed,
                        "numberOfSucceededThings": counts.succeeded,
                    },
                });
                let topic = format!("$aws/events/job/{}/{operation}", job.id);
                ("JOB", job.region.as_str(), topic, payload)
            }
            Said::Execution { exec, operation } => {
                let arn = iotmock_model::Arn::new(&exec.region, account).thing(&exec.thing);
                let payload = json!({
                    "eventType": "JOB_EXECUTION", "eventId": id(), "timestamp": now,
                    "operation": operation, "jobId": exec.job_id, "thingArn": arn,
                    "status": exec.status.name(), "statusDetails": exec.status_details,
                });
                let topic = format!("$aws/events/jobExecution/{}/{operation}", exec.job_id);
                ("JOB_EXECUTION", exec.region.as_str(), topic, payload)
            }
        }
    }
}

fn job_status(s: JobStatus) -> &'static str {
    s.name()
}
