//! Tags on the resources AWS lets you tag, with AWS's limits.

use crate::support::mock;
use serde_json::{Value, json};

const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}"#;

fn tags(v: &Value) -> Vec<(String, String)> {
    v["tags"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| {
                    let s = |k: &str| t[k].as_str().unwrap_or_default().to_string();
                    (s("Key"), s("Value"))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn tags_are_set_on_create_changed_listed_and_limited() {
    let (_mock, api) = mock().await;
    let created = api
        .post(
            "/policies/tagged",
            json!({"policyDocument": POLICY, "tags": [{"Key": "env", "Value": "prod"}]}),
        )
        .await
        .ok();
    let arn = created["policyArn"].as_str().expect("arn").to_string();
    let list = |arn: String| {
        let api = &api;
        async move {
            let q = arn.replace(':', "%3A").replace('/', "%2F");
            api.get(&format!("/tags?resourceArn={q}")).await
        }
    };
    assert_eq!(
        tags(&list(arn.clone()).await.ok()),
        [("env".into(), "prod".into())]
    );
    let add = json!({"resourceArn": arn, "tags": [{"Key": "team", "Value": "iot"}, {"Key": "env", "Value": "test"}]});
    api.post("/tags", add).await.ok();
    let both = tags(&list(arn.clone()).await.ok());
    assert_eq!(
        both,
        [("env".into(), "test".into()), ("team".into(), "iot".into())]
    );
    api.post("/untag", json!({"resourceArn": arn, "tagKeys": ["env"]}))
        .await
        .ok();
    assert_eq!(tags(&list(arn.clone()).await.ok()).len(), 1);

    let reserved = json!({"resourceArn": arn, "tags": [{"Key": "aws:owner", "Value": "x"}]});
    let msg = api
        .post("/tags", reserved)
        .await
        .err(400, "InvalidRequestException");
    assert!(msg.contains("aws:"), "{msg}");
    let many: Vec<Value> = (0..51)
        .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
        .collect();
    let msg = api
        .post("/tags", json!({"resourceArn": arn, "tags": many}))
        .await
        .err(400, "InvalidRequestException");
    assert!(msg.contains("50"), "{msg}");
    let long = json!({"resourceArn": arn, "tags": [{"Key": "k".repeat(129), "Value": "v"}]});
    api.post("/tags", long)
        .await
        .err(400, "InvalidRequestException");

    let thing = api.post("/things/t1", json!({})).await.ok()["thingArn"]
        .as_str()
        .expect("arn")
        .to_string();
    let msg = api
        .post(
            "/tags",
            json!({"resourceArn": thing, "tags": [{"Key": "a", "Value": "b"}]}),
        )
        .await
        .err(400, "InvalidRequestException");
    assert!(msg.contains("cannot be tagged"), "{msg}");
    let gone = arn.replace("tagged", "missing");
    api.post(
        "/tags",
        json!({"resourceArn": gone, "tags": [{"Key": "a", "Value": "b"}]}),
    )
    .await
    .err(404, "ResourceNotFoundException");

    // A deleted resource's tags go with it.
    api.call("DELETE", "/policies/tagged", &[], None).await.ok();
    api.post("/policies/tagged", json!({"policyDocument": POLICY}))
        .await
        .ok();
    assert!(tags(&list(arn).await.ok()).is_empty());

    let group = api
        .post(
            "/thing-groups/g1",
            json!({"tags": [{"Key": "site", "Value": "oslo"}]}),
        )
        .await
        .ok();
    let group_arn = group["thingGroupArn"].as_str().expect("arn").to_string();
    assert_eq!(
        tags(&list(group_arn).await.ok()),
        [("site".into(), "oslo".into())]
    );
}
