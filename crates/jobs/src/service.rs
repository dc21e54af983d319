//! The Jobs service: the device-side MQTT API through the broker's service seam (answers go
//! to the requesting client only, as AWS sends them; `notify` and `notify-next` to every
//! subscriber), and the entry points the control plane and the timeout ticker use.

use crate::device::{DeviceRequest, read_request, stamped};
use crate::error::{JobsError, JobsErrorCode};
use crate::jobs::{Jobs, KIND_EXECUTION, KIND_JOB, NewJob, Notice};
use crate::model::Job;
use bytes::Bytes;
use iotmock_mqtt::Publish;
use iotmock_registry::RegistryEvent;
use iotmock_session::{Outbox, Outlet, Reply, Service, ServiceRequest};
use iotmock_store::{Change, Read, Store, StoreError, load_with};
use serde_json::Value;
use std::sync::Arc;
use std::sync::{Mutex, MutexGuard};

pub struct JobsService {
    jobs: Mutex<Jobs>,
    store: Mutex<Box<dyn Store>>,
    default_region: String,
    /// Where `notify` and `notify-next` go, whatever made the change.
    outlet: Outlet,
    /// Who publishes job and execution events (when the account enabled them).
    announcer: std::sync::OnceLock<(String, Announcer)>,
}

/// Publishes an event of a type (`JOB`, `JOB_EXECUTION`) in a region on a topic, when that
/// type is enabled: `(region, type, topic, payload)`.
pub type Announcer = Arc<dyn Fn(&str, &str, &str, &str) + Send + Sync>;

/// Every job and execution `store` holds.
fn read_all(store: &mut dyn Store) -> Result<Jobs, StoreError> {
    let (mut jobs, mut execs) = (Vec::new(), Vec::new());
    let read = |r: &iotmock_store::Row| {
        let parsed = match r.kind.as_str() {
            KIND_JOB => serde_json::from_str(&r.value).map(|j| Stored::Job(Box::new(j))),
            KIND_EXECUTION => {
                serde_json::from_str(&r.value).map(|e| Stored::Execution(Box::new(e)))
            }
            _ => return Ok(Read::Skip),
        };
        parsed.map(Read::Record).map_err(|e| e.to_string())
    };
    for record in load_with(store, "jobs", read)? {
        match record {
            Stored::Job(j) => jobs.push(*j),
            Stored::Execution(e) => execs.push(*e),
        }
    }
    let mut all = Jobs::default();
    all.restore(jobs, execs);
    Ok(all)
}

/// The answer to a change the store refused.
fn refused(e: &StoreError) -> JobsError {
    JobsError::new(
        JobsErrorCode::InternalError,
        format!("The change could not be stored: {}", e.message),
    )
}

/// What a change to the jobs returns: a value and the notices it publishes.
pub trait Noticed {
    type Out;
    fn split(self) -> (Self::Out, Vec<Notice>);
    /// The answer when the store refused the change (a change with no answer keeps `out`).
    fn refused(out: Self::Out, _e: &StoreError) -> Self::Out {
        out
    }
}

impl Noticed for Vec<Notice> {
    type Out = ();
    fn split(self) -> ((), Vec<Notice>) {
        ((), self)
    }
}

impl<T> Noticed for (T, Vec<Notice>) {
    type Out = T;
    fn split(self) -> (T, Vec<Notice>) {
        self
    }
}

impl<N: Noticed> Noticed for Result<N, JobsError> {
    type Out = Result<N::Out, JobsError>;
    fn refused(out: Self::Out, e: &StoreError) -> Self::Out {
        out.and(Err(refused(e)))
    }
    fn split(self) -> (Self::Out, Vec<Notice>) {
        match self {
            Ok(n) => {
                let (out, notices) = n.split();
                (Ok(out), notices)
            }
            Err(e) => (Err(e), Vec::new()),
        }
    }
}

/// A stored record.
enum Stored {
    Job(Box<Job>),
    Execution(Box<crate::model::Execution>),
}

/// A device request named by its topic.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Request {
    Pending,
    StartNext,
    Describe(String),
    Update(String),
    Unknown,
}

fn valid_job_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `$aws/things/{thing}/jobs/...` -> the thing and the request.
fn parse(topic: &str) -> Option<(&str, Request)> {
    let rest = topic.strip_prefix("$aws/things/")?;
    let (thing, rest) = rest.split_once("/jobs/")?;
    let req = match rest.split('/').collect::<Vec<_>>().as_slice() {
        ["get"] => Request::Pending,
        ["start-next"] => Request::StartNext,
        [job, "get"] if *job == "$next" || valid_job_id(job) => Request::Describe(job.to_string()),
        [job, "update"] if valid_job_id(job) => Request::Update(job.to_string()),
        ["notify"] | ["notify-next"] => return None,
        [.., "accepted"] | [.., "rejected"] => return None,
        _ => Request::Unknown,
    };
    Some((thing, req))
}

fn message(topic: String, doc: &Value) -> Publish {
    Publish::new(topic, Bytes::from(doc.to_string()), 1, false)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl JobsService {
    /// The service over `store`, holding the jobs and executions it kept.
    pub fn open(mut store: Box<dyn Store>, default_region: &str) -> Result<Self, StoreError> {
        let all = read_all(&mut *store)?;
        Ok(Self {
            jobs: Mutex::new(all),
            store: Mutex::new(store),
            default_region: default_region.to_string(),
            outlet: Outlet::default(),
            announcer: std::sync::OnceLock::new(),
        })
    }

    /// Deletes every job and execution, in the store and in memory (iotmock's reset).
    pub fn reset(&self) -> Result<(), StoreError> {
        let mut jobs = lock(&self.jobs);
        lock(&self.store).clear()?;
        jobs.clear();
        Ok(())
    }

    /// Runs `f` on the jobs of the account (reads; a change made here that the store refuses
    /// is undone and logged, see [`JobsService::try_with`]).
    pub fn with<T>(&self, f: impl FnOnce(&mut Jobs) -> T) -> T {
        let mut jobs = lock(&self.jobs);
        let out = f(&mut jobs);
        let _ = self.persist(&mut jobs);
        out
    }

    /// Runs a change `f`: what it changed is stored before this returns; when the store
    /// refuses it, nothing changed and the answer is an `InternalError`.
    pub fn try_with<T>(
        &self,
        f: impl FnOnce(&mut Jobs) -> Result<T, JobsError>,
    ) -> Result<T, JobsError> {
        let mut jobs = lock(&self.jobs);
        let out = f(&mut jobs)?;
        self.persist(&mut jobs).map_err(|e| refused(&e))?;
        Ok(out)
    }

    /// Runs a change `f` on the jobs: what it changed is stored, then the notices it made are
    /// published (after the jobs' lock is released), then its value is returned. A change the
    /// store refuses is undone, publishes nothing, and answers `InternalError` where the
    /// change has an answer.
    pub fn change<N: Noticed>(&self, f: impl FnOnce(&mut Jobs) -> N) -> N::Out {
        let mut jobs = lock(&self.jobs);
        let made = f(&mut jobs);
        let stored = self.persist(&mut jobs);
        drop(jobs);
        let (out, notices) = made.split();
        if let Err(e) = stored {
            return N::refused(out, &e);
        }
        for n in &notices {
            self.outlet.publish(notice_message(n));
        }
        out
    }

    /// Writes every record the last change touched; when the store refuses, the jobs go
    /// back to what the store holds.
    fn persist(&self, jobs: &mut Jobs) -> Result<(), StoreError> {
        let changes: Vec<Change> = jobs
            .take_changes()
            .into_iter()
            .map(|(kind, key, value)| match value {
                Some(value) => Change::Put { kind, key, value },
                None => Change::Delete { kind, key },
            })
            .collect();
        if changes.is_empty() {
            return Ok(());
        }
        let mut store = lock(&self.store);
        let said = jobs.take_said();
        let Err(e) = store.commit(&changes) else {
            drop(store);
            self.announce(&said);
            return Ok(());
        };
        tracing::error!(error = %e, "job changes not stored: undone, the jobs are what the store holds");
        match read_all(&mut **store) {
            Ok(kept) => *jobs = kept,
            Err(again) => tracing::error!(error = %again, "the jobs could not be read back"),
        }
        Err(e)
    }

    /// Job and execution events go to `announcer`, their ARNs naming `account`.
    pub fn set_announcer(&self, account: &str, announcer: Announcer) {
        let _ = self.announcer.set((account.to_string(), announcer));
    }

    fn announce(&self, said: &[crate::events::Said]) {
        let Some((account, announcer)) = self.announcer.get() else {
            return;
        };
        for s in said {
            let now = match s {
                crate::events::Said::Job { job, .. } => job.updated_ms,
                crate::events::Said::Execution { exec, .. } => exec.updated_ms,
            };
            let (kind, region, topic, payload) = s.message(account, now);
            announcer(region, kind, &topic, &payload.to_string());
        }
    }

    pub fn region<'a>(&'a self, region: Option<&'a str>) -> &'a str {
        region.unwrap_or(&self.default_region)
    }

    /// CreateJob (its `notify` and `notify-next` are published).
    pub fn create_job(
        &self,
        region: &str,
        id: &str,
        new: NewJob,
        now_ms: i64,
    ) -> Result<Job, JobsError> {
        self.change(|j| j.create_job(region, id, new, now_ms))
    }

    /// Times out the executions due by `now_ms`, publishing what that changes.
    pub fn run_timeouts(&self, now_ms: i64) {
        self.change(|j| {
            let notices: Vec<Notice> = j.tick(now_ms).into_iter().flat_map(|(_, n)| n).collect();
            notices
        });
    }

    /// A thing joined or left a group: CONTINUOUS jobs through the group reach it, or its
    /// pending executions of them are REMOVED.
    fn membership(&self, event: &RegistryEvent, now_ms: i64) {
        if let RegistryEvent::Membership {
            region,
            group_arn,
            thing,
            joined,
            ..
        } = event
        {
            self.change(|j| match joined {
                true => j.thing_joined(region, group_arn, thing, now_ms),
                false => j.thing_left(region, group_arn, thing, now_ms),
            });
        }
    }

    fn answer(
        &self,
        region: &str,
        thing: &str,
        req: &Request,
        body: &DeviceRequest,
        now_ms: i64,
    ) -> Result<(Value, Vec<Notice>), JobsError> {
        self.try_with(|jobs| match req {
            Request::Pending => Ok((jobs.device_pending(region, thing), Vec::new())),
            Request::StartNext => Ok(jobs.start_next(region, thing, body, now_ms)),
            Request::Describe(job) => {
                Ok((jobs.describe(region, thing, job, body, now_ms)?, Vec::new()))
            }
            Request::Update(job) => jobs.update(region, thing, job, body, now_ms),
            Request::Unknown => Err(JobsError::new(
                JobsErrorCode::InvalidTopic,
                "The topic names no Jobs API",
            )),
        })
    }
}

impl Service for JobsService {
    fn name(&self) -> &'static str {
        "jobs"
    }

    fn attach(&self, outbox: Arc<dyn Outbox>) {
        self.outlet.attach(outbox);
    }

    fn filters(&self) -> Vec<String> {
        vec!["$aws/things/+/jobs/#".into()]
    }

    fn tick(&self, now_ms: i64) {
        self.run_timeouts(now_ms);
    }

    fn hears_registry(&self) -> bool {
        true
    }

    fn registry_changed(&self, events: &[RegistryEvent], now_ms: i64) {
        for e in events {
            self.membership(e, now_ms);
        }
    }

    /// AWS's answer over the Jobs request rate: `RequestThrottled` on `.../rejected`.
    fn throttled(&self, request: &ServiceRequest<'_>) -> Vec<Reply> {
        if parse(request.topic).is_none() {
            return Vec::new();
        }
        let token = read_request(request.payload)
            .ok()
            .and_then(|r| r.client_token);
        let e = JobsError::new(JobsErrorCode::RequestThrottled, "Rate exceeded");
        let doc = e.document(token.as_deref(), request.now_ms.div_euclid(1000));
        let rejected = format!("{}/rejected", request.topic);
        vec![Reply::ToRequester(message(rejected, &doc))]
    }

    fn handle(&self, request: &ServiceRequest<'_>) -> Vec<Reply> {
        let Some((thing, req)) = parse(request.topic) else {
            return Vec::new();
        };
        let region = self.region(request.region).to_string();
        let now = request.now_ms;
        let read = read_request(request.payload);
        let token = read.as_ref().ok().and_then(|r| r.client_token.clone());
        let outcome = read.and_then(|body| self.answer(&region, thing, &req, &body, now));
        let (accepted, rejected) = (
            format!("{}/accepted", request.topic),
            format!("{}/rejected", request.topic),
        );
        match outcome {
            // The answer first, then what the change publishes (as AWS orders them).
            Ok((answer, notices)) => {
                let answer = stamped(answer, token.as_deref(), now);
                let mut replies = vec![Reply::ToRequester(message(accepted, &answer))];
                let notices = notices.iter().map(notice_message);
                replies.extend(notices.map(Reply::ToSubscribers));
                replies
            }
            Err(e) => {
                let doc = e.document(token.as_deref(), now.div_euclid(1000));
                vec![Reply::ToRequester(message(rejected, &doc))]
            }
        }
    }
}

/// A notice as the message the broker publishes.
pub fn notice_message(n: &Notice) -> Publish {
    message(n.topic.clone(), &n.payload)
}
