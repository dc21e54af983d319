//! The session core alone (no sockets, no TLS): CONNECT admission with an allow-all and a
//! scoped policy, and one message delivered to 1,000 subscribed sessions (the iot:Receive check
//! and the QoS decision each subscriber makes). Routing with 10,000 filters is in `routing`.

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use iotmock_model::{CertStatus, CertificateMode};
use iotmock_mqtt::{Connect, Publish, Version};
use iotmock_policy::{NamedPolicy, PolicyDocument};
use iotmock_registry::Principal;
use iotmock_session::{Action, ConnectEnv, ConnectInfo, JustInTime, RegistryUnavailable, Rules};
use iotmock_session::{Session, Start, admit};
use std::hint::black_box;
use std::sync::Arc;

const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#;
/// A typical fleet policy: the client id is the thing name, topics under the thing's own.
const SCOPED: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"},
  {"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:us-east-1:123456789012:topic/fleet/*"},
  {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/fleet/*"},
  {"Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/fleet/secret"}]}"#;

fn principal(cert: &iotmock_pki::CertInfo, policy: &str) -> Arc<Principal> {
    Arc::new(Principal {
        region: "us-east-1".into(),
        account: "123456789012".into(),
        cert_id: cert.id.clone(),
        cert_arn: format!("arn:aws:iot:us-east-1:123456789012:cert/{}", cert.id),
        status: CertStatus::Active,
        ca_id: None,
        mode: CertificateMode::Default,
        cert: cert.clone(),
        policies: vec![NamedPolicy {
            name: "p".into(),
            version: "1".into(),
            document: PolicyDocument::parse(policy).expect("policy"),
        }],
        things: vec![iotmock_registry::AttachedThing {
            name: "dev".into(),
            exclusive: false,
            type_name: None,
            attributes: Default::default(),
            groups: Vec::new(),
        }],
        identity_policies: None,
        event_id: None,
    })
}

struct Env(Arc<Principal>);

impl ConnectEnv for Env {
    fn just_in_time(&mut self) -> Option<JustInTime> {
        None
    }
    fn connect_allowed(&mut self, _: &str) -> bool {
        true
    }
    fn principal(&mut self) -> Result<Option<Arc<Principal>>, RegistryUnavailable> {
        Ok(Some(self.0.clone()))
    }
    fn fresh_client_id(&mut self) -> String {
        "assigned".into()
    }
}

fn info(cert: &iotmock_pki::CertInfo, client_id: &str) -> ConnectInfo {
    ConnectInfo {
        connect: Connect {
            client_id: client_id.into(),
            keep_alive: 60,
            clean_start: true,
            will: None,
            username: None,
            password: None,
            max_packet_size: None,
            session_expiry: None,
        },
        version: Version::V311,
        cert_id: cert.id.clone(),
        peer_ip: None,
        sni: true,
    }
}

fn session(cert: &iotmock_pki::CertInfo, p: &Arc<Principal>, now: i64) -> Session {
    let rules = Rules::default();
    let admitted = admit(info(cert, "dev"), &rules, &mut Env(p.clone()), now).expect("admitted");
    let (mut s, _) = Session::start(admitted, Start::default(), &rules, now);
    let sub = iotmock_mqtt::Packet::Subscribe {
        pkid: 1,
        filters: vec![("fleet/#".into(), 0)],
        subscription_id: false,
    };
    let _ = s.handle(sub, now);
    s
}

fn bench(c: &mut Criterion) {
    let ca = iotmock_testkit::TestCa::new("bench");
    let cert = iotmock_pki::parse_certificate_pem(&ca.leaf("dev").cert_pem, "certificate")
        .expect("certificate");
    let now = (cert.not_before + 3600) * 1000;
    let rules = Rules::default();
    let mut g = c.benchmark_group("session/admit CONNECT");
    for (name, policy) in [
        ("allow-all", ALLOW_ALL),
        ("scoped, thing-name variable", SCOPED),
    ] {
        let p = principal(&cert, policy);
        g.bench_function(name, |b| {
            b.iter(|| {
                let out = admit(info(&cert, "dev"), &rules, &mut Env(p.clone()), now);
                black_box(out.is_ok())
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("session/deliver");
    g.throughput(Throughput::Elements(1_000));
    for (name, policy) in [("allow-all", ALLOW_ALL), ("scoped", SCOPED)] {
        let p = principal(&cert, policy);
        let mut sessions: Vec<Session> = (0..1_000).map(|_| session(&cert, &p, now)).collect();
        let msg = Arc::new(Publish {
            topic: "fleet/telemetry".into(),
            payload: Bytes::from_static(&[0u8; 64]),
            qos: 0,
            retain: false,
            dup: false,
            pkid: 0,
            properties: None,
            expires_ms: None,
        });
        let mut out: Vec<Action> = Vec::with_capacity(1_000);
        g.bench_function(
            format!("one QoS 0 message to 1,000 subscribers, {name}"),
            |b| {
                b.iter(|| {
                    out.clear();
                    for s in &mut sessions {
                        s.deliver(msg.clone(), 0, now, &mut out);
                    }
                    black_box(out.len())
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
