//! Typed MQTT reason codes: one enum per protocol version. The codec carries them as bytes;
//! everything above it names them.

macro_rules! reason_codes {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $code:literal => $text:literal,)* }) => {
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

            /// The code named, when it is one of these.
            pub fn from_code(code: u8) -> Option<Self> {
                match code {
                    $($code => Some(Self::$variant),)*
                    _ => None,
                }
            }

            /// What the code means, in the words of the MQTT specification.
            pub fn text(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
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
        Success = 0x00 => "success",
        GrantedQos1 = 0x01 => "granted QoS 1",
        DisconnectWithWill = 0x04 => "disconnect with will message",
        NoSubscriptionExisted = 0x11 => "no subscription existed",
        Unspecified = 0x80 => "unspecified error",
        Malformed = 0x81 => "malformed packet",
        ProtocolError = 0x82 => "protocol error",
        ClientIdInvalid = 0x85 => "client identifier not valid",
        NotAuthorized = 0x87 => "not authorized",
        ServerShuttingDown = 0x8B => "server shutting down",
        KeepAliveTimeout = 0x8D => "keep alive timeout",
        SessionTakenOver = 0x8E => "session taken over",
        TopicFilterInvalid = 0x8F => "topic filter invalid",
        TopicNameInvalid = 0x90 => "topic name invalid",
        PacketIdInUse = 0x91 => "packet identifier in use",
        ReceiveMaximumExceeded = 0x93 => "receive maximum exceeded",
        TopicAliasInvalid = 0x94 => "topic alias invalid",
        PacketTooLarge = 0x95 => "packet too large",
        QuotaExceeded = 0x97 => "quota exceeded",
        AdministrativeAction = 0x98 => "administrative action",
        QosNotSupported = 0x9B => "QoS not supported",
        MaximumConnectTime = 0xA0 => "maximum connect time",
        SubscriptionIdsNotSupported = 0xA1 => "subscription identifiers not supported",
    }
);

reason_codes!(
    /// MQTT 3.1.1 return codes (CONNACK and SUBACK).
    V311 {
        Accepted = 0x00 => "accepted",
        GrantedQos1 = 0x01 => "granted QoS 1",
        IdentifierRejected = 0x02 => "identifier rejected",
        NotAuthorized = 0x05 => "not authorized",
        SubscribeFailure = 0x80 => "failure",
    }
);

impl V5 {
    /// Whether a SUBACK / PUBACK code reports a failure.
    pub fn is_failure(code: u8) -> bool {
        code >= 0x80
    }
}

/// What a refusal code from a broker means, whichever version sent it (3.1.1 codes below
/// 0x80 read as 3.1.1; everything else as MQTT 5).
pub fn describe(code: u8) -> &'static str {
    let v311 = (code < 0x80).then(|| V311::from_code(code)).flatten();
    match (v311, V5::from_code(code)) {
        (Some(r), _) => r.text(),
        (None, Some(r)) => r.text(),
        (None, None) => "refused",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_read_as_text() {
        assert_eq!(V5::from_code(0x87), Some(V5::NotAuthorized));
        assert_eq!(V5::from_code(0x02), None);
        assert_eq!(describe(5), "not authorized");
        assert_eq!(describe(0x87), "not authorized");
        assert_eq!(describe(0x80), "unspecified error");
        assert_eq!(describe(0x42), "refused");
    }
}
