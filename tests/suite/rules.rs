//! Topic rules over real sockets: the control plane as the AWS CLI calls it, and what rules do
//! with devices' messages (republish, `$$aws` shadow updates, Basic Ingest, error actions,
//! captured actions, lifecycle events, the loop guard, restarts).

use crate::mqtt::{ALLOW_ALL, Fleet, body, next_on};
use crate::support::{Answer, Api};
use iotmock::MockIotCore;
use iotmock_client::Version;
use serde_json::{Value, json};

const ROLE: &str = "arn:aws:iam::123456789012:role/iot-rules";

fn republish(topic: &str) -> Value {
    json!({ "republish": { "topic": topic, "roleArn": ROLE, "qos": 1 } })
}

async fn create(api: &Api, name: &str, sql: &str, actions: Value) -> Answer {
    let payload = json!({ "sql": sql, "actions": actions });
    api.post(&format!("/rules/{name}"), payload).await
}

async fn fleet() -> Fleet {
    Fleet::new().await
}

#[tokio::test]
async fn the_control_plane_keeps_rules_as_the_model_shapes_them() {
    let fleet = fleet().await;
    let api = &fleet.api;
    let sql = "SELECT temp FROM 'sensors/+/data' WHERE temp > 30";
    create(api, "hot", sql, json!([republish("alerts/hot")]))
        .await
        .ok();
    let got = api.get("/rules/hot").await.ok();
    assert!(got["ruleArn"].as_str().unwrap().ends_with(":rule/hot"));
    assert_eq!(got["rule"]["sql"], sql);
    assert_eq!(got["rule"]["ruleDisabled"], false);
    assert!(
        got["rule"].get("awsIotSqlVersion").is_none(),
        "not sent, not shown"
    );
    assert_eq!(
        got["rule"]["actions"][0]["republish"]["topic"],
        "alerts/hot"
    );
    let again = create(api, "hot", sql, json!([])).await;
    again.err(409, "ResourceAlreadyExistsException");
    let list = api.get("/rules?topic=sensors/%2B/data").await.ok();
    assert_eq!(list["rules"][0]["topicPattern"], "sensors/+/data");
    api.post("/rules/hot/disable", json!({})).await.ok();
    let disabled = api.get("/rules?ruleDisabled=true").await.ok();
    assert_eq!(disabled["rules"][0]["ruleName"], "hot");
    let replaced = json!({ "sql": "SELECT * FROM 'other'", "actions": [] });
    api.call("PATCH", "/rules/hot", &[], Some(replaced))
        .await
        .ok();
    assert_eq!(
        api.get("/rules/hot").await.ok()["rule"]["sql"],
        "SELECT * FROM 'other'"
    );
    api.call("DELETE", "/rules/hot", &[], None).await.ok();
    api.get("/rules/hot")
        .await
        .err(401, "UnauthorizedException");
}

#[tokio::test]
async fn bad_sql_and_bad_actions_are_refused_never_stored() {
    let fleet = fleet().await;
    let api = &fleet.api;
    let bad = create(api, "bad", "SELECT FROM 'a'", json!([])).await;
    let message = bad.err(400, "SqlParseException");
    assert!(
        message.contains("1:8") || message.contains("offset"),
        "{message}"
    );
    let unknown = create(api, "f", "SELECT nosuch(x) FROM 'a'", json!([])).await;
    unknown.err(400, "SqlParseException");
    let field = json!([{ "republish": { "topic": "a", "roleArn": ROLE, "qoss": 1 } }]);
    let refused = create(api, "g", "SELECT * FROM 'a'", field).await;
    assert!(refused.err(400, "InvalidRequestException").contains("qoss"));
    let two = json!([{ "republish": { "topic": "a", "roleArn": ROLE }, "lambda": { "functionArn": "f" } }]);
    create(api, "h", "SELECT * FROM 'a'", two)
        .await
        .err(400, "InvalidRequestException");
    create(api, "bad-name", "SELECT * FROM 'a'", json!([]))
        .await
        .err(400, "InvalidRequestException");
    let list = api.get("/rules").await.ok();
    assert_eq!(list["rules"], json!([]), "nothing refused was kept");
}

#[tokio::test]
async fn a_rule_selects_filters_and_republishes() {
    let mut fleet = fleet().await;
    let sql = "SELECT temp, topic(2) AS device, sourceip() AS ip, traceid() AS trace FROM 'sensors/+/data' WHERE temp > 30";
    create(
        &fleet.api,
        "hot",
        sql,
        json!([republish("alerts/${topic(2)}")]),
    )
    .await
    .ok();
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut watcher = fleet.client(&dev, "watcher", Version::V5).await;
    watcher.subscribe(&[("alerts/#", 1)]).await.unwrap();
    let mut sensor = fleet.client(&dev, "sensor", Version::V311).await;
    sensor
        .publish("sensors/d1/data", r#"{"temp":20}"#, 1, false)
        .await
        .unwrap();
    sensor
        .publish("sensors/d2/data", r#"{"temp":35,"hum":1}"#, 1, false)
        .await
        .unwrap();
    let m = watcher.next_message().await.unwrap();
    assert_eq!(m.topic, "alerts/d2", "the cool reading was filtered out");
    let mut doc = body(&m);
    let trace = doc["trace"].take();
    assert_eq!(trace.as_str().map(str::len), Some(36), "a UUID: {trace}");
    doc.as_object_mut().unwrap().remove("trace");
    assert_eq!(
        doc,
        json!({ "temp": 35, "device": "d2", "ip": "127.0.0.1" })
    );
}

#[tokio::test]
async fn a_rule_updates_a_shadow_through_dollar_dollar_aws() {
    let mut fleet = fleet().await;
    let sql = "SELECT * FROM 'lwt/+'";
    let action = republish("$$aws/things/${topic(2)}/shadow/update");
    create(&fleet.api, "lwt_to_shadow", sql, json!([action]))
        .await
        .ok();
    fleet.api.post("/things/lamp", json!({})).await.ok();
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut c = fleet.client(&dev, "lamp", Version::V311).await;
    c.subscribe(&[("$aws/things/lamp/shadow/update/accepted", 1)])
        .await
        .unwrap();
    let doc = json!({ "state": { "reported": { "online": false } } });
    c.publish("lwt/lamp", doc.to_string(), 1, false)
        .await
        .unwrap();
    let accepted = next_on(&mut c, "$aws/things/lamp/shadow/update/accepted").await;
    assert_eq!(accepted["state"]["reported"]["online"], false);
    let shadow = fleet
        .api
        .signed_for("iotdata")
        .get("/things/lamp/shadow")
        .await
        .ok();
    assert_eq!(shadow["state"]["reported"]["online"], false);
}

#[tokio::test]
async fn basic_ingest_reaches_only_its_rule_and_topic_sees_past_the_prefix() {
    let mut fleet = fleet().await;
    let sql = "SELECT *, topic() AS t, topic(3) AS floor FROM 'buildings/#'";
    create(&fleet.api, "ingest", sql, json!([republish("out/ingest")]))
        .await
        .ok();
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut watcher = fleet.client(&dev, "watcher", Version::V311).await;
    watcher.subscribe(&[("#", 1)]).await.unwrap();
    let mut device = fleet.client(&dev, "device", Version::V311).await;
    let topic = "$aws/rules/ingest/buildings/b5/floor2";
    device.publish(topic, r#"{"v":1}"#, 1, false).await.unwrap();
    let m = watcher.next_message().await.unwrap();
    assert_eq!(
        m.topic, "out/ingest",
        "nobody receives the ingest topic itself"
    );
    assert_eq!(
        body(&m),
        json!({ "v": 1, "t": "buildings/b5/floor2", "floor": "floor2" })
    );
}

#[tokio::test]
async fn a_failed_action_runs_the_error_action_with_aws_document() {
    let mut fleet = fleet().await;
    let payload = json!({
        "sql": "SELECT * FROM 'in/#'",
        "actions": [republish("$$aws/things/x/jobs/get")],
        "errorAction": republish("errors/${topic()}"),
    });
    fleet.api.post("/rules/broken", payload).await.ok();
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut watcher = fleet.client(&dev, "watcher", Version::V311).await;
    watcher.subscribe(&[("errors/#", 1)]).await.unwrap();
    let mut c = fleet.client(&dev, "pub", Version::V311).await;
    c.publish("in/a", "hello", 1, false).await.unwrap();
    let m = watcher.next_message().await.unwrap();
    assert_eq!(m.topic, "errors/in/a");
    let doc = body(&m);
    assert_eq!(doc["ruleName"], "broken");
    assert_eq!(doc["topic"], "in/a");
    assert_eq!(doc["clientId"], "pub");
    assert_eq!(doc["base64OriginalPayload"], "aGVsbG8=");
    assert_eq!(doc["cloudwatchTraceId"].as_str().map(str::len), Some(36));
    assert_eq!(doc["failures"][0]["failedAction"], "RepublishAction");
    assert!(
        doc["failures"][0]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("job")
    );
}

#[tokio::test]
async fn actions_without_an_endpoint_are_captured_in_the_action_log() {
    let mut fleet = fleet().await;
    let sqs = json!({ "sqs": { "queueUrl": "https://sqs.us-east-1.amazonaws.com/1/q-${topic(2)}", "roleArn": ROLE } });
    let ddb = json!({ "dynamoDBv2": { "putItem": { "tableName": "Telemetry" }, "roleArn": ROLE } });
    let sql = "SELECT temp, clientid() AS device FROM 'tele/+'";
    create(&fleet.api, "store", sql, json!([sqs, ddb]))
        .await
        .ok();
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut c = fleet.client(&dev, "thermo", Version::V311).await;
    c.publish("tele/t1", r#"{"temp":21.5}"#, 1, false)
        .await
        .unwrap();
    fleet.mock.settle();
    let log = fleet.api.get("/iotmock/actions?rule=store").await.ok();
    let actions = log["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 2, "{log}");
    assert_eq!(actions[0]["actionType"], "sqs");
    assert_eq!(actions[0]["outcome"], "captured");
    assert_eq!(
        actions[0]["parameters"]["queueUrl"],
        "https://sqs.us-east-1.amazonaws.com/1/q-t1"
    );
    assert_eq!(
        actions[1]["parameters"]["putItem"]["tableName"],
        "Telemetry"
    );
    assert_eq!(
        actions[1]["payload"],
        json!({ "temp": 21.5, "device": "thermo" })
    );
    assert_eq!(fleet.mock.actions(Some("store")).len(), 2);
    fleet
        .api
        .call("DELETE", "/iotmock/actions", &[], None)
        .await
        .ok();
    let empty = fleet.api.get("/iotmock/actions").await.ok();
    assert_eq!(empty["actions"], json!([]));
}

#[tokio::test]
async fn disabled_rules_do_not_fire_and_presence_events_reach_rules() {
    let mut fleet = fleet().await;
    let sql = "SELECT clientId, eventType FROM '$aws/events/presence/connected/+'";
    create(
        &fleet.api,
        "presence",
        sql,
        json!([republish("presence/log")]),
    )
    .await
    .ok();
    create(
        &fleet.api,
        "off",
        "SELECT * FROM 'presence/log'",
        json!([republish("never")]),
    )
    .await
    .ok();
    fleet.api.post("/rules/off/disable", json!({})).await.ok();
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut watcher = fleet.client(&dev, "watcher", Version::V311).await;
    // The watcher's own connection event has gone through the rule before it subscribes.
    fleet.mock.settle();
    watcher
        .subscribe(&[("presence/log", 1), ("never", 1)])
        .await
        .unwrap();
    let _other = fleet.client(&dev, "newcomer", Version::V311).await;
    let m = watcher.next_message().await.unwrap();
    assert_eq!(m.topic, "presence/log");
    assert_eq!(
        body(&m),
        json!({ "clientId": "newcomer", "eventType": "connected" })
    );
    fleet.mock.settle();
    watcher.ping().await.unwrap();
    assert!(
        fleet.mock.actions(Some("off")).is_empty(),
        "a disabled rule never fires"
    );
}

#[tokio::test]
async fn a_rule_never_sees_its_own_republish_in_a_loop() {
    let mut fleet = fleet().await;
    create(
        &fleet.api,
        "echo",
        "SELECT * FROM 'loop/#'",
        json!([republish("loop/again")]),
    )
    .await
    .ok();
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut c = fleet.client(&dev, "c", Version::V311).await;
    c.publish("loop/start", "{}", 1, false).await.unwrap();
    fleet.mock.settle();
    fleet.mock.settle();
    assert_eq!(
        fleet.mock.actions(Some("echo")).len(),
        1,
        "fired once, not in a loop"
    );
}

#[tokio::test]
async fn rules_survive_a_restart_on_the_state_dir() {
    let dir = tempfile::tempdir().unwrap();
    let on = || MockIotCore::builder().state_dir(dir.path()).start();
    let mock = on().await.unwrap();
    let api = Api::new(mock.api_addr(), crate::support::REGION);
    create(&api, "kept", "SELECT * FROM 'k'", json!([republish("k2")]))
        .await
        .ok();
    api.post("/rules/kept/disable", json!({})).await.ok();
    mock.shutdown().await;
    let mock = on().await.unwrap();
    let api = Api::new(mock.api_addr(), crate::support::REGION);
    let got = api.get("/rules/kept").await.ok();
    assert_eq!(got["rule"]["ruleDisabled"], true);
}

#[tokio::test]
async fn evaluate_says_what_a_statement_makes_of_a_message() {
    let fleet = fleet().await;
    let trial = json!({ "sql": "SELECT temp * 2 AS t FROM 'a/+' WHERE temp > 10", "topic": "a/b", "payload": { "temp": 4 } });
    let out = fleet.api.post("/iotmock/rules/evaluate", trial).await.ok();
    assert_eq!(out["matched"], false);
    assert!(out["where"].as_str().unwrap().contains("false"), "{out}");
    let trial = json!({ "sql": "SELECT temp * 2 AS t FROM 'a/+'", "topic": "a/b", "payload": { "temp": 4 } });
    let out = fleet.api.post("/iotmock/rules/evaluate", trial).await.ok();
    assert_eq!(out["output"], json!({ "t": 8 }));
}
