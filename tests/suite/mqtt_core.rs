//! The broker's seams and the session rules seen over real sockets: fault plans acting on a
//! real client, a service on reserved topics, SNI choosing the region, the ALPN listener,
//! keep-alive expiry, shutdown, QoS 1 redelivery, and policy variables from a certificate.

use crate::mqtt::{ALLOW_ALL, Fleet};
use crate::support::Api;
use iotmock::MockIotCore;
use iotmock_broker::{Answer, BrokerSettings, FaultPlan, Reply, Service, ServiceRequest};
use iotmock_client::{
    ClientError, ConnectOptions, DeviceClient, Packet, Publish, Version, client_config,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

fn json_of(p: &Publish) -> Value {
    serde_json::from_slice(&p.payload).expect("json payload")
}

async fn connect_opts(
    fleet: &Fleet,
    dev: &crate::mqtt::Device,
    opts: ConnectOptions,
) -> Result<DeviceClient, ClientError> {
    let tls = client_config(&fleet.tls(&dev.minted)).expect("tls");
    DeviceClient::connect(tls, &opts).await.map(|(c, _)| c)
}

#[tokio::test]
async fn fault_plans_withhold_delay_and_drop_on_a_real_client() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("faulty", Some(ALLOW_ALL)).await;
    let broker = fleet.mock.broker().clone();
    let quick = |id: &str| {
        let mut o = fleet.options(id, Version::V5);
        o.timeout = Duration::from_millis(400);
        o
    };
    let withhold = |a| FaultPlan {
        withhold: vec![a],
        ..FaultPlan::default()
    };
    broker.set_fault_plan("no-connack", withhold(Answer::ConnAck));
    let err = connect_opts(&fleet, &dev, quick("no-connack")).await.err();
    assert!(matches!(err, Some(ClientError::Timeout(_))), "{err:?}");

    broker.set_fault_plan("no-puback", withhold(Answer::PubAck));
    let mut c = connect_opts(&fleet, &dev, quick("no-puback"))
        .await
        .expect("admitted");
    assert!(matches!(
        c.publish("t", "x", 1, false).await,
        Err(ClientError::Timeout(_))
    ));

    broker.set_fault_plan("no-pingresp", withhold(Answer::PingResp));
    let mut c = connect_opts(&fleet, &dev, quick("no-pingresp"))
        .await
        .expect("admitted");
    assert!(matches!(c.ping().await, Err(ClientError::Timeout(_))));

    let delay = Duration::from_millis(300);
    let slow = FaultPlan {
        delay: vec![(Answer::SubAck, delay)],
        ..FaultPlan::default()
    };
    broker.set_fault_plan("slow-suback", slow);
    let mut c = connect_opts(&fleet, &dev, fleet.options("slow-suback", Version::V5))
        .await
        .expect("admitted");
    let started = std::time::Instant::now();
    assert_eq!(c.subscribe(&[("a", 1)]).await.expect("suback"), vec![1]);
    assert!(started.elapsed() >= delay, "SUBACK came after the delay");

    let dropping = FaultPlan {
        drop_after: Some(2),
        ..FaultPlan::default()
    };
    broker.set_fault_plan("dropped", dropping);
    let mut c = connect_opts(&fleet, &dev, fleet.options("dropped", Version::V5))
        .await
        .expect("admitted");
    c.send(&Packet::PingReq).await.expect("sent");
    assert_eq!(
        c.expect_closed().await.expect("closed"),
        None,
        "dropped without DISCONNECT"
    );

    broker.clear_fault_plan("no-puback");
    let mut c = connect_opts(&fleet, &dev, quick("no-puback"))
        .await
        .expect("admitted");
    assert_eq!(
        c.publish("t", "x", 1, false).await.expect("puback"),
        Some(0)
    );
}

#[tokio::test]
async fn a_stalled_broker_answers_late() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("staller", Some(ALLOW_ALL)).await;
    let stall = Duration::from_millis(300);
    let plan = FaultPlan {
        stall: Some((1, stall)),
        ..FaultPlan::default()
    };
    fleet.mock.broker().set_fault_plan("stalled", plan);
    let started = std::time::Instant::now();
    let mut c = connect_opts(&fleet, &dev, fleet.options("stalled", Version::V311))
        .await
        .expect("admitted");
    c.ping().await.expect("pingresp");
    assert!(started.elapsed() >= stall);
}

/// Answers `test/<id>/ask` with a broadcast and a reply only the requester sees.
struct Echo;

impl Service for Echo {
    fn name(&self) -> &'static str {
        "echo"
    }

    fn filters(&self) -> Vec<String> {
        vec!["test/+/ask".into()]
    }

    fn handle(&self, request: &ServiceRequest<'_>) -> Vec<Reply> {
        let who = request.client_id.unwrap_or("http").to_string();
        let body = bytes::Bytes::from(json!({ "from": who }).to_string());
        vec![
            Reply::ToSubscribers(Publish::new("test/all/answer", body.clone(), 1, false)),
            Reply::ToRequester(Publish::new("test/private/answer", body, 1, false)),
        ]
    }
}

#[tokio::test]
async fn services_answer_subscribers_or_only_the_requester() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("svc", Some(ALLOW_ALL)).await;
    fleet.mock.broker().register_service(Arc::new(Echo));
    let mut asker = fleet.client(&dev, "asker", Version::V5).await;
    let mut quiet = fleet.options("other", Version::V311);
    quiet.timeout = Duration::from_millis(300);
    let mut other = connect_opts(&fleet, &dev, quiet).await.expect("admitted");
    let both = [("test/all/answer", 1), ("test/private/answer", 1)];
    asker.subscribe(&both).await.expect("suback");
    other.subscribe(&both).await.expect("suback");
    asker
        .publish("test/x/ask", "{}", 1, false)
        .await
        .expect("puback");
    let mut topics = Vec::new();
    for _ in 0..2 {
        let m = asker.next_message().await.expect("answer");
        assert_eq!(json_of(&m)["from"], "asker");
        topics.push(m.topic);
    }
    topics.sort();
    assert_eq!(topics, ["test/all/answer", "test/private/answer"]);
    assert_eq!(
        other.next_message().await.expect("broadcast").topic,
        "test/all/answer"
    );
    other.ping().await.expect("pingresp");
    assert!(
        other.recv().await.is_err(),
        "nothing private reached the bystander"
    );
}

/// Registers the fleet's CA and `minted` in `region` as well; returns the certificate id.
async fn register_in(
    fleet: &Fleet,
    region: &str,
    minted: &iotmock_testkit::Minted,
) -> (Api, String) {
    let api = Api::new(fleet.mock.api_addr(), region);
    api.register_ca(&fleet.ca, true).await;
    let (id, _) = api.register_cert(&minted.cert_pem).await;
    (api, id)
}

#[tokio::test]
async fn sni_selects_the_region_whose_registry_admits() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("roamer", Some(ALLOW_ALL)).await;
    let (eu, id) = register_in(&fleet, "eu-west-1", &dev.minted).await;
    eu.call(
        "PUT",
        &format!("/certificates/{id}?newStatus=REVOKED"),
        &[],
        None,
    )
    .await
    .ok();
    let named = |region: &str| {
        let mut o = fleet.options("roamer", Version::V5);
        o.server_name = format!("a1b2c3d4e5f6g7-ats.iot.{region}.amazonaws.com");
        o
    };
    let home = connect_opts(&fleet, &dev, named(crate::support::REGION)).await;
    assert!(
        home.is_ok(),
        "ACTIVE where it is addressed: {:?}",
        home.err()
    );
    let revoked = connect_opts(&fleet, &dev, named("eu-west-1")).await.err();
    assert!(
        matches!(revoked, Some(ClientError::Refused(0x87))),
        "{revoked:?}"
    );
    let unknown = connect_opts(&fleet, &dev, named("sa-east-1")).await.err();
    assert!(
        matches!(unknown, Some(ClientError::Refused(0x87))),
        "{unknown:?}"
    );
    let ambiguous = connect_opts(&fleet, &dev, fleet.options("roamer", Version::V5))
        .await
        .err();
    assert!(
        matches!(ambiguous, Some(ClientError::Refused(0x87))),
        "no region named and two hold it: {ambiguous:?}"
    );
}

#[tokio::test]
async fn the_alpn_listener_requires_x_amzn_mqtt_ca() {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let mock = MockIotCore::builder()
        .mqtt_alpn_addr(addr)
        .start()
        .await
        .expect("starts");
    let alpn_addr = mock.mqtt_alpn_addr().expect("alpn listener");
    let mut fleet = Fleet::on(mock).await;
    let dev = fleet.device("alpn", Some(ALLOW_ALL)).await;
    let mut opts = fleet.options("alpn", Version::V311);
    opts.addr = alpn_addr.to_string();
    let mut tls = fleet.tls(&dev.minted);
    let without = DeviceClient::connect(client_config(&tls).expect("tls"), &opts).await;
    assert!(without.is_err(), "no ALPN: closed");
    tls.alpn = vec![b"x-amzn-mqtt-ca".to_vec()];
    let with = DeviceClient::connect(client_config(&tls).expect("tls"), &opts).await;
    assert!(with.is_ok(), "{:?}", with.err());
}

async fn watcher(fleet: &mut Fleet) -> DeviceClient {
    let dev = fleet.device("watcher", Some(ALLOW_ALL)).await;
    let mut w = fleet.client(&dev, "watcher", Version::V5).await;
    w.subscribe(&[("$aws/events/presence/disconnected/+", 1)])
        .await
        .expect("suback");
    w
}

async fn reason_seen(w: &mut DeviceClient, client_id: &str) -> Value {
    loop {
        let m = w.next_message().await.expect("event");
        if m.topic.ends_with(&format!("/{client_id}")) {
            return json_of(&m)["disconnectReason"].clone();
        }
    }
}

#[tokio::test]
async fn keep_alive_expiry_closes_with_0x8d_and_its_lifecycle_reason() {
    let settings = BrokerSettings {
        keep_alive_grace: Duration::from_millis(10),
        ..BrokerSettings::default()
    };
    let mut fleet = Fleet::with_settings(settings).await;
    let mut w = watcher(&mut fleet).await;
    let dev = fleet.device("sleepy", Some(ALLOW_ALL)).await;
    let mut opts = fleet.options("sleepy", Version::V5);
    opts.keep_alive = 30;
    let mut c = connect_opts(&fleet, &dev, opts).await.expect("admitted");
    assert_eq!(c.expect_closed().await.expect("closed"), Some(0x8D));
    assert_eq!(
        reason_seen(&mut w, "sleepy").await,
        "MQTT_KEEP_ALIVE_TIMEOUT"
    );
}

#[tokio::test]
async fn every_lifecycle_disconnect_reason() {
    let mut fleet = Fleet::new().await;
    let mut w = watcher(&mut fleet).await;
    let dev = fleet.device("reasons", Some(ALLOW_ALL)).await;
    let c = fleet.client(&dev, "bye", Version::V5).await;
    c.disconnect().await.expect("disconnect");
    assert_eq!(
        reason_seen(&mut w, "bye").await,
        "CLIENT_INITIATED_DISCONNECT"
    );
    drop(fleet.client(&dev, "lost", Version::V311).await);
    assert_eq!(reason_seen(&mut w, "lost").await, "CONNECTION_LOST");
    let _first = fleet.client(&dev, "twice", Version::V5).await;
    let _second = fleet.client(&dev, "twice", Version::V5).await;
    assert_eq!(reason_seen(&mut w, "twice").await, "DUPLICATE_CLIENTID");
    let mut c = fleet.client(&dev, "garbage", Version::V5).await;
    c.send(&Packet::PubRel { pkid: 1 }).await.expect("sent");
    assert_eq!(reason_seen(&mut w, "garbage").await, "CLIENT_ERROR");
    let limited = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:Connect"],"Resource":"*"}]}"#;
    let narrow = fleet.device("narrow", Some(limited)).await;
    let mut c = fleet.client(&narrow, "forbidden", Version::V311).await;
    c.send_publish("t", "x", 0).await.expect("sent");
    assert_eq!(reason_seen(&mut w, "forbidden").await, "FORBIDDEN_ACCESS");
    let other = fleet.device("revoked", Some(ALLOW_ALL)).await;
    let _c = fleet.client(&other, "auth", Version::V5).await;
    fleet.set_status(&other, "INACTIVE").await;
    assert_eq!(reason_seen(&mut w, "auth").await, "AUTH_ERROR");
}

#[tokio::test]
async fn shutdown_says_goodbye_with_0x8b() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("stayer", Some(ALLOW_ALL)).await;
    let mut c = fleet.client(&dev, "stayer", Version::V5).await;
    c.ping().await.expect("pingresp");
    let Fleet { mock, .. } = fleet;
    let stopping = tokio::spawn(mock.shutdown());
    assert_eq!(c.expect_closed().await.expect("closed"), Some(0x8B));
    stopping.await.expect("shut down");
}

#[tokio::test]
async fn unacknowledged_qos1_is_redelivered_with_dup_on_resume() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("resumer", Some(ALLOW_ALL)).await;
    let mut opts = fleet.options("resumer", Version::V311);
    opts.clean_start = false;
    let mut c = connect_opts(&fleet, &dev, opts.clone())
        .await
        .expect("admitted");
    c.subscribe(&[("r/t", 1)]).await.expect("suback");
    let mut p = fleet.client(&dev, "pub", Version::V311).await;
    p.publish("r/t", "once", 1, false).await.expect("puback");
    let Packet::Publish(first) = c.recv().await.expect("delivery") else {
        panic!("a publish")
    };
    assert!(!first.dup);
    drop(c);
    p.ping().await.expect("the broker saw the drop first");
    let mut c = connect_opts(&fleet, &dev, opts).await.expect("resumed");
    let again = c.next_message().await.expect("redelivery");
    assert!(again.dup && again.pkid == first.pkid && &again.payload[..] == b"once");
}

#[tokio::test]
async fn certificate_subject_issuer_and_serial_drive_policy_variables() {
    let mut fleet = Fleet::new().await;
    let minted = fleet.ca.leaf("sensor-7");
    let serial = iotmock_pki::parse_certificate_pem(&minted.cert_pem, "cert")
        .expect("parses")
        .serial_hex;
    let doc = json!({"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"iot:Connect","Resource":"*"},
        {"Effect":"Allow","Action":"iot:Publish","Resource":[
            "arn:aws:iot:*:*:topic/cn/${iot:Certificate.Subject.CommonName}",
            "arn:aws:iot:*:*:topic/issuer/${iot:Certificate.Issuer.CommonName}",
            "arn:aws:iot:*:*:topic/serial/${iot:Certificate.SerialNumber}"]}]});
    let dev = fleet.register(minted, Some(&doc.to_string())).await;
    let mut c = fleet.client(&dev, "vars", Version::V5).await;
    for (topic, code) in [
        ("cn/sensor-7".to_string(), 0),
        ("cn/other".to_string(), 0x87),
        ("issuer/fleet root".to_string(), 0),
        (format!("serial/{serial}"), 0),
        ("serial/00".to_string(), 0x87),
    ] {
        assert_eq!(
            c.publish(&topic, "x", 1, false).await.expect("puback"),
            Some(code),
            "{topic}"
        );
    }
}

#[tokio::test]
async fn subject_alternative_names_drive_policy_variables() {
    let mut fleet = Fleet::new().await;
    let minted = fleet.ca.server_leaf("sensor-9.example.com");
    let doc = json!({"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"iot:Connect","Resource":"*"},
        {"Effect":"Allow","Action":"iot:Publish","Resource":
            "arn:aws:iot:*:*:topic/dns/${iot:Certificate.Subject.AlternativeName.DNSName}"}]});
    let dev = fleet.register(minted, Some(&doc.to_string())).await;
    let mut c = fleet.client(&dev, "san", Version::V5).await;
    for (topic, code) in [("dns/sensor-9.example.com", 0), ("dns/other", 0x87)] {
        assert_eq!(
            c.publish(topic, "x", 1, false).await.expect("puback"),
            Some(code),
            "{topic}"
        );
    }
}

#[tokio::test]
async fn a_pending_certificate_republishes_the_registered_event_on_each_connect() {
    let mut fleet = Fleet::new().await;
    let ca_id = fleet.api.get("/cacertificates").await.ok()["certificates"][0]["certificateId"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/cacertificate/{ca_id}?newAutoRegistrationStatus=ENABLE");
    fleet.api.call("PUT", &path, &[], None).await.ok();
    let dev = fleet.device("watcher", Some(ALLOW_ALL)).await;
    let mut w = fleet.client(&dev, "watcher", Version::V311).await;
    w.subscribe(&[("$aws/events/certificates/registered/+", 1)])
        .await
        .expect("suback");
    let newcomer = fleet.ca.leaf("newcomer");
    for _ in 0..2 {
        let refused = fleet
            .connect_with(fleet.tls(&newcomer), "newcomer", Version::V5)
            .await;
        assert!(matches!(refused, Err(ClientError::Refused(0x87))));
        let event = json_of(&w.next_message().await.expect("registered event"));
        assert_eq!(event["certificateStatus"], "PENDING_ACTIVATION");
    }
}

#[tokio::test]
async fn delete_connection_closes_with_0x98_and_can_hold_back_the_will() {
    let mut fleet = Fleet::new().await;
    let mut w = watcher(&mut fleet).await;
    w.subscribe(&[("wills/#", 1)]).await.expect("suback");
    let dev = fleet.device("kicked", Some(ALLOW_ALL)).await;
    for (id, prevent) in [("kicked-1", true), ("kicked-2", false)] {
        let mut opts = fleet.options(id, Version::V5);
        opts.will = Some(iotmock_client::Will {
            topic: format!("wills/{id}"),
            payload: "gone".into(),
            qos: 1,
            retain: false,
        });
        let mut c = connect_opts(&fleet, &dev, opts).await.expect("admitted");
        let path = format!("/connections/{id}?preventWillMessage={prevent}");
        let answer = fleet.api.call("DELETE", &path, &[], None).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(c.expect_closed().await.expect("closed"), Some(0x98));
        let mut will = false;
        loop {
            let m = w.next_message().await.expect("event");
            will |= m.topic == format!("wills/{id}");
            if m.topic.ends_with(&format!("/disconnected/{id}")) {
                assert_eq!(json_of(&m)["disconnectReason"], "API_INITIATED_DISCONNECT");
                break;
            }
        }
        if !prevent {
            will = will || w.next_message().await.expect("the will").topic == format!("wills/{id}");
        }
        assert_eq!(will, !prevent, "{id}: the will follows preventWillMessage");
    }
    let missing = fleet
        .api
        .call("DELETE", "/connections/nobody", &[], None)
        .await;
    missing.err(404, "ResourceNotFoundException");
}

#[tokio::test]
async fn an_observer_sees_each_connection_s_timeline() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("watched", Some(ALLOW_ALL)).await;
    let mut seen = fleet.mock.broker().observe();
    let mut c = fleet.client(&dev, "watched", Version::V5).await;
    c.ping().await.expect("pingresp");
    c.disconnect().await.expect("disconnect");
    let mut kinds = Vec::new();
    while let Some(o) = seen.recv().await {
        let label = match &o.seen {
            iotmock_broker::Seen::Accepted => "accepted".to_string(),
            iotmock_broker::Seen::Hello { suites, .. } => format!("hello:{}", !suites.is_empty()),
            iotmock_broker::Seen::Handshake(end) => {
                format!("tls:{}", *end == iotmock_broker::TlsEnd::Completed)
            }
            iotmock_broker::Seen::Connect { client_id, .. } => format!("connect:{client_id}"),
            iotmock_broker::Seen::In(p) => format!("in:{}", p.kind),
            iotmock_broker::Seen::Out { packet, withheld } => {
                format!("out:{}:{withheld}", packet.kind)
            }
            iotmock_broker::Seen::Closed { reason } => format!("closed:{reason}"),
        };
        kinds.push(label);
        if kinds.last().is_some_and(|k| k.starts_with("closed")) {
            break;
        }
    }
    assert_eq!(
        kinds,
        [
            "accepted",
            "hello:true",
            "tls:true",
            "connect:watched",
            "out:CONNACK:false",
            "in:PINGREQ",
            "out:PINGRESP:false",
            "in:DISCONNECT",
            "closed:CLIENT_INITIATED_DISCONNECT"
        ]
    );
}

/// A device certificate of an SNI_ONLY CA with auto-registration on, presented to `mock`:
/// whether JITR registered it.
async fn jitr_of_sni_only_ca(mock: MockIotCore) -> bool {
    let fleet = Fleet::on(mock).await;
    let ca = iotmock_testkit::TestCa::new("sni-only");
    let body = json!({ "caCertificate": ca.pem(), "certificateMode": "SNI_ONLY" });
    let path = "/cacertificate?setAsActive=true&allowAutoRegistration=true";
    fleet.api.post(path, body).await.ok();
    let leaf = ca.leaf("newcomer");
    let refused = fleet
        .connect_with(fleet.tls(&leaf), "newcomer", Version::V5)
        .await;
    assert!(refused.is_err(), "an unregistered certificate is refused");
    let id = iotmock_pki::parse_certificate_pem(&leaf.cert_pem, "leaf")
        .expect("parses")
        .id;
    fleet.api.get(&format!("/certificates/{id}")).await.status == 200
}

#[tokio::test]
async fn jitr_skips_sni_only_cas_unless_told() {
    let plain = MockIotCore::builder().start().await.expect("mock");
    assert!(!jitr_of_sni_only_ca(plain).await);
    let told = MockIotCore::builder().jitr_sni_only(true);
    assert!(jitr_of_sni_only_ca(told.start().await.expect("mock")).await);
}
