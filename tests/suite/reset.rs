//! iotmock's reset (`POST /iotmock/reset`, `MockIotCore::reset`): every store emptied without
//! a restart, live connections closed, and the mock serving again at once.

use crate::mqtt::{ALLOW_ALL, Fleet};
use iotmock_client::Version;
use serde_json::json;

#[tokio::test]
async fn reset_empties_every_store_and_closes_connections() {
    let dir = tempfile::tempdir().unwrap();
    let mock = iotmock::MockIotCore::builder()
        .state_dir(dir.path())
        .start()
        .await
        .unwrap();
    let mut fleet = Fleet::on(mock).await;
    fleet.api.post("/things/lamp", json!({})).await.ok();
    let rule = json!({ "sql": "SELECT * FROM 'r'", "actions": [{ "republish": { "topic": "out", "roleArn": "arn:aws:iam::123456789012:role/r" } }] });
    fleet.api.post("/rules/kept", rule).await.ok();
    let dev = fleet.device("lamp", Some(ALLOW_ALL)).await;
    let mut c = fleet.client(&dev, "lamp", Version::V5).await;
    c.publish("kept/retained", "x", 1, true).await.unwrap();
    c.publish(
        "$aws/things/lamp/shadow/update",
        r#"{"state":{"reported":{"on":true}}}"#,
        1,
        false,
    )
    .await
    .unwrap();
    fleet.api.get("/things/lamp/shadow").await.ok();

    let answer = fleet.api.post("/iotmock/reset", json!({})).await.ok();
    assert_eq!(answer["connectionsClosed"], 1);
    assert!(
        c.expect_closed().await.is_ok(),
        "the live connection was closed"
    );
    let things = fleet.api.get("/things").await.ok();
    assert_eq!(things["things"], json!([]));
    let certs = fleet.api.get("/certificates").await.ok();
    assert_eq!(certs["certificates"], json!([]));
    assert_eq!(fleet.api.get("/rules").await.ok()["rules"], json!([]));
    fleet
        .api
        .get("/things/lamp/shadow")
        .await
        .err(404, "ResourceNotFoundException");
    let retained = fleet.api.get("/retainedMessage").await.ok();
    assert_eq!(retained["retainedTopics"], json!([]));

    // Serving again at once.
    let mut again = Fleet::on(fleet.mock).await;
    let dev = again.device("lamp2", Some(ALLOW_ALL)).await;
    again.client(&dev, "lamp2", Version::V311).await;
}
