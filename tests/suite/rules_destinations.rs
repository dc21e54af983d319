//! Topic rule destinations: created IN_PROGRESS with a confirmation recorded in the action log
//! (what AWS POSTs to the URL), ENABLED by ConfirmTopicRuleDestination with its token, moved
//! between ENABLED and DISABLED by Update, kept in `rules.db`.

use crate::support::{Api, REGION, mock};
use serde_json::{Value, json};

async fn create(api: &Api, config: Value) -> Value {
    let answer = api
        .post(
            "/destinations",
            json!({ "destinationConfiguration": config }),
        )
        .await
        .ok();
    answer["topicRuleDestination"].clone()
}

fn http(url: &str) -> Value {
    json!({ "httpUrlConfiguration": { "confirmationUrl": url } })
}

async fn status(api: &Api, arn: &str) -> String {
    let got = api.get(&format!("/destinations/{arn}")).await.ok();
    got["topicRuleDestination"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn an_http_destination_is_enabled_by_its_confirmation_token() {
    let (_mock, api) = mock().await;
    let made = create(&api, http("https://hooks.example.com/iot")).await;
    let arn = made["arn"].as_str().expect("arn").to_string();
    assert!(
        arn.starts_with(&format!(
            "arn:aws:iot:{REGION}:123456789012:ruledestination/http/"
        )),
        "{arn}"
    );
    assert_eq!(made["status"], "IN_PROGRESS");
    assert_eq!(
        made["httpUrlProperties"]["confirmationUrl"],
        "https://hooks.example.com/iot"
    );
    let listed = api.get("/destinations").await.ok();
    let summaries = listed["destinationSummaries"]
        .as_array()
        .expect("summaries")
        .clone();
    assert_eq!(summaries.len(), 1);
    assert_eq!(
        summaries[0]["httpUrlSummary"]["confirmationUrl"],
        "https://hooks.example.com/iot"
    );
    let early = json!({ "arn": arn, "status": "ENABLED" });
    api.call("PATCH", "/destinations", &[], Some(early))
        .await
        .err(400, "InvalidRequestException");
    let log = api.get(&format!("/iotmock/actions?rule={arn}")).await.ok();
    let sent = &log["actions"][0];
    assert_eq!(sent["actionType"], "destinationConfirmation");
    assert_eq!(sent["payload"]["messageType"], "DestinationConfirmation");
    let token = sent["payload"]["confirmationToken"]
        .as_str()
        .expect("token")
        .to_string();
    assert!(
        sent["parameters"]["url"]
            .as_str()
            .unwrap_or_default()
            .ends_with(&token)
    );
    api.get(&format!("/confirmdestination/{token}")).await.ok();
    assert_eq!(status(&api, &arn).await, "ENABLED");
    for next in ["DISABLED", "ENABLED"] {
        let body = json!({ "arn": arn, "status": next });
        api.call("PATCH", "/destinations", &[], Some(body))
            .await
            .ok();
        assert_eq!(status(&api, &arn).await, next);
    }
    api.call("DELETE", &format!("/destinations/{arn}"), &[], None)
        .await
        .ok();
    api.get(&format!("/destinations/{arn}"))
        .await
        .err(401, "UnauthorizedException");
    api.get("/confirmdestination/no-such-token")
        .await
        .err(401, "UnauthorizedException");
}

#[tokio::test]
async fn vpc_destinations_and_skipped_confirmations_are_enabled_at_once() {
    let (_mock, api) = mock().await;
    let vpc = json!({ "vpcConfiguration": { "subnetIds": ["s-1"], "vpcId": "vpc-1", "roleArn": "arn:aws:iam::123456789012:role/r" } });
    assert_eq!(create(&api, vpc).await["status"], "ENABLED");
    let bad = json!({ "destinationConfiguration": { "httpUrlConfiguration": {} } });
    api.post("/destinations", bad)
        .await
        .err(400, "InvalidRequestException");
    let auto = iotmock::MockIotCore::builder()
        .auto_confirm_destinations(true)
        .start()
        .await
        .unwrap();
    let api = Api::new(auto.api_addr(), REGION);
    assert_eq!(
        create(&api, http("https://hooks.example.com/x")).await["status"],
        "ENABLED"
    );
}

#[tokio::test]
async fn destinations_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        iotmock::MockIotCore::builder()
            .state_dir(dir.path())
            .start()
    };
    let first = start().await.unwrap();
    let api = Api::new(first.api_addr(), REGION);
    let arn = create(&api, http("https://hooks.example.com/kept")).await["arn"]
        .as_str()
        .unwrap()
        .to_string();
    first.shutdown().await;
    let second = start().await.unwrap();
    let api = Api::new(second.api_addr(), REGION);
    assert_eq!(status(&api, &arn).await, "IN_PROGRESS");
}
