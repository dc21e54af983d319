//! The catalogue: Device Advisor's case ids, what each checks, the qualification suite, and
//! what each needs from the broker (timeout, faults, server certificate).

use crate::{Faults, ServerCert};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseId {
    TlsConnect,
    TlsReceiveMaxFragments,
    TlsCipherSuites,
    TlsLargeServerCert,
    TlsUnsecureServerCert,
    TlsIncorrectSubjectName,
    TlsExpiredServerCert,
    MqttConnect,
    MqttPublish,
    MqttSubscribe,
    ClientPubackQos1,
    PublishRetryNoPuback,
    SubscribeRetryNoSuback,
    NoAckPingResp,
    PersistentSessionHappy,
    ExpiredPersistentSession,
    ConnectExponentialBackoff,
    ConnectJitterBackoff,
    ReconnectServerDisconnect,
    ReconnectUnstable,
    LongDuration,
    ShadowPublishReportedState,
    ShadowUpdateReportedState,
    JobExecution,
    SecurityDevicePolicies,
    CustomAuthConnect,
    CustomAuthRefresh,
    CustomAuthReconnect,
}

const ALL: [(CaseId, &str, &str); 28] = [
    (
        CaseId::TlsConnect,
        "TLS_Connect",
        "the device completes a mutual-TLS handshake",
    ),
    (
        CaseId::TlsReceiveMaxFragments,
        "TLS_Receive_Maximum_Size_Fragments",
        "the device receives (and acknowledges) a QoS 1 message sent in full 16 KB TLS records",
    ),
    (
        CaseId::TlsCipherSuites,
        "TLS_Support_AWS_IoT_Cipher_Suites",
        "the ClientHello offers cipher suites AWS IoT supports (others warn)",
    ),
    (
        CaseId::TlsLargeServerCert,
        "TLS_Large_Size_Server_Cert",
        "the handshake survives a server certificate over 5 KB",
    ),
    (
        CaseId::TlsUnsecureServerCert,
        "TLS_Unsecure_Server_Cert",
        "the device aborts on a server certificate no trusted CA signed",
    ),
    (
        CaseId::TlsIncorrectSubjectName,
        "TLS_Incorrect_Subject_Name_Server_Cert",
        "the device aborts on a server certificate for another host name",
    ),
    (
        CaseId::TlsExpiredServerCert,
        "TLS_Expired_Server_Cert",
        "the device aborts on an expired server certificate with a TLS alert (a silent close warns)",
    ),
    (
        CaseId::MqttConnect,
        "MQTT_Connect",
        "the device sends CONNECT",
    ),
    (CaseId::MqttPublish, "MQTT_Publish", "the device publishes"),
    (
        CaseId::MqttSubscribe,
        "MQTT_Subscribe",
        "the device subscribes",
    ),
    (
        CaseId::ClientPubackQos1,
        "MQTT_Client_Puback_QoS1",
        "the device acknowledges a QoS 1 message on its subscription",
    ),
    (
        CaseId::PublishRetryNoPuback,
        "MQTT_Publish_Retry_No_Puback",
        "with PUBACK withheld, the device resends the PUBLISH with the same packet id, without reconnecting",
    ),
    (
        CaseId::SubscribeRetryNoSuback,
        "MQTT_Subscribe_Retry_No_Suback",
        "with SUBACK withheld, the device resends the SUBSCRIBE with the same packet id",
    ),
    (
        CaseId::NoAckPingResp,
        "MQTT_No_Ack_PingResp",
        "with PINGRESP withheld, the device drops the connection itself",
    ),
    (
        CaseId::PersistentSessionHappy,
        "MQTT_Persistent_Session_Happy_Case",
        "after a forced disconnect, the device resumes its session without resubscribing and acknowledges the stored message",
    ),
    (
        CaseId::ExpiredPersistentSession,
        "MQTT_Expired_Persistent_Session",
        "after its session is dropped, the device subscribes again",
    ),
    (
        CaseId::ConnectExponentialBackoff,
        "MQTT_Connect_Exponential_Backoff_Retries",
        "with CONNACK withheld, the device retries with exponential backoff",
    ),
    (
        CaseId::ConnectJitterBackoff,
        "MQTT_Connect_Jitter_Backoff_Retries",
        "with CONNACK withheld, the device retries with jittered backoff (plain exponential warns)",
    ),
    (
        CaseId::ReconnectServerDisconnect,
        "MQTT_Reconnect_Backoff_Retries_On_Server_Disconnect",
        "disconnected after every CONNACK, the device reconnects with jittered backoff (plain exponential warns)",
    ),
    (
        CaseId::ReconnectUnstable,
        "MQTT_Reconnect_Backoff_Retries_On_Unstable_Connection",
        "its connection dropped after its first packet, the device reconnects with jittered backoff (plain exponential warns)",
    ),
    (
        CaseId::LongDuration,
        "MQTT_Long_Duration",
        "the basic phase, then the SCENARIOS asked for, one after another, time-compressed; ends with a summary",
    ),
    (
        CaseId::ShadowPublishReportedState,
        "Shadow_Publish_Reported_State",
        "the device publishes its reported state to its shadow",
    ),
    (
        CaseId::ShadowUpdateReportedState,
        "Shadow_Update_Reported_State",
        "the device takes the desired state from its shadow and reports it",
    ),
    (
        CaseId::JobExecution,
        "Job_Execution",
        "the device picks up a job and reports it SUCCEEDED",
    ),
    (
        CaseId::SecurityDevicePolicies,
        "Security_Device_Policies",
        "the policies attached to the device certificate grant without wildcards",
    ),
    (
        CaseId::CustomAuthConnect,
        "Custom_Auth_Connect",
        "the device connects through a custom authorizer (username and password or token)",
    ),
    (
        CaseId::CustomAuthRefresh,
        "Custom_Auth_Token_Refresh",
        "the device stays connected while the custom authorizer's grant is refreshed",
    ),
    (
        CaseId::CustomAuthReconnect,
        "Custom_Auth_Reconnect_After_Disconnect",
        "the device connects again after the custom authorizer's grant ends the connection",
    ),
];

/// Every case of Device Advisor's this runner knows, in Device Advisor's order.
pub fn all_cases() -> Vec<CaseId> {
    ALL.iter()
        .map(|(c, _, _)| *c)
        .filter(|c| !c.is_custom_auth())
        .collect()
}

/// iotmock's cases for devices that authenticate with a custom authorizer (they always run
/// with one, whatever `--auth` says).
pub fn custom_auth_cases() -> Vec<CaseId> {
    ALL.iter()
        .map(|(c, _, _)| *c)
        .filter(|c| c.is_custom_auth())
        .collect()
}

/// Device Advisor's qualification suite (the AWS Device Qualification Program subset): the
/// seven TLS cases, MQTT_Connect, MQTT_Subscribe, MQTT_Publish and
/// MQTT_Connect_Jitter_Backoff_Retries.
pub fn qualification_cases() -> Vec<CaseId> {
    all_cases()
        .into_iter()
        .filter(|c| {
            c.is_tls()
                || matches!(
                    c,
                    CaseId::MqttConnect
                        | CaseId::MqttSubscribe
                        | CaseId::MqttPublish
                        | CaseId::ConnectJitterBackoff
                )
        })
        .collect()
}

impl CaseId {
    /// Device Advisor's id.
    pub fn name(self) -> &'static str {
        ALL.iter()
            .find(|(c, _, _)| *c == self)
            .map_or("", |(_, n, _)| n)
    }

    pub fn summary(self) -> &'static str {
        ALL.iter()
            .find(|(c, _, _)| *c == self)
            .map_or("", |(_, _, s)| s)
    }

    /// The case with this id (case-insensitive, so `MQTT_Client_Puback_Qos1` and
    /// `MQTT_Client_Puback_QoS1` both name the same case).
    pub fn parse(name: &str) -> Option<Self> {
        // An id the spec uses that Device Advisor's pages do not list; the nearest case.
        if name.eq_ignore_ascii_case("MQTT_ReconnectionAfterSuccessfulConnection") {
            return Some(CaseId::ReconnectUnstable);
        }
        ALL.iter()
            .find(|(_, n, _)| n.eq_ignore_ascii_case(name))
            .map(|(c, _, _)| *c)
    }

    /// One of the custom-authorizer cases.
    pub fn is_custom_auth(self) -> bool {
        crate::custom::is_custom(self)
    }

    /// One of the seven TLS cases.
    pub fn is_tls(self) -> bool {
        self.name().starts_with("TLS_")
    }

    /// The server certificate the broker presents for this case.
    pub fn server_cert(self) -> ServerCert {
        match self {
            CaseId::TlsLargeServerCert => ServerCert::Large,
            CaseId::TlsUnsecureServerCert => ServerCert::Untrusted,
            CaseId::TlsIncorrectSubjectName => ServerCert::WrongName,
            CaseId::TlsExpiredServerCert => ServerCert::Expired,
            _ => ServerCert::Standard,
        }
    }

    /// How long the device has, in seconds.
    pub fn timeout_secs(self) -> u64 {
        match self {
            CaseId::ConnectExponentialBackoff
            | CaseId::ConnectJitterBackoff
            | CaseId::ReconnectServerDisconnect
            | CaseId::ReconnectUnstable => 120,
            CaseId::LongDuration => 600,
            CaseId::NoAckPingResp => 150,
            _ => 60,
        }
    }

    /// What the broker withholds for this case.
    pub fn faults(self) -> Faults {
        match self {
            CaseId::PublishRetryNoPuback => Faults {
                withhold_puback: true,
                ..Faults::default()
            },
            CaseId::SubscribeRetryNoSuback => Faults {
                withhold_suback: true,
                ..Faults::default()
            },
            CaseId::NoAckPingResp => Faults {
                withhold_pingresp: true,
                withhold_puback: true,
                withhold_suback: true,
                ..Faults::default()
            },
            CaseId::ConnectExponentialBackoff | CaseId::ConnectJitterBackoff => Faults {
                withhold_connack: true,
                ..Faults::default()
            },
            CaseId::ReconnectUnstable => Faults {
                drop_after: Some(2),
                ..Faults::default()
            },
            _ => Faults::default(),
        }
    }
}
