//! Admission at CONNECT and the session's start.
use super::*;
use crate::Denial;
use crate::admit::admit;
use crate::{Rules, Start};
use bytes::Bytes;
use iotmock_model::{CertStatus, CertificateMode};
use iotmock_mqtt::{Packet, Version, Will};
use std::sync::Arc;

#[test]
fn connect_refusals_follow_the_protocol_version() {
    let rules = Rules::default();
    let unknown = |v| {
        let mut e = env(principal(ALL));
        e.principal = None;
        admit(info(connect("dev"), v), &rules, &mut e, t0()).unwrap_err()
    };
    assert!(unknown(Version::V311).connack.is_none());
    let v5 = unknown(Version::V5);
    assert!(matches!(
        *v5.connack.unwrap(),
        Packet::ConnAck { code: 0x87, .. }
    ));
    let mut inactive = (*principal(ALL)).clone();
    inactive.status = CertStatus::Inactive;
    let refused = admit(
        info(connect("dev"), Version::V5),
        &rules,
        &mut env(Arc::new(inactive)),
        t0(),
    );
    let reason = refused.unwrap_err().reason;
    assert!(matches!(
        reason,
        Denial::NotActive {
            status: CertStatus::Inactive,
            ..
        }
    ));
    let mut jitr = env(principal(ALL));
    jitr.jitr = Some(crate::JustInTime::Pending {
        cert_id: "c".into(),
    });
    assert!(admit(info(connect("dev"), Version::V5), &rules, &mut jitr, t0()).is_err());
}

#[test]
fn client_ids_are_checked_and_assigned() {
    let rules = Rules::default();
    let refused = admit(
        info(connect("$bad"), Version::V5),
        &rules,
        &mut env(principal(ALL)),
        t0(),
    );
    assert!(matches!(
        *refused.unwrap_err().connack.unwrap(),
        Packet::ConnAck { code: 0x85, .. }
    ));
    let a = admit(
        info(connect(""), Version::V5),
        &rules,
        &mut env(principal(ALL)),
        t0(),
    )
    .unwrap();
    assert_eq!(a.client_id, "assigned-1");
    assert_eq!(a.props.assigned_client_id.as_deref(), Some("assigned-1"));
}

#[test]
fn a_retained_will_needs_retain_publish() {
    let mut c = connect("dev");
    c.will = Some(Will {
        topic: "t".into(),
        payload: Bytes::new(),
        qos: 0,
        retain: true,
    });
    let rules = Rules::default();
    let refused = admit(
        info(c, Version::V5),
        &rules,
        &mut env(principal(LIMITED)),
        t0(),
    );
    let reason = refused.unwrap_err().reason;
    assert!(
        reason.to_string().starts_with("will: iot:RetainPublish on"),
        "{reason}"
    );
}

#[test]
fn sni_only_certificates_need_sni() {
    let mut p = (*principal(ALL)).clone();
    p.mode = CertificateMode::SniOnly;
    let rules = Rules::default();
    let p = Arc::new(p);
    let without = admit(
        info(connect("dev"), Version::V5),
        &rules,
        &mut env(p.clone()),
        t0(),
    );
    assert!(matches!(
        without.unwrap_err().reason,
        Denial::SniRequired(_)
    ));
    let mut with = info(connect("dev"), Version::V5);
    with.sni = true;
    assert!(admit(with, &rules, &mut env(p), t0()).is_ok());
}

#[test]
fn connect_throttle_refuses_with_quota_exceeded() {
    let rules = Rules {
        throttle: true,
        ..Rules::default()
    };
    let mut e = env(principal(ALL));
    e.throttled = true;
    let refused = admit(info(connect("dev"), Version::V5), &rules, &mut e, t0()).unwrap_err();
    assert!(matches!(
        *refused.connack.unwrap(),
        Packet::ConnAck { code: 0x97, .. }
    ));
}

#[test]
fn start_sends_connack_and_the_connected_event() {
    let (_, actions) = open_with(
        connect("dev"),
        Version::V5,
        principal(ALL),
        Start::default(),
    );
    assert!(matches!(sent(&actions)[0], Packet::ConnAck { code: 0, .. }));
    assert_eq!(
        routed(&actions)[0].topic,
        "$aws/events/presence/connected/dev"
    );
}

#[test]
fn a_connection_keeps_only_the_variables_its_policies_read() {
    let none = crate::Authz::new(principal(ALL), "dev", None, &[]);
    assert!(none.variables().is_empty());
    let scoped = r#"{"Version":"2012-10-17","Statement":[
      {"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/${iot:ClientId}/*"},
      {"Effect":"Allow","Action":"iot:Connect","Resource":"*",
       "Condition":{"Bool":{"iot:Connection.Thing.IsAttached":"false"}}}]}"#;
    let mut some = crate::Authz::new(principal(scoped), "dev", None, &[]);
    let mut kept: Vec<&String> = some.variables().keys().collect();
    kept.sort();
    assert_eq!(kept, ["iot:ClientId", "iot:Connection.Thing.IsAttached"]);
    assert!(some.allows(crate::Right::Publish, "dev/x"));
    assert!(!some.allows(crate::Right::Publish, "other/x"));
    assert!(some.check(crate::Right::Connect, "dev").decision.allowed());
}
