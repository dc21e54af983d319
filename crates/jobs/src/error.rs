//! Jobs refusals: the device plane's error codes, and what the control plane answers.

use serde_json::{Value, json};

/// The device plane's `code` values (also mapped to the control plane's exceptions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobsErrorCode {
    InvalidTopic,
    InvalidJson,
    InvalidRequest,
    InvalidStateTransition,
    ResourceNotFound,
    VersionMismatch,
    TerminalStateReached,
    ResourceAlreadyExists,
    /// The device's requests came faster than the service takes them.
    RequestThrottled,
    /// The change could not be stored (a full disk, a read-only state dir).
    InternalError,
}

impl JobsErrorCode {
    pub fn name(self) -> &'static str {
        match self {
            JobsErrorCode::InvalidTopic => "InvalidTopic",
            JobsErrorCode::InvalidJson => "InvalidJson",
            JobsErrorCode::InvalidRequest => "InvalidRequest",
            JobsErrorCode::InvalidStateTransition => "InvalidStateTransition",
            JobsErrorCode::ResourceNotFound => "ResourceNotFound",
            JobsErrorCode::VersionMismatch => "VersionMismatch",
            JobsErrorCode::TerminalStateReached => "TerminalStateReached",
            JobsErrorCode::ResourceAlreadyExists => "ResourceAlreadyExists",
            JobsErrorCode::RequestThrottled => "RequestThrottled",
            JobsErrorCode::InternalError => "InternalError",
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}: {message}", code.name())]
pub struct JobsError {
    pub code: JobsErrorCode,
    pub message: String,
    pub execution_state: Option<Value>,
}

impl JobsError {
    pub fn new(code: JobsErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            execution_state: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(JobsErrorCode::InvalidRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(JobsErrorCode::ResourceNotFound, message)
    }

    /// The device plane's rejection document.
    pub fn document(&self, token: Option<&str>, now_secs: i64) -> Value {
        let mut doc =
            json!({ "code": self.code.name(), "message": self.message, "timestamp": now_secs });
        if let Some(t) = token {
            doc["clientToken"] = json!(t);
        }
        if let Some(s) = &self.execution_state {
            doc["executionState"] = s.clone();
        }
        doc
    }
}
