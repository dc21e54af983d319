//! Fleet provisioning by claim over real sockets: templates through the control plane, a
//! device on a claim certificate asking for its own certificate and registering itself (JSON
//! and CBOR), then connecting with what it got.

use crate::mqtt::{Device, Fleet};
use iotmock_client::{TlsOptions, Version};
use iotmock_testkit::Minted;
use serde_json::{Value, json};

pub(crate) const TEMPLATE: &str = r#"{
  "Parameters": {"SerialNumber": {"Type": "String"}, "AWS::IoT::Certificate::Id": {"Type": "String"}},
  "Resources": {
    "thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Fn::Join": ["", ["sensor-", {"Ref": "SerialNumber"}]]}, "AttributePayload": {"serial": {"Ref": "SerialNumber"}}}},
    "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "Active"}},
    "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iot:Connect", "iot:Publish"], "Resource": "*"}]}}}
  },
  "DeviceConfiguration": {"Serial": {"Ref": "SerialNumber"}}
}"#;

const CLAIM_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"iot:Connect","Resource":"*"},
  {"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":["arn:aws:iot:*:*:topic/$aws/certificates/create/*","arn:aws:iot:*:*:topic/$aws/provisioning-templates/fleet/provision/*"]},
  {"Effect":"Allow","Action":"iot:Subscribe","Resource":["arn:aws:iot:*:*:topicfilter/$aws/certificates/create/*","arn:aws:iot:*:*:topicfilter/$aws/provisioning-templates/fleet/provision/*"]}]}"#;

pub(crate) async fn template(fleet: &Fleet, name: &str, body: &str) -> Value {
    let req = json!({
        "templateName": name, "templateBody": body, "enabled": true,
        "provisioningRoleArn": "arn:aws:iam::123456789012:role/provisioning",
    });
    fleet.api.post("/provisioning-templates", req).await.ok()
}

fn decode(fmt: &str, payload: &[u8]) -> Value {
    match fmt {
        "cbor" => ciborium::from_reader(payload).expect("cbor"),
        _ => serde_json::from_slice(payload).expect("json"),
    }
}

fn encode(fmt: &str, doc: &Value) -> Vec<u8> {
    match fmt {
        "cbor" => {
            let mut out = Vec::new();
            ciborium::into_writer(doc, &mut out).expect("cbor");
            out
        }
        _ => doc.to_string().into_bytes(),
    }
}

/// Publishes `doc` to `topic` and waits for its accepted or rejected answer.
pub(crate) async fn ask(
    c: &mut iotmock_client::DeviceClient,
    fmt: &str,
    topic: &str,
    doc: &Value,
) -> (bool, Value) {
    c.publish(topic, encode(fmt, doc), 1, false)
        .await
        .expect("puback");
    loop {
        let m = c.next_message().await.expect("an answer");
        if m.topic == format!("{topic}/accepted") || m.topic == format!("{topic}/rejected") {
            return (m.topic.ends_with("/accepted"), decode(fmt, &m.payload));
        }
    }
}

#[tokio::test]
async fn a_device_on_a_claim_certificate_provisions_itself_and_reconnects() {
    let mut fleet = Fleet::new().await;
    let created = template(&fleet, "fleet", TEMPLATE).await;
    assert_eq!(created["defaultVersionId"], 1);
    let claim: Device = fleet.device("claim", Some(CLAIM_POLICY)).await;
    for (i, fmt) in ["json", "cbor"].into_iter().enumerate() {
        let mut c = fleet
            .client(&claim, &format!("claim-{fmt}"), Version::V311)
            .await;
        let create = format!("$aws/certificates/create/{fmt}");
        let provision = format!("$aws/provisioning-templates/fleet/provision/{fmt}");
        c.subscribe(&[(&format!("{create}/+"), 1), (&format!("{provision}/+"), 1)])
            .await
            .expect("suback");
        let (ok, keys) = ask(&mut c, fmt, &create, &json!({})).await;
        assert!(ok, "{keys}");
        let serial = format!("{}", 100 + i);
        let register = json!({
            "certificateOwnershipToken": keys["certificateOwnershipToken"],
            "parameters": {"SerialNumber": serial},
        });
        let (ok, done) = ask(&mut c, fmt, &provision, &register).await;
        assert!(ok, "{done}");
        let thing = format!("sensor-{serial}");
        assert_eq!(done["thingName"], thing.as_str());
        assert_eq!(done["deviceConfiguration"]["Serial"], serial.as_str());
        // The device reconnects with its permanent certificate, as itself.
        let minted = Minted {
            cert_pem: keys["certificatePem"].as_str().expect("pem").to_string(),
            key_pem: keys["privateKey"].as_str().expect("key").to_string(),
        };
        let tls =
            TlsOptions::new(fleet.mock.root_ca_pem()).identity(minted.cert_pem, minted.key_pem);
        let admitted = fleet.connect_with(tls, &thing, Version::V311).await;
        assert!(admitted.is_ok(), "the provisioned certificate connects");
        let described = fleet.api.get(&format!("/things/{thing}")).await.ok();
        assert_eq!(described["attributes"]["serial"], serial.as_str());
    }
}

#[tokio::test]
async fn templates_are_managed_and_bad_ones_refused_with_the_element() {
    let fleet = Fleet::new().await;
    template(&fleet, "t1", TEMPLATE).await;
    let bad = json!({
        "templateName": "t2", "provisioningRoleArn": "arn:aws:iam::123456789012:role/provisioning",
        "templateBody": r#"{"Resources": {"t": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "Serial"}}}}}"#,
    });
    let msg = fleet
        .api
        .post("/provisioning-templates", bad)
        .await
        .err(400, "InvalidRequestException");
    assert!(
        msg.contains("Resources.t.Properties.ThingName.Ref"),
        "{msg}"
    );
    let again = json!({"templateName": "t1", "templateBody": TEMPLATE, "provisioningRoleArn": "arn:aws:iam::123456789012:role/provisioning"});
    let msg = fleet
        .api
        .post("/provisioning-templates", again)
        .await
        .err(409, "ResourceAlreadyExistsException");
    assert_eq!(msg, "Template with name t1 already exists");
    let described = fleet.api.get("/provisioning-templates/t1").await.ok();
    assert_eq!(
        (described["enabled"].as_bool(), described["type"].as_str()),
        (Some(true), Some("FLEET_PROVISIONING"))
    );
    let v2 = fleet
        .api
        .call(
            "POST",
            "/provisioning-templates/t1/versions?setAsDefault=true",
            &[],
            Some(json!({"templateBody": TEMPLATE})),
        )
        .await
        .ok();
    assert_eq!(
        (v2["versionId"].as_u64(), v2["isDefaultVersion"].as_bool()),
        (Some(2), Some(true))
    );
    let versions = fleet
        .api
        .get("/provisioning-templates/t1/versions")
        .await
        .ok();
    assert_eq!(versions["versions"].as_array().map(Vec::len), Some(2));
    fleet
        .api
        .call("DELETE", "/provisioning-templates/t1/versions/2", &[], None)
        .await
        .err(409, "DeleteConflictException");
    fleet
        .api
        .call("DELETE", "/provisioning-templates/t1/versions/1", &[], None)
        .await
        .ok();
    let listed = fleet.api.get("/provisioning-templates").await.ok();
    assert_eq!(listed["templates"][0]["templateName"], "t1");
    fleet
        .api
        .call("DELETE", "/provisioning-templates/t1", &[], None)
        .await
        .ok();
    fleet
        .api
        .get("/provisioning-templates/t1")
        .await
        .err(404, "ResourceNotFoundException");
}

const JITP: &str = r#"{
  "Parameters": {"AWS::IoT::Certificate::CommonName": {"Type": "String"}, "AWS::IoT::Certificate::Id": {"Type": "String"}},
  "Resources": {
    "thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "AWS::IoT::Certificate::CommonName"}}},
    "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}},
    "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\"}]}"}}
  }
}"#;

#[tokio::test]
async fn jitp_provisions_at_first_connect_and_admits_the_next() {
    let fleet = Fleet::new().await;
    let ca_id = fleet.api.get("/cacertificates").await.ok()["certificates"][0]["certificateId"]
        .as_str()
        .expect("the fleet's CA")
        .to_string();
    let req = json!({
        "templateName": "jitp", "templateBody": JITP, "type": "JITP", "enabled": true,
        "provisioningRoleArn": "arn:aws:iam::123456789012:role/provisioning",
    });
    fleet.api.post("/provisioning-templates", req).await.ok();
    // A template of the wrong type, or without a policy, is refused up front.
    let wrong = json!({"registrationConfig": {"templateName": "nope"}});
    let path = format!("/cacertificate/{ca_id}?newAutoRegistrationStatus=ENABLE");
    fleet
        .api
        .call("PUT", &path, &[], Some(wrong))
        .await
        .err(404, "ResourceNotFoundException");
    let config = json!({"registrationConfig": {"templateName": "jitp"}});
    fleet.api.call("PUT", &path, &[], Some(config)).await.ok();
    let newcomer = fleet.ca.leaf("jitp-sensor-1");
    let first = fleet
        .connect_with(fleet.tls(&newcomer), "jitp-sensor-1", Version::V311)
        .await;
    assert!(
        first.is_err(),
        "the first connection closes, as AWS closes it"
    );
    let thing = fleet.api.get("/things/jitp-sensor-1").await.ok();
    assert_eq!(thing["thingName"], "jitp-sensor-1");
    let again = fleet
        .connect_with(fleet.tls(&newcomer), "jitp-sensor-1", Version::V311)
        .await;
    assert!(
        again.is_ok(),
        "provisioned ACTIVE with the template's policy"
    );
}

#[tokio::test]
async fn an_unused_ownership_token_expires_with_the_test_clock() {
    let (mock, clock) = crate::support::clocked_mock().await;
    let mut fleet = Fleet::on(mock).await;
    template(&fleet, "fleet", TEMPLATE).await;
    let claim = fleet.device("claim", Some(CLAIM_POLICY)).await;
    let mut c = fleet.client(&claim, "claim", Version::V5).await;
    let create = "$aws/certificates/create/json";
    let provision = "$aws/provisioning-templates/fleet/provision/json";
    c.subscribe(&[(&format!("{create}/+"), 1), (&format!("{provision}/+"), 1)])
        .await
        .expect("suback");
    let (_, keys) = ask(&mut c, "json", create, &json!({})).await;
    let id = keys["certificateId"].as_str().expect("id").to_string();
    clock.advance(std::time::Duration::from_secs(3600));
    let late = json!({"certificateOwnershipToken": keys["certificateOwnershipToken"], "parameters": {"SerialNumber": "9"}});
    let (ok, refused) = ask(&mut c, "json", provision, &late).await;
    assert!(!ok);
    assert_eq!(refused["errorCode"], "InvalidCertificateOwnershipToken");
    fleet.mock.run_timers();
    fleet
        .api
        .get(&format!("/certificates/{id}"))
        .await
        .err(404, "ResourceNotFoundException");
}
