//! Fleet indexing over the API, with things, shadows and live MQTT connections as the data.

use crate::mqtt::{ALLOW_ALL, Fleet, next_on};
use iotmock_client::Version;
use serde_json::{Value, json};

async fn search(fleet: &Fleet, query: &str) -> Vec<String> {
    let found = fleet
        .api
        .post("/indices/search", json!({ "queryString": query }))
        .await
        .ok();
    let things = found["things"].as_array().cloned().unwrap_or_default();
    things
        .iter()
        .map(|t| t["thingName"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn thing(fleet: &Fleet, name: &str, attributes: Value) {
    let body = json!({ "attributePayload": { "attributes": attributes } });
    fleet.api.post(&format!("/things/{name}"), body).await.ok();
}

#[tokio::test]
async fn an_index_that_is_off_does_not_exist_and_bad_configurations_are_refused() {
    let fleet = Fleet::new().await;
    let api = &fleet.api;
    api.post("/indices/search", json!({ "queryString": "*" }))
        .await
        .err(404, "ResourceNotFoundException");
    api.get("/indices/AWS_Things")
        .await
        .err(404, "ResourceNotFoundException");
    let config = api.get("/indexing/config").await.ok();
    assert_eq!(
        config["thingIndexingConfiguration"]["thingIndexingMode"],
        "OFF"
    );
    let bad = json!({ "thingIndexingConfiguration": {
        "thingIndexingMode": "REGISTRY",
        "customFields": [{ "name": "shadow.reported.temp", "type": "Number" }] } });
    let why = api
        .post("/indexing/config", bad)
        .await
        .err(400, "InvalidRequestException");
    assert!(why.contains("shadow"), "{why}");
    assert_eq!(api.get("/indices").await.ok()["indexNames"], json!([]));
}

#[tokio::test]
async fn searches_follow_the_registry_the_shadows_and_the_connections_at_once() {
    let mut fleet = Fleet::new().await;
    let config = json!({ "thingIndexingConfiguration": {
        "thingIndexingMode": "REGISTRY_AND_SHADOW", "thingConnectivityIndexingMode": "STATUS",
        "customFields": [{ "name": "shadow.reported.temp", "type": "Number" }] } });
    fleet.api.post("/indexing/config", config).await.ok();
    let described = fleet.api.get("/indices/AWS_Things").await.ok();
    assert_eq!(
        described["schema"],
        "REGISTRY_AND_SHADOW_AND_CONNECTIVITY_STATUS"
    );
    for (name, room) in [
        ("kitchen-1", "kitchen"),
        ("kitchen-2", "kitchen"),
        ("hall-1", "hall"),
    ] {
        thing(&fleet, name, json!({ "room": room })).await;
    }
    assert_eq!(
        search(&fleet, "attributes.room:kitchen").await,
        ["kitchen-1", "kitchen-2"]
    );
    assert_eq!(
        search(&fleet, "thingName:kit* AND -thingName:kitchen-2").await,
        ["kitchen-1"]
    );
    for (name, temp) in [("kitchen-1", 19), ("kitchen-2", 25), ("hall-1", 31)] {
        let doc = json!({ "state": { "reported": { "temp": temp } } });
        fleet
            .api
            .post(&format!("/things/{name}/shadow"), doc)
            .await
            .ok();
    }
    assert_eq!(
        search(&fleet, "shadow.reported.temp>20").await,
        ["hall-1", "kitchen-2"]
    );
    let stats = fleet
        .api
        .post("/indices/statistics", json!({ "queryString": "attributes.room:kitchen", "aggregationField": "shadow.reported.temp" }))
        .await
        .ok();
    assert_eq!(stats["statistics"]["average"], json!(22.0));

    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut watcher = fleet.client(&dev, "watcher", Version::V311).await;
    let presence = "$aws/events/presence/+/hall-1";
    watcher.subscribe(&[(presence, 1)]).await.unwrap();
    let hall = fleet.client(&dev, "hall-1", Version::V311).await;
    next_on(&mut watcher, "$aws/events/presence/connected/hall-1").await;
    assert_eq!(
        search(&fleet, "connectivity.connected:true").await,
        ["hall-1"]
    );
    hall.disconnect().await.unwrap();
    next_on(&mut watcher, "$aws/events/presence/disconnected/hall-1").await;
    let found = fleet
        .api
        .post(
            "/indices/search",
            json!({ "queryString": "thingName:hall-1" }),
        )
        .await
        .ok();
    let conn = &found["things"][0]["connectivity"];
    assert_eq!(conn["connected"], false);
    assert_eq!(conn["disconnectReason"], "CLIENT_INITIATED_DISCONNECT");
    let shadow: Value =
        serde_json::from_str(found["things"][0]["shadow"].as_str().unwrap()).unwrap();
    assert_eq!(shadow["reported"]["temp"], 31);
    assert!(
        search(&fleet, "connectivity.connected:true")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn queries_pages_and_aggregations_answer_in_aws_shapes() {
    let fleet = Fleet::new().await;
    let config = json!({ "thingIndexingConfiguration": { "thingIndexingMode": "REGISTRY" } });
    fleet.api.post("/indexing/config", config).await.ok();
    for i in 0..5 {
        thing(
            &fleet,
            &format!("t{i}"),
            json!({ "rack": if i < 3 { "a" } else { "b" } }),
        )
        .await;
    }
    let api = &fleet.api;
    let why = api
        .post("/indices/search", json!({ "queryString": "thingName:*1" }))
        .await
        .err(400, "InvalidQueryException");
    assert!(why.contains("position 10"), "{why}");
    let first = api
        .post(
            "/indices/search",
            json!({ "queryString": "*", "maxResults": 2 }),
        )
        .await
        .ok();
    assert_eq!(first["things"].as_array().unwrap().len(), 2);
    let token = first["nextToken"].as_str().unwrap().to_string();
    let next = api
        .post(
            "/indices/search",
            json!({ "queryString": "*", "maxResults": 2, "nextToken": token }),
        )
        .await
        .ok();
    assert_eq!(next["things"][0]["thingName"], "t2");
    let buckets = api
        .post(
            "/indices/buckets",
            json!({ "queryString": "*", "aggregationField": "thingName",
            "bucketsAggregationType": { "termsAggregation": { "maxBuckets": 2 } } }),
        )
        .await
        .ok();
    assert_eq!(buckets["totalCount"], 5);
    assert_eq!(buckets["buckets"].as_array().unwrap().len(), 2);
    let card = api
        .post(
            "/indices/cardinality",
            json!({ "queryString": "*", "aggregationField": "thingName" }),
        )
        .await
        .ok();
    assert_eq!(card["cardinality"], 5);
    api.post(
        "/indices/statistics",
        json!({ "queryString": "*", "aggregationField": "attributes.rack" }),
    )
    .await
    .err(400, "InvalidAggregationException");
    let stats = api
        .post("/indices/statistics", json!({ "queryString": "*" }))
        .await
        .ok();
    assert_eq!(
        stats["statistics"]["count"], 5,
        "registry.version is the default field"
    );
    api.post(
        "/indices/percentiles",
        json!({ "queryString": "*", "aggregationField": "thingName" }),
    )
    .await
    .err(400, "InvalidAggregationException");
}

#[tokio::test]
async fn the_thing_group_index_answers_when_it_is_on() {
    let fleet = Fleet::new().await;
    let api = &fleet.api;
    let body = json!({ "thingGroupProperties": { "thingGroupDescription": "second floor",
        "attributePayload": { "attributes": { "floor": "2" } } } });
    api.post("/thing-groups/floor-2", body).await.ok();
    let search = json!({ "indexName": "AWS_ThingGroups", "queryString": "attributes.floor:2" });
    api.post("/indices/search", search.clone())
        .await
        .err(404, "ResourceNotFoundException");
    let config = json!({ "thingGroupIndexingConfiguration": { "thingGroupIndexingMode": "ON" } });
    api.post("/indexing/config", config).await.ok();
    let found = api.post("/indices/search", search).await.ok();
    assert_eq!(found["thingGroups"][0]["thingGroupName"], "floor-2");
    assert_eq!(
        found["thingGroups"][0]["thingGroupDescription"],
        "second floor"
    );
    assert_eq!(
        api.get("/indices").await.ok()["indexNames"],
        json!(["AWS_ThingGroups"])
    );
}
