//! AWS IoT Jobs: jobs and their executions on things, the execution state machine (terminal
//! states stay terminal, only IN_PROGRESS / SUCCEEDED / FAILED / REJECTED come from devices),
//! step and in-progress timeouts driven by the injected clock, and `notify` / `notify-next`
//! exactly when the pending set or its head changes. [`Jobs`] is pure; [`JobsService`] answers
//! the device topics through the broker's service seam.

mod control;
mod device;
mod error;
pub mod events;
mod jobs;
mod model;
pub mod presign;
mod retry;
pub mod rollout;
mod service;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_retry;
#[cfg(test)]
mod tests_rollout;
pub mod views;

pub use device::{DeviceRequest, read_request};
pub use error::{JobsError, JobsErrorCode};
pub use jobs::{Jobs, KIND_EXECUTION, KIND_JOB, NewJob, Notice};
pub use model::{AbortCriterion, ExecStatus, Execution, Job, JobStatus, RetryCriterion, attempt};
pub use service::{JobsService, Noticed, notice_message};
