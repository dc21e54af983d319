//! Jobs and job executions as AWS IoT keeps them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A job execution's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecStatus {
    Queued,
    InProgress,
    Succeeded,
    Failed,
    TimedOut,
    Rejected,
    Removed,
    Canceled,
}

impl ExecStatus {
    pub fn name(self) -> &'static str {
        match self {
            ExecStatus::Queued => "QUEUED",
            ExecStatus::InProgress => "IN_PROGRESS",
            ExecStatus::Succeeded => "SUCCEEDED",
            ExecStatus::Failed => "FAILED",
            ExecStatus::TimedOut => "TIMED_OUT",
            ExecStatus::Rejected => "REJECTED",
            ExecStatus::Removed => "REMOVED",
            ExecStatus::Canceled => "CANCELED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
    }

    pub fn terminal(self) -> bool {
        !matches!(self, ExecStatus::Queued | ExecStatus::InProgress)
    }

    /// The statuses a device may set.
    pub fn device_settable(self) -> bool {
        matches!(
            self,
            ExecStatus::InProgress
                | ExecStatus::Succeeded
                | ExecStatus::Failed
                | ExecStatus::Rejected
        )
    }
}

/// A job's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    Scheduled,
    InProgress,
    Completed,
    Canceled,
}

impl JobStatus {
    pub fn name(self) -> &'static str {
        match self {
            JobStatus::Scheduled => "SCHEDULED",
            JobStatus::InProgress => "IN_PROGRESS",
            JobStatus::Completed => "COMPLETED",
            JobStatus::Canceled => "CANCELED",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub region: String,
    pub id: String,
    pub document: String,
    pub description: Option<String>,
    /// Target ARNs as given.
    pub targets: Vec<String>,
    /// CONTINUOUS jobs also reach things that join a target group later.
    pub continuous: bool,
    pub status: JobStatus,
    pub force_canceled: bool,
    pub reason_code: Option<String>,
    pub comment: Option<String>,
    pub in_progress_timeout_min: Option<i64>,
    /// `jobExecutionsRetryConfig.criteriaList`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retry: Vec<RetryCriterion>,
    /// `abortConfig.criteriaList`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub abort: Vec<AbortCriterion>,
    /// `jobExecutionsRolloutConfig`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<crate::rollout::Rollout>,
    /// `schedulingConfig`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<crate::rollout::Schedule>,
    /// `presignedUrlConfig.expiresInSec`: placeholders are presigned for this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presign_expires: Option<i64>,
    /// The adapter's signer, set on every job the service holds (not stored).
    #[serde(skip)]
    pub presigner: Option<crate::presign::Presigner>,
    /// Target things not reached yet (a schedule not started, a rollout under way).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting: Vec<String>,
    #[serde(default)]
    pub pace: crate::rollout::Pace,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub completed_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    pub region: String,
    pub job_id: String,
    pub thing: String,
    pub status: ExecStatus,
    pub status_details: BTreeMap<String, String>,
    pub queued_ms: i64,
    pub started_ms: Option<i64>,
    pub updated_ms: i64,
    pub version: u64,
    pub number: u64,
    pub force_canceled: bool,
    /// When the current step times out (stepTimeoutInMinutes), clock ms.
    pub step_deadline_ms: Option<i64>,
    /// When the job's in-progress timeout ends it, clock ms.
    pub job_deadline_ms: Option<i64>,
    /// Creation order, for queue order among executions queued in the same millisecond.
    pub seq: u64,
    /// The earlier attempts of a retried execution (executionNumber 1, 2, ...), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier: Vec<Execution>,
}

/// The attempt `number` of an execution (the current one when `None`), earlier ones included.
pub fn attempt(e: &Execution, number: Option<u64>) -> Option<&Execution> {
    match number {
        None => Some(e),
        Some(n) if n == e.number => Some(e),
        Some(n) => e.earlier.iter().find(|x| x.number == n),
    }
}

impl Execution {
    /// The earlier of the two deadlines.
    pub fn deadline(&self) -> Option<i64> {
        match (self.step_deadline_ms, self.job_deadline_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// A retry criterion: how many times executions that ended so may run again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryCriterion {
    /// `FAILED`, `TIMED_OUT` or `ALL`.
    pub failure_type: String,
    pub number_of_retries: u32,
}

/// An abort criterion: cancel the job once this share of its executed things ended so.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AbortCriterion {
    /// `FAILED`, `REJECTED`, `TIMED_OUT` or `ALL`.
    pub failure_type: String,
    /// `CANCEL`, the only action.
    pub action: String,
    pub threshold_percentage: f64,
    pub min_number_of_executed_things: u32,
}

impl Job {
    /// The document as a device or GetJobDocument gets it at `now_ms`: with
    /// `presignedUrlConfig`, its S3 placeholders replaced by presigned URLs.
    pub fn document_at(&self, now_ms: i64) -> std::borrow::Cow<'_, str> {
        match self.presign_expires {
            Some(expires) => std::borrow::Cow::Owned(crate::presign::substitute(
                &self.document,
                expires,
                now_ms,
                self.presigner.as_ref(),
            )),
            None => std::borrow::Cow::Borrowed(&self.document),
        }
    }
}
