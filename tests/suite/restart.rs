//! Everything acknowledged survives a restart on the same state dir, root CA included.

use crate::support::{Api, REGION};
use iotmock::MockIotCore;
use iotmock_testkit::TestCa;
use serde_json::json;

#[tokio::test]
async fn registry_and_root_ca_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("durable root");
    let mock = MockIotCore::builder()
        .state_dir(dir.path())
        .start()
        .await
        .unwrap();
    let api = Api::new(mock.api_addr(), REGION);
    let root = mock.root_ca_pem().to_string();
    let ca_id = api.register_ca(&ca, true).await;
    let dev = api
        .post(
            "/certificate/register?setAsActive=true",
            json!({ "certificatePem": ca.leaf("dev").cert_pem }),
        )
        .await
        .ok();
    let (dev_id, dev_arn) = (
        dev["certificateId"].as_str().unwrap().to_string(),
        dev["certificateArn"].as_str().unwrap().to_string(),
    );
    api.create_policy("pol").await;
    api.post("/policies/pol/version", json!({ "policyDocument": r#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"# })).await.ok();
    api.call(
        "PUT",
        "/target-policies/pol",
        &[],
        Some(json!({ "target": dev_arn })),
    )
    .await
    .ok();
    api.post(
        "/things/lamp",
        json!({ "attributePayload": { "attributes": { "a": "1" } } }),
    )
    .await
    .ok();
    api.call(
        "PUT",
        "/things/lamp/principals",
        &[("x-amzn-principal", &dev_arn)],
        None,
    )
    .await
    .ok();
    let code = api.get("/registrationcode").await.ok()["registrationCode"].clone();
    mock.shutdown().await;

    let mock = MockIotCore::builder()
        .state_dir(dir.path())
        .start()
        .await
        .unwrap();
    let api = Api::new(mock.api_addr(), REGION);
    assert_eq!(
        mock.root_ca_pem(),
        root,
        "devices keep trusting the same root"
    );
    assert_eq!(
        api.get(&format!("/cacertificate/{ca_id}")).await.ok()["certificateDescription"]["status"],
        "ACTIVE"
    );
    assert_eq!(
        api.get(&format!("/certificates/{dev_id}")).await.ok()["certificateDescription"]["caCertificateId"],
        ca_id
    );
    let versions = api.get("/policies/pol/version").await.ok();
    assert_eq!(versions["policyVersions"].as_array().unwrap().len(), 2);
    assert_eq!(
        api.call("POST", "/policy-targets/pol", &[], None)
            .await
            .ok()["targets"],
        json!([dev_arn])
    );
    assert_eq!(
        api.get("/things/lamp").await.ok()["attributes"],
        json!({ "a": "1" })
    );
    assert_eq!(
        api.get("/things/lamp/principals").await.ok()["principals"],
        json!([dev_arn])
    );
    assert_eq!(
        api.get("/registrationcode").await.ok()["registrationCode"],
        code
    );
}

#[tokio::test]
async fn another_account_and_a_pending_transfer_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let start = || MockIotCore::builder().state_dir(dir.path()).start();
    let mock = start().await.unwrap();
    let api = Api::new(mock.api_addr(), REGION);
    let out = api
        .call("POST", "/keys-and-certificate", &[], None)
        .await
        .ok();
    let id = out["certificateId"].as_str().unwrap().to_string();
    let transfer = format!("/transfer-certificate/{id}?targetAwsAccount=111122223333");
    api.call("PATCH", &transfer, &[], None).await.ok();
    mock.shutdown().await;

    let mock = start().await.unwrap();
    let other = Api::new(mock.api_addr(), REGION).with_access_key("111122223333");
    let accept = format!("/accept-certificate-transfer/{id}");
    other.call("PATCH", &accept, &[], None).await.ok();
    mock.shutdown().await;

    let mock = start().await.unwrap();
    let other = Api::new(mock.api_addr(), REGION).with_access_key("111122223333");
    let d = other.get(&format!("/certificates/{id}")).await.ok();
    assert_eq!(d["certificateDescription"]["status"], "INACTIVE");
    assert_eq!(d["certificateDescription"]["ownedBy"], "111122223333");
}

#[tokio::test]
async fn authorizers_indexing_and_event_configurations_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let start = || MockIotCore::builder().state_dir(dir.path()).start();
    let mock = start().await.unwrap();
    let api = Api::new(mock.api_addr(), REGION);
    let function = "arn:aws:lambda:ap-northeast-1:123456789012:function:auth";
    let body =
        json!({ "authorizerFunctionArn": function, "signingDisabled": true, "status": "ACTIVE" });
    api.post("/authorizer/Kept", body).await.ok();
    let config = json!({ "thingIndexingConfiguration": {
        "thingIndexingMode": "REGISTRY", "thingConnectivityIndexingMode": "STATUS" } });
    api.post("/indexing/config", config).await.ok();
    let events = json!({ "eventConfigurations": { "THING": { "Enabled": true } } });
    api.call("PATCH", "/event-configurations", &[], Some(events))
        .await
        .ok();
    mock.shutdown().await;

    let mock = start().await.unwrap();
    let api = Api::new(mock.api_addr(), REGION);
    let kept = api.get("/authorizer/Kept").await.ok();
    assert_eq!(kept["authorizerDescription"]["status"], "ACTIVE");
    let config = api.get("/indexing/config").await.ok();
    let thing = &config["thingIndexingConfiguration"];
    assert_eq!(thing["thingIndexingMode"], "REGISTRY");
    assert_eq!(thing["thingConnectivityIndexingMode"], "STATUS");
    let events = api.get("/event-configurations").await.ok();
    assert_eq!(events["eventConfigurations"]["THING"]["Enabled"], true);
}
