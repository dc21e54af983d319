//! The one door between bytes and packets. mqttbytes does the parsing; this module picks its
//! v4 or v5 parser from CONNECT's protocol level and covers what mqttbytes gets wrong:
//! the zero-length v5 DISCONNECT (`E0 00`), AUTH (type 15), v5 UNSUBSCRIBE (decoded here,
//! mqttbytes prints a debug line for each), and writing a QoS>0 PUBLISH without a packet id.

use crate::convert::{from_v4, from_v5};
use bytes::{Buf, Bytes, BytesMut};
use mqttbytes::{v4, v5};

/// The MQTT protocol a connection speaks, fixed by its CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V311,
    V5,
}

/// Largest PUBLISH payload AWS IoT accepts (128 KB).
pub const MAX_PAYLOAD: usize = 128 * 1024;
/// Largest remaining length the decoder buffers: the payload limit plus room for headers.
pub const MAX_PACKET: usize = MAX_PAYLOAD + 4096;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("the first packet is not CONNECT (packet type {0})")]
    NotConnect(u8),
    #[error("unsupported MQTT protocol level {0} (AWS IoT speaks 3.1.1 and 5)")]
    UnsupportedProtocol(u8),
    #[error("packet of {0} bytes exceeds the {MAX_PACKET}-byte limit")]
    TooLarge(usize),
    #[error("AUTH packets are not supported")]
    AuthUnsupported,
    #[error("malformed packet: {0}")]
    Malformed(String),
}

impl From<mqttbytes::Error> for CodecError {
    fn from(e: mqttbytes::Error) -> Self {
        match e {
            mqttbytes::Error::PayloadSizeLimitExceeded(n) => CodecError::TooLarge(n),
            other => CodecError::Malformed(format!("{other:?}")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    pub topic: String,
    pub payload: Bytes,
    pub qos: u8,
    pub retain: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    pub client_id: String,
    pub keep_alive: u16,
    pub clean_start: bool,
    pub will: Option<Will>,
    pub username: Option<String>,
    /// The CONNECT password (custom authorizers read it); `None` when absent or empty.
    pub password: Option<Vec<u8>>,
    /// MQTT 5 Maximum Packet Size: the largest packet the client accepts.
    pub max_packet_size: Option<u32>,
    /// MQTT 5 Session Expiry Interval.
    pub session_expiry: Option<u32>,
}

/// MQTT 5 CONNACK properties the broker advertises.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnAckProps {
    pub assigned_client_id: Option<String>,
    pub server_keep_alive: Option<u16>,
    pub session_expiry: Option<u32>,
    pub reason: Option<String>,
    /// Topic Alias Maximum (the session's limit).
    pub topic_alias_max: Option<u16>,
    /// Receive Maximum (the session's limit).
    pub receive_max: Option<u16>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Publish {
    pub topic: String,
    pub payload: Bytes,
    pub qos: u8,
    pub retain: bool,
    pub dup: bool,
    pub pkid: u16,
    /// MQTT 5 properties, forwarded as received (user properties, content type, ...).
    pub properties: Option<v5::PublishProperties>,
    /// When the message expires (MQTT 5 Message Expiry Interval, as a clock reading in ms);
    /// set by the broker on arrival, never encoded as such.
    pub expires_ms: Option<i64>,
}

impl Publish {
    /// A message with no properties and no packet id.
    pub fn new(topic: impl Into<String>, payload: Bytes, qos: u8, retain: bool) -> Self {
        Self {
            topic: topic.into(),
            payload,
            qos,
            retain,
            dup: false,
            pkid: 0,
            properties: None,
            expires_ms: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Packet {
    Connect(Connect),
    ConnAck {
        session_present: bool,
        code: u8,
        props: ConnAckProps,
    },
    Publish(Publish),
    PubAck {
        pkid: u16,
        reason: u8,
    },
    PubRec {
        pkid: u16,
    },
    PubRel {
        pkid: u16,
    },
    PubComp {
        pkid: u16,
    },
    Subscribe {
        pkid: u16,
        filters: Vec<(String, u8)>,
        subscription_id: bool,
    },
    SubAck {
        pkid: u16,
        codes: Vec<u8>,
    },
    Unsubscribe {
        pkid: u16,
        filters: Vec<String>,
    },
    UnsubAck {
        pkid: u16,
        codes: Vec<u8>,
    },
    PingReq,
    PingResp,
    Disconnect {
        reason: u8,
        session_expiry: Option<u32>,
    },
}

/// Bytes taken by the fixed header: the type byte and the remaining-length varint.
fn fixed_header_len(header: &mqttbytes::FixedHeader) -> usize {
    // frame = header + remaining, and the header grows by one byte per 7 bits of remaining
    let frame = header.frame_length();
    if frame <= 129 {
        2
    } else if frame <= 16_386 {
        3
    } else if frame <= 2_097_155 {
        4
    } else {
        5
    }
}

/// Reads the protocol level from a buffered CONNECT without consuming it. `Ok(None)`: need more.
pub fn detect_version(buf: &[u8]) -> Result<Option<Version>, CodecError> {
    let header = match mqttbytes::check(buf.iter(), MAX_PACKET) {
        Ok(h) => h,
        Err(mqttbytes::Error::InsufficientBytes(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let kind = buf[0] >> 4;
    if kind != 1 {
        return Err(CodecError::NotConnect(kind));
    }
    let body = &buf[fixed_header_len(&header)..header.frame_length()];
    let name_len = body
        .get(..2)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])));
    let level = name_len.and_then(|n| body.get(2 + n).copied());
    match (name_len, level) {
        (Some(4), Some(4)) if &body[2..6] == b"MQTT" => Ok(Some(Version::V311)),
        (Some(4), Some(5)) if &body[2..6] == b"MQTT" => Ok(Some(Version::V5)),
        (_, Some(l)) => Err(CodecError::UnsupportedProtocol(l)),
        _ => Err(CodecError::Malformed(
            "CONNECT without a protocol level".into(),
        )),
    }
}

/// Largest remaining length MQTT can express (256 MB): what a store that wrote a packet can
/// always read back, whatever the limits of the day when it wrote it.
pub const MAX_ENCODABLE: usize = 268_435_455;

/// Splits one packet off `buf`. `Ok(None)` means more bytes are needed (nothing consumed).
pub fn decode(buf: &mut BytesMut, version: Version) -> Result<Option<Packet>, CodecError> {
    decode_within(buf, version, MAX_PACKET)
}

/// [`decode`] with another size limit: stores read their own packets with [`MAX_ENCODABLE`],
/// so every packet the encoder wrote decodes again.
pub fn decode_within(
    buf: &mut BytesMut,
    version: Version,
    max: usize,
) -> Result<Option<Packet>, CodecError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    if version == Version::V5 && buf[0] == 0xE0 && buf[1] == 0 {
        buf.advance(2);
        return Ok(Some(Packet::Disconnect {
            reason: 0,
            session_expiry: None,
        }));
    }
    let header = match mqttbytes::check(buf.iter(), max) {
        Ok(h) => h,
        Err(mqttbytes::Error::InsufficientBytes(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    // MQTT 3.1.1 §2.2.2 and 5 §2.1.3: PUBREL, SUBSCRIBE and UNSUBSCRIBE carry flags 0010;
    // anything else is malformed and the connection is closed.
    let (kind, flags) = (buf[0] >> 4, buf[0] & 0x0F);
    if matches!(kind, 6 | 8 | 10) && flags != 0b0010 {
        let name = match kind {
            6 => "PUBREL",
            8 => "SUBSCRIBE",
            _ => "UNSUBSCRIBE",
        };
        return Err(CodecError::Malformed(format!(
            "{name} fixed-header flags must be 0010, not {flags:04b}"
        )));
    }
    match buf[0] >> 4 {
        15 => return Err(CodecError::AuthUnsupported),
        14 if version == Version::V5 => {
            let frame = buf.split_to(header.frame_length()).freeze();
            return disconnect_v5(frame.slice(fixed_header_len(&header)..)).map(Some);
        }
        10 if version == Version::V5 => {
            let frame = buf.split_to(header.frame_length()).freeze();
            return unsubscribe_v5(frame.slice(fixed_header_len(&header)..), buf_flags(&frame))
                .map(Some);
        }
        _ => {}
    }
    let packet = match version {
        Version::V311 => from_v4(v4::read(buf, max)?),
        Version::V5 => from_v5(v5::read(buf, max)?),
    };
    Ok(Some(packet))
}

fn buf_flags(frame: &Bytes) -> u8 {
    frame[0] & 0x0F
}

fn take_u16(b: &mut Bytes) -> Result<u16, CodecError> {
    if b.remaining() < 2 {
        return Err(CodecError::Malformed("truncated packet".into()));
    }
    Ok(b.get_u16())
}

fn take_varint(b: &mut Bytes) -> Result<usize, CodecError> {
    let (mut value, mut shift) = (0usize, 0);
    loop {
        if !b.has_remaining() || shift > 21 {
            return Err(CodecError::Malformed("bad variable-length integer".into()));
        }
        let byte = b.get_u8();
        value |= usize::from(byte & 0x7F) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
        shift += 7;
    }
}

/// MQTT 5 DISCONNECT: mqttbytes refuses the short forms the spec allows (no body: normal
/// disconnect; a reason code without properties).
fn disconnect_v5(mut body: Bytes) -> Result<Packet, CodecError> {
    let reason = if body.has_remaining() {
        body.get_u8()
    } else {
        0
    };
    let mut session_expiry = None;
    if body.has_remaining() {
        let len = take_varint(&mut body)?;
        if body.remaining() < len {
            return Err(CodecError::Malformed(
                "truncated DISCONNECT properties".into(),
            ));
        }
        let mut props = body.split_to(len);
        if props.remaining() >= 5 && props[0] == 0x11 {
            props.advance(1);
            session_expiry = Some(props.get_u32());
        }
    }
    Ok(Packet::Disconnect {
        reason,
        session_expiry,
    })
}

/// MQTT 5 UNSUBSCRIBE: packet id, properties (skipped), then one or more UTF-8 filters.
fn unsubscribe_v5(mut body: Bytes, flags: u8) -> Result<Packet, CodecError> {
    if flags != 0b0010 {
        return Err(CodecError::Malformed(
            "UNSUBSCRIBE fixed-header flags must be 0010".into(),
        ));
    }
    let pkid = take_u16(&mut body)?;
    let props = take_varint(&mut body)?;
    if body.remaining() < props {
        return Err(CodecError::Malformed(
            "truncated UNSUBSCRIBE properties".into(),
        ));
    }
    body.advance(props);
    let mut filters = Vec::new();
    while body.has_remaining() {
        let len = usize::from(take_u16(&mut body)?);
        if body.remaining() < len {
            return Err(CodecError::Malformed(
                "truncated UNSUBSCRIBE topic filter".into(),
            ));
        }
        let raw = body.split_to(len);
        let filter = std::str::from_utf8(&raw)
            .map_err(|_| CodecError::Malformed("topic filter is not UTF-8".into()))?;
        filters.push(filter.to_string());
    }
    if filters.is_empty() || pkid == 0 {
        return Err(CodecError::Malformed(
            "UNSUBSCRIBE needs a packet id and a topic filter".into(),
        ));
    }
    Ok(Packet::Unsubscribe { pkid, filters })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode;

    fn roundtrip(p: &Packet, v: Version) -> Packet {
        let mut buf = BytesMut::new();
        encode(p, v, &mut buf).expect("encode");
        let got = decode(&mut buf, v).expect("decode").expect("complete");
        assert!(buf.is_empty());
        got
    }

    #[test]
    fn subscribe_unsubscribe_and_pubrel_need_flags_0010_in_both_versions() {
        for v in [Version::V311, Version::V5] {
            // UNSUBSCRIBE, packet id 1, filter "a": well formed, then with flags 0000.
            let good: &[u8] = match v {
                Version::V311 => &[0xA2, 5, 0, 1, 0, 1, b'a'],
                Version::V5 => &[0xA2, 6, 0, 1, 0, 0, 1, b'a'],
            };
            let mut buf = BytesMut::from(good);
            assert!(matches!(
                decode(&mut buf, v),
                Ok(Some(Packet::Unsubscribe { .. }))
            ));
            for (first, name) in [
                (0xA0u8, "UNSUBSCRIBE"),
                (0x80, "SUBSCRIBE"),
                (0x60, "PUBREL"),
            ] {
                let mut bad = BytesMut::from(good);
                bad[0] = first;
                match decode(&mut bad, v) {
                    Err(CodecError::Malformed(why)) => assert!(why.contains(name), "{why}"),
                    other => panic!("{name} with flags 0000 in {v:?}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn versions_are_detected_from_connect() {
        for v in [Version::V311, Version::V5] {
            let c = Packet::Connect(Connect {
                client_id: "thing-1".into(),
                keep_alive: 30,
                clean_start: true,
                will: None,
                username: None,
                password: None,
                max_packet_size: None,
                session_expiry: None,
            });
            let mut buf = BytesMut::new();
            encode(&c, v, &mut buf).expect("encode");
            assert_eq!(detect_version(&buf).expect("detect"), Some(v));
            assert_eq!(detect_version(&buf[..3]).expect("partial"), None);
            assert_eq!(roundtrip(&c, v), c);
        }
        assert_eq!(
            detect_version(&[0x30, 0x00]),
            Err(CodecError::NotConnect(3))
        );
    }

    #[test]
    fn v5_shims() {
        let mut buf = BytesMut::from(&[0xE0u8, 0x00][..]);
        assert_eq!(
            decode(&mut buf, Version::V5).expect("ok"),
            Some(Packet::Disconnect {
                reason: 0,
                session_expiry: None
            })
        );
        let mut auth = BytesMut::from(&[0xF0u8, 0x00][..]);
        assert_eq!(
            decode(&mut auth, Version::V5),
            Err(CodecError::AuthUnsupported)
        );
        let u = Packet::Unsubscribe {
            pkid: 7,
            filters: vec!["a/b".into(), "c/#".into()],
        };
        assert_eq!(roundtrip(&u, Version::V5), u);
        let mut too_big = BytesMut::from(&[0x30u8, 0xff, 0xff, 0x7f][..]);
        assert!(matches!(
            decode(&mut too_big, Version::V311),
            Err(CodecError::TooLarge(_))
        ));
    }

    #[test]
    fn publish_and_acks_roundtrip() {
        for v in [Version::V311, Version::V5] {
            let p = Packet::Publish(Publish {
                pkid: 9,
                ..Publish::new(
                    "$aws/things/t/shadow/update",
                    Bytes::from_static(b"{}"),
                    1,
                    false,
                )
            });
            assert_eq!(roundtrip(&p, v), p);
            let s = Packet::SubAck {
                pkid: 3,
                codes: vec![1, 0x80],
            };
            assert_eq!(roundtrip(&s, v), s);
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_or_overallocate(bytes in proptest::collection::vec(0u8..=255, 0..300)) {
            for v in [Version::V311, Version::V5] {
                let mut buf = BytesMut::from(&bytes[..]);
                let _ = detect_version(&buf);
                for _ in 0..8 {
                    match decode(&mut buf, v) {
                        Ok(Some(_)) => continue,
                        _ => break,
                    }
                }
            }
        }
    }
}
