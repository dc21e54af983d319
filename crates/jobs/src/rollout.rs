//! When a job's executions are queued: `schedulingConfig` holds the job SCHEDULED until its
//! `startTime` and applies its `endBehavior` at `endTime`; `jobExecutionsRolloutConfig` queues
//! at most `maximumPerMinute` executions a minute, or an `exponentialRate` that starts at
//! `baseRatePerMinute` and grows by `incrementFactor` each time `numberOfNotifiedThings` more
//! things were notified or `numberOfSucceededThings` more succeeded. Every step runs on the
//! injected clock ([`Jobs::tick`]). Things not yet reached wait in the job's `waiting` list.

use crate::jobs::{Jobs, Notice};
use crate::model::{ExecStatus, JobStatus};
use serde::{Deserialize, Serialize};

/// `jobExecutionsRolloutConfig`, as given.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollout {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_per_minute: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exponential_rate: Option<ExponentialRate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExponentialRate {
    pub base_rate_per_minute: u32,
    pub increment_factor: f64,
    pub rate_increase_criteria: RateIncrease,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateIncrease {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_of_notified_things: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_of_succeeded_things: Option<u32>,
}

/// `schedulingConfig`: the times as given and as clock milliseconds.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Schedule {
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub end_behavior: Option<String>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// The end behaviour was applied.
    #[serde(default)]
    pub ended: bool,
}

/// Where a rollout stands: this minute's window and the counts at the last rate increase.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Pace {
    pub window_start_ms: i64,
    pub in_window: u32,
    /// The exponential rate now (things per minute).
    pub rate: f64,
    pub notified_at_increase: u64,
    pub succeeded_at_increase: u64,
    pub notified: u64,
}

impl Rollout {
    /// The first minute's rate.
    pub fn initial_rate(&self) -> f64 {
        match (&self.exponential_rate, self.maximum_per_minute) {
            (Some(e), Some(max)) => f64::from(e.base_rate_per_minute.min(max)),
            (Some(e), None) => f64::from(e.base_rate_per_minute),
            (None, Some(max)) => f64::from(max),
            (None, None) => f64::INFINITY,
        }
    }
}

impl Jobs {
    /// Queues what the job's schedule and rollout allow by `now_ms`.
    pub(crate) fn release(&mut self, region: &str, id: &str, now_ms: i64) -> Vec<Notice> {
        let key = (region.to_string(), id.to_string());
        let mut notices = Vec::new();
        let Some(job) = self.jobs.get_mut(&key) else {
            return notices;
        };
        if job.status == JobStatus::Scheduled {
            let start = job.schedule.as_ref().and_then(|s| s.start_ms);
            if start.is_some_and(|s| now_ms < s) {
                return notices;
            }
            job.status = JobStatus::InProgress;
            job.updated_ms = now_ms;
            self.touched
                .insert(crate::jobs::Touched::Job(key.0.clone(), key.1.clone()));
        }
        if let Some(end) = self.end_due(region, id, now_ms) {
            return end;
        }
        let things = self.allowance(region, id, now_ms);
        for thing in things {
            notices.extend(self.enqueue(region, id, &thing, now_ms));
        }
        self.complete_if_done(region, id, now_ms);
        notices
    }

    /// The things to queue now, taken from the job's waiting list. The job's record is
    /// written only when its list or its pace changed.
    fn allowance(&mut self, region: &str, id: &str, now_ms: i64) -> Vec<String> {
        let key = (region.to_string(), id.to_string());
        let counts_successes = self.jobs.get(&key).is_some_and(|j| {
            j.rollout
                .as_ref()
                .and_then(|r| r.exponential_rate.as_ref())
                .is_some_and(|e| {
                    e.rate_increase_criteria
                        .number_of_succeeded_things
                        .is_some()
                })
        });
        let succeeded = match counts_successes {
            true => self
                .execs
                .values()
                .filter(|e| e.region == region && e.job_id == id)
                .filter(|e| e.status == ExecStatus::Succeeded)
                .count() as u64,
            false => 0,
        };
        let Some(job) = self.jobs.get_mut(&key) else {
            return Vec::new();
        };
        if job.waiting.is_empty() {
            return Vec::new();
        }
        let Some(rollout) = job.rollout.clone() else {
            self.touched.insert(crate::jobs::Touched::Job(key.0, key.1));
            return std::mem::take(&mut job.waiting);
        };
        let before = job.pace.clone();
        let pace = &mut job.pace;
        if pace.rate == 0.0 {
            pace.rate = rollout.initial_rate();
            pace.window_start_ms = now_ms;
        }
        if now_ms - pace.window_start_ms >= 60_000 {
            pace.window_start_ms = now_ms;
            pace.in_window = 0;
        }
        grow(&rollout, pace, succeeded);
        let room = (pace.rate.floor() as u64).saturating_sub(u64::from(pace.in_window));
        let n = usize::try_from(room)
            .unwrap_or(usize::MAX)
            .min(job.waiting.len());
        pace.in_window += u32::try_from(n).unwrap_or(u32::MAX);
        pace.notified += n as u64;
        if n > 0 || *pace != before {
            self.touched.insert(crate::jobs::Touched::Job(key.0, key.1));
        }
        job.waiting.drain(..n).collect()
    }

    /// Applies the schedule's end behaviour once `endTime` has come.
    fn end_due(&mut self, region: &str, id: &str, now_ms: i64) -> Option<Vec<Notice>> {
        let key = (region.to_string(), id.to_string());
        let job = self.jobs.get_mut(&key)?;
        let schedule = job.schedule.as_mut()?;
        if schedule.ended || schedule.end_ms.is_none_or(|end| now_ms < end) {
            return None;
        }
        schedule.ended = true;
        job.waiting.clear();
        let behavior = schedule.end_behavior.clone();
        self.touched
            .insert(crate::jobs::Touched::Job(key.0.clone(), key.1.clone()));
        let force = match behavior.as_deref() {
            Some("CANCEL") => false,
            Some("FORCE_CANCEL") => true,
            _ => {
                self.complete_if_done(region, id, now_ms);
                return Some(Vec::new());
            }
        };
        let canceled = self.cancel_job(region, id, force, (None, None), now_ms);
        Some(canceled.map(|(_, n)| n).unwrap_or_default())
    }

    /// Jobs that still have things to reach, or a schedule to keep.
    pub(crate) fn releasing(&self) -> Vec<(String, String)> {
        self.jobs
            .values()
            .filter(|j| match j.status {
                JobStatus::Scheduled => true,
                JobStatus::InProgress => {
                    !j.waiting.is_empty()
                        || j.schedule
                            .as_ref()
                            .is_some_and(|s| !s.ended && s.end_ms.is_some())
                }
                _ => false,
            })
            .map(|j| (j.region.clone(), j.id.clone()))
            .collect()
    }
}

/// Raises an exponential rate once its criterion is met since the last increase.
fn grow(rollout: &Rollout, pace: &mut Pace, succeeded: u64) {
    let Some(exp) = &rollout.exponential_rate else {
        return;
    };
    let c = &exp.rate_increase_criteria;
    let notified = c
        .number_of_notified_things
        .is_some_and(|n| pace.notified - pace.notified_at_increase >= u64::from(n));
    let done = c
        .number_of_succeeded_things
        .is_some_and(|n| succeeded.saturating_sub(pace.succeeded_at_increase) >= u64::from(n));
    if notified || done {
        let cap = f64::from(rollout.maximum_per_minute.unwrap_or(1000));
        pace.rate = (pace.rate * exp.increment_factor).min(cap);
        pace.notified_at_increase = pace.notified;
        pace.succeeded_at_increase = succeeded;
    }
}
