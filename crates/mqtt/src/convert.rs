//! Conversions between mqttbytes' v4/v5 packets and the version-neutral [`Packet`], and
//! encoding. Writing is ours: a PUBLISH always carries its packet id before it is written.

use crate::codec::{ConnAckProps, Connect, Packet, Publish, Version, Will};
use crate::codes::{v5_connack, v5_disconnect, v5_puback, v5_suback, v5_unsuback};
use bytes::BytesMut;
use mqttbytes::{QoS, v4, v5};

fn to_qos(q: u8) -> QoS {
    match q {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

/// A CONNECT password as read (mqttbytes reads it as text; empty means none was sent).
fn password(p: &str) -> Option<Vec<u8>> {
    (!p.is_empty()).then(|| p.as_bytes().to_vec())
}

/// The password to write (mqttbytes writes text).
fn login_password(c: &Connect) -> String {
    c.password
        .as_deref()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .unwrap_or_default()
}

pub(crate) fn from_v4(p: v4::Packet) -> Packet {
    match p {
        v4::Packet::Connect(c) => Packet::Connect(Connect {
            client_id: c.client_id,
            keep_alive: c.keep_alive,
            clean_start: c.clean_session,
            will: c.last_will.map(|w| Will {
                topic: w.topic,
                payload: w.message,
                qos: w.qos as u8,
                retain: w.retain,
            }),
            password: c.login.as_ref().and_then(|l| password(&l.password)),
            username: c.login.map(|l| l.username),
            max_packet_size: None,
            session_expiry: None,
        }),
        v4::Packet::ConnAck(a) => Packet::ConnAck {
            session_present: a.session_present,
            code: a.code as u8,
            props: ConnAckProps::default(),
        },
        v4::Packet::Publish(p) => Packet::Publish(Publish {
            topic: p.topic,
            payload: p.payload,
            qos: p.qos as u8,
            retain: p.retain,
            dup: p.dup,
            pkid: p.pkid,
            properties: None,
            expires_ms: None,
        }),
        v4::Packet::PubAck(a) => Packet::PubAck {
            pkid: a.pkid,
            reason: 0,
        },
        v4::Packet::PubRec(a) => Packet::PubRec { pkid: a.pkid },
        v4::Packet::PubRel(a) => Packet::PubRel { pkid: a.pkid },
        v4::Packet::PubComp(a) => Packet::PubComp { pkid: a.pkid },
        v4::Packet::Subscribe(s) => Packet::Subscribe {
            pkid: s.pkid,
            filters: s
                .filters
                .into_iter()
                .map(|f| (f.path, f.qos as u8))
                .collect(),
            subscription_id: false,
        },
        v4::Packet::SubAck(s) => Packet::SubAck {
            pkid: s.pkid,
            codes: s
                .return_codes
                .iter()
                .map(|c| match c {
                    v4::SubscribeReasonCode::Success(q) => *q as u8,
                    v4::SubscribeReasonCode::Failure => 0x80,
                })
                .collect(),
        },
        v4::Packet::Unsubscribe(u) => Packet::Unsubscribe {
            pkid: u.pkid,
            filters: u.topics,
        },
        v4::Packet::UnsubAck(u) => Packet::UnsubAck {
            pkid: u.pkid,
            codes: Vec::new(),
        },
        v4::Packet::PingReq => Packet::PingReq,
        v4::Packet::PingResp => Packet::PingResp,
        v4::Packet::Disconnect => Packet::Disconnect {
            reason: 0,
            session_expiry: None,
        },
    }
}

pub(crate) fn from_v5(p: v5::Packet) -> Packet {
    match p {
        v5::Packet::Connect(c) => Packet::Connect(Connect {
            client_id: c.client_id,
            keep_alive: c.keep_alive,
            clean_start: c.clean_session,
            will: c.last_will.map(|w| Will {
                topic: w.topic,
                payload: w.message,
                qos: w.qos as u8,
                retain: w.retain,
            }),
            password: c.login.as_ref().and_then(|l| password(&l.password)),
            username: c.login.map(|l| l.username),
            max_packet_size: c.properties.as_ref().and_then(|p| p.max_packet_size),
            session_expiry: c.properties.and_then(|p| p.session_expiry_interval),
        }),
        v5::Packet::ConnAck(a) => Packet::ConnAck {
            session_present: a.session_present,
            code: a.code as u8,
            props: ConnAckProps {
                assigned_client_id: a
                    .properties
                    .as_ref()
                    .and_then(|p| p.assigned_client_identifier.clone()),
                server_keep_alive: a.properties.as_ref().and_then(|p| p.server_keep_alive),
                session_expiry: a
                    .properties
                    .as_ref()
                    .and_then(|p| p.session_expiry_interval),
                reason: a.properties.as_ref().and_then(|p| p.reason_string.clone()),
                topic_alias_max: a.properties.as_ref().and_then(|p| p.topic_alias_max),
                receive_max: a.properties.as_ref().and_then(|p| p.receive_max),
            },
        },
        v5::Packet::Publish(p) => Packet::Publish(Publish {
            topic: p.topic,
            payload: p.payload,
            qos: p.qos as u8,
            retain: p.retain,
            dup: p.dup,
            pkid: p.pkid,
            properties: p.properties,
            expires_ms: None,
        }),
        v5::Packet::PubAck(a) => Packet::PubAck {
            pkid: a.pkid,
            reason: a.reason as u8,
        },
        v5::Packet::PubRec(a) => Packet::PubRec { pkid: a.pkid },
        v5::Packet::PubRel(a) => Packet::PubRel { pkid: a.pkid },
        v5::Packet::PubComp(a) => Packet::PubComp { pkid: a.pkid },
        v5::Packet::Subscribe(s) => Packet::Subscribe {
            pkid: s.pkid,
            subscription_id: s.properties.as_ref().is_some_and(|p| p.id.is_some()),
            filters: s
                .filters
                .into_iter()
                .map(|f| (f.path, f.qos as u8))
                .collect(),
        },
        v5::Packet::SubAck(s) => Packet::SubAck {
            pkid: s.pkid,
            codes: s.return_codes.iter().map(|c| *c as u8).collect(),
        },
        v5::Packet::Unsubscribe(u) => Packet::Unsubscribe {
            pkid: u.pkid,
            filters: u.filters,
        },
        v5::Packet::UnsubAck(u) => Packet::UnsubAck {
            pkid: u.pkid,
            codes: u.reasons.iter().map(|c| *c as u8).collect(),
        },
        v5::Packet::PingReq => Packet::PingReq,
        v5::Packet::PingResp => Packet::PingResp,
        v5::Packet::Disconnect(d) => Packet::Disconnect {
            reason: d.reason_code as u8,
            session_expiry: d.properties.and_then(|p| p.session_expiry_interval),
        },
    }
}

fn v4_connack(code: u8) -> v4::ConnectReturnCode {
    use v4::ConnectReturnCode::*;
    match code {
        0 => Success,
        1 => RefusedProtocolVersion,
        2 => BadClientId,
        3 => ServiceUnavailable,
        4 => BadUserNamePassword,
        _ => NotAuthorized,
    }
}

fn connack_props(props: &ConnAckProps) -> v5::ConnAckProperties {
    let mut p = v5::ConnAckProperties::new();
    p.max_qos = Some(1);
    p.retain_available = Some(1);
    p.wildcard_subscription_available = Some(1);
    p.subscription_identifiers_available = Some(0);
    p.shared_subscription_available = Some(1);
    p.topic_alias_max = props.topic_alias_max;
    p.receive_max = props.receive_max;
    p.max_packet_size = Some(crate::codec::MAX_PACKET as u32);
    p.assigned_client_identifier = props.assigned_client_id.clone();
    p.server_keep_alive = props.server_keep_alive;
    p.session_expiry_interval = props.session_expiry;
    p.reason_string = props.reason.clone();
    p
}

fn publish_v4(p: &Publish) -> v4::Publish {
    let mut out = v4::Publish::from_bytes(p.topic.clone(), to_qos(p.qos), p.payload.clone());
    out.retain = p.retain;
    out.dup = p.dup;
    out.pkid = p.pkid;
    out
}

fn publish_v5(p: &Publish) -> v5::Publish {
    let mut out = v5::Publish::from_bytes(p.topic.clone(), to_qos(p.qos), p.payload.clone());
    out.retain = p.retain;
    out.dup = p.dup;
    out.pkid = p.pkid;
    out.properties = p.properties.clone();
    out
}

/// Writes `packet` for a connection speaking `version`.
pub fn encode(
    packet: &Packet,
    version: Version,
    out: &mut BytesMut,
) -> Result<(), crate::CodecError> {
    if let Packet::Publish(p) = packet
        && p.qos > 0
        && p.pkid == 0
    {
        return Err(crate::CodecError::Malformed(
            "a QoS 1 PUBLISH needs a packet id".into(),
        ));
    }
    match version {
        Version::V311 => encode_v4(packet, out),
        Version::V5 => encode_v5(packet, out),
    }
    .map(|_| ())
    .map_err(crate::CodecError::from)
}

fn encode_v4(packet: &Packet, out: &mut BytesMut) -> Result<usize, mqttbytes::Error> {
    match packet {
        Packet::Connect(c) => {
            let mut x = v4::Connect::new(c.client_id.clone());
            x.keep_alive = c.keep_alive;
            x.clean_session = c.clean_start;
            if let Some(u) = &c.username {
                x.set_login(u.clone(), login_password(c));
            }
            x.last_will = c.will.as_ref().map(|w| {
                v4::LastWill::new(w.topic.clone(), w.payload.to_vec(), to_qos(w.qos), w.retain)
            });
            x.write(out)
        }
        Packet::ConnAck {
            session_present,
            code,
            ..
        } => v4::ConnAck::new(v4_connack(*code), *session_present).write(out),
        Packet::Publish(p) => publish_v4(p).write(out),
        Packet::PubAck { pkid, .. } => v4::PubAck::new(*pkid).write(out),
        Packet::PubRec { pkid } => v4::PubRec::new(*pkid).write(out),
        Packet::PubRel { pkid } => v4::PubRel::new(*pkid).write(out),
        Packet::PubComp { pkid } => v4::PubComp::new(*pkid).write(out),
        Packet::Subscribe { pkid, filters, .. } => {
            let mut s = v4::Subscribe::new_many(
                filters
                    .iter()
                    .map(|(f, q)| v4::SubscribeFilter::new(f.clone(), to_qos(*q))),
            );
            s.pkid = *pkid;
            s.write(out)
        }
        Packet::SubAck { pkid, codes } => {
            let codes = codes.iter().map(|c| match c {
                0..=2 => v4::SubscribeReasonCode::Success(to_qos(*c)),
                _ => v4::SubscribeReasonCode::Failure,
            });
            v4::SubAck::new(*pkid, codes.collect()).write(out)
        }
        Packet::Unsubscribe { pkid, filters } => {
            let mut u = v4::Unsubscribe {
                pkid: *pkid,
                topics: filters.clone(),
            };
            u.pkid = *pkid;
            u.write(out)
        }
        Packet::UnsubAck { pkid, .. } => v4::UnsubAck::new(*pkid).write(out),
        Packet::PingReq => v4::PingReq.write(out),
        Packet::PingResp => v4::PingResp.write(out),
        Packet::Disconnect { .. } => v4::Disconnect.write(out),
    }
}

fn encode_v5(packet: &Packet, out: &mut BytesMut) -> Result<usize, mqttbytes::Error> {
    match packet {
        Packet::Connect(c) => {
            let mut x = v5::Connect::new(c.client_id.clone());
            x.keep_alive = c.keep_alive;
            x.clean_session = c.clean_start;
            if let Some(u) = &c.username {
                x.set_login(u.clone(), login_password(c));
            }
            x.last_will = c.will.as_ref().map(|w| {
                v5::LastWill::new(w.topic.clone(), w.payload.to_vec(), to_qos(w.qos), w.retain)
            });
            if c.session_expiry.is_some() || c.max_packet_size.is_some() {
                x.properties = Some(v5::ConnectProperties {
                    session_expiry_interval: c.session_expiry,
                    receive_maximum: None,
                    max_packet_size: c.max_packet_size,
                    topic_alias_max: None,
                    request_response_info: None,
                    request_problem_info: None,
                    user_properties: Vec::new(),
                    authentication_method: None,
                    authentication_data: None,
                });
            }
            x.write(out)
        }
        Packet::ConnAck {
            session_present,
            code,
            props,
        } => {
            let mut a = v5::ConnAck::new(v5_connack(*code), *session_present);
            a.properties = Some(connack_props(props));
            a.write(out)
        }
        Packet::Publish(p) => publish_v5(p).write(out),
        Packet::PubAck { pkid, reason } => {
            let mut a = v5::PubAck::new(*pkid);
            a.reason = v5_puback(*reason);
            a.write(out)
        }
        Packet::PubRec { pkid } => v5::PubRec::new(*pkid).write(out),
        Packet::PubRel { pkid } => v5::PubRel::new(*pkid).write(out),
        Packet::PubComp { pkid } => v5::PubComp::new(*pkid).write(out),
        Packet::Subscribe { pkid, filters, .. } => {
            let mut s = v5::Subscribe::new_many(
                filters
                    .iter()
                    .map(|(f, q)| v5::SubscribeFilter::new(f.clone(), to_qos(*q))),
            );
            s.pkid = *pkid;
            s.write(out)
        }
        Packet::SubAck { pkid, codes } => {
            v5::SubAck::new(*pkid, codes.iter().map(|c| v5_suback(*c)).collect()).write(out)
        }
        Packet::Unsubscribe { pkid, filters } => {
            let mut u = v5::Unsubscribe::new(filters.first().cloned().unwrap_or_default());
            u.filters = filters.clone();
            u.pkid = *pkid;
            u.write(out)
        }
        Packet::UnsubAck { pkid, codes } => {
            let mut a = v5::UnsubAck::new(*pkid);
            a.reasons = codes.iter().map(|c| v5_unsuback(*c)).collect();
            a.write(out)
        }
        Packet::PingReq => v5::PingReq.write(out),
        Packet::PingResp => v5::PingResp.write(out),
        Packet::Disconnect { reason, .. } => {
            let mut d = v5::Disconnect::new();
            d.reason_code = v5_disconnect(*reason);
            d.write(out)
        }
    }
}
