//! Registry events: UpdateEventConfigurations turns them on, and the registry's changes reach
//! `$aws/events/...` subscribers with AWS's payloads.

use crate::mqtt::{ALLOW_ALL, Fleet, next_on};
use iotmock_client::Version;
use serde_json::json;

#[tokio::test]
async fn enabled_registry_events_reach_subscribers_with_aws_payloads() {
    let mut fleet = Fleet::new().await;
    let config = fleet.api.get("/event-configurations").await.ok();
    assert_eq!(
        config["eventConfigurations"]["THING"],
        json!({ "Enabled": false })
    );
    let enable = json!({ "eventConfigurations": {
        "THING": { "Enabled": true }, "THING_GROUP_MEMBERSHIP": { "Enabled": true },
        "THING_GROUP": { "Enabled": true }, "THING_TYPE_ASSOCIATION": { "Enabled": true } } });
    fleet
        .api
        .call("PATCH", "/event-configurations", &[], Some(enable))
        .await
        .ok();
    let config = fleet.api.get("/event-configurations").await.ok();
    assert_eq!(
        config["eventConfigurations"]["THING"],
        json!({ "Enabled": true })
    );
    assert_eq!(
        config["eventConfigurations"]["JOB"],
        json!({ "Enabled": false })
    );
    let bad = json!({ "eventConfigurations": { "THINGS": { "Enabled": true } } });
    fleet
        .api
        .call("PATCH", "/event-configurations", &[], Some(bad))
        .await
        .err(400, "InvalidRequestException");

    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut c = fleet.client(&dev, "watcher", Version::V311).await;
    c.subscribe(&[("$aws/events/#", 1)]).await.unwrap();
    let api = &fleet.api;
    api.post("/thing-types/sensor", json!({})).await.ok();
    let body =
        json!({ "thingTypeName": "sensor", "attributePayload": { "attributes": { "a": "1" } } });
    let created = api.post("/things/lamp", body).await.ok();
    let doc = next_on(&mut c, "$aws/events/thing/lamp/created").await;
    assert_eq!(doc["eventType"], "THING_EVENT");
    assert_eq!(doc["operation"], "CREATED");
    assert_eq!(doc["thingId"], created["thingId"]);
    assert_eq!(doc["versionNumber"], 1);
    assert_eq!(doc["thingTypeName"], "sensor");
    assert_eq!(doc["attributes"], json!({ "a": "1" }));
    let assoc = next_on(&mut c, "$aws/events/thingTypeAssociation/thing/lamp/sensor").await;
    assert_eq!(assoc["operation"], "CREATED");
    let update = json!({ "attributePayload": { "attributes": { "a": "2" }, "merge": true } });
    api.call("PATCH", "/things/lamp", &[], Some(update))
        .await
        .ok();
    let doc = next_on(&mut c, "$aws/events/thing/lamp/updated").await;
    assert_eq!(
        (doc["operation"].as_str(), doc["versionNumber"].as_i64()),
        (Some("UPDATED"), Some(2))
    );
    api.post("/thing-groups/room", json!({})).await.ok();
    let group = next_on(&mut c, "$aws/events/thingGroup/room/created").await;
    assert_eq!(group["eventType"], "THING_GROUP_EVENT");
    let add = json!({ "thingGroupName": "room", "thingName": "lamp" });
    api.call("PUT", "/thing-groups/addThingToThingGroup", &[], Some(add))
        .await
        .ok();
    let member = next_on(
        &mut c,
        "$aws/events/thingGroupMembership/thingGroup/room/thing/lamp/added",
    )
    .await;
    assert_eq!(member["operation"], "ADDED");
    assert_eq!(member["thingId"], created["thingId"]);
    assert_eq!(member["groupId"], group["thingGroupId"]);
    api.call("DELETE", "/things/lamp", &[], None).await.ok();
    let doc = next_on(&mut c, "$aws/events/thing/lamp/deleted").await;
    assert_eq!(doc["operation"], "DELETED");
    assert_eq!(doc["thingName"], "lamp");
}

#[tokio::test]
async fn job_and_execution_events_follow_the_executions() {
    let mut fleet = Fleet::new().await;
    let enable = json!({ "eventConfigurations": {
        "JOB": { "Enabled": true }, "JOB_EXECUTION": { "Enabled": true } } });
    fleet
        .api
        .call("PATCH", "/event-configurations", &[], Some(enable))
        .await
        .ok();
    let arn = fleet.api.post("/things/pump", json!({})).await.ok()["thingArn"]
        .as_str()
        .unwrap()
        .to_string();
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut watcher = fleet.client(&dev, "watcher", Version::V311).await;
    watcher.subscribe(&[("$aws/events/#", 1)]).await.unwrap();
    let mut pump = fleet.client(&dev, "pump", Version::V311).await;
    let body = json!({ "targets": [arn], "document": "{}" });
    fleet
        .api
        .call("PUT", "/jobs/flash", &[], Some(body))
        .await
        .ok();
    let update = json!({ "status": "SUCCEEDED", "statusDetails": { "step": "done" } });
    pump.publish(
        "$aws/things/pump/jobs/flash/update",
        update.to_string(),
        1,
        false,
    )
    .await
    .unwrap();
    let exec = next_on(&mut watcher, "$aws/events/jobExecution/flash/succeeded").await;
    assert_eq!(exec["eventType"], "JOB_EXECUTION");
    assert_eq!(exec["thingArn"], arn.as_str());
    assert_eq!(exec["status"], "SUCCEEDED");
    assert_eq!(exec["statusDetails"], json!({ "step": "done" }));
    let job = next_on(&mut watcher, "$aws/events/job/flash/completed").await;
    assert_eq!(job["status"], "COMPLETED");
    assert_eq!(job["jobProcessDetails"]["numberOfSucceededThings"], 1);
    fleet
        .api
        .call("DELETE", "/jobs/flash", &[], None)
        .await
        .ok();
    let deleted = next_on(&mut watcher, "$aws/events/job/flash/deleted").await;
    assert_eq!(deleted["operation"], "deleted");
}
