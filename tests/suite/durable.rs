//! What AWS keeps survives `iotmock serve` stopping: a retained message and a persistent
//! session's queued QoS 1 message, across SIGTERM and across SIGKILL right after the PUBACK.

use crate::crash::{Served, serve, terminate};
use crate::support::{Api, REGION};
use iotmock_client::TlsOptions;
use iotmock_client::{ConnectOptions, DeviceClient, Version, client_config};
use iotmock_testkit::{Minted, TestCa};
use serde_json::json;
use std::path::Path;

/// Registers a CA and one ACTIVE device allowed everything; returns the device.
async fn device(api: &Api) -> Minted {
    let ca = TestCa::new("durable fleet");
    api.register_ca(&ca, true).await;
    let minted = ca.leaf("keeper");
    let (_, arn) = api.register_cert(&minted.cert_pem).await;
    api.create_policy("all").await;
    let target = Some(json!({ "target": arn }));
    api.call("PUT", "/target-policies/all", &[], target)
        .await
        .ok();
    minted
}

async fn connect(
    served: &Served,
    dir: &Path,
    dev: &Minted,
    id: &str,
    clean: bool,
) -> (DeviceClient, bool) {
    let root = std::fs::read_to_string(dir.join("AmazonRootCA1.pem")).expect("root CA");
    let tls = TlsOptions::new(root).identity(dev.cert_pem.clone(), dev.key_pem.clone());
    let mut opts = ConnectOptions::new(served.mqtt.to_string(), id).version(Version::V311);
    opts.clean_start = clean;
    let (client, ack) = DeviceClient::connect(client_config(&tls).expect("tls"), &opts)
        .await
        .expect("admitted");
    (client, ack.session_present)
}

/// Leaves a retained message and a message queued for an offline persistent session, stops
/// the server with `stop`, restarts it and finds both.
async fn survives(stop: impl AsyncFnOnce(std::process::Child)) {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    let api = Api::new(served.api, REGION);
    let dev = device(&api).await;
    let (mut keeper, _) = connect(&served, dir.path(), &dev, "keeper", false).await;
    keeper.subscribe(&[("d/t", 1)]).await.expect("suback");
    keeper.disconnect().await.expect("disconnect");
    let (mut publisher, _) = connect(&served, dir.path(), &dev, "publisher", true).await;
    let retained = publisher
        .publish("r/t", "kept", 1, true)
        .await
        .expect("puback");
    let queued = publisher
        .publish("d/t", "queued", 1, false)
        .await
        .expect("puback");
    assert_eq!((retained, queued), (Some(0), Some(0)));
    stop(served.child).await;

    let served = serve(dir.path());
    let (mut keeper, present) = connect(&served, dir.path(), &dev, "keeper", false).await;
    assert!(present, "the persistent session is back");
    let m = keeper.next_message().await.expect("the queued message");
    assert_eq!((m.topic.as_str(), &m.payload[..]), ("d/t", &b"queued"[..]));
    let (mut reader, _) = connect(&served, dir.path(), &dev, "reader", true).await;
    reader.subscribe(&[("r/t", 1)]).await.expect("suback");
    let r = reader.next_message().await.expect("the retained message");
    assert!(r.retain && &r.payload[..] == b"kept");
    let mut child = served.child;
    child.kill().expect("stop");
    let _ = child.wait();
}

#[tokio::test]
async fn retained_and_queued_messages_survive_sigterm() {
    survives(async |child| terminate(child).await).await;
}

#[tokio::test]
async fn retained_and_queued_messages_survive_sigkill_after_the_puback() {
    survives(async |mut child: std::process::Child| {
        child.kill().expect("SIGKILL");
        let _ = child.wait();
    })
    .await;
}

#[tokio::test]
async fn messages_in_flight_to_a_live_persistent_session_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    let api = Api::new(served.api, REGION);
    let dev = device(&api).await;
    // A persistent session, connected, that reads nothing: what it is sent stays unacknowledged.
    let (mut keeper, _) = connect(&served, dir.path(), &dev, "keeper", false).await;
    keeper.subscribe(&[("live/t", 1)]).await.expect("suback");
    let (mut publisher, _) = connect(&served, dir.path(), &dev, "publisher", true).await;
    for i in 0..5 {
        let acked = publisher.publish("live/t", format!("m{i}"), 1, false).await;
        assert_eq!(acked.expect("puback"), Some(0));
    }
    let mut child = served.child;
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    drop(keeper);

    let served = serve(dir.path());
    let (mut keeper, present) = connect(&served, dir.path(), &dev, "keeper", false).await;
    assert!(present, "the persistent session is back");
    for i in 0..5 {
        let m = keeper
            .next_message()
            .await
            .expect("an acknowledged message");
        assert_eq!(&m.payload[..], format!("m{i}").as_bytes());
        assert!(m.dup, "redelivered with DUP");
    }
    let mut child = served.child;
    child.kill().expect("stop");
    let _ = child.wait();
}
