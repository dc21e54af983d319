//! Who a SigV4 caller is: the IAM policies of its access key decide (allow-all while it has
//! none), and a Cognito identity needs an IoT policy attached to its identity id as well.

use crate::doors::{presigned_as, wss_options};
use crate::mqtt::Fleet;
use iotmock_client::{ClientError, DeviceClient, TlsOptions, Version, client_config};
use serde_json::json;

async fn connect_as(
    fleet: &Fleet,
    key: &str,
    client_id: &str,
) -> Result<DeviceClient, ClientError> {
    let url = presigned_as(key, fleet.mock.region(), fleet.mock.now_millis(), Some(600));
    let tls = client_config(&TlsOptions::new(fleet.mock.root_ca_pem())).unwrap();
    let opts = wss_options(fleet, client_id, Version::V5, url);
    DeviceClient::connect(tls, &opts).await.map(|(c, _)| c)
}

const NARROW: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/app-*"},
  {"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:*:*:topic/app/*"},
  {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:*:*:topicfilter/app/*"}]}"#;

#[tokio::test]
async fn an_access_keys_iam_policy_decides_what_its_caller_may_do() {
    let fleet = Fleet::new().await;
    fleet
        .mock
        .put_iam_policy("AKIDNARROW", "app", NARROW)
        .unwrap();
    let refused = connect_as(&fleet, "AKIDNARROW", "other").await;
    assert!(
        matches!(refused, Err(ClientError::Refused(0x87))),
        "iot:Connect denied: {:?}",
        refused.err()
    );
    let mut app = connect_as(&fleet, "AKIDNARROW", "app-1")
        .await
        .expect("allowed");
    let codes = app.subscribe(&[("app/x", 1), ("secret", 1)]).await.unwrap();
    assert_eq!(
        codes,
        vec![1, 0x87],
        "subscribe where the policy allows only"
    );
    assert_eq!(app.publish("app/x", "{}", 1, false).await.unwrap(), Some(0));
    assert_eq!(app.next_message().await.unwrap().topic, "app/x");
    assert_eq!(
        app.publish("secret", "{}", 1, false).await.unwrap(),
        Some(0x87)
    );
    let mut other = connect_as(&fleet, "AKIDANY", "anything")
        .await
        .expect("allow-all");
    other.ping().await.unwrap();
}

#[tokio::test]
async fn iam_policies_are_set_over_the_api_and_checked_there() {
    let fleet = Fleet::new().await;
    let path = "/iotmock/iam/access-keys/AKIDAPI/policies/app";
    let put = fleet
        .api
        .raw("PUT", path, &[], NARROW.as_bytes().to_vec())
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    let got = fleet.api.get("/iotmock/iam/access-keys/AKIDAPI").await.ok();
    assert_eq!(got["policies"]["app"].as_str(), Some(NARROW));
    assert_eq!(got["allowAll"], false);
    let bad = fleet.api.raw("PUT", path, &[], b"{not json".to_vec()).await;
    bad.err(400, "MalformedPolicyException");
    assert!(connect_as(&fleet, "AKIDAPI", "other").await.is_err());
    fleet.api.call("DELETE", path, &[], None).await.ok();
    assert!(
        connect_as(&fleet, "AKIDAPI", "other").await.is_ok(),
        "allow-all again"
    );
}

#[tokio::test]
async fn a_cognito_identity_needs_an_iot_policy_attached_to_its_identity_id() {
    let fleet = Fleet::new().await;
    let identity = format!(
        "{}:0a1b2c3d-0000-4000-8000-00000000c0de",
        fleet.mock.region()
    );
    fleet
        .mock
        .bind_cognito_identity("AKIDCOGNITO", Some(&identity))
        .unwrap();
    let refused = connect_as(&fleet, "AKIDCOGNITO", "app-cognito").await;
    assert!(
        matches!(refused, Err(ClientError::Refused(0x87))),
        "no IoT policy on the identity: {:?}",
        refused.err()
    );
    let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#;
    // IoT policies are regional: attached in the region of the endpoint the client uses.
    let api = crate::support::Api::new(fleet.mock.api_addr(), fleet.mock.region());
    api.post("/policies/cognito-iot", json!({ "policyDocument": allow }))
        .await
        .ok();
    let target = json!({ "target": identity });
    api.call("PUT", "/target-policies/cognito-iot", &[], Some(target))
        .await
        .ok();
    let mut client = connect_as(&fleet, "AKIDCOGNITO", "app-cognito")
        .await
        .expect("IAM (allow-all) and the identity's IoT policy both allow");
    client.ping().await.unwrap();
    // Both must allow: a narrow IAM policy still bounds what the IoT policy grants.
    fleet
        .mock
        .put_iam_policy("AKIDCOGNITO", "app", NARROW)
        .unwrap();
    let refused = connect_as(&fleet, "AKIDCOGNITO", "cognito-other").await;
    assert!(refused.is_err(), "IAM denies this client id");
}

#[tokio::test]
async fn an_access_keys_iam_policy_also_decides_its_signed_https_publish() {
    let fleet = Fleet::new().await;
    let data = fleet.api.with_access_key("AKIDHTTP").signed_for("iotdata");
    let before = data
        .raw("POST", "/topics/secret", &[], b"{}".to_vec())
        .await;
    assert_eq!(before.status, 200, "allow-all while the key has no policy");
    fleet
        .mock
        .put_iam_policy("AKIDHTTP", "app", NARROW)
        .unwrap();
    let allowed = data
        .raw("POST", "/topics/app%2Fx", &[], b"{}".to_vec())
        .await;
    assert_eq!(allowed.status, 200, "{:?}", allowed.body);
    let denied = data
        .raw("POST", "/topics/secret", &[], b"{}".to_vec())
        .await;
    denied.err(403, "ForbiddenException");
}
