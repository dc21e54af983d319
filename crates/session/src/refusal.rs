//! The one place session refusals become wire behaviour. MQTT 3.1.1 cannot explain a refusal,
//! and AWS closes the connection without a CONNACK; MQTT 5 gets the reason code AWS documents.
//! `strict_mqtt3` off answers 3.1.1 clients with a CONNACK code instead (easier debugging).

use iotmock_mqtt::Version;
use iotmock_mqtt::reason::{V5, V311};

/// Why a CONNECT is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectRefusal {
    /// Unknown, not ACTIVE, expired, or not allowed iot:Connect.
    NotAuthorized,
    ClientIdInvalid,
    /// A will with QoS 2.
    QosNotSupported,
    /// A will topic that is not a valid publish topic.
    TopicInvalid,
    /// More than one CONNECT per second for the client id (throttling on).
    Throttled,
}

/// What to send before closing: a CONNACK with this code, or nothing.
pub fn connack_code(refusal: ConnectRefusal, version: Version, strict_mqtt3: bool) -> Option<u8> {
    match version {
        Version::V5 => Some(
            match refusal {
                ConnectRefusal::NotAuthorized => V5::NotAuthorized,
                ConnectRefusal::ClientIdInvalid => V5::ClientIdInvalid,
                ConnectRefusal::QosNotSupported => V5::QosNotSupported,
                ConnectRefusal::TopicInvalid => V5::TopicNameInvalid,
                ConnectRefusal::Throttled => V5::QuotaExceeded,
            }
            .code(),
        ),
        Version::V311 if strict_mqtt3 => None,
        Version::V311 => Some(
            match refusal {
                ConnectRefusal::ClientIdInvalid => V311::IdentifierRejected,
                _ => V311::NotAuthorized,
            }
            .code(),
        ),
    }
}

/// Why an established connection is closed by the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    Malformed,
    ProtocolError,
    /// The certificate lost its right to connect (deactivated, revoked, expired, policy
    /// detached).
    NotAuthorized,
    /// A publish the policy denies (MQTT 3.1.1).
    Forbidden,
    KeepAliveTimeout,
    SessionTakenOver,
    TopicFilterInvalid,
    TopicNameInvalid,
    TopicAliasInvalid,
    PacketTooLarge,
    QosNotSupported,
    SubscriptionIdsNotSupported,
    ShuttingDown,
    /// Closed by an administrator (AWS: DeleteConnection).
    Administrative,
    /// A custom authorizer's `disconnectAfterInSeconds` passed.
    CustomAuthExpired,
    /// Over a throttling limit: a client that stayed over its delivery queue bound (AWS's
    /// throughput per connection) past the grace period.
    Throttled,
}

/// The MQTT 5 DISCONNECT reason code sent before closing (3.1.1 just closes).
pub fn disconnect_code(reason: CloseReason) -> V5 {
    match reason {
        CloseReason::Malformed => V5::Malformed,
        CloseReason::ProtocolError => V5::ProtocolError,
        CloseReason::NotAuthorized | CloseReason::Forbidden => V5::NotAuthorized,
        CloseReason::ShuttingDown => V5::ServerShuttingDown,
        CloseReason::KeepAliveTimeout => V5::KeepAliveTimeout,
        CloseReason::SessionTakenOver => V5::SessionTakenOver,
        CloseReason::TopicFilterInvalid => V5::TopicFilterInvalid,
        CloseReason::TopicNameInvalid => V5::TopicNameInvalid,
        CloseReason::TopicAliasInvalid => V5::TopicAliasInvalid,
        CloseReason::PacketTooLarge => V5::PacketTooLarge,
        CloseReason::QosNotSupported => V5::QosNotSupported,
        CloseReason::SubscriptionIdsNotSupported => V5::SubscriptionIdsNotSupported,
        CloseReason::Administrative => V5::AdministrativeAction,
        CloseReason::CustomAuthExpired => V5::MaximumConnectTime,
        CloseReason::Throttled => V5::QuotaExceeded,
    }
}

/// How a connection ended, for the `disconnected` lifecycle event and the will.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The client sent DISCONNECT (MQTT 5 reason 0x04 still asks for the will).
    Client { send_will: bool },
    /// The socket closed or failed without DISCONNECT.
    Lost,
    /// The broker closed it.
    Closed(CloseReason),
}

impl End {
    /// AWS's `disconnectReason`.
    pub fn aws_reason(self) -> &'static str {
        match self {
            End::Client { .. } => "CLIENT_INITIATED_DISCONNECT",
            End::Lost => "CONNECTION_LOST",
            End::Closed(CloseReason::KeepAliveTimeout) => "MQTT_KEEP_ALIVE_TIMEOUT",
            End::Closed(CloseReason::SessionTakenOver) => "DUPLICATE_CLIENTID",
            End::Closed(CloseReason::NotAuthorized) => "AUTH_ERROR",
            End::Closed(CloseReason::Forbidden) => "FORBIDDEN_ACCESS",
            End::Closed(CloseReason::ShuttingDown) => "SERVER_INITIATED_DISCONNECT",
            End::Closed(CloseReason::Administrative) => "API_INITIATED_DISCONNECT",
            End::Closed(CloseReason::CustomAuthExpired) => "CUSTOMAUTH_TTL_EXPIRATION",
            End::Closed(CloseReason::Throttled) => "THROTTLED",
            End::Closed(_) => "CLIENT_ERROR",
        }
    }

    /// Whether the will is published: on every end but a plain client DISCONNECT.
    pub fn publishes_will(self) -> bool {
        !matches!(self, End::Client { send_will: false })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mqtt3_refusals_close_silently_unless_relaxed() {
        let na = ConnectRefusal::NotAuthorized;
        assert_eq!(connack_code(na, Version::V311, true), None);
        assert_eq!(connack_code(na, Version::V311, false), Some(5));
        assert_eq!(connack_code(na, Version::V5, true), Some(0x87));
        let qos = ConnectRefusal::QosNotSupported;
        assert_eq!(connack_code(qos, Version::V5, true), Some(0x9B));
        assert_eq!(disconnect_code(CloseReason::SessionTakenOver).code(), 0x8E);
        assert_eq!(
            disconnect_code(CloseReason::SubscriptionIdsNotSupported).code(),
            0xA1
        );
        assert!(!End::Client { send_will: false }.publishes_will());
        assert!(End::Client { send_will: true }.publishes_will() && End::Lost.publishes_will());
        assert_eq!(
            End::Closed(CloseReason::KeepAliveTimeout).aws_reason(),
            "MQTT_KEEP_ALIVE_TIMEOUT"
        );
    }
}
