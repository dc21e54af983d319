//! One message on its way to one subscriber, and its encoding without copying the message:
//! a PUBLISH without MQTT 5 properties (every 3.1.1 delivery, most 5 ones) is written straight
//! from the shared message; one with properties goes through the general encoder.

use crate::codec::{CodecError, Packet, Publish, Version};
use bytes::{BufMut, BytesMut};
use std::sync::Arc;

/// A message as delivered to one subscriber: the granted QoS, its packet id there, DUP on a
/// redelivery, and the remaining MQTT 5 Message Expiry Interval when the message has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub message: Arc<Publish>,
    pub qos: u8,
    pub pkid: u16,
    pub dup: bool,
    pub expiry: Option<u32>,
}

impl Delivery {
    /// The PUBLISH packet this delivery writes (a copy of the message; for tests and logs).
    pub fn packet(&self) -> Publish {
        let mut properties = self.message.properties.clone();
        if let Some(secs) = self.expiry {
            let p = properties.get_or_insert_with(crate::empty_properties);
            p.message_expiry_interval = Some(secs);
        }
        if let Some(p) = properties.as_mut() {
            p.topic_alias = None;
        }
        Publish {
            qos: self.qos,
            pkid: self.pkid,
            dup: self.dup,
            properties,
            ..(*self.message).clone()
        }
    }
}

fn put_varint(out: &mut BytesMut, mut n: usize) {
    loop {
        let byte = (n % 128) as u8;
        n /= 128;
        if n == 0 {
            out.put_u8(byte);
            return;
        }
        out.put_u8(byte | 0x80);
    }
}

/// Writes `d` for a connection speaking `version`.
pub fn encode_delivery(
    d: &Delivery,
    version: Version,
    out: &mut BytesMut,
) -> Result<(), CodecError> {
    let m = &d.message;
    let plain = version == Version::V311 || (m.properties.is_none() && d.expiry.is_none());
    if !plain {
        return crate::encode(&Packet::Publish(d.packet()), version, out);
    }
    if d.qos > 0 && d.pkid == 0 {
        return Err(CodecError::Malformed(
            "a QoS 1 PUBLISH needs a packet id".into(),
        ));
    }
    let topic_len = u16::try_from(m.topic.len())
        .map_err(|_| CodecError::Malformed("topic longer than 65535 bytes".into()))?;
    let id_len = if d.qos > 0 { 2 } else { 0 };
    let props_len = usize::from(version == Version::V5);
    let remaining = 2 + m.topic.len() + id_len + props_len + m.payload.len();
    let header = 0x30 | (u8::from(d.dup) << 3) | (d.qos.min(2) << 1) | u8::from(m.retain);
    out.reserve(remaining + 5);
    out.put_u8(header);
    put_varint(out, remaining);
    out.put_u16(topic_len);
    out.put_slice(m.topic.as_bytes());
    if d.qos > 0 {
        out.put_u16(d.pkid);
    }
    if version == Version::V5 {
        out.put_u8(0);
    }
    out.put_slice(&m.payload);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use proptest::prelude::*;

    fn general(d: &Delivery, v: Version) -> BytesMut {
        let mut out = BytesMut::new();
        crate::encode(&Packet::Publish(d.packet()), v, &mut out).expect("encodes");
        out
    }

    proptest! {
        #[test]
        fn the_direct_encoding_is_the_general_one(
            topic in "[a-z/]{1,300}",
            payload in proptest::collection::vec(any::<u8>(), 0..20_000),
            qos in 0u8..2, pkid in 1u16.., dup: bool, retain: bool, v5: bool,
        ) {
            let message = Arc::new(Publish::new(topic, Bytes::from(payload), 1, retain));
            let d = Delivery { message, qos, pkid: if qos == 0 { 0 } else { pkid }, dup: dup && qos > 0, expiry: None };
            let v = if v5 { Version::V5 } else { Version::V311 };
            let mut direct = BytesMut::new();
            encode_delivery(&d, v, &mut direct).expect("encodes");
            prop_assert_eq!(direct, general(&d, v));
        }
    }

    #[test]
    fn properties_and_expiry_go_through_the_general_encoder() {
        let mut props = crate::empty_properties();
        props.content_type = Some("application/json".into());
        let message = Arc::new(Publish {
            properties: Some(props),
            ..Publish::new("t", Bytes::from_static(b"{}"), 1, false)
        });
        let d = Delivery {
            message,
            qos: 1,
            pkid: 3,
            dup: false,
            expiry: Some(9),
        };
        let mut out = BytesMut::new();
        encode_delivery(&d, Version::V5, &mut out).expect("encodes");
        let Some(Packet::Publish(back)) = crate::decode(&mut out, Version::V5).expect("decodes")
        else {
            panic!("a publish")
        };
        let props = back.properties.expect("properties");
        assert_eq!(
            (props.message_expiry_interval, props.content_type.as_deref()),
            (Some(9), Some("application/json"))
        );
    }
}
