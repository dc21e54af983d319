//! Topic rule destinations: created IN_PROGRESS with a confirmation POSTed to the URL (and
//! recorded in the action log), ENABLED by ConfirmTopicRuleDestination with its token, moved
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
async fn an_http_destination_is_enabled_by_the_token_its_endpoint_receives() {
    let (_mock, api) = mock().await;
    let (hook, mut seen) = crate::rules_actions::hook(200, "{}").await;
    let url = format!("http://{hook}/iot");
    let made = create(&api, http(&url)).await;
    let arn = made["arn"].as_str().expect("arn").to_string();
    assert!(
        arn.starts_with(&format!(
            "arn:aws:iot:{REGION}:123456789012:ruledestination/http/"
        )),
        "{arn}"
    );
    assert_eq!(made["status"], "IN_PROGRESS");
    assert_eq!(made["httpUrlProperties"]["confirmationUrl"], url.as_str());
    let listed = api.get("/destinations").await.ok();
    let summaries = listed["destinationSummaries"]
        .as_array()
        .expect("summaries")
        .clone();
    assert_eq!(summaries.len(), 1);
    assert_eq!(
        summaries[0]["httpUrlSummary"]["confirmationUrl"],
        url.as_str()
    );
    let early = json!({ "arn": arn, "status": "ENABLED" });
    api.call("PATCH", "/destinations", &[], Some(early))
        .await
        .err(400, "InvalidRequestException");
    // What the endpoint's owner receives.
    let got = seen.recv().await.expect("the confirmation is POSTed");
    assert_eq!(got.method, "POST");
    assert_eq!(
        got.header("x-amz-rules-engine-message-type"),
        Some("DestinationConfirmation")
    );
    assert_eq!(
        got.header("x-amz-rules-engine-destination-arn"),
        Some(arn.as_str())
    );
    let body: Value = serde_json::from_slice(&got.body).expect("json");
    let token = body["confirmationToken"]
        .as_str()
        .expect("token")
        .to_string();
    assert_eq!(got.path, format!("/iot/?confirmationToken={token}"));
    assert!(
        body["enableUrl"]
            .as_str()
            .unwrap_or_default()
            .ends_with(&token)
    );
    // And the action log's record of it.
    let logged = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let log = api.get(&format!("/iotmock/actions?rule={arn}")).await.ok();
            if let Some(entry) = log["actions"].as_array().and_then(|a| a.first()).cloned() {
                break entry;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the confirmation's outcome is logged");
    assert_eq!(logged["actionType"], "destinationConfirmation");
    assert_eq!(logged["outcome"], "delivered");
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

#[tokio::test]
async fn an_http_action_sends_only_under_an_enabled_destination() {
    let (hook, mut seen) = crate::rules_actions::hook(200, "{}").await;
    let mut fleet = crate::mqtt::Fleet::new().await;
    let api = &fleet.api;
    let templated = json!({ "sql": "SELECT * FROM 'h/+'", "actions": [
        { "http": { "url": format!("http://{hook}/in/${{topic(2)}}") } } ] });
    api.post("/rules/templated", templated)
        .await
        .err(400, "InvalidRequestException");
    let outside = json!({ "sql": "SELECT * FROM 'h/+'", "actions": [
        { "http": { "url": "http://elsewhere.test/x", "confirmationUrl": format!("http://{hook}/") } } ] });
    api.post("/rules/outside", outside)
        .await
        .err(400, "InvalidRequestException");
    // A static URL: its destination is made (IN_PROGRESS, its confirmation sent).
    let url = format!("http://{hook}/static");
    let rule = json!({ "sql": "SELECT * FROM 'h/+'", "actions": [{ "http": { "url": url } }],
        "errorAction": { "republish": { "topic": "h-errors", "roleArn": "arn:aws:iam::123456789012:role/r" } } });
    api.post("/rules/static", rule).await.ok();
    let confirmation = seen
        .recv()
        .await
        .expect("the implied destination's confirmation");
    let body: Value = serde_json::from_slice(&confirmation.body).expect("json");
    let token = body["confirmationToken"]
        .as_str()
        .expect("token")
        .to_string();
    let listed = api.get("/destinations").await.ok();
    let summary = &listed["destinationSummaries"][0];
    assert_eq!(
        (
            summary["status"].as_str(),
            summary["httpUrlSummary"]["confirmationUrl"].as_str()
        ),
        (Some("IN_PROGRESS"), Some(url.as_str()))
    );
    let dev = fleet.device("hdev", Some(crate::mqtt::ALLOW_ALL)).await;
    let mut c = fleet
        .client(&dev, "hdev", iotmock_client::Version::V311)
        .await;
    c.subscribe(&[("h-errors", 1)]).await.unwrap();
    c.publish("h/1", "{}", 1, false).await.unwrap();
    let error = c.next_message().await.unwrap();
    let doc: Value = serde_json::from_slice(&error.payload).unwrap();
    let why = doc["failures"][0]["errorMessage"]
        .as_str()
        .unwrap_or_default();
    assert!(why.contains("no ENABLED topic rule destination"), "{why}");
    fleet
        .api
        .get(&format!("/confirmdestination/{token}"))
        .await
        .ok();
    c.publish("h/2", "{\"n\":2}", 1, false).await.unwrap();
    let sent = seen.recv().await.expect("delivered once ENABLED");
    assert_eq!(sent.path, "/static");
}
