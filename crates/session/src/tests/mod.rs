//! Unit tests of the session core: one per rule, driven with packets and clock readings.
#![allow(clippy::unwrap_used)]

mod connect;
mod explain;
mod flow;
mod subscribe;

use crate::admit::{ConnectEnv, ConnectInfo, admit};
use crate::{Action, End, Rules, Session, Start};
use bytes::Bytes;
use iotmock_model::{CertStatus, CertificateMode};
use iotmock_mqtt::{Connect, Packet, Publish, Version};
use iotmock_policy::{NamedPolicy, PolicyDocument};
use iotmock_registry::Principal;
use std::sync::{Arc, OnceLock};

pub(super) const ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#;
/// Everything but publishing to `w/*` and subscribing to `s/*`.
pub(super) const LIMITED: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"iot:*","Resource":"*"},
  {"Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/w/*"},
  {"Effect":"Deny","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/s/*"},
  {"Effect":"Deny","Action":"iot:Receive","Resource":"arn:aws:iot:us-east-1:123456789012:topic/hidden"},
  {"Effect":"Deny","Action":"iot:RetainPublish","Resource":"*"}]}"#;

pub(super) fn cert() -> iotmock_pki::CertInfo {
    static CERT: OnceLock<iotmock_pki::CertInfo> = OnceLock::new();
    CERT.get_or_init(|| {
        let ca = iotmock_testkit::TestCa::new("session tests");
        let leaf = ca.leaf("device");
        iotmock_pki::parse_certificate_pem(&leaf.cert_pem, "certificate").unwrap()
    })
    .clone()
}

pub(super) fn principal(policy: &str) -> Arc<Principal> {
    let cert = cert();
    Arc::new(Principal {
        region: "us-east-1".into(),
        account: "123456789012".into(),
        cert_id: cert.id.clone(),
        cert_arn: format!("arn:aws:iot:us-east-1:123456789012:cert/{}", cert.id),
        status: CertStatus::Active,
        ca_id: None,
        mode: CertificateMode::Default,
        cert,
        policies: vec![NamedPolicy {
            name: "p".into(),
            version: "1".into(),
            document: PolicyDocument::parse(policy).unwrap(),
        }],
        things: vec![],
        identity_policies: None,
        event_id: None,
    })
}

/// A clock reading within the test certificate's validity.
pub(super) fn t0() -> i64 {
    (cert().not_before + 7200) * 1000
}

pub(super) struct Env {
    pub(super) principal: Option<Arc<Principal>>,
    pub(super) jitr: Option<crate::JustInTime>,
    pub(super) throttled: bool,
}

impl ConnectEnv for Env {
    fn just_in_time(&mut self) -> Option<crate::JustInTime> {
        self.jitr.clone()
    }
    fn connect_allowed(&mut self, _: &str) -> bool {
        !self.throttled
    }
    fn principal(&mut self) -> Result<Option<Arc<Principal>>, crate::RegistryUnavailable> {
        Ok(self.principal.clone())
    }
    fn fresh_client_id(&mut self) -> String {
        "assigned-1".into()
    }
}

pub(super) fn env(p: Arc<Principal>) -> Env {
    Env {
        principal: Some(p),
        jitr: None,
        throttled: false,
    }
}

pub(super) fn connect(id: &str) -> Connect {
    Connect {
        client_id: id.into(),
        keep_alive: 60,
        clean_start: true,
        will: None,
        username: None,
        password: None,
        max_packet_size: None,
        session_expiry: None,
    }
}

pub(super) fn info(c: Connect, version: Version) -> ConnectInfo {
    ConnectInfo {
        connect: c,
        version,
        cert_id: cert().id,
        peer_ip: None,
        sni: false,
    }
}

pub(super) fn open_with(
    c: Connect,
    v: Version,
    p: Arc<Principal>,
    start: Start,
) -> (Session, Vec<Action>) {
    let rules = Rules::default();
    let a = admit(info(c, v), &rules, &mut env(p), t0()).unwrap();
    Session::start(a, start, &rules, t0())
}

pub(super) fn open(v: Version, policy: &str) -> Session {
    open_with(connect("dev"), v, principal(policy), Start::default()).0
}

pub(super) fn sent(actions: &[Action]) -> Vec<&Packet> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(p) => Some(p),
            _ => None,
        })
        .collect()
}

/// The PUBLISH packets the deliveries in `actions` write.
pub(super) fn delivered(actions: &[Action]) -> Vec<Publish> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Deliver(d) => Some(d.packet()),
            _ => None,
        })
        .collect()
}

pub(super) fn routed(actions: &[Action]) -> Vec<Publish> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Route(p) | Action::Will(p) => Some(p.as_ref().clone()),
            Action::Event(e) => Some(e.message()),
            _ => None,
        })
        .collect()
}

pub(super) fn ended(actions: &[Action]) -> Option<End> {
    match actions.last() {
        Some(Action::Close(end)) => Some(*end),
        _ => None,
    }
}

pub(super) fn disconnect_code(actions: &[Action]) -> Option<u8> {
    sent(actions).into_iter().find_map(|p| match p {
        Packet::Disconnect { reason, .. } => Some(*reason),
        _ => None,
    })
}

pub(super) fn publish(topic: &str, qos: u8, pkid: u16) -> Packet {
    Packet::Publish(Publish {
        pkid,
        ..Publish::new(topic, Bytes::from_static(b"x"), qos, false)
    })
}

pub(super) fn message(topic: &str) -> Arc<Publish> {
    Arc::new(Publish::new(topic, Bytes::from_static(b"m"), 1, false))
}

pub(super) fn puback(actions: &[Action]) -> Option<u8> {
    sent(actions).into_iter().find_map(|p| match p {
        Packet::PubAck { reason, .. } => Some(*reason),
        _ => None,
    })
}
