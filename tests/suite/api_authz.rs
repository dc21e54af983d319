//! Policy decisions explained by the API: TestAuthorization and GetEffectivePolicies answer
//! what the broker does.

use crate::mqtt::Fleet;
use iotmock_client::Version;
use serde_json::{Value, json};

const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":["iot:Connect","iot:Publish"],"Resource":"*"},
  {"Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/secret/*"},
  {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:*:*:topicfilter/${iot:ClientId}/*"}]}"#;

const ARN: &str = "arn:aws:iot:us-east-1:123456789012";

fn info(action: &str, resource: &str) -> Value {
    json!({"actionType": action, "resources": [format!("{ARN}:{resource}")]})
}

#[tokio::test]
async fn test_authorization_explains_what_the_broker_does() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("explained", Some(POLICY)).await;
    let body = json!({
        "principal": dev.arn,
        "authInfos": [info("PUBLISH", "topic/ok/1"), info("PUBLISH", "topic/secret/1"),
                      info("SUBSCRIBE", "topicfilter/cam-1/#"), info("RECEIVE", "topic/ok/1")],
    });
    let answer = fleet
        .api
        .post("/test-authorization?clientId=cam-1", body.clone())
        .await
        .ok();
    let results = answer["authResults"].as_array().expect("results");
    let decisions: Vec<&str> = results
        .iter()
        .filter_map(|r| r["authDecision"].as_str())
        .collect();
    assert_eq!(
        decisions,
        ["ALLOWED", "EXPLICIT_DENY", "ALLOWED", "IMPLICIT_DENY"]
    );
    let policy = results[1]["denied"]["explicitDeny"]["policies"][0].clone();
    assert!(
        policy["policyArn"]
            .as_str()
            .is_some_and(|a| a.contains(":policy/")),
        "{policy}"
    );
    assert_eq!(results[0]["authInfo"], body["authInfos"][0]);
    assert_eq!(results[0]["missingContextValues"], json!([]));
    // Another client id changes what the policy variable allows.
    let other = fleet
        .api
        .post(
            "/test-authorization?clientId=cam-2",
            json!({"principal": dev.id, "authInfos": [info("SUBSCRIBE", "topicfilter/cam-1/#")]}),
        )
        .await
        .ok();
    assert_eq!(other["authResults"][0]["authDecision"], "IMPLICIT_DENY");
    // The broker agrees.
    let mut c = fleet.client(&dev, "cam-1", Version::V5).await;
    assert_eq!(
        c.publish("ok/1", "x", 1, false).await.expect("puback"),
        Some(0)
    );
    assert_eq!(
        c.publish("secret/1", "x", 1, false).await.expect("puback"),
        Some(0x87)
    );
    // Skipping the only policy leaves nothing that allows.
    let name = results[0]["allowed"]["policies"][0]["policyName"]
        .as_str()
        .expect("name")
        .to_string();
    let skipped = fleet.api.post("/test-authorization", json!({"principal": dev.arn, "policyNamesToSkip": [name], "authInfos": [info("PUBLISH", "topic/ok/1")]})).await.ok();
    assert_eq!(skipped["authResults"][0]["authDecision"], "IMPLICIT_DENY");
    let effective = fleet
        .api
        .post("/effective-policies", json!({"principal": dev.arn}))
        .await
        .ok();
    assert_eq!(
        effective["effectivePolicies"][0]["policyName"],
        name.as_str()
    );
    assert!(
        effective["effectivePolicies"][0]["policyDocument"]
            .as_str()
            .is_some_and(|d| d.contains("secret"))
    );
    let bad = fleet
        .api
        .post(
            "/test-authorization",
            json!({"principal": dev.arn, "authInfos": [info("DANCE", "topic/x")]}),
        )
        .await;
    let msg = bad.err(400, "InvalidRequestException");
    assert!(msg.contains("actionType"), "{msg}");
}
