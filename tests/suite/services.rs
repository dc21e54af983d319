//! The service seam over real sockets: services publish on their own (whatever started the
//! change), tick on the injected clock, hear the registry's events, and run off the MQTT I/O
//! threads.

use crate::mqtt::{ALLOW_ALL, Fleet, next_on};
use iotmock_broker::{BrokerSettings, Outbox, Outlet, Reply, Service, ServiceRequest};
use iotmock_client::{DeviceClient, Version};
use iotmock_mqtt::Publish;
use iotmock_registry::RegistryEvent;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A CONTINUOUS job through group `group`; returns the group's ARN.
async fn continuous_job(fleet: &Fleet, group: &str, job: &str) -> String {
    let created = fleet
        .api
        .post(&format!("/thing-groups/{group}"), json!({}))
        .await
        .ok();
    let arn = created["thingGroupArn"].as_str().expect("arn").to_string();
    let body = json!({ "targets": [arn], "document": "{}", "targetSelection": "CONTINUOUS" });
    let path = format!("/jobs/{job}");
    fleet.api.call("PUT", &path, &[], Some(body)).await.ok();
    arn
}

/// A device allowed everything, subscribed to every thing's `notify-next`.
async fn watcher(fleet: &mut Fleet) -> DeviceClient {
    let dev = fleet.device("watcher", Some(ALLOW_ALL)).await;
    let mut c = fleet.client(&dev, "watcher", Version::V311).await;
    c.subscribe(&[("$aws/things/+/jobs/notify-next", 1)])
        .await
        .expect("suback");
    c
}

fn template(group: &str) -> String {
    json!({
        "Parameters": {
            "ThingName": {"Type": "String"},
            "AWS::IoT::Certificate::Id": {"Type": "String"}
        },
        "Resources": {
            "thing": {"Type": "AWS::IoT::Thing", "Properties": {
                "ThingName": {"Ref": "ThingName"}, "ThingGroups": [group]}},
            "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
                "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "Active"}}
        }
    })
    .to_string()
}

#[tokio::test]
async fn a_thing_registered_into_a_group_gets_its_continuous_job() {
    let mut fleet = Fleet::new().await;
    continuous_job(&fleet, "pumps", "rollout").await;
    let mut watch = watcher(&mut fleet).await;
    let cert = fleet.device("pump-7", None).await;
    let body = json!({
        "templateBody": template("pumps"),
        "parameters": {"ThingName": "pump-7", "AWS::IoT::Certificate::Id": cert.id},
    });
    fleet.api.post("/things", body).await.ok();
    // The control plane answered after Jobs heard the join: the execution is there now.
    let execs = fleet.api.get("/things/pump-7/jobs").await.ok();
    assert_eq!(
        execs["executionSummaries"][0]["jobId"], "rollout",
        "{execs}"
    );
    let next = next_on(&mut watch, "$aws/things/pump-7/jobs/notify-next").await;
    assert_eq!(next["execution"]["jobId"], "rollout");
}

/// Publishes `doc` on `topic` and waits for its `accepted` answer.
async fn ask(c: &mut DeviceClient, topic: &str, doc: &Value) -> Value {
    c.publish(topic, doc.to_string(), 1, false)
        .await
        .expect("puback");
    next_on(c, &format!("{topic}/accepted")).await
}

#[tokio::test]
async fn a_thing_provisioned_by_claim_into_a_group_gets_its_continuous_job() {
    let mut fleet = Fleet::new().await;
    continuous_job(&fleet, "meters", "calibrate").await;
    let req = json!({
        "templateName": "claim", "templateBody": template("meters"), "enabled": true,
        "provisioningRoleArn": "arn:aws:iam::123456789012:role/provisioning",
    });
    fleet.api.post("/provisioning-templates", req).await.ok();
    let mut watch = watcher(&mut fleet).await;
    let claim = fleet.device("claim", Some(ALLOW_ALL)).await;
    let mut c = fleet.client(&claim, "claim-1", Version::V5).await;
    c.subscribe(&[
        ("$aws/certificates/create/json/+", 1),
        ("$aws/provisioning-templates/claim/provision/json/+", 1),
    ])
    .await
    .expect("suback");
    let keys = ask(&mut c, "$aws/certificates/create/json", &json!({})).await;
    let register = json!({
        "certificateOwnershipToken": keys["certificateOwnershipToken"],
        "parameters": {"ThingName": "meter-3"},
    });
    let topic = "$aws/provisioning-templates/claim/provision/json";
    let done = ask(&mut c, topic, &register).await;
    assert_eq!(done["thingName"], "meter-3");
    let next = next_on(&mut watch, "$aws/things/meter-3/jobs/notify-next").await;
    assert_eq!(next["execution"]["jobId"], "calibrate");
}

#[tokio::test]
async fn an_http_shadow_update_publishes_its_delta_from_the_service() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("lamp", Some(ALLOW_ALL)).await;
    let mut c = fleet.client(&dev, "lamp", Version::V5).await;
    let p = "$aws/things/lamp/shadow/update";
    c.subscribe(&[(&format!("{p}/delta"), 1), (&format!("{p}/documents"), 1)])
        .await
        .expect("suback");
    let update = json!({"state": {"desired": {"on": true}}});
    fleet.api.post("/things/lamp/shadow", update).await.ok();
    let delta = next_on(&mut c, &format!("{p}/delta")).await;
    assert_eq!(delta["state"], json!({"on": true}));
    let docs = next_on(&mut c, &format!("{p}/documents")).await;
    assert_eq!(docs["current"]["state"]["desired"], json!({"on": true}));
}

/// A service that publishes on its own: on every tick, and on every registry event.
#[derive(Default)]
struct Herald {
    outlet: Outlet,
}

impl Service for Herald {
    fn name(&self) -> &'static str {
        "herald"
    }

    fn filters(&self) -> Vec<String> {
        vec!["herald/ask".into()]
    }

    fn attach(&self, outbox: Arc<dyn Outbox>) {
        self.outlet.attach(outbox);
    }

    fn handle(&self, _request: &ServiceRequest<'_>) -> Vec<Reply> {
        Vec::new()
    }

    fn tick(&self, now_ms: i64) {
        let body = json!({ "now": now_ms }).to_string();
        self.outlet.publish(Publish::new(
            "herald/tick",
            bytes::Bytes::from(body),
            1,
            false,
        ));
    }

    fn hears_registry(&self) -> bool {
        true
    }

    fn registry_changed(&self, events: &[RegistryEvent], _now_ms: i64) {
        for e in events {
            if let RegistryEvent::Membership { thing, joined, .. } = e {
                let body = json!({ "thing": thing, "joined": joined }).to_string();
                let m = Publish::new("herald/membership", bytes::Bytes::from(body), 1, false);
                self.outlet.publish(m);
            }
        }
    }
}

#[tokio::test]
async fn a_registered_service_ticks_on_the_test_clock_and_hears_the_registry() {
    let (mock, clock) = crate::support::clocked_mock().await;
    let mut fleet = Fleet::on(mock).await;
    fleet
        .mock
        .broker()
        .register_service(Arc::new(Herald::default()));
    let dev = fleet.device("ear", Some(ALLOW_ALL)).await;
    let mut c = fleet.client(&dev, "ear", Version::V311).await;
    c.subscribe(&[("herald/#", 1)]).await.expect("suback");
    clock.advance(Duration::from_secs(3600));
    fleet.mock.run_timers();
    let tick = next_on(&mut c, "herald/tick").await;
    assert_eq!(tick["now"], fleet.mock.now_millis());
    fleet.api.post("/things/valve", json!({})).await.ok();
    fleet.api.post("/thing-groups/valves", json!({})).await.ok();
    let add = json!({ "thingGroupName": "valves", "thingName": "valve" });
    let path = "/thing-groups/addThingToThingGroup";
    fleet.api.call("PUT", path, &[], Some(add)).await.ok();
    let heard = next_on(&mut c, "herald/membership").await;
    assert_eq!(heard, json!({ "thing": "valve", "joined": true }));
}

#[tokio::test]
async fn key_generation_in_flight_does_not_delay_a_pingresp_on_the_same_io_thread() {
    // One I/O thread: every connection is served by it.
    let settings = BrokerSettings {
        io_threads: 1,
        ..BrokerSettings::default()
    };
    let mut fleet = Fleet::with_settings(settings).await;
    let dev = fleet.device("busy", Some(ALLOW_ALL)).await;
    let mut claim = fleet.client(&dev, "claim", Version::V311).await;
    let mut bystander = fleet.client(&dev, "bystander", Version::V311).await;
    claim
        .subscribe(&[("$aws/certificates/create/json/accepted", 0)])
        .await
        .expect("suback");
    const KEYS: usize = 6;
    let asked = Instant::now();
    for _ in 0..KEYS {
        claim
            .publish("$aws/certificates/create/json", "{}", 0, false)
            .await
            .expect("sent");
    }
    let pinged = Instant::now();
    bystander.ping().await.expect("pingresp");
    let ping = pinged.elapsed();
    for _ in 0..KEYS {
        next_on(&mut claim, "$aws/certificates/create/json/accepted").await;
    }
    let keys = asked.elapsed();
    // Served on the I/O thread, the keys would hold the PINGRESP until most were made.
    assert!(
        ping * 3 < keys,
        "PINGRESP took {ping:?} while {KEYS} keys took {keys:?}"
    );
}

#[tokio::test]
async fn an_http_read_sees_every_update_a_device_had_acknowledged() {
    // On a state dir each update is a durable write, so the shadow's worker lags the device.
    let dir = tempfile::tempdir().unwrap();
    let mock = iotmock::MockIotCore::builder()
        .state_dir(dir.path())
        .start()
        .await
        .unwrap();
    let mut fleet = Fleet::on(mock).await;
    let dev = fleet.device("meter", Some(ALLOW_ALL)).await;
    let mut c = fleet.client(&dev, "meter", Version::V311).await;
    for i in 1..=50 {
        let update = json!({"state": {"reported": {"n": i}}}).to_string();
        let qos = if i == 50 { 1 } else { 0 };
        let sent = c.publish("$aws/things/meter/shadow/update", update, qos, false);
        sent.await.expect("sent");
    }
    let doc = fleet.api.get("/things/meter/shadow").await.ok();
    assert_eq!(doc["state"]["reported"]["n"], 50);
    assert_eq!(doc["version"], 50);
    let handle = fleet.mock.shadow("meter").in_region(crate::support::REGION);
    let handle = handle.get().expect("a shadow");
    assert_eq!(handle["version"], 50);
}
