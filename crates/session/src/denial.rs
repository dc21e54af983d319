//! Why a CONNECT is refused, or a live connection loses its right to stay: typed, with the
//! text logged once with the refusal.

use crate::refusal::ConnectRefusal;
use iotmock_model::CertStatus;
use iotmock_mqtt::rules::ClientIdError;
use iotmock_mqtt::topic::TopicError;

/// What just-in-time registration did with the presented certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JustInTime {
    /// Registered now as PENDING_ACTIVATION under this CA.
    Registered { cert_id: String, ca_id: String },
    /// Registered before and still PENDING_ACTIVATION.
    Pending { cert_id: String },
}

/// The registry could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the registry is unavailable")]
pub struct RegistryUnavailable;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    #[error(transparent)]
    ClientId(#[from] ClientIdError),
    #[error("will QoS 2 is not supported")]
    WillQos2,
    #[error("will topic: {0}")]
    WillTopic(TopicError),
    #[error(
        "certificate {cert_id} was registered just in time as PENDING_ACTIVATION under CA {ca_id} (activate it and reconnect)"
    )]
    JustRegistered { cert_id: String, ca_id: String },
    #[error("certificate {0} is PENDING_ACTIVATION")]
    PendingActivation(String),
    #[error("more than one CONNECT per second for this client id")]
    Throttled,
    #[error("more than 500 CONNECTs per second in this account")]
    AccountThrottled,
    #[error(transparent)]
    Registry(#[from] RegistryUnavailable),
    #[error("certificate {0} is SNI_ONLY and the client sent no SNI naming this endpoint")]
    SniRequired(String),
    #[error("certificate {0} is not registered in the region this connection addresses")]
    NotRegistered(String),
    #[error("certificate {cert_id} is {status} (only ACTIVE certificates connect)")]
    NotActive { cert_id: String, status: CertStatus },
    #[error("certificate {0} is expired or not yet valid")]
    OutsideValidity(String),
    #[error(
        "iot:Connect on {resource} with connect attributes {attributes:?}: no allowing statement tests iot:ConnectAttributes"
    )]
    AttributesUntested {
        resource: String,
        attributes: Vec<&'static str>,
    },
    /// A policy decision: the action, the resource after substitution, and what decided.
    #[error("{action} on {resource} {decision}")]
    Policy {
        action: &'static str,
        resource: String,
        decision: String,
    },
    #[error("will: {0}")]
    Will(Box<Denial>),
}

impl From<JustInTime> for Denial {
    fn from(j: JustInTime) -> Self {
        match j {
            JustInTime::Registered { cert_id, ca_id } => Denial::JustRegistered { cert_id, ca_id },
            JustInTime::Pending { cert_id } => Denial::PendingActivation(cert_id),
        }
    }
}

impl Denial {
    /// How the refusal shows on the wire.
    pub fn kind(&self) -> ConnectRefusal {
        match self {
            Denial::ClientId(_) => ConnectRefusal::ClientIdInvalid,
            Denial::WillQos2 => ConnectRefusal::QosNotSupported,
            Denial::WillTopic(_) => ConnectRefusal::TopicInvalid,
            Denial::Throttled | Denial::AccountThrottled => ConnectRefusal::Throttled,
            _ => ConnectRefusal::NotAuthorized,
        }
    }
}
