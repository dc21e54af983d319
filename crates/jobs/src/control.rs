//! The control plane's changes to jobs: cancel, update and delete jobs, cancel and delete
//! executions.

use crate::error::{JobsError, JobsErrorCode};
use crate::jobs::{ExecKey, Jobs, Notice, Touched};
use crate::model::{ExecStatus, Job, JobStatus};

impl Jobs {
    /// CancelJob: QUEUED executions are canceled, IN_PROGRESS ones too with `force`.
    pub fn cancel_job(
        &mut self,
        region: &str,
        id: &str,
        force: bool,
        reason: (Option<String>, Option<String>),
        now_ms: i64,
    ) -> Result<(Job, Vec<Notice>), JobsError> {
        self.job_or_404(region, id)?;
        let keys: Vec<ExecKey> = self
            .execs
            .iter()
            .filter(|(_, e)| e.region == region && e.job_id == id)
            .filter(|(_, e)| {
                e.status == ExecStatus::Queued || (force && e.status == ExecStatus::InProgress)
            })
            .map(|(k, _)| k.clone())
            .collect();
        let mut notices = Vec::new();
        for k in keys {
            notices.extend(self.end_execution(&k, ExecStatus::Canceled, force, now_ms));
        }
        self.touched.insert(Touched::Job(region.into(), id.into()));
        let job = self
            .jobs
            .get_mut(&(region.to_string(), id.to_string()))
            .ok_or_else(|| JobsError::not_found(format!("Job {id} does not exist")))?;
        job.status = JobStatus::Canceled;
        job.force_canceled |= force;
        (job.reason_code, job.comment) = reason;
        job.updated_ms = now_ms;
        let job = job.clone();
        self.say_job(job.clone(), "canceled");
        Ok((job, notices))
    }

    /// UpdateJob: the description and the in-progress timeout of a job.
    pub fn update_job(
        &mut self,
        region: &str,
        id: &str,
        description: Option<String>,
        timeout_min: Option<i64>,
        now_ms: i64,
    ) -> Result<(), JobsError> {
        self.touched.insert(Touched::Job(region.into(), id.into()));
        let job = self
            .jobs
            .get_mut(&(region.to_string(), id.to_string()))
            .ok_or_else(|| JobsError::not_found(format!("Job {id} does not exist")))?;
        if description.is_some() {
            job.description = description;
        }
        if timeout_min.is_some() {
            job.in_progress_timeout_min = timeout_min;
        }
        job.updated_ms = now_ms;
        Ok(())
    }

    /// DeleteJobExecution: a terminal execution, or any with `force`.
    pub fn delete_execution(
        &mut self,
        region: &str,
        thing: &str,
        id: &str,
        number: u64,
        force: bool,
        now_ms: i64,
    ) -> Result<Vec<Notice>, JobsError> {
        let key = (region.to_string(), thing.to_string(), id.to_string());
        if let Some(e) = self.execs.get_mut(&key).filter(|e| e.number != number) {
            // An earlier attempt of a retried execution: always terminal.
            let at = e.earlier.iter().position(|x| x.number == number);
            if let Some(at) = at {
                e.earlier.remove(at);
                self.touched.insert(Touched::Exec(key));
                return Ok(Vec::new());
            }
        }
        let e = self.execs.get(&key).filter(|e| e.number == number);
        let e = e.ok_or_else(|| {
            JobsError::not_found(format!(
                "No execution {number} of job {id} on thing {thing}"
            ))
        })?;
        if !e.status.terminal() && !force {
            let msg = format!("The execution is {}; delete it with force", e.status.name());
            return Err(JobsError::new(JobsErrorCode::InvalidStateTransition, msg));
        }
        let before = self.queue(region, thing);
        self.say_execution(&key, Some("deleted"));
        self.execs.remove(&key);
        self.touched.insert(Touched::Exec(key));
        Ok(self.notices(region, thing, &before, now_ms))
    }

    /// DeleteJob: refused while executions are IN_PROGRESS unless `force`.
    pub fn delete_job(
        &mut self,
        region: &str,
        id: &str,
        force: bool,
        now_ms: i64,
    ) -> Result<Vec<Notice>, JobsError> {
        self.job_or_404(region, id)?;
        let keys: Vec<ExecKey> = self
            .execs
            .keys()
            .filter(|(r, _, j)| r == region && j == id)
            .cloned()
            .collect();
        let busy = keys.iter().any(|k| {
            self.execs
                .get(k)
                .is_some_and(|e| e.status == ExecStatus::InProgress)
        });
        if busy && !force {
            let msg = format!("Job {id} has executions IN_PROGRESS; delete it with force");
            return Err(JobsError::new(JobsErrorCode::InvalidStateTransition, msg));
        }
        if let Some(job) = self.job(region, id).cloned() {
            self.say_job(job, "deleted");
        }
        let mut notices = Vec::new();
        for k in keys {
            let before = self.queue(&k.0, &k.1);
            self.execs.remove(&k);
            self.touched.insert(Touched::Exec(k.clone()));
            notices.extend(self.notices(&k.0, &k.1, &before, now_ms));
        }
        self.jobs.remove(&(region.to_string(), id.to_string()));
        self.touched.insert(Touched::Job(region.into(), id.into()));
        Ok(notices)
    }

    /// CancelJobExecution: a QUEUED execution, or an IN_PROGRESS one with `force`.
    pub fn cancel_execution(
        &mut self,
        region: &str,
        thing: &str,
        id: &str,
        force: bool,
        now_ms: i64,
    ) -> Result<Vec<Notice>, JobsError> {
        let key = (region.to_string(), thing.to_string(), id.to_string());
        let e = self.execs.get(&key).ok_or_else(|| {
            JobsError::not_found(format!("No execution of job {id} on thing {thing}"))
        })?;
        let allowed =
            e.status == ExecStatus::Queued || (force && e.status == ExecStatus::InProgress);
        if !allowed {
            let msg = format!(
                "The execution is {}; only QUEUED executions (IN_PROGRESS with force) can be canceled",
                e.status.name()
            );
            return Err(JobsError::new(JobsErrorCode::InvalidStateTransition, msg));
        }
        Ok(self.end_execution(&key, ExecStatus::Canceled, force, now_ms))
    }
}
