//! AWS IoT behaviour beyond plain pub/sub: retained messages (MQTT and iot-data), wills,
//! lifecycle events, and just-in-time registration.

use crate::mqtt::{ALLOW_ALL, Fleet};
use iotmock_client::{ClientError, Version, Will};
use serde_json::{Value, json};

#[tokio::test]
async fn retained_messages_reach_exact_subscriptions_only() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut publisher = fleet.client(&dev, "pub", Version::V311).await;
    publisher
        .publish("state/lamp", "on", 1, true)
        .await
        .expect("puback");
    let mut exact = fleet.client(&dev, "exact", Version::V5).await;
    exact.subscribe(&[("state/lamp", 1)]).await.expect("suback");
    let m = exact.next_message().await.expect("retained copy");
    assert_eq!((&m.payload[..], m.retain), (&b"on"[..], true));
    let mut wild = fleet.client(&dev, "wild", Version::V311).await;
    wild.subscribe(&[("state/#", 1)]).await.expect("suback");
    publisher
        .publish("state/lamp", "off", 1, false)
        .await
        .expect("puback");
    let live = wild
        .next_message()
        .await
        .expect("live message, not the retained one");
    assert_eq!((&live.payload[..], live.retain), (&b"off"[..], false));

    let got = fleet.api.get("/retainedMessage/state%2Flamp").await.ok();
    assert_eq!(got["payload"], "b24=", "base64 of 'on'");
    assert_eq!(got["qos"], 1);
    let list = fleet.api.get("/retainedMessage").await.ok();
    assert_eq!(list["retainedTopics"][0]["topic"], "state/lamp");
    publisher
        .publish("state/lamp", "", 1, true)
        .await
        .expect("puback");
    fleet
        .api
        .get("/retainedMessage/state%2Flamp")
        .await
        .err(404, "ResourceNotFoundException");
}

#[tokio::test]
async fn iot_data_publish_reaches_subscribers_and_can_retain() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut sub = fleet.client(&dev, "sub", Version::V311).await;
    sub.subscribe(&[("cmd/+", 1)]).await.expect("suback");
    let a = fleet
        .api
        .raw(
            "POST",
            "/topics/cmd%2Freboot?qos=1&retain=true",
            &[],
            b"now".to_vec(),
        )
        .await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(
        &sub.next_message().await.expect("delivery").payload[..],
        b"now"
    );
    assert_eq!(
        fleet.api.get("/retainedMessage/cmd%2Freboot").await.ok()["topic"],
        "cmd/reboot"
    );
    fleet
        .api
        .raw("POST", "/topics/%24aws%2Fx", &[], b"x".to_vec())
        .await
        .err(400, "InvalidRequestException");
    // Reserved topics a client may publish to work over HTTPS too: a shadow update.
    let update = br#"{"state":{"reported":{"on":true}}}"#.to_vec();
    let path = "/topics/%24aws%2Fthings%2Flamp%2Fshadow%2Fupdate";
    assert_eq!(fleet.api.raw("POST", path, &[], update).await.status, 200);
    let shadow = fleet.api.get("/things/lamp/shadow").await.ok();
    assert_eq!(shadow["state"]["reported"]["on"], true);
}

#[tokio::test]
async fn wills_are_published_on_abnormal_disconnect_only() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut watcher = fleet.client(&dev, "watcher", Version::V311).await;
    watcher.subscribe(&[("wills/#", 1)]).await.expect("suback");
    let config = iotmock_client::client_config(&fleet.tls(&dev.minted)).expect("tls");
    for (id, clean) in [("polite", true), ("rude", false)] {
        let mut opts = fleet.options(id, Version::V311);
        opts.will = Some(Will {
            topic: format!("wills/{id}"),
            payload: "gone".into(),
            qos: 1,
            retain: false,
        });
        let (client, _) = iotmock_client::DeviceClient::connect(config.clone(), &opts)
            .await
            .expect("admitted");
        if clean {
            client.disconnect().await.expect("disconnect");
        } else {
            drop(client);
        }
    }
    let m = watcher
        .next_message()
        .await
        .expect("the will of the client that vanished");
    assert_eq!(m.topic, "wills/rude");
    watcher.ping().await.expect("no other will arrived first");
}

#[tokio::test]
async fn a_will_topic_the_policy_denies_refuses_the_connect() {
    let mut fleet = Fleet::new().await;
    let policy = r#"{"Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"},
        {"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/ok/*"}]}"#;
    let dev = fleet.device("dev", Some(policy)).await;
    let mut opts = fleet.options("w", Version::V5);
    opts.will = Some(Will {
        topic: "other/w".into(),
        payload: "x".into(),
        qos: 0,
        retain: false,
    });
    let config = iotmock_client::client_config(&fleet.tls(&dev.minted)).expect("tls");
    assert!(matches!(
        iotmock_client::DeviceClient::connect(config, &opts).await,
        Err(ClientError::Refused(0x87))
    ));
}

fn json_of(payload: &[u8]) -> Value {
    serde_json::from_slice(payload).expect("event JSON")
}

/// The next event about someone other than the watcher itself.
async fn next_event(watcher: &mut iotmock_client::DeviceClient) -> iotmock_client::Publish {
    loop {
        let m = watcher.next_message().await.expect("event");
        if !m.topic.ends_with("/watcher") {
            return m;
        }
    }
}

#[tokio::test]
async fn lifecycle_events_carry_aws_fields() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut watcher = fleet.client(&dev, "watcher", Version::V5).await;
    watcher
        .subscribe(&[
            ("$aws/events/presence/+/+", 1),
            ("$aws/events/subscriptions/+/+", 1),
        ])
        .await
        .expect("suback");
    let mut device = fleet.client(&dev, "lamp", Version::V311).await;
    let connected = json_of(&next_event(&mut watcher).await.payload);
    assert_eq!(
        (
            connected["eventType"].as_str(),
            connected["clientId"].as_str()
        ),
        (Some("connected"), Some("lamp"))
    );
    assert_eq!(connected["principalIdentifier"], dev.id);
    assert_eq!(connected["ipAddress"], "127.0.0.1");
    assert!(connected["timestamp"].is_i64() && connected["versionNumber"].is_u64());
    device.subscribe(&[("a/b", 0)]).await.expect("suback");
    let subscribed = json_of(&next_event(&mut watcher).await.payload);
    assert_eq!(
        (
            subscribed["eventType"].clone(),
            subscribed["topics"].clone()
        ),
        (json!("subscribed"), json!(["a/b"]))
    );
    device.disconnect().await.expect("disconnect");
    let m = next_event(&mut watcher).await;
    assert_eq!(m.topic, "$aws/events/presence/disconnected/lamp");
    let gone = json_of(&m.payload);
    assert_eq!(gone["disconnectReason"], "CLIENT_INITIATED_DISCONNECT");
    assert_eq!(gone["clientInitiatedDisconnect"], true);
    assert_eq!(gone["sessionIdentifier"], connected["sessionIdentifier"]);
    assert!(
        gone.get("thingName").is_none(),
        "no exclusive thing: no thingName"
    );
    // An exclusively attached thing is named in the connection's events.
    let own = fleet.device("own", Some(ALLOW_ALL)).await;
    fleet.api.post("/things/lamp2", json!({})).await.ok();
    let principal = [("x-amzn-principal", own.arn.as_str())];
    let attach = "/things/lamp2/principals?thingPrincipalType=EXCLUSIVE_THING";
    fleet.api.call("PUT", attach, &principal, None).await.ok();
    let _lamp2 = fleet.client(&own, "lamp2", Version::V5).await;
    let connected = json_of(&next_event(&mut watcher).await.payload);
    assert_eq!(
        (
            connected["clientId"].clone(),
            connected["thingName"].clone()
        ),
        (json!("lamp2"), json!("lamp2"))
    );
}

#[tokio::test]
async fn version_numbers_grow_per_client_id_and_start_again_after_an_hour() {
    let (mock, clock) = crate::support::clocked_mock().await;
    let mut fleet = Fleet::on(mock).await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut watcher = fleet.client(&dev, "watcher", Version::V5).await;
    watcher
        .subscribe(&[("$aws/events/presence/connected/+", 1)])
        .await
        .expect("suback");
    let mut seen = Vec::new();
    for advance in [0, 0, 3_700] {
        clock.advance(std::time::Duration::from_secs(advance));
        let c = fleet.client(&dev, "cycle", Version::V311).await;
        seen.push(json_of(&next_event(&mut watcher).await.payload)["versionNumber"].clone());
        c.disconnect().await.expect("disconnect");
    }
    assert_eq!(seen, [json!(0), json!(1), json!(0)]);
}

#[tokio::test]
async fn just_in_time_registration() {
    let mut fleet = Fleet::new().await;
    let watcher_dev = fleet.device("watcher", Some(ALLOW_ALL)).await;
    let ca_id = fleet.api.get("/cacertificates").await.ok()["certificates"][0]["certificateId"]
        .as_str()
        .unwrap()
        .to_string();
    let mut watcher = fleet.client(&watcher_dev, "watcher", Version::V311).await;
    watcher
        .subscribe(&[("$aws/events/certificates/registered/+", 1)])
        .await
        .expect("suback");
    let newcomer = fleet.ca.leaf("newcomer");
    assert!(matches!(
        fleet
            .connect_with(fleet.tls(&newcomer), "newcomer", Version::V311)
            .await,
        Err(ClientError::ClosedBeforeConnack)
    ));
    let none = fleet.api.get("/certificates").await.ok();
    assert_eq!(
        none["certificates"].as_array().unwrap().len(),
        1,
        "auto-registration is off: nothing registered"
    );

    fleet
        .api
        .call(
            "PUT",
            &format!("/cacertificate/{ca_id}?newAutoRegistrationStatus=ENABLE"),
            &[],
            None,
        )
        .await
        .ok();
    assert!(matches!(
        fleet
            .connect_with(fleet.tls(&newcomer), "newcomer", Version::V5)
            .await,
        Err(ClientError::Refused(0x87))
    ));
    let event = watcher.next_message().await.expect("registered event");
    assert_eq!(
        event.topic,
        format!("$aws/events/certificates/registered/{ca_id}")
    );
    let body = json_of(&event.payload);
    assert_eq!(body["certificateStatus"], "PENDING_ACTIVATION");
    let cert_id = body["certificateId"].as_str().unwrap().to_string();
    let d = fleet
        .api
        .get(&format!("/certificates/{cert_id}"))
        .await
        .ok();
    assert_eq!(d["certificateDescription"]["status"], "PENDING_ACTIVATION");
    assert_eq!(d["certificateDescription"]["caCertificateId"], ca_id);

    let arn = d["certificateDescription"]["certificateArn"]
        .as_str()
        .unwrap()
        .to_string();
    let dev = crate::mqtt::Device {
        minted: newcomer,
        id: cert_id,
        arn,
    };
    fleet.attach(&dev, ALLOW_ALL).await;
    fleet.set_status(&dev, "ACTIVE").await;
    assert!(
        fleet.connect(&dev, "newcomer", Version::V311).await.is_ok(),
        "activated: connects"
    );
}

#[tokio::test]
async fn persistent_sessions_keep_subscriptions_and_qos1_messages() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let config = iotmock_client::client_config(&fleet.tls(&dev.minted)).expect("tls");
    for v in crate::mqtt::BOTH {
        let mut opts = fleet.options(&format!("persist-{v:?}"), v);
        opts.clean_start = false;
        opts.session_expiry = (v == Version::V5).then_some(7200);
        let (mut c, ack) = iotmock_client::DeviceClient::connect(config.clone(), &opts)
            .await
            .expect("admitted");
        assert!(!ack.session_present);
        if v == Version::V5 {
            assert_eq!(
                ack.props.session_expiry,
                Some(3600),
                "the interval is capped at the 1 hour default"
            );
        }
        c.subscribe(&[("offline/+", 1)]).await.expect("suback");
        c.disconnect().await.expect("disconnect");
        let mut publisher = fleet.client(&dev, &format!("p-{v:?}"), Version::V311).await;
        publisher
            .publish("offline/q1", "kept", 1, false)
            .await
            .expect("puback");
        publisher
            .publish("offline/q0", "dropped", 0, false)
            .await
            .expect("sent");
        publisher.ping().await.expect("ping");
        let (mut c, ack) = iotmock_client::DeviceClient::connect(config.clone(), &opts)
            .await
            .expect("resumed");
        assert!(ack.session_present);
        assert_eq!(
            &c.next_message().await.expect("queued QoS 1").payload[..],
            b"kept"
        );
        publisher
            .publish("offline/live", "live", 1, false)
            .await
            .expect("puback");
        assert_eq!(
            &c.next_message().await.expect("subscription kept").payload[..],
            b"live"
        );
        c.disconnect().await.expect("disconnect");
        opts.clean_start = true;
        let (_, ack) = iotmock_client::DeviceClient::connect(config.clone(), &opts)
            .await
            .expect("clean");
        assert!(!ack.session_present, "clean start discards the session");
    }
}

#[tokio::test]
async fn the_attached_thing_drives_thing_policy_variables() {
    let mut fleet = Fleet::new().await;
    let policy = r#"{"Statement":[
        {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}",
         "Condition":{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}},
        {"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/rooms/${iot:Connection.Thing.Attributes[room]}"}]}"#;
    let dev = fleet.device("dev", Some(policy)).await;
    fleet
        .api
        .post(
            "/things/lamp-1",
            json!({ "attributePayload": { "attributes": { "room": "kitchen" } } }),
        )
        .await
        .ok();
    fleet.api.post("/things/lamp-2", json!({})).await.ok();
    for v in crate::mqtt::BOTH {
        crate::mqtt::assert_refused(fleet.connect(&dev, "lamp-1", v).await, v);
    }
    fleet
        .api
        .call(
            "PUT",
            "/things/lamp-1/principals",
            &[("x-amzn-principal", &dev.arn)],
            None,
        )
        .await
        .ok();
    let mut c = fleet.client(&dev, "lamp-1", Version::V5).await;
    assert_eq!(
        c.publish("rooms/kitchen", "on", 1, false)
            .await
            .expect("puback"),
        Some(0)
    );
    assert_eq!(
        c.publish("rooms/hall", "on", 1, false)
            .await
            .expect("puback"),
        Some(0x87)
    );
    for v in crate::mqtt::BOTH {
        crate::mqtt::assert_refused(fleet.connect(&dev, "lamp-2", v).await, v);
    }
    let mut v3 = fleet.client(&dev, "lamp-1", Version::V311).await;
    assert_eq!(
        v3.publish("rooms/kitchen", "on", 1, false)
            .await
            .expect("puback"),
        Some(0)
    );
}
