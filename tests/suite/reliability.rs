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
