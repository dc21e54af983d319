//! Typed Jobs helpers on the in-process handle, for tests, like the shadow's: create a job for
//! things (devices get the same `notify` / `notify-next` as from CreateJob), read an execution,
//! and wait until a device moves it to a status.

use crate::MockIotCore;
use iotmock_jobs::{ExecStatus, Execution, Job, JobsError, NewJob};
use std::time::Duration;

/// One job of a running mock.
pub struct JobHandle<'a> {
    mock: &'a MockIotCore,
    id: String,
}

/// A wait that ran out.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{thing}'s execution of {job} was not {want} within {waited:?} (last: {last:?})")]
pub struct NotReached {
    pub job: String,
    pub thing: String,
    pub want: String,
    pub waited: Duration,
    pub last: Option<ExecStatus>,
}

impl MockIotCore {
    /// The job `id` (created with [`JobHandle::create`]).
    pub fn job(&self, id: &str) -> JobHandle<'_> {
        JobHandle {
            mock: self,
            id: id.to_string(),
        }
    }
}

impl JobHandle<'_> {
    fn now(&self) -> i64 {
        let registry = self.mock.registry();
        let now = registry.read().map(|r| r.now_millis());
        now.unwrap_or_default()
    }

    /// CreateJob for `things` (names, in the mock's region) with `document` (JSON text).
    pub fn create(&self, things: &[&str], document: &str) -> Result<Job, JobsError> {
        let region = self.mock.region().to_string();
        let account = self.mock.account_id().to_string();
        let new = NewJob {
            document: document.to_string(),
            targets: things
                .iter()
                .map(|t| format!("arn:aws:iot:{region}:{account}:thing/{t}"))
                .collect(),
            things: things.iter().map(|t| t.to_string()).collect(),
            ..NewJob::default()
        };
        self.mock
            .jobs()
            .create_job(&region, &self.id, new, self.now())
    }

    /// The thing's execution of this job, if it has one.
    pub fn execution(&self, thing: &str) -> Option<Execution> {
        let region = self.mock.region().to_string();
        self.mock
            .jobs()
            .with(|j| j.execution(&region, thing, &self.id))
    }

    /// Waits until the thing's execution has `want`, checking every 10 ms; returns it.
    pub async fn wait_for(
        &self,
        thing: &str,
        want: ExecStatus,
        timeout: Duration,
    ) -> Result<Execution, NotReached> {
        let started = tokio::time::Instant::now();
        loop {
            let e = self.execution(thing);
            if let Some(e) = e.as_ref().filter(|e| e.status == want) {
                return Ok(e.clone());
            }
            if started.elapsed() >= timeout {
                return Err(NotReached {
                    job: self.id.clone(),
                    thing: thing.to_string(),
                    want: want.name().to_string(),
                    waited: timeout,
                    last: e.map(|e| e.status),
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
