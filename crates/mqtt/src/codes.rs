//! Reason codes as mqttbytes' MQTT 5 types: every code a packet may carry becomes the variant
//! with that byte (the tables list each type's every variant, so none is lost to a hand-made
//! match); a code the packet cannot carry becomes 0x80, unspecified error.

use mqttbytes::v5;

const CONNACK: [v5::ConnectReturnCode; 22] = {
    use v5::ConnectReturnCode::*;
    [
        Success,
        UnspecifiedError,
        MalformedPacket,
        ProtocolError,
        ImplementationSpecificError,
        UnsupportedProtocolVersion,
        ClientIdentifierNotValid,
        BadUserNamePassword,
        NotAuthorized,
        ServerUnavailable,
        ServerBusy,
        Banned,
        BadAuthenticationMethod,
        TopicNameInvalid,
        PacketTooLarge,
        QuotaExceeded,
        PayloadFormatInvalid,
        RetainNotSupported,
        QoSNotSupported,
        UseAnotherServer,
        ServerMoved,
        ConnectionRateExceeded,
    ]
};

const PUBACK: [v5::PubAckReason; 9] = {
    use v5::PubAckReason::*;
    [
        Success,
        NoMatchingSubscribers,
        UnspecifiedError,
        ImplementationSpecificError,
        NotAuthorized,
        TopicNameInvalid,
        PacketIdentifierInUse,
        QuotaExceeded,
        PayloadFormatInvalid,
    ]
};

const UNSUBACK: [v5::UnsubAckReason; 7] = {
    use v5::UnsubAckReason::*;
    [
        Success,
        NoSubscriptionExisted,
        UnspecifiedError,
        ImplementationSpecificError,
        NotAuthorized,
        TopicFilterInvalid,
        PacketIdentifierInUse,
    ]
};

fn pick<T: Copy>(all: &[T], code: u8, byte: fn(T) -> u8, fallback: T) -> T {
    all.iter()
        .copied()
        .find(|r| byte(*r) == code)
        .unwrap_or(fallback)
}

pub(crate) fn v5_connack(code: u8) -> v5::ConnectReturnCode {
    let fallback = v5::ConnectReturnCode::UnspecifiedError;
    pick(&CONNACK, code, |c| c as u8, fallback)
}

pub(crate) fn v5_puback(code: u8) -> v5::PubAckReason {
    pick(
        &PUBACK,
        code,
        |c| c as u8,
        v5::PubAckReason::UnspecifiedError,
    )
}

pub(crate) fn v5_unsuback(code: u8) -> v5::UnsubAckReason {
    pick(
        &UNSUBACK,
        code,
        |c| c as u8,
        v5::UnsubAckReason::UnspecifiedError,
    )
}

pub(crate) fn v5_disconnect(code: u8) -> v5::DisconnectReasonCode {
    v5::DisconnectReasonCode::try_from(code).unwrap_or(v5::DisconnectReasonCode::UnspecifiedError)
}

pub(crate) fn v5_suback(code: u8) -> v5::SubscribeReasonCode {
    v5::SubscribeReasonCode::try_from(code).unwrap_or(v5::SubscribeReasonCode::Unspecified)
}

#[cfg(test)]
mod tests {
    use crate::reason::V5;
    use crate::{ConnAckProps, Packet, Version, decode, encode};
    use bytes::BytesMut;

    // The codes each MQTT 5 packet may carry (MQTT 5.0 sections 3.2.2.2, 3.4.2.1, 3.9.3,
    // 3.11.3 and 3.14.2.1).
    const CONNACK: &[u8] = &[
        0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95,
        0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
    ];
    const PUBACK: &[u8] = &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
    const SUBACK: &[u8] = &[
        0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
    ];
    const UNSUBACK: &[u8] = &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];
    const DISCONNECT: &[u8] = &[
        0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94,
        0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
    ];

    fn wire(packet: &Packet) -> Packet {
        let mut buf = BytesMut::new();
        encode(packet, Version::V5, &mut buf).expect("encodes");
        decode(&mut buf, Version::V5)
            .expect("decodes")
            .expect("whole")
    }

    fn connack(code: u8) -> Packet {
        Packet::ConnAck {
            session_present: false,
            code,
            props: ConnAckProps::default(),
        }
    }

    #[test]
    fn every_reason_code_reaches_the_wire_as_itself() {
        for &c in CONNACK {
            match wire(&connack(c)) {
                Packet::ConnAck { code, .. } => assert_eq!(code, c, "CONNACK {c:#04x}"),
                other => panic!("CONNACK {c:#04x} came back as {other:?}"),
            }
        }
        for &c in PUBACK {
            let p = Packet::PubAck { pkid: 1, reason: c };
            assert_eq!(wire(&p), p, "PUBACK {c:#04x}");
        }
        for &c in SUBACK {
            let p = Packet::SubAck {
                pkid: 2,
                codes: vec![c],
            };
            assert_eq!(wire(&p), p, "SUBACK {c:#04x}");
        }
        for &c in UNSUBACK {
            let p = Packet::UnsubAck {
                pkid: 3,
                codes: vec![c],
            };
            assert_eq!(wire(&p), p, "UNSUBACK {c:#04x}");
        }
        for &c in DISCONNECT {
            let p = Packet::Disconnect {
                reason: c,
                session_expiry: None,
            };
            assert_eq!(wire(&p), p, "DISCONNECT {c:#04x}");
        }
    }

    #[test]
    fn every_named_reason_is_one_some_packet_carries() {
        let all = [CONNACK, PUBACK, SUBACK, UNSUBACK, DISCONNECT];
        for code in 0..=u8::MAX {
            if let Some(r) = V5::from_code(code) {
                let carried = all.iter().any(|t| t.contains(&r.code()));
                assert!(carried, "{r:?} is carried by no MQTT 5 packet");
            }
        }
    }

    #[test]
    fn a_code_a_packet_cannot_carry_becomes_unspecified() {
        let p = Packet::PubAck {
            pkid: 1,
            reason: 0x8E,
        };
        assert_eq!(
            wire(&p),
            Packet::PubAck {
                pkid: 1,
                reason: 0x80
            }
        );
    }
}
