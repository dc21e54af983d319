//! Things, thing principals and DescribeEndpoint over HTTP.

use crate::support::{Api, REGION, mock};
use serde_json::json;

#[tokio::test]
async fn thing_lifecycle() {
    let (_mock, api) = mock().await;
    let attrs =
        json!({ "attributePayload": { "attributes": { "model": "123", "wattage": "75" } } });
    let created = api.post("/things/MyLightBulb", attrs.clone()).await.ok();
    assert!(
        created["thingArn"]
            .as_str()
            .unwrap()
            .ends_with(":thing/MyLightBulb")
    );
    let again = api.post("/things/MyLightBulb", attrs).await.ok();
    assert_eq!(
        again["thingId"], created["thingId"],
        "same name and configuration is idempotent"
    );
    api.post("/things/MyLightBulb", json!({}))
        .await
        .err(409, "ResourceAlreadyExistsException");

    let d = api.get("/things/MyLightBulb").await.ok();
    assert_eq!(
        (d["defaultClientId"].as_str(), d["version"].as_i64()),
        (Some("MyLightBulb"), Some(1))
    );
    assert_eq!(d["attributes"], json!({ "model": "123", "wattage": "75" }));

    let merge = json!({ "attributePayload": { "attributes": { "wattage": "", "color": "red" }, "merge": true }, "expectedVersion": 1 });
    assert_eq!(
        api.call("PATCH", "/things/MyLightBulb", &[], Some(merge))
            .await
            .status,
        200
    );
    let d = api.get("/things/MyLightBulb").await.ok();
    assert_eq!(d["attributes"], json!({ "model": "123", "color": "red" }));
    assert_eq!(d["version"], 2);
    api.call(
        "PATCH",
        "/things/MyLightBulb",
        &[],
        Some(json!({ "expectedVersion": 1 })),
    )
    .await
    .err(409, "VersionConflictException");

    api.post("/things/other", json!({})).await.ok();
    let all = api.get("/things").await.ok();
    assert_eq!(all["things"].as_array().unwrap().len(), 2);
    let red = api
        .get("/things?attributeName=color&attributeValue=red")
        .await
        .ok();
    assert_eq!(red["things"][0]["thingName"], "MyLightBulb");
    let paged = api.get("/things?maxResults=1").await.ok();
    assert_eq!(paged["things"].as_array().unwrap().len(), 1);
    assert!(paged["nextToken"].is_string());

    assert_eq!(
        api.call("DELETE", "/things/MyLightBulb?expectedVersion=2", &[], None)
            .await
            .status,
        200
    );
    assert_eq!(
        api.call("DELETE", "/things/MyLightBulb", &[], None)
            .await
            .status,
        200,
        "deleting a missing thing succeeds"
    );
    api.get("/things/MyLightBulb")
        .await
        .err(404, "ResourceNotFoundException");
}

#[tokio::test]
async fn thing_principals() {
    let (_mock, api) = mock().await;
    let (_, arn) = api.create_cert().await;
    api.post("/things/t1", json!({})).await.ok();
    api.post("/things/t2", json!({})).await.ok();
    let p = [("x-amzn-principal", arn.as_str())];
    assert_eq!(
        api.call("PUT", "/things/t1/principals", &p, None)
            .await
            .status,
        200
    );
    assert_eq!(
        api.call("PUT", "/things/t2/principals", &p, None)
            .await
            .status,
        200
    );
    assert_eq!(
        api.get("/things/t1/principals").await.ok()["principals"],
        json!([arn])
    );
    let things = api.call("GET", "/principals/things", &p, None).await.ok();
    assert_eq!(things["things"], json!(["t1", "t2"]));
    api.call(
        "PUT",
        "/things/t1/principals?thingPrincipalType=EXCLUSIVE_THING",
        &p,
        None,
    )
    .await
    .err(400, "InvalidRequestException");
    api.call("PUT", "/things/nope/principals", &p, None)
        .await
        .err(404, "ResourceNotFoundException");
    assert_eq!(
        api.call("DELETE", "/things/t2/principals", &p, None)
            .await
            .status,
        200
    );
    let things = api.call("GET", "/principals/things", &p, None).await.ok();
    assert_eq!(things["things"], json!(["t1"]));
}

#[tokio::test]
async fn v2_listings_say_how_each_principal_is_attached() {
    let (_mock, api) = mock().await;
    let (_, shared) = api.create_cert().await;
    let (_, own) = api.create_cert().await;
    api.post("/things/t1", json!({})).await.ok();
    let attach = |arn: &str, query: &str| {
        let path = format!("/things/t1/principals{query}");
        let header = [("x-amzn-principal", arn.to_string())];
        let api = &api;
        async move {
            let h: Vec<(&str, &str)> = header.iter().map(|(k, v)| (*k, v.as_str())).collect();
            api.call("PUT", &path, &h, None).await.ok();
        }
    };
    attach(&shared, "").await;
    attach(&own, "?thingPrincipalType=EXCLUSIVE_THING").await;
    let all = api.get("/things/t1/principals-v2").await.ok();
    let objects = all["thingPrincipalObjects"].as_array().unwrap().clone();
    assert_eq!(objects.len(), 2);
    assert!(
        objects.contains(&json!({ "principal": own, "thingPrincipalType": "EXCLUSIVE_THING" }))
    );
    assert!(
        objects
            .contains(&json!({ "principal": shared, "thingPrincipalType": "NON_EXCLUSIVE_THING" }))
    );
    let only = api
        .get("/things/t1/principals-v2?thingPrincipalType=EXCLUSIVE_THING")
        .await
        .ok();
    assert_eq!(
        only["thingPrincipalObjects"],
        json!([{ "principal": own, "thingPrincipalType": "EXCLUSIVE_THING" }])
    );
    let p = [("x-amzn-principal", own.as_str())];
    let things = api
        .call("GET", "/principals/things-v2", &p, None)
        .await
        .ok();
    assert_eq!(
        things["principalThingObjects"],
        json!([{ "thingName": "t1", "thingPrincipalType": "EXCLUSIVE_THING" }])
    );
    api.get("/things/t1/principals-v2?thingPrincipalType=SOMETIMES")
        .await
        .err(400, "InvalidRequestException");
    api.get("/things/nope/principals-v2")
        .await
        .err(404, "ResourceNotFoundException");
}

#[tokio::test]
async fn endpoints_are_stable_per_type() {
    let (_mock, api) = mock().await;
    for ty in [
        "iot:Data-ATS",
        "iot:Data",
        "iot:CredentialProvider",
        "iot:Jobs",
    ] {
        let path = format!("/endpoint?endpointType={}", crate::support::label(ty));
        let first = api.get(&path).await.ok();
        assert_eq!(first["endpointAddress"], "localhost");
        assert_eq!(api.get(&path).await.ok(), first);
    }
    let msg = api
        .get("/endpoint?endpointType=iot%3ABogus")
        .await
        .err(400, "InvalidRequestException");
    assert_eq!(msg, "Endpoint type iot:Bogus not recognized.");
}

#[tokio::test]
async fn thing_types_describe_fleets_and_retire_in_aws_steps() {
    let (mock, clock) = crate::support::clocked_mock().await;
    let api = Api::new(mock.api_addr(), REGION);
    let props = json!({"thingTypeProperties":{"thingTypeDescription":"pumps","searchableAttributes":["model"]}});
    let created = api.post("/thing-types/pump", props.clone()).await.ok();
    assert!(
        created["thingTypeArn"]
            .as_str()
            .unwrap()
            .ends_with(":thingtype/pump")
    );
    api.post("/thing-types/pump", props)
        .await
        .err(409, "ResourceAlreadyExistsException");
    let many: serde_json::Map<String, serde_json::Value> =
        (0..10).map(|i| (format!("a{i}"), json!("v"))).collect();
    let typed = api
        .post(
            "/things/p1",
            json!({"thingTypeName":"pump","attributePayload":{"attributes": many}}),
        )
        .await
        .ok();
    assert_eq!(
        typed["thingName"], "p1",
        "a typed thing holds more than 3 attributes"
    );
    assert_eq!(api.get("/things/p1").await.ok()["thingTypeName"], "pump");
    api.post("/things/p2", json!({"thingTypeName":"nope"}))
        .await
        .err(404, "ResourceNotFoundException");
    let described = api.get("/thing-types/pump").await.ok();
    assert_eq!(described["thingTypeMetadata"]["deprecated"], false);
    assert_eq!(
        api.get("/thing-types").await.ok()["thingTypes"][0]["thingTypeName"],
        "pump"
    );
    api.call("DELETE", "/thing-types/pump", &[], None)
        .await
        .err(400, "InvalidRequestException");
    api.post("/thing-types/pump/deprecate", json!({}))
        .await
        .ok();
    api.post("/things/p3", json!({"thingTypeName":"pump"}))
        .await
        .err(400, "InvalidRequestException");
    clock.advance(std::time::Duration::from_secs(301));
    api.call("DELETE", "/thing-types/pump", &[], None)
        .await
        .err(400, "InvalidRequestException");
    api.call(
        "PATCH",
        "/things/p1",
        &[],
        Some(json!({"removeThingType": true, "attributePayload":{"attributes":{}}})),
    )
    .await;
    api.call("DELETE", "/things/p1", &[], None).await.ok();
    assert_eq!(
        api.call("DELETE", "/thing-types/pump", &[], None)
            .await
            .status,
        200
    );
    api.get("/thing-types/pump")
        .await
        .err(404, "ResourceNotFoundException");
}
