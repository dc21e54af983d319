//! The provisioning API through the service seam, JSON and CBOR, with the clock in the test's
//! hands.
#![allow(clippy::unwrap_used)]

use crate::{FleetService, Format, TOKEN_LIFETIME_MS, payload_of};
use bytes::Bytes;
use iotmock_pki::MockCa;
use iotmock_registry::{EndpointConfig, ManualClock, MemoryStore, NewTemplate, Registry};
use iotmock_session::{Service, ServiceRequest};
use serde_json::{Value, json};
use std::sync::{Arc, OnceLock, RwLock};

const T0: i64 = 1_750_000_000_000;

const TEMPLATE: &str = r#"{
  "Parameters": {"SerialNumber": {"Type": "String"}, "AWS::IoT::Certificate::Id": {"Type": "String"}},
  "Resources": {
    "thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Fn::Join": ["", ["sensor-", {"Ref": "SerialNumber"}]]}}},
    "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "Active"}},
    "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}}}
  },
  "DeviceConfiguration": {"Serial": {"Ref": "SerialNumber"}}
}"#;

fn ca() -> Arc<MockCa> {
    static CA: OnceLock<Arc<MockCa>> = OnceLock::new();
    CA.get_or_init(|| Arc::new(MockCa::generate(T0 / 1000).unwrap()))
        .clone()
}

fn service(enabled: bool) -> (FleetService, Arc<RwLock<Registry>>) {
    let clock = Arc::new(ManualClock::new(T0));
    let reg = Registry::open(
        "123456789012",
        EndpointConfig::default(),
        Box::new(MemoryStore),
        clock,
        ca(),
    )
    .unwrap();
    let reg = Arc::new(RwLock::new(reg));
    let new = NewTemplate {
        name: "fleet".into(),
        body: Some(TEMPLATE.into()),
        role_arn: Some("arn:aws:iam::123456789012:role/provisioning".into()),
        enabled,
        ..NewTemplate::default()
    };
    reg.write()
        .unwrap()
        .create_template("us-east-1", new)
        .unwrap();
    (FleetService::new(reg.clone(), "us-east-1"), reg)
}

/// Sends `doc` to `topic` and returns (answer topic, decoded answer).
fn ask(svc: &FleetService, topic: &str, fmt: Format, doc: &Value, now_ms: i64) -> (String, Value) {
    let payload = fmt.encode(doc);
    let req = ServiceRequest {
        source_ip: None,
        client_id: Some("claim"),
        region: None,
        topic,
        payload: &payload,
        now_ms,
        principal: None,
        properties: None,
    };
    let replies = svc.handle(&req);
    assert_eq!(replies.len(), 1, "one answer to {topic}");
    let (topic, bytes): (&str, &Bytes) = payload_of(&replies[0]);
    (topic.to_string(), fmt.decode(bytes).unwrap())
}

const CREATE: &str = "$aws/certificates/create/json";
const PROVISION: &str = "$aws/provisioning-templates/fleet/provision/json";

/// A certificate and token over JSON.
fn claim(svc: &FleetService) -> Value {
    ask(svc, CREATE, Format::Json, &json!({}), T0).1
}

/// RegisterThing over JSON with `created`'s token; (accepted, answer).
fn register(svc: &FleetService, created: &Value, serial: &str, now_ms: i64) -> (bool, Value) {
    let body = json!({"certificateOwnershipToken": created["certificateOwnershipToken"], "parameters": {"SerialNumber": serial}});
    let (topic, answer) = ask(svc, PROVISION, Format::Json, &body, now_ms);
    (topic.ends_with("/accepted"), answer)
}

#[test]
fn a_claimed_device_gets_a_certificate_and_is_provisioned_in_json_and_cbor() {
    for fmt in [Format::Json, Format::Cbor] {
        let (svc, reg) = service(true);
        let f = fmt.name();
        let create = format!("$aws/certificates/create/{f}");
        let (topic, created) = ask(&svc, &create, fmt, &json!({}), T0);
        assert_eq!(topic, format!("{create}/accepted"));
        assert!(
            created["privateKey"]
                .as_str()
                .unwrap()
                .contains("PRIVATE KEY")
        );
        let id = created["certificateId"].as_str().unwrap().to_string();
        let status = reg
            .read()
            .unwrap()
            .describe_certificate("us-east-1", &id)
            .unwrap()
            .status;
        assert_eq!(status.to_string(), "PENDING_ACTIVATION");
        let provision = format!("$aws/provisioning-templates/fleet/provision/{f}");
        let body = json!({"certificateOwnershipToken": created["certificateOwnershipToken"], "parameters": {"SerialNumber": "7"}});
        let (topic, done) = ask(&svc, &provision, fmt, &body, T0 + 1000);
        assert_eq!(topic, format!("{provision}/accepted"), "{done}");
        assert_eq!(done["thingName"], "sensor-7");
        assert_eq!(done["deviceConfiguration"]["Serial"], "7");
        let reg = reg.read().unwrap();
        assert_eq!(
            reg.describe_certificate("us-east-1", &id)
                .unwrap()
                .status
                .to_string(),
            "ACTIVE"
        );
        assert!(reg.describe_thing("us-east-1", "sensor-7").is_ok());
        // A token is used once.
        drop(reg);
        let (topic, again) = ask(&svc, &provision, fmt, &body, T0 + 2000);
        assert_eq!(topic, format!("{provision}/rejected"));
        assert_eq!(again["errorCode"], "InvalidCertificateOwnershipToken");
        assert_eq!(again["statusCode"], 400);
    }
}

#[test]
fn rejections_say_what_failed() {
    let (svc, _) = service(true);
    let provision = "$aws/provisioning-templates/fleet/provision/json";
    let (_, empty) = ask(&svc, provision, Format::Json, &json!({}), T0);
    assert_eq!(
        empty["errorMessage"],
        "Certificate ownership token cannot be empty."
    );
    let (_, created) = ask(
        &svc,
        "$aws/certificates/create/json",
        Format::Json,
        &json!({}),
        T0,
    );
    let token = created["certificateOwnershipToken"].clone();
    let (_, missing) = ask(
        &svc,
        provision,
        Format::Json,
        &json!({"certificateOwnershipToken": token}),
        T0,
    );
    assert_eq!(missing["errorCode"], "InvalidParameters");
    assert!(
        missing["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Parameters.SerialNumber"),
        "{missing}"
    );
    let unknown = "$aws/provisioning-templates/nope/provision/json";
    let (_, nope) = ask(
        &svc,
        unknown,
        Format::Json,
        &json!({"certificateOwnershipToken": token}),
        T0,
    );
    assert_eq!(
        (nope["statusCode"].as_u64(), nope["errorCode"].as_str()),
        (Some(404), Some("ResourceNotFound"))
    );
    let (_, csr) = ask(
        &svc,
        "$aws/certificates/create-from-csr/json",
        Format::Json,
        &json!({"certificateSigningRequest": "junk"}),
        T0,
    );
    assert_eq!(csr["errorCode"], "InvalidCertificateSigningRequest");
    let (topic, garbage) = {
        let req = ServiceRequest {
            source_ip: None,
            client_id: Some("c"),
            region: None,
            topic: "$aws/certificates/create/cbor",
            payload: &Bytes::from_static(&[0xff, 0x13]),
            now_ms: T0,
            principal: None,
            properties: None,
        };
        let replies = svc.handle(&req);
        let (t, b) = payload_of(&replies[0]);
        (t.to_string(), Format::Cbor.decode(b).unwrap())
    };
    assert!(topic.ends_with("/rejected"));
    assert_eq!(garbage["errorCode"], "InvalidPayload");
}

#[test]
fn a_disabled_template_refuses() {
    let (svc, _) = service(false);
    let created = claim(&svc);
    let (ok, r) = register(&svc, &created, "1", T0);
    assert!(!ok);
    assert_eq!(r["errorCode"], "TemplateDisabled");
}

#[test]
fn tokens_expire_after_an_hour_and_unprovisioned_certificates_go() {
    let (svc, reg) = service(true);
    let (kept, used) = (claim(&svc), claim(&svc));
    assert!(register(&svc, &used, "2", T0).0);
    assert_eq!(svc.expire_tokens(T0 + TOKEN_LIFETIME_MS - 1), 0, "not yet");
    let (ok, r) = register(&svc, &kept, "3", T0 + TOKEN_LIFETIME_MS);
    assert!(!ok);
    assert_eq!(
        r["errorCode"], "InvalidCertificateOwnershipToken",
        "expired at one hour"
    );
    assert_eq!(svc.expire_tokens(T0 + TOKEN_LIFETIME_MS), 1);
    let reg = reg.read().unwrap();
    let id = |v: &Value| v["certificateId"].as_str().unwrap().to_string();
    assert!(
        reg.describe_certificate("us-east-1", &id(&kept)).is_err(),
        "deleted"
    );
    assert!(
        reg.describe_certificate("us-east-1", &id(&used)).is_ok(),
        "provisioned, kept"
    );
}
