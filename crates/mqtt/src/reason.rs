//! Typed MQTT reason codes: one enum per protocol version. The codec carries them as bytes;
//! everything above it names them.

macro_rules! reason_codes {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $code:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name {
            $($variant = $code,)*
        }

        impl $name {
            /// The byte on the wire.
            pub fn code(self) -> u8 {
                self as u8
            }
        }

        impl From<$name> for u8 {
            fn from(r: $name) -> u8 {
                r as u8
            }
        }
    };
}

reason_codes!(
    /// MQTT 5 reason codes AWS IoT Core sends (CONNACK, PUBACK, SUBACK, UNSUBACK, DISCONNECT).
    V5 {
        Success = 0x00,
        GrantedQos1 = 0x01,
        DisconnectWithWill = 0x04,
        NoSubscriptionExisted = 0x11,
        Unspecified = 0x80,
        Malformed = 0x81,
        ProtocolError = 0x82,
        ClientIdInvalid = 0x85,
        NotAuthorized = 0x87,
        ServerShuttingDown = 0x8B,
        KeepAliveTimeout = 0x8D,
        SessionTakenOver = 0x8E,
        TopicFilterInvalid = 0x8F,
        TopicNameInvalid = 0x90,
        PacketIdInUse = 0x91,
        ReceiveMaximumExceeded = 0x93,
        TopicAliasInvalid = 0x94,
        PacketTooLarge = 0x95,
        QuotaExceeded = 0x97,
        AdministrativeAction = 0x98,
        QosNotSupported = 0x9B,
        SubscriptionIdsNotSupported = 0xA1,
    }
);

reason_codes!(
    /// MQTT 3.1.1 return codes (CONNACK and SUBACK).
    V311 {
        Accepted = 0x00,
        GrantedQos1 = 0x01,
        IdentifierRejected = 0x02,
        NotAuthorized = 0x05,
        SubscribeFailure = 0x80,
    }
);

impl V5 {
    /// Whether a SUBACK / PUBACK code reports a failure.
    pub fn is_failure(code: u8) -> bool {
        code >= 0x80
    }
}
