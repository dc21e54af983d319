//! Every job and job execution of the account, by region: the control plane's operations,
//! queue order, job completion, and the `notify` / `notify-next` publications each change makes.

use crate::error::{JobsError, JobsErrorCode};
use crate::events::{Counts, Said, execution_operation};
use crate::model::{ExecStatus, Execution, Job, JobStatus};
use crate::views::{execution, secs, summary};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// A message the service publishes to a thing's subscribers.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub topic: String,
    pub payload: Value,
}

/// A job to create.
#[derive(Debug, Clone, Default)]
pub struct NewJob {
    pub document: String,
    pub description: Option<String>,
    pub targets: Vec<String>,
    /// The things the targets name now.
    pub things: Vec<String>,
    pub continuous: bool,
    pub in_progress_timeout_min: Option<i64>,
    pub retry: Vec<crate::model::RetryCriterion>,
    pub abort: Vec<crate::model::AbortCriterion>,
    pub rollout: Option<crate::rollout::Rollout>,
    pub schedule: Option<crate::rollout::Schedule>,
    /// `presignedUrlConfig.expiresInSec`.
    pub presign_expires: Option<i64>,
}

pub(crate) type ExecKey = (String, String, String);

/// Store kinds of jobs and their executions.
pub const KIND_JOB: &str = "job";
pub const KIND_EXECUTION: &str = "job-execution";

/// A stored record a change touched.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Touched {
    Job(String, String),
    Exec(ExecKey),
}

#[derive(Debug, Default)]
pub struct Jobs {
    pub(crate) jobs: BTreeMap<(String, String), Job>,
    /// (region, thing, job id)
    pub(crate) execs: BTreeMap<ExecKey, Execution>,
    pub(crate) seq: u64,
    /// The adapter's signer for presigned URLs, given to every job.
    presigner: Option<crate::presign::Presigner>,
    /// Records changed since the last [`Jobs::take_changes`].
    pub(crate) touched: BTreeSet<Touched>,
    /// Job and execution events since the last [`Jobs::take_said`].
    pub(crate) said: Vec<Said>,
}

/// What a thing's queue looks like: its pending job ids and its head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Queue {
    /// (job id, executionNumber): a retried execution is a new one.
    ids: BTreeSet<(String, u64)>,
    head: Option<(String, u64)>,
}

fn minutes(m: i64) -> i64 {
    m.saturating_mul(60_000)
}

impl Jobs {
    pub fn job(&self, region: &str, id: &str) -> Option<&Job> {
        self.jobs.get(&(region.to_string(), id.to_string()))
    }

    pub(crate) fn job_or_404(&self, region: &str, id: &str) -> Result<&Job, JobsError> {
        self.job(region, id)
            .ok_or_else(|| JobsError::not_found(format!("Job {id} does not exist")))
    }

    /// A thing's pending executions in queue order: IN_PROGRESS first, then by queue time.
    pub(crate) fn pending(&self, region: &str, thing: &str) -> Vec<&Execution> {
        let mut out: Vec<&Execution> = self
            .execs
            .values()
            .filter(|e| e.region == region && e.thing == thing && !e.status.terminal())
            .collect();
        out.sort_by_key(|e| (e.status != ExecStatus::InProgress, e.queued_ms, e.seq));
        out
    }

    pub(crate) fn queue(&self, region: &str, thing: &str) -> Queue {
        let pending = self.pending(region, thing);
        let head = pending.first().map(|e| (e.job_id.clone(), e.number));
        Queue {
            ids: pending
                .into_iter()
                .map(|e| (e.job_id.clone(), e.number))
                .collect(),
            head,
        }
    }

    /// `notify` when the pending set changed, `notify-next` when the head changed.
    pub(crate) fn notices(
        &self,
        region: &str,
        thing: &str,
        before: &Queue,
        now_ms: i64,
    ) -> Vec<Notice> {
        let after = self.queue(region, thing);
        let mut out = Vec::new();
        let prefix = format!("$aws/things/{thing}/jobs");
        if after.ids != before.ids {
            let pending = self.pending(region, thing);
            let mut jobs = Map::new();
            for (status, name) in [
                (ExecStatus::InProgress, "IN_PROGRESS"),
                (ExecStatus::Queued, "QUEUED"),
            ] {
                let list: Vec<Value> = pending
                    .iter()
                    .filter(|e| e.status == status)
                    .take(10)
                    .map(|e| summary(e))
                    .collect();
                if !list.is_empty() {
                    jobs.insert(name.into(), Value::Array(list));
                }
            }
            let payload = json!({ "timestamp": secs(now_ms), "jobs": jobs });
            out.push(Notice {
                topic: format!("{prefix}/notify"),
                payload,
            });
        }
        if after.head != before.head {
            let mut payload = json!({ "timestamp": secs(now_ms) });
            if let Some(e) = self.pending(region, thing).first() {
                payload["execution"] = execution(e, self.job(region, &e.job_id), true, now_ms);
            }
            out.push(Notice {
                topic: format!("{prefix}/notify-next"),
                payload,
            });
        }
        out
    }

    /// Queues an execution of `job` for `thing` (a later joiner of a CONTINUOUS job too).
    pub(crate) fn enqueue(
        &mut self,
        region: &str,
        job_id: &str,
        thing: &str,
        now_ms: i64,
    ) -> Vec<Notice> {
        let key = (region.to_string(), thing.to_string(), job_id.to_string());
        if self.execs.contains_key(&key) {
            return Vec::new();
        }
        let before = self.queue(region, thing);
        self.seq += 1;
        let timeout = self
            .job(region, job_id)
            .and_then(|j| j.in_progress_timeout_min);
        let _ = timeout;
        let e = Execution {
            region: region.into(),
            job_id: job_id.into(),
            thing: thing.into(),
            status: ExecStatus::Queued,
            status_details: BTreeMap::new(),
            queued_ms: now_ms,
            started_ms: None,
            updated_ms: now_ms,
            version: 1,
            number: 1,
            force_canceled: false,
            step_deadline_ms: None,
            job_deadline_ms: None,
            seq: self.seq,
            earlier: Vec::new(),
        };
        self.touched.insert(Touched::Exec(key.clone()));
        self.execs.insert(key, e);
        self.notices(region, thing, &before, now_ms)
    }

    /// CreateJob.
    pub fn create_job(
        &mut self,
        region: &str,
        id: &str,
        new: NewJob,
        now_ms: i64,
    ) -> Result<(Job, Vec<Notice>), JobsError> {
        if self.job(region, id).is_some() {
            let code = JobsErrorCode::ResourceAlreadyExists;
            return Err(JobsError::new(code, format!("Job {id} already exists")));
        }
        let job = Job {
            region: region.into(),
            id: id.into(),
            document: new.document,
            description: new.description,
            targets: new.targets,
            continuous: new.continuous,
            status: match new.schedule.as_ref().and_then(|s| s.start_ms) {
                Some(start) if start > now_ms => JobStatus::Scheduled,
                _ => JobStatus::InProgress,
            },
            force_canceled: false,
            reason_code: None,
            comment: None,
            in_progress_timeout_min: new.in_progress_timeout_min,
            retry: new.retry,
            abort: new.abort,
            rollout: new.rollout,
            schedule: new.schedule,
            waiting: new.things,
            presign_expires: new.presign_expires,
            presigner: self.presigner.clone(),
            pace: Default::default(),
            created_ms: now_ms,
            updated_ms: now_ms,
            completed_ms: None,
        };
        self.jobs.insert((region.into(), id.into()), job.clone());
        self.touched.insert(Touched::Job(region.into(), id.into()));
        let notices = self.release(region, id, now_ms);
        let job = self.job(region, id).cloned().unwrap_or(job);
        Ok((job, notices))
    }

    /// A SNAPSHOT job whose executions are all terminal is COMPLETED.
    pub(crate) fn complete_if_done(&mut self, region: &str, id: &str, now_ms: i64) {
        let all_done = self
            .execs
            .values()
            .filter(|e| e.region == region && e.job_id == id)
            .all(|e| e.status.terminal());
        self.touched.insert(Touched::Job(region.into(), id.into()));
        if let Some(job) = self.jobs.get_mut(&(region.to_string(), id.to_string()))
            && job.status == JobStatus::InProgress
            && !job.continuous
            && job.waiting.is_empty()
            && all_done
        {
            job.status = JobStatus::Completed;
            job.completed_ms = Some(now_ms);
            job.updated_ms = now_ms;
            let job = job.clone();
            self.say_job(job, "completed");
        }
    }

    /// Keeps a job event, with its executions' counts.
    pub(crate) fn say_job(&mut self, job: Job, operation: &'static str) {
        let mine = self
            .execs
            .values()
            .filter(|e| e.region == job.region && e.job_id == job.id);
        let counts = Counts::of(mine);
        self.said.push(Said::Job {
            job: Box::new(job),
            operation,
            counts,
        });
    }

    /// Keeps an execution event for `key` as it is now, when its status is announced.
    pub(crate) fn say_execution(&mut self, key: &ExecKey, operation: Option<&'static str>) {
        let Some(exec) = self.execs.get(key).cloned() else {
            return;
        };
        if let Some(operation) = operation.or_else(|| execution_operation(exec.status)) {
            self.said.push(Said::Execution { exec, operation });
        }
    }

    /// The job and execution events since the last call.
    pub fn take_said(&mut self) -> Vec<Said> {
        std::mem::take(&mut self.said)
    }

    /// Moves an execution to a terminal status set by the service (CANCELED, TIMED_OUT,
    /// REMOVED), with its notices.
    pub(crate) fn end_execution(
        &mut self,
        key: &ExecKey,
        status: ExecStatus,
        force: bool,
        now_ms: i64,
    ) -> Vec<Notice> {
        let (region, thing, job) = key;
        let before = self.queue(region, thing);
        self.touched.insert(Touched::Exec(key.clone()));
        if let Some(e) = self.execs.get_mut(key) {
            e.status = status;
            e.force_canceled |= force;
            e.updated_ms = now_ms;
            e.version += 1;
            e.step_deadline_ms = None;
            e.job_deadline_ms = None;
        }
        self.say_execution(key, None);
        if status == ExecStatus::TimedOut {
            self.retry_if_allowed(key, now_ms);
        }
        let notices = self.notices(region, thing, &before, now_ms);
        self.complete_if_done(region, job, now_ms);
        notices
    }

    /// Executions past their step or job timeout become TIMED_OUT.
    pub fn tick(&mut self, now_ms: i64) -> Vec<(String, Vec<Notice>)> {
        let due: Vec<ExecKey> = self
            .execs
            .iter()
            .filter(|(_, e)| {
                e.status == ExecStatus::InProgress && e.deadline().is_some_and(|d| d <= now_ms)
            })
            .map(|(k, _)| k.clone())
            .collect();
        let mut out: Vec<(String, Vec<Notice>)> = Vec::new();
        for (region, id) in self.releasing() {
            let released = self.release(&region, &id, now_ms);
            out.extend(released.into_iter().map(|n| (thing_of(&n), vec![n])));
        }
        for k in due {
            let notices = self.end_execution(&k, ExecStatus::TimedOut, false, now_ms);
            out.push((k.1.clone(), notices));
            out.extend(self.abort_if_due(&k.0, &k.2, now_ms));
        }
        out
    }

    /// The job's in-progress timeout, started when its execution starts.
    pub(crate) fn job_deadline(&self, region: &str, id: &str, now_ms: i64) -> Option<i64> {
        self.job(region, id)?
            .in_progress_timeout_min
            .map(|m| now_ms + minutes(m))
    }

    /// The CONTINUOUS jobs in progress that target `group_arn`.
    fn continuous_through<'a>(
        &'a self,
        region: &'a str,
        group_arn: &'a str,
    ) -> impl Iterator<Item = String> + 'a {
        self.jobs
            .values()
            .filter(move |j| {
                j.region == region && j.continuous && j.status == JobStatus::InProgress
            })
            .filter(move |j| j.targets.iter().any(|t| t == group_arn))
            .map(|j| j.id.clone())
    }

    /// A thing joined `group_arn`: every CONTINUOUS job in progress that targets the group
    /// reaches it.
    pub fn thing_joined(
        &mut self,
        region: &str,
        group_arn: &str,
        thing: &str,
        now_ms: i64,
    ) -> Vec<Notice> {
        let ids: Vec<String> = self.continuous_through(region, group_arn).collect();
        ids.iter()
            .flat_map(|id| self.enqueue(region, id, thing, now_ms))
            .collect()
    }

    /// A thing left `group_arn`: its pending executions of CONTINUOUS jobs reached only
    /// through that group are REMOVED.
    pub fn thing_left(
        &mut self,
        region: &str,
        group_arn: &str,
        thing: &str,
        now_ms: i64,
    ) -> Vec<Notice> {
        let keys: Vec<ExecKey> = self
            .execs
            .iter()
            .filter(|(_, e)| e.region == region && e.thing == thing && !e.status.terminal())
            .filter(|(_, e)| {
                self.continuous_through(region, group_arn)
                    .any(|id| id == e.job_id)
            })
            .map(|(k, _)| k.clone())
            .collect();
        keys.iter()
            .flat_map(|k| self.end_execution(k, ExecStatus::Removed, false, now_ms))
            .collect()
    }

    /// The jobs of a region, by id.
    pub fn jobs_in(&self, region: &str) -> Vec<Job> {
        self.jobs
            .values()
            .filter(|j| j.region == region)
            .cloned()
            .collect()
    }

    /// One execution.
    pub fn execution(&self, region: &str, thing: &str, job_id: &str) -> Option<Execution> {
        self.execs
            .get(&(region.to_string(), thing.to_string(), job_id.to_string()))
            .cloned()
    }

    /// The executions of a job, by thing.
    pub fn executions_of_job(&self, region: &str, job_id: &str) -> Vec<Execution> {
        self.execs
            .values()
            .filter(|e| e.region == region && e.job_id == job_id)
            .cloned()
            .collect()
    }

    /// The executions on a thing, by job.
    pub fn executions_of_thing(&self, region: &str, thing: &str) -> Vec<Execution> {
        self.execs
            .values()
            .filter(|e| e.region == region && e.thing == thing)
            .cloned()
            .collect()
    }

    /// The store changes for every record touched since the last call: a put of its JSON, or
    /// a delete when it is gone.
    pub fn take_changes(&mut self) -> Vec<(&'static str, String, Option<String>)> {
        let touched = std::mem::take(&mut self.touched);
        touched
            .into_iter()
            .map(|t| match t {
                Touched::Job(r, id) => {
                    let value = self
                        .jobs
                        .get(&(r.clone(), id.clone()))
                        .and_then(|j| serde_json::to_string(j).ok());
                    (KIND_JOB, format!("{r}\n{id}"), value)
                }
                Touched::Exec((r, thing, id)) => {
                    let e = self.execs.get(&(r.clone(), thing.clone(), id.clone()));
                    let value = e.and_then(|e| serde_json::to_string(e).ok());
                    (KIND_EXECUTION, format!("{r}\n{thing}\n{id}"), value)
                }
            })
            .collect()
    }

    /// Forgets every job and execution, keeping the signer (iotmock's reset).
    pub fn clear(&mut self) {
        let presigner = self.presigner.take();
        *self = Jobs::default();
        self.presigner = presigner;
    }

    /// Signs the presigned URLs of every job (`presignedUrlConfig`), now and later.
    pub fn set_presigner(&mut self, presigner: crate::presign::Presigner) {
        for j in self.jobs.values_mut() {
            j.presigner = Some(presigner.clone());
        }
        self.presigner = Some(presigner);
    }

    /// Reloads stored state.
    pub fn restore(&mut self, jobs: Vec<Job>, execs: Vec<Execution>) {
        for mut j in jobs {
            j.presigner = self.presigner.clone();
            self.jobs.insert((j.region.clone(), j.id.clone()), j);
        }
        for e in execs {
            self.seq = self.seq.max(e.seq);
            self.execs
                .insert((e.region.clone(), e.thing.clone(), e.job_id.clone()), e);
        }
    }
}

pub(crate) fn step_deadline(step_min: Option<i64>, now_ms: i64) -> Option<Option<i64>> {
    match step_min {
        None => None,
        Some(-1) => Some(None),
        Some(m) => Some(Some(now_ms + minutes(m))),
    }
}

/// The thing a notice goes to (`$aws/things/{thing}/jobs/...`).
pub(crate) fn thing_of(n: &Notice) -> String {
    n.topic.split('/').nth(2).unwrap_or_default().to_string()
}
