//! The rejected answers: `{"statusCode", "errorCode", "errorMessage"}`, one constructor per
//! reason. AWS documents the shape and one case (`InvalidCertificateOwnershipToken`, 400); the
//! other codes are this mock's, each naming what failed (see docs/provisioning.md).

use crate::Format;
use serde_json::{Value, json};

/// Why a provisioning request was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status_code: u16,
    pub error_code: &'static str,
    pub message: String,
}

impl Rejection {
    fn new(status_code: u16, error_code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status_code,
            error_code,
            message: message.into(),
        }
    }

    pub fn document(&self) -> Value {
        json!({
            "statusCode": self.status_code,
            "errorCode": self.error_code,
            "errorMessage": self.message,
        })
    }

    /// The service's queue is full.
    pub fn throttled() -> Self {
        Self::new(
            429,
            "Throttling",
            "Rate exceeded: the provisioning service is taking no more requests now",
        )
    }

    pub fn token(message: &str) -> Self {
        Self::new(400, "InvalidCertificateOwnershipToken", message)
    }

    pub fn payload(fmt: Format, error: &str) -> Self {
        Self::new(
            400,
            "InvalidPayload",
            format!("The request payload is not valid {}: {error}", fmt.name()),
        )
    }

    pub fn invalid_csr(message: &str) -> Self {
        Self::new(400, "InvalidCertificateSigningRequest", message)
    }

    /// A failure to issue: the CSR's fault when there was one.
    pub fn from_csr(had_csr: bool, e: iotmock_model::IotError) -> Self {
        match had_csr {
            true => Self::invalid_csr(&e.message),
            false => Self::internal(&e.message),
        }
    }

    pub fn parameters(message: &str) -> Self {
        Self::new(400, "InvalidParameters", message)
    }

    pub fn not_found(template: &str) -> Self {
        Self::new(
            404,
            "ResourceNotFound",
            format!("The provisioning template {template} does not exist"),
        )
    }

    pub fn disabled(template: &str) -> Self {
        Self::new(
            400,
            "TemplateDisabled",
            format!(
                "The provisioning template {template} is disabled (UpdateProvisioningTemplate --enabled turns it on)"
            ),
        )
    }

    /// The template could not be run: the message names the element or resource.
    pub fn provisioning(template: &str, message: &str) -> Self {
        let conflict = message.contains("ResourceConflictsException");
        let code = if conflict {
            "ResourceConflictsException"
        } else {
            "InvalidParameters"
        };
        let status = if conflict { 409 } else { 400 };
        let message = if message.contains(template) {
            message.to_string()
        } else {
            format!("Provisioning with template {template} failed: {message}")
        };
        Self::new(status, code, message)
    }

    pub fn internal(message: &str) -> Self {
        Self::new(500, "InternalFailure", message)
    }
}
