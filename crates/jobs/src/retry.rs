//! `jobExecutionsRetryConfig` and `abortConfig`: a FAILED or TIMED_OUT execution runs again as
//! the next executionNumber while the job's criteria allow it (the device hears of it through
//! `notify-next` like any queued execution), and a job whose executed things fail past an
//! abort threshold is canceled as CancelJob cancels it (queued executions end CANCELED,
//! executions in progress run on).

use crate::jobs::{ExecKey, Jobs, Notice};
use crate::model::{ExecStatus, JobStatus, RetryCriterion};

/// The failure type names a criterion may give for `status`.
fn failure_name(status: ExecStatus) -> Option<&'static str> {
    match status {
        ExecStatus::Failed => Some("FAILED"),
        ExecStatus::TimedOut => Some("TIMED_OUT"),
        ExecStatus::Rejected => Some("REJECTED"),
        _ => None,
    }
}

/// Whether an execution that just ended with `status`, after the `earlier` attempts, may run
/// again: the criterion for its failure type (else `ALL`) counts the retries already made for
/// that type (`ALL`: every retry).
pub(crate) fn may_retry(
    criteria: &[RetryCriterion],
    status: ExecStatus,
    earlier: &[crate::model::Execution],
) -> bool {
    let Some(name) = failure_name(status).filter(|n| *n != "REJECTED") else {
        return false;
    };
    let criterion = criteria
        .iter()
        .find(|c| c.failure_type == name)
        .or_else(|| criteria.iter().find(|c| c.failure_type == "ALL"));
    let Some(c) = criterion else {
        return false;
    };
    let used = earlier
        .iter()
        .filter(|e| c.failure_type == "ALL" || e.status == status)
        .count();
    used < c.number_of_retries as usize
}

impl Jobs {
    /// Queues the next attempt of the execution at `key` when its job's retry criteria allow
    /// it; the attempt just ended is kept as an earlier one. `true` when it was re-queued.
    pub(crate) fn retry_if_allowed(&mut self, key: &ExecKey, now_ms: i64) -> bool {
        let (region, _, job_id) = key;
        let Some(job) = self.job(region, job_id) else {
            return false;
        };
        let Some(e) = self.execs.get(key) else {
            return false;
        };
        if job.status != JobStatus::InProgress || !may_retry(&job.retry, e.status, &e.earlier) {
            return false;
        }
        self.seq += 1;
        let seq = self.seq;
        self.touched.insert(crate::jobs::Touched::Exec(key.clone()));
        let Some(e) = self.execs.get_mut(key) else {
            return false;
        };
        let mut ended = e.clone();
        ended.earlier.clear();
        e.earlier.push(ended);
        e.number += 1;
        e.status = ExecStatus::Queued;
        e.status_details.clear();
        e.queued_ms = now_ms;
        e.started_ms = None;
        e.updated_ms = now_ms;
        e.version = 1;
        e.step_deadline_ms = None;
        e.job_deadline_ms = None;
        e.seq = seq;
        true
    }

    /// Cancels the job when an abort criterion is met: at least `minNumberOfExecutedThings`
    /// things have a terminal execution and the share of them that ended with the criterion's
    /// failure type (`ALL`: FAILED, REJECTED or TIMED_OUT) reaches `thresholdPercentage`.
    pub(crate) fn abort_if_due(
        &mut self,
        region: &str,
        job_id: &str,
        now_ms: i64,
    ) -> Vec<(String, Vec<Notice>)> {
        let Some(job) = self.job(region, job_id) else {
            return Vec::new();
        };
        if job.status != JobStatus::InProgress || job.abort.is_empty() {
            return Vec::new();
        }
        let ended: Vec<ExecStatus> = self
            .execs
            .values()
            .filter(|e| e.region == region && e.job_id == job_id && e.status.terminal())
            .map(|e| e.status)
            .collect();
        let due = job.abort.iter().any(|c| {
            let failed = ended
                .iter()
                .filter(|s| match failure_name(**s) {
                    Some(name) => c.failure_type == "ALL" || c.failure_type == name,
                    None => false,
                })
                .count();
            let executed = ended.len();
            executed >= c.min_number_of_executed_things as usize
                && executed > 0
                && (failed as f64) * 100.0 / (executed as f64) >= c.threshold_percentage
        });
        if !due {
            return Vec::new();
        }
        tracing::info!(
            job = job_id,
            "jobs: an abort criterion was met; the job is canceled"
        );
        match self.cancel_job(region, job_id, false, (None, None), now_ms) {
            Ok((_, notices)) => group(notices),
            Err(_) => Vec::new(),
        }
    }
}

/// Notices by the thing whose topic they go to.
fn group(notices: Vec<Notice>) -> Vec<(String, Vec<Notice>)> {
    notices
        .into_iter()
        .map(|n| (crate::jobs::thing_of(&n), vec![n]))
        .collect()
}
