//! The shadow service's refusals: AWS's code and exact message, and the error document.

use serde_json::{Value, json};

/// A refused request, as the `…/rejected` document and the HTTP error carry it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} {message}")]
pub struct ShadowError {
    pub code: u16,
    pub message: String,
    pub client_token: Option<String>,
}

impl ShadowError {
    pub fn new(code: u16, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            client_token: None,
        }
    }

    pub fn invalid_json() -> Self {
        Self::new(400, "Invalid JSON")
    }

    pub fn with_token(mut self, token: Option<&str>) -> Self {
        self.client_token = token.map(str::to_string);
        self
    }

    /// `{"code","message","timestamp"?,"clientToken"?}`; the 404 carries no timestamp, as
    /// observed from AWS.
    pub fn document(&self, now_secs: i64) -> Value {
        let mut doc = json!({ "code": self.code, "message": self.message });
        if self.code != 404 {
            doc["timestamp"] = json!(now_secs);
        }
        if let Some(t) = &self.client_token {
            doc["clientToken"] = json!(t);
        }
        doc
    }
}
