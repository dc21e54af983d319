//! The SQL functions that read AWS services (`get_dynamodb`, `get_secret`) against a local
//! endpoint standing in for `--aws-endpoint-url`, and what a rule does without one.

use crate::mqtt::{ALLOW_ALL, body};
use crate::rules_actions::{fleet_of, hook};
use iotmock::MockIotCore;
use iotmock_client::Version;
use serde_json::{Value, json};

const ROLE: &str = "arn:aws:iam::123456789012:role/r";

/// Both services' answers in one body: the stand-in answers every call alike.
const ANSWER: &str = r#"{"Item":{"id":{"S":"d1"},"limit":{"N":"30"},"tags":{"L":[{"S":"a"}]}},"SecretString":"{\"token\":\"s3cr3t\"}"}"#;

#[tokio::test]
async fn get_dynamodb_and_get_secret_read_the_aws_endpoint() {
    let (addr, mut seen) = hook(200, ANSWER).await;
    let mut fleet =
        fleet_of(MockIotCore::builder().aws_endpoint_url(format!("http://{addr}"))).await;
    let sql = format!(
        "SELECT get_dynamodb('Limits', 'id', topic(2), '{ROLE}') AS item, \
         get_secret('api', 'SecretString', 'token', '{ROLE}') AS token FROM 'g/+'"
    );
    let rule = json!({ "sql": sql, "awsIotSqlVersion": "2016-03-23", "actions": [{ "republish": { "topic": "out", "roleArn": ROLE } }] });
    fleet.api.post("/rules/lookup", rule).await.ok();
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut watcher = fleet.client(&dev, "watcher", Version::V311).await;
    watcher.subscribe(&[("out", 1)]).await.unwrap();
    let mut c = fleet.client(&dev, "c", Version::V311).await;
    c.publish("g/d1", "{}", 1, false).await.unwrap();
    let m = watcher.next_message().await.unwrap();
    assert_eq!(
        body(&m),
        json!({ "item": { "id": "d1", "limit": 30, "tags": ["a"] }, "token": "s3cr3t" })
    );
    let mut calls = [seen.recv().await.unwrap(), seen.recv().await.unwrap()];
    calls.sort_by_key(|s| s.header("x-amz-target").map(str::to_string));
    assert_eq!(
        calls[0].header("x-amz-target"),
        Some("DynamoDB_20120810.GetItem")
    );
    let get: Value = serde_json::from_slice(&calls[0].body).unwrap();
    assert_eq!(
        get,
        json!({ "TableName": "Limits", "Key": { "id": { "S": "d1" } }, "ConsistentRead": true })
    );
    assert_eq!(
        calls[1].header("x-amz-target"),
        Some("secretsmanager.GetSecretValue")
    );
    let auth = calls[1].header("authorization").unwrap();
    assert!(auth.contains("/secretsmanager/aws4_request"), "{auth}");
}

#[tokio::test]
async fn without_an_endpoint_get_dynamodb_stops_the_rule_and_runs_its_error_action() {
    let mut fleet = fleet_of(MockIotCore::builder()).await;
    let sql = format!("SELECT get_dynamodb('T', 'id', 'x', '{ROLE}') AS item FROM 'n/+'");
    let rule = json!({
        "sql": sql,
        "awsIotSqlVersion": "2016-03-23",
        "actions": [{ "republish": { "topic": "never", "roleArn": ROLE } }],
        "errorAction": { "republish": { "topic": "errors", "roleArn": ROLE } },
    });
    fleet.api.post("/rules/nodb", rule).await.ok();
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut watcher = fleet.client(&dev, "watcher", Version::V311).await;
    watcher
        .subscribe(&[("errors", 1), ("never", 1)])
        .await
        .unwrap();
    let mut c = fleet.client(&dev, "c", Version::V311).await;
    c.publish("n/1", "{}", 1, false).await.unwrap();
    let m = watcher.next_message().await.unwrap();
    assert_eq!(m.topic, "errors");
    let doc = body(&m);
    let why = doc["failures"][0]["errorMessage"].as_str().unwrap();
    assert!(why.contains("--aws-endpoint-url"), "{why}");
}
