//! AWS IoT provisioning templates without I/O: [`Template::parse`] checks a template body as
//! CreateProvisioningTemplate and RegisterCACertificate do (sections, resource types, every
//! intrinsic and every `Ref`), and [`Template::evaluate`] resolves it against the device's
//! parameters into a [`Plan`]: the thing, certificate and policies to create, and the device
//! configuration to return. Errors name the element that failed (`Resources.thing.Properties.
//! ThingName`), so a provisioning failure says where and why.

mod eval;
mod plan;
mod template;
#[cfg(test)]
mod tests;

pub use plan::{CertificatePlan, Override, Plan, PolicyPlan, ThingPlan};
pub use template::Template;

/// Why a template is invalid or could not be evaluated: the element (a dotted path from the
/// template's root) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at {at})")]
pub struct TemplateError {
    pub at: String,
    pub message: String,
}

impl TemplateError {
    pub(crate) fn new(at: &str, message: impl Into<String>) -> Self {
        Self {
            at: at.to_string(),
            message: message.into(),
        }
    }
}

/// The largest template body AWS accepts, in characters.
pub const MAX_TEMPLATE_CHARS: usize = 10_240;

/// The parameters AWS supplies itself (JITP takes them from the device certificate; fleet
/// provisioning supplies the certificate id).
pub const PSEUDO_PARAMETERS: [&str; 8] = [
    "AWS::IoT::Certificate::Id",
    "AWS::IoT::Certificate::Country",
    "AWS::IoT::Certificate::Organization",
    "AWS::IoT::Certificate::OrganizationalUnit",
    "AWS::IoT::Certificate::DistinguishedNameQualifier",
    "AWS::IoT::Certificate::StateName",
    "AWS::IoT::Certificate::CommonName",
    "AWS::IoT::Certificate::SerialNumber",
];
