//! A state dir that always reopens, and limits on bytes: what the mock wrote it reads back, a
//! row it cannot read is quarantined (never a refusal to start), and iot-data refuses what AWS
//! refuses.

use crate::support::{Api, REGION};
use iotmock::MockIotCore;
use serde_json::json;

async fn on(dir: &std::path::Path) -> MockIotCore {
    MockIotCore::builder()
        .state_dir(dir)
        .start()
        .await
        .expect("the mock starts on its own state dir")
}

#[tokio::test]
async fn an_http_publish_over_128_kb_is_refused_with_413() {
    let (_mock, api) = crate::support::mock().await;
    let data = api.signed_for("iotdata");
    let at_limit = vec![b'a'; 128 * 1024];
    let ok = data.raw("POST", "/topics/big?qos=1", &[], at_limit).await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    let over = vec![b'a'; 128 * 1024 + 1];
    let refused = data.raw("POST", "/topics/big?qos=1", &[], over).await;
    refused.err(413, "RequestEntityTooLargeException");
}

#[tokio::test]
async fn a_stored_message_larger_than_the_wire_limit_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let mock = on(dir.path()).await;
    // The broker's own data-plane entry takes any size (the API refuses over 128 KB).
    let payload = bytes::Bytes::from(vec![b'x'; 200 * 1024]);
    mock.broker()
        .publish("big/retained", payload.clone(), 1, true);
    mock.shutdown().await;
    let mock = on(dir.path()).await;
    let kept = mock.broker().retained("big/retained").expect("kept");
    assert_eq!(kept.payload, payload);
}

/// Writes `sql` into the state dir's database `file` as damage from outside would.
fn damage(dir: &std::path::Path, file: &str, sql: &str) {
    let conn = rusqlite::Connection::open(dir.join(file)).expect("open");
    conn.execute_batch(sql).expect("damage");
}

#[tokio::test]
async fn unreadable_rows_are_quarantined_and_the_rest_opens() {
    let dir = tempfile::tempdir().unwrap();
    let mock = on(dir.path()).await;
    let api = Api::new(mock.api_addr(), REGION);
    api.post("/things/kept", json!({})).await.ok();
    let payload = bytes::Bytes::from_static(b"{\"on\":true}");
    mock.broker()
        .publish("lamp/state", payload.clone(), 1, true);
    mock.shutdown().await;
    damage(
        dir.path(),
        "registry.db",
        "INSERT INTO records (kind, key, value) VALUES ('thing', 'us-east-1/broken', '{not json');",
    );
    damage(
        dir.path(),
        iotmock_broker::store::DATABASE,
        "INSERT INTO retained (topic, packet, expires_ms, updated_ms) VALUES ('bad/topic', x'3007', NULL, 0);",
    );
    let mock = on(dir.path()).await;
    let api = Api::new(mock.api_addr(), REGION);
    assert_eq!(api.get("/things/kept").await.ok()["thingName"], "kept");
    assert_eq!(
        mock.broker().retained("lamp/state").expect("kept").payload,
        payload
    );
    assert!(mock.broker().retained("bad/topic").is_none());
    let registry = rusqlite::Connection::open(dir.path().join("registry.db")).unwrap();
    let quarantined: String = registry
        .query_row("SELECT key FROM quarantine", [], |r| r.get(0))
        .expect("the broken thing is in quarantine");
    assert_eq!(quarantined, "us-east-1/broken");
    mock.shutdown().await;
    // Quarantined once: the next start reads a clean file.
    let _again = on(dir.path()).await;
}

/// Copies the committed state dir written by the previous release into a fresh directory.
fn previous_release() -> tempfile::TempDir {
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/state-previous");
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        std::fs::copy(&path, dir.path().join(name)).unwrap();
    }
    dir
}

#[tokio::test]
async fn a_state_dir_from_the_previous_release_opens_whole() {
    let dir = previous_release();
    // The fixture's persistent session expires an hour after it was written: the mock runs
    // on a clock set within that hour.
    let broker = rusqlite::Connection::open(dir.path().join("broker.db")).unwrap();
    let expires: i64 = broker
        .query_row("SELECT expires_ms FROM sessions", [], |r| r.get(0))
        .unwrap();
    drop(broker);
    let clock = std::sync::Arc::new(iotmock::ManualClock::new(expires - 30 * 60 * 1000));
    let mock = MockIotCore::builder()
        .state_dir(dir.path())
        .clock(clock)
        .start()
        .await
        .expect("the previous release's state dir opens");
    // The fixture was written in the default region.
    let api = Api::new(mock.api_addr(), "us-east-1");
    let thing = api.get("/things/fixture-lamp").await.ok();
    assert_eq!(thing["attributes"]["room"], "hall");
    let groups = api.get("/things/fixture-lamp/thing-groups").await.ok();
    assert_eq!(groups["thingGroups"][0]["groupName"], "fixture-group");
    let job = api.get("/jobs/fixture-job").await.ok();
    assert_eq!(job["job"]["jobId"], "fixture-job");
    let execution = api.get("/things/fixture-lamp/jobs/fixture-job").await.ok();
    assert_eq!(execution["execution"]["status"], "QUEUED");
    let shadow = api.get("/things/fixture-lamp/shadow").await.ok();
    assert_eq!(shadow["state"]["desired"]["on"], true);
    let retained = mock
        .broker()
        .retained("fixture/retained")
        .expect("retained");
    assert_eq!(&retained.payload[..], br#"{"kept":true}"#);
    // The persistent session resumes with the QoS 1 message queued while it was offline.
    let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
    let tls = iotmock_client::TlsOptions::new(mock.root_ca_pem())
        .identity(read("device.pem"), read("device.key"));
    let mut options =
        iotmock_client::ConnectOptions::new(mock.mqtt_addr().to_string(), "fixture-session");
    options.clean_start = false;
    let config = iotmock_client::client_config(&tls).unwrap();
    let (mut c, ack) = iotmock_client::DeviceClient::connect(config, &options)
        .await
        .expect("the device of the previous release connects");
    assert!(ack.session_present, "its session was kept");
    let queued = c.next_message().await.expect("the queued message");
    assert_eq!(queued.topic, "fixture/queued");
    assert_eq!(&queued.payload[..], br#"{"queued":true}"#);
}

#[tokio::test]
async fn a_subscriber_that_stops_reading_holds_bytes_not_messages_and_is_closed() {
    use crate::mqtt::{ALLOW_ALL, Fleet};
    use iotmock_client::Version;
    let settings = iotmock_broker::BrokerSettings {
        queue_bytes: 256 * 1024,
        slow_client_grace: std::time::Duration::from_secs(5),
        ..Default::default()
    };
    let (mock, clock) = crate::support::clocked_mock_with(settings).await;
    let mut fleet = Fleet::on(mock).await;
    let dev = fleet.device("reader", Some(ALLOW_ALL)).await;
    let mut stalled = fleet.client(&dev, "stalled", Version::V311).await;
    stalled.subscribe(&[("feed", 0)]).await.expect("suback");
    let mut bystander = fleet.client(&dev, "bystander", Version::V311).await;
    bystander.subscribe(&[("feed", 0)]).await.expect("suback");
    let mut watcher = fleet.client(&dev, "watcher", Version::V311).await;
    watcher
        .subscribe(&[("$aws/events/presence/disconnected/stalled", 0)])
        .await
        .expect("suback");
    // 40 MB at 128 KB a message: the stalled client reads none of it.
    let payload = bytes::Bytes::from(vec![b'p'; 128 * 1024]);
    let broker = fleet.mock.broker().clone();
    let mut received = 0;
    for _ in 0..320 {
        broker.publish("feed", payload.clone(), 0, false);
        let m = bystander
            .next_message()
            .await
            .expect("the bystander keeps up");
        assert_eq!(m.payload.len(), payload.len());
        received += 1;
        let (bytes, _) = broker.client_queue("stalled").expect("still connected");
        assert!(
            bytes <= 256 * 1024 + 128 * 1024 + 1024,
            "queued {bytes} bytes"
        );
    }
    assert_eq!(received, 320, "a bystander is never slowed or starved");
    let (_, discarded) = broker.client_queue("stalled").expect("connected");
    assert!(
        discarded > 0,
        "the stalled client's excess was discarded and counted"
    );
    // Still over its bound after the grace period: the next delivery closes it.
    clock.advance(std::time::Duration::from_secs(6));
    broker.publish("feed", payload.clone(), 0, false);
    bystander
        .next_message()
        .await
        .expect("the bystander goes on");
    let mut closed = false;
    for _ in 0..200 {
        if broker.client_queue("stalled").is_none() {
            closed = true;
            break;
        }
        bystander.ping().await.expect("pingresp");
    }
    assert!(closed, "the stalled client was disconnected");
    let event = watcher
        .next_message()
        .await
        .expect("the disconnected event");
    let event: serde_json::Value = serde_json::from_slice(&event.payload).unwrap();
    assert_eq!(
        event["disconnectReason"], "THROTTLED",
        "over a throughput quota"
    );
    drop(stalled);
}

/// A tmpfs of `size` mounted at `dir` for the test's life (needs root: `.ci/run` runs it).
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &std::path::Path, size: &str) -> Self {
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("mount runs");
        assert!(status.success(), "mounting a tmpfs needs root");
        Self(dir.to_path_buf())
    }
}

impl Tmpfs {
    /// Remounts it read-only (`ro`) or writable again (`rw`).
    fn remount(&self, mode: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.0)
            .status()
            .expect("mount runs");
        assert!(status.success(), "remounting {mode}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazily: an in-process mock's handles may outlive its shutdown by a moment.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[tokio::test]
#[ignore = "mounts a tmpfs (root); .ci/run runs it with --ignored"]
async fn a_full_disk_answers_500_and_the_mock_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let _disk = Tmpfs::mount(dir.path(), "600k");
    let mock = on(dir.path()).await;
    let api = Api::new(mock.api_addr(), REGION);
    let pad = "x".repeat(300);
    let mut refused = None;
    for i in 0..2000 {
        let body = json!({ "attributePayload": { "attributes": { "pad": pad } } });
        let answer = api.post(&format!("/things/t-{i}"), body).await;
        if answer.status != 200 {
            refused = Some(answer);
            break;
        }
    }
    let refused = refused.expect("the disk filled up");
    assert_eq!(refused.status, 500);
    assert_eq!(
        refused.error_type.as_deref(),
        Some("InternalFailureException")
    );
    let message = refused.body["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("disk is full"), "{message}");
    assert_eq!(api.get("/things/t-0").await.status, 200, "reads go on");
    let data = api.signed_for("iotdata");
    let retained = data
        .raw(
            "POST",
            "/topics/kept?qos=1&retain=true",
            &[],
            b"hello".to_vec(),
        )
        .await;
    assert_eq!(
        retained.status, 500,
        "a retained message that is not stored is an error"
    );
    let plain = data
        .raw("POST", "/topics/plain?qos=1", &[], b"hi".to_vec())
        .await;
    assert_eq!(plain.status, 200, "a plain publish needs no disk");
    mock.shutdown().await;
}

#[tokio::test]
async fn a_subscriber_that_neither_reads_nor_pings_is_closed_at_its_keep_alive() {
    use crate::mqtt::{ALLOW_ALL, Fleet};
    use iotmock_client::Version;
    // AWS's shortest keep-alive (30 s) on a compressed scale: 50 ms of grace per keep-alive
    // second puts the deadline 1.5 s after the last packet.
    let settings = iotmock_broker::BrokerSettings {
        slow_client_grace: std::time::Duration::from_secs(600),
        keep_alive_grace: std::time::Duration::from_millis(50),
        ..Default::default()
    };
    let mut fleet = Fleet::with_settings(settings).await;
    let dev = fleet.device("reader", Some(ALLOW_ALL)).await;
    let tls = iotmock_client::client_config(&fleet.tls(&dev.minted)).unwrap();
    let mut opts = fleet.options("dead", Version::V311);
    opts.keep_alive = 30;
    let (mut dead, _) = iotmock_client::DeviceClient::connect(tls, &opts)
        .await
        .expect("admitted");
    dead.subscribe(&[("feed", 0)]).await.expect("suback");
    // The socket fills and the broker's write to it waits: the keep-alive deadline still
    // closes it, as it closes an idle client.
    let payload = bytes::Bytes::from(vec![b'p'; 64 * 1024]);
    let broker = fleet.mock.broker().clone();
    let mut bystander = fleet.client(&dev, "bystander", Version::V311).await;
    let started = std::time::Instant::now();
    while broker.client_queue("dead").is_some() {
        broker.publish("feed", payload.clone(), 0, false);
        bystander.ping().await.expect("the bystander is served");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the dead subscriber was never closed"
        );
    }
    drop(dead);
}

#[tokio::test]
#[ignore = "remounts a tmpfs read-only (root); .ci/run runs it with --ignored"]
async fn a_read_only_state_dir_serves_what_it_holds_and_answers_writes_503() {
    use crate::crash::{serve, terminate};
    let dir = tempfile::tempdir().unwrap();
    let disk = Tmpfs::mount(dir.path(), "20m");
    let served = serve(dir.path());
    let api = Api::new(served.api, REGION);
    api.post("/things/before", json!({})).await.ok();
    terminate(served.child).await;
    disk.remount("ro");
    let served = serve(dir.path());
    let api = Api::new(served.api, REGION);
    assert_eq!(
        api.get("/things/before").await.status,
        200,
        "what it holds is served"
    );
    let refused = api.post("/things/after", json!({})).await;
    assert_eq!(refused.status, 503, "{:?}", refused.body);
    assert_eq!(
        refused.error_type.as_deref(),
        Some("ServiceUnavailableException")
    );
    let message = refused.body["message"].as_str().unwrap_or_default();
    assert!(message.contains("read-only"), "{message}");
    assert_eq!(
        api.get("/things/after").await.status,
        404,
        "nothing changed"
    );
    let data = api.signed_for("iotdata");
    let plain = data
        .raw("POST", "/topics/plain?qos=1", &[], b"hi".to_vec())
        .await;
    assert_eq!(plain.status, 200, "a plain publish needs no disk");
    terminate(served.child).await;
    disk.remount("rw");
}

#[tokio::test]
async fn a_mock_that_shut_down_leaves_every_write_in_its_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let mock = on(dir.path()).await;
    let api = Api::new(mock.api_addr(), REGION);
    api.post("/things/kept", json!({})).await.ok();
    mock.shutdown().await;
    // A log left with writes in it cannot be read where the state dir is read-only.
    let logs: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with("-wal"))
        .filter(|e| e.metadata().is_ok_and(|m| m.len() > 0))
        .map(|e| e.file_name())
        .collect();
    assert!(logs.is_empty(), "every log was folded in: {logs:?}");
}
