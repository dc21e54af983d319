//! Device Shadow over real sockets: the MQTT request topics (3.1.1 and 5), iot-data over
//! HTTP on the same shadows, authorization as for any topic, wills left alone, durability.

use crate::mqtt::{ALLOW_ALL, BOTH, Fleet, body, next_on};
use iotmock::MockIotCore;
use iotmock_client::{DeviceClient, Version};
use serde_json::{Value, json};

async fn device(fleet: &mut Fleet, id: &str, v: Version) -> DeviceClient {
    let dev = fleet.device(id, Some(ALLOW_ALL)).await;
    fleet.client(&dev, id, v).await
}

#[tokio::test]
async fn classic_shadow_over_mqtt_on_both_versions() {
    let mut fleet = Fleet::new().await;
    for v in BOTH {
        let thing = format!("lamp-{v:?}");
        let p = format!("$aws/things/{thing}/shadow");
        let mut c = device(&mut fleet, &thing, v).await;
        let filters = [
            format!("{p}/get/+"),
            format!("{p}/update/accepted"),
            format!("{p}/update/delta"),
            format!("{p}/update/documents"),
        ];
        let filters: Vec<(&str, u8)> = filters.iter().map(|f| (f.as_str(), 1)).collect();
        c.subscribe(&filters).await.expect("suback");
        c.publish(&format!("{p}/get"), r#"{"clientToken":"g1"}"#, 1, false)
            .await
            .expect("puback");
        let rejected = next_on(&mut c, &format!("{p}/get/rejected")).await;
        assert_eq!(rejected["code"], 404);
        assert_eq!(rejected["clientToken"], "g1");
        assert_eq!(
            rejected["message"],
            format!("No shadow exists with name: '{thing}'")
        );

        let report = json!({"state":{"reported":{"on":false}},"clientToken":"u1"});
        c.publish(&format!("{p}/update"), report.to_string(), 1, false)
            .await
            .expect("puback");
        let accepted = next_on(&mut c, &format!("{p}/update/accepted")).await;
        assert_eq!(
            (accepted["version"].clone(), accepted["clientToken"].clone()),
            (json!(1), json!("u1"))
        );
        let documents = next_on(&mut c, &format!("{p}/update/documents")).await;
        assert_eq!(documents["current"]["state"]["reported"]["on"], false);

        let want = json!({"state":{"desired":{"on":true}},"clientToken":"u2"});
        c.publish(&format!("{p}/update"), want.to_string(), 1, false)
            .await
            .expect("puback");
        let delta = next_on(&mut c, &format!("{p}/update/delta")).await;
        assert_eq!(
            (delta["state"].clone(), delta["version"].clone()),
            (json!({"on": true}), json!(2))
        );

        c.publish(&format!("{p}/get"), "", 1, false)
            .await
            .expect("puback");
        let got = next_on(&mut c, &format!("{p}/get/accepted")).await;
        assert_eq!(got["state"]["delta"], json!({"on": true}));
        assert_eq!(got["version"], 2);
    }
}

#[tokio::test]
async fn named_shadows_delete_and_continue_their_version() {
    let mut fleet = Fleet::new().await;
    let mut c = device(&mut fleet, "robot", Version::V5).await;
    let p = "$aws/things/robot/shadow/name/arm";
    let filters = [format!("{p}/update/+"), format!("{p}/delete/+")];
    let filters: Vec<(&str, u8)> = filters.iter().map(|f| (f.as_str(), 1)).collect();
    c.subscribe(&filters).await.expect("suback");
    for i in 0..2 {
        let upd = json!({"state":{"reported":{"angle": i}}});
        c.publish(&format!("{p}/update"), upd.to_string(), 1, false)
            .await
            .expect("puback");
        next_on(&mut c, &format!("{p}/update/accepted")).await;
    }
    c.publish(&format!("{p}/delete"), r#"{"clientToken":"d"}"#, 1, false)
        .await
        .expect("puback");
    let deleted = next_on(&mut c, &format!("{p}/delete/accepted")).await;
    assert_eq!(
        (deleted["version"].clone(), deleted["clientToken"].clone()),
        (json!(2), json!("d"))
    );
    c.publish(&format!("{p}/delete"), "", 1, false)
        .await
        .expect("puback");
    let again = next_on(&mut c, &format!("{p}/delete/rejected")).await;
    assert_eq!(again["message"], "No shadow exists with name: 'robot~arm'");
    let upd = json!({"state":{"reported":{"angle": 9}}});
    c.publish(&format!("{p}/update"), upd.to_string(), 1, false)
        .await
        .expect("puback");
    let accepted = next_on(&mut c, &format!("{p}/update/accepted")).await;
    assert_eq!(
        accepted["version"], 3,
        "a re-created shadow continues the version"
    );
}

#[tokio::test]
async fn http_and_mqtt_share_the_shadow() {
    let mut fleet = Fleet::new().await;
    let mut c = device(&mut fleet, "heater", Version::V311).await;
    let p = "$aws/things/heater/shadow";
    let filters = [
        format!("{p}/update/accepted"),
        format!("{p}/update/delta"),
        format!("{p}/update/rejected"),
    ];
    let filters: Vec<(&str, u8)> = filters.iter().map(|f| (f.as_str(), 1)).collect();
    c.subscribe(&filters).await.expect("suback");
    let api = &fleet.api;
    let doc = api
        .post(
            "/things/heater/shadow",
            json!({"state":{"desired":{"t":21}},"clientToken":"h1"}),
        )
        .await
        .ok();
    assert_eq!(doc["version"], 1);
    let accepted = next_on(&mut c, &format!("{p}/update/accepted")).await;
    assert_eq!(accepted["clientToken"], "h1");
    let delta = next_on(&mut c, &format!("{p}/update/delta")).await;
    assert_eq!(delta["state"], json!({"t": 21}));
    let got = api.get("/things/heater/shadow").await.ok();
    assert_eq!(got["state"]["desired"]["t"], 21);
    let conflict = api
        .post(
            "/things/heater/shadow",
            json!({"state":{"reported":{"t":1}},"version":9}),
        )
        .await;
    assert_eq!(conflict.err(409, "ConflictException"), "Version conflict");
    let missing = api.get("/things/heater/shadow?name=nope").await;
    assert_eq!(
        missing.err(404, "ResourceNotFoundException"),
        "No shadow exists with name: 'heater~nope'"
    );
    let invalid = api
        .post("/things/heater/shadow", json!({"nostate": 1}))
        .await;
    assert_eq!(
        invalid.err(400, "InvalidRequestException"),
        "Missing required node: state"
    );
    api.post(
        "/things/heater/shadow?name=b",
        json!({"state":{"reported":{}}}),
    )
    .await
    .ok();
    api.post(
        "/things/heater/shadow?name=a",
        json!({"state":{"reported":{}}}),
    )
    .await
    .ok();
    let list = api
        .get("/api/things/shadow/ListNamedShadowsForThing/heater")
        .await
        .ok();
    assert_eq!(list["results"], json!(["a", "b"]));
    let empty = api
        .get("/api/things/shadow/ListNamedShadowsForThing/nobody")
        .await
        .ok();
    assert_eq!(empty["results"], json!([]));
    let last = json!({"state":{"reported":{"t":21}},"clientToken":"last"});
    api.post("/things/heater/shadow", last).await.ok();
    loop {
        let m = c.next_message().await.expect("a message");
        assert!(
            !m.topic.ends_with("/rejected"),
            "HTTP errors answer over HTTP only"
        );
        if m.topic.ends_with("/update/accepted") && body(&m)["clientToken"] == "last" {
            break;
        }
    }
    let deleted = api
        .call("DELETE", "/things/heater/shadow", &[], None)
        .await
        .ok();
    assert_eq!(deleted["version"], 2);
}

#[tokio::test]
async fn shadow_requests_need_publish_rights_like_any_topic() {
    let mut fleet = Fleet::new().await;
    let only_connect = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"iot:Connect","Resource":"*"},
        {"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/$aws/things/ok/shadow/*"}]}"#;
    let dev = fleet.device("limited", Some(only_connect)).await;
    let mut c = fleet.client(&dev, "limited", Version::V5).await;
    let denied = c
        .publish(
            "$aws/things/other/shadow/update",
            r#"{"state":{"reported":{"x":1}}}"#,
            1,
            false,
        )
        .await;
    assert_eq!(denied.expect("puback"), Some(0x87));
    let allowed = c
        .publish(
            "$aws/things/ok/shadow/update",
            r#"{"state":{"reported":{"x":1}}}"#,
            1,
            false,
        )
        .await;
    assert_eq!(allowed.expect("puback"), Some(0));
    assert_eq!(
        fleet.api.get("/things/other/shadow").await.status,
        404,
        "a refused request changes nothing"
    );
    assert_eq!(fleet.api.get("/things/ok/shadow").await.ok()["version"], 1);
}

#[tokio::test]
async fn a_will_to_a_shadow_topic_is_not_processed() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("willful", Some(ALLOW_ALL)).await;
    let mut opts = fleet.options("willful", Version::V311);
    opts.will = Some(iotmock_client::Will {
        topic: "$aws/things/willful/shadow/update".into(),
        payload: r#"{"state":{"reported":{"online":false}}}"#.into(),
        qos: 1,
        retain: false,
    });
    let tls = iotmock_client::client_config(&fleet.tls(&dev.minted)).expect("tls");
    let (c, _) = DeviceClient::connect(tls, &opts).await.expect("admitted");
    drop(c);
    let mut w = fleet.client(&dev, "watch", Version::V311).await;
    w.ping().await.expect("the broker is past the drop");
    assert_eq!(fleet.api.get("/things/willful/shadow").await.status, 404);
}

#[tokio::test]
async fn shadows_survive_a_restart_on_a_state_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mock = MockIotCore::builder()
        .state_dir(dir.path())
        .start()
        .await
        .expect("starts");
    let api = crate::support::Api::new(mock.api_addr(), crate::support::REGION);
    api.post("/things/kept/shadow", json!({"state":{"reported":{"v":1}}}))
        .await
        .ok();
    mock.shutdown().await;
    let mock = MockIotCore::builder()
        .state_dir(dir.path())
        .start()
        .await
        .expect("restarts");
    let api = crate::support::Api::new(mock.api_addr(), crate::support::REGION);
    let got = api.get("/things/kept/shadow").await.ok();
    assert_eq!(
        (
            got["version"].clone(),
            got["state"]["reported"]["v"].clone()
        ),
        (json!(1), json!(1))
    );
    let other_region = crate::support::Api::new(mock.api_addr(), "eu-central-1");
    assert_eq!(
        other_region.get("/things/kept/shadow").await.status,
        404,
        "shadows are per region"
    );
}

fn shadow_cli(api: &str, args: &[&str]) -> (bool, Value, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_iotmock"))
        .arg("shadow")
        .args(args)
        .args(["--endpoint-url", api])
        .output()
        .expect("iotmock runs");
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.success(),
        json,
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[tokio::test]
async fn the_shadow_command_line() {
    let fleet = Fleet::new().await;
    let api = fleet.mock.api_url();
    let update = [
        "update",
        "-t",
        "cli",
        "-n",
        "cfg",
        "-p",
        r#"{"state":{"desired":{"x":1}}}"#,
    ];
    let (ok, doc, _) = tokio::task::spawn_blocking({
        let api = api.clone();
        move || shadow_cli(&api, &update)
    })
    .await
    .expect("joined");
    assert!(ok && doc["version"] == 1, "{doc}");
    let api2 = api.clone();
    let (ok, doc, _) =
        tokio::task::spawn_blocking(move || shadow_cli(&api2, &["get", "-t", "cli", "-n", "cfg"]))
            .await
            .expect("joined");
    assert!(ok && doc["state"]["delta"]["x"] == 1, "{doc}");
    let api3 = api.clone();
    let (ok, doc, _) =
        tokio::task::spawn_blocking(move || shadow_cli(&api3, &["list", "-t", "cli"]))
            .await
            .expect("joined");
    assert!(ok && doc["results"] == json!(["cfg"]), "{doc}");
    let (ok, _, err) =
        tokio::task::spawn_blocking(move || shadow_cli(&api, &["get", "-t", "nobody"]))
            .await
            .expect("joined");
    assert!(
        !ok && err.contains("No shadow exists with name: 'nobody'"),
        "{err}"
    );
}

#[tokio::test]
async fn the_in_process_handle_drives_and_watches_a_shadow() {
    let mut fleet = Fleet::new().await;
    let mut c = device(&mut fleet, "fan", Version::V5).await;
    let p = "$aws/things/fan/shadow";
    c.subscribe(&[(&format!("{p}/update/delta"), 1)])
        .await
        .expect("suback");
    let shadow = fleet.mock.shadow("fan").in_region(crate::support::REGION);
    assert!(shadow.get().is_none());
    assert_eq!(
        shadow.set_desired(json!({"speed": 3})).expect("accepted"),
        1
    );
    let delta = next_on(&mut c, &format!("{p}/update/delta")).await;
    assert_eq!(delta["state"], json!({"speed": 3}));
    let report = json!({"state":{"reported":{"speed":3}}}).to_string();
    c.publish(&format!("{p}/update"), report, 1, false)
        .await
        .expect("puback");
    let doc = shadow
        .wait_reported("speed", json!(3), std::time::Duration::from_secs(5))
        .await
        .expect("reported");
    assert!(doc["state"].get("delta").is_none(), "in sync: {doc}");
    let late = shadow
        .wait_reported("speed", json!(4), std::time::Duration::from_millis(50))
        .await;
    assert!(late.is_err());
    assert_eq!(
        fleet
            .mock
            .named_shadow("fan", "x")
            .delete()
            .unwrap_err()
            .code,
        404
    );
}

#[tokio::test]
async fn refusals_over_mqtt_carry_aws_codes_and_messages() {
    let mut fleet = Fleet::new().await;
    for v in BOTH {
        let thing = format!("strict-{v:?}");
        let p = format!("$aws/things/{thing}/shadow");
        let mut c = device(&mut fleet, &thing, v).await;
        c.subscribe(&[(&format!("{p}/update/rejected"), 1)])
            .await
            .expect("suback");
        let deep = (0..9).fold(json!(1), |inner, _| json!({ "n": inner }));
        let cases = [
            ("{oops".to_string(), 400, "Invalid JSON"),
            (
                json!({"clientToken":"t"}).to_string(),
                400,
                "Missing required node: state",
            ),
            (
                json!({"state":{"reported":{}},"clientToken":"x".repeat(65)}).to_string(),
                400,
                "Invalid clientToken",
            ),
            (
                json!({"state":{"desired": deep}}).to_string(),
                400,
                "JSON contains too many levels of nesting; maximum is 6",
            ),
            (
                json!({"state":{"reported":{"b":"x".repeat(9000)}}}).to_string(),
                413,
                "The payload exceeds the maximum size allowed",
            ),
        ];
        for (payload, code, message) in cases {
            c.publish(&format!("{p}/update"), payload, 1, false)
                .await
                .expect("puback");
            let r = next_on(&mut c, &format!("{p}/update/rejected")).await;
            assert_eq!(
                (r["code"].clone(), r["message"].clone()),
                (json!(code), json!(message)),
                "{v:?}"
            );
            assert!(
                r["timestamp"].is_i64(),
                "errors other than 404 carry a timestamp"
            );
        }
    }
    assert_eq!(
        fleet.api.get("/things/strict-V5/shadow").await.status,
        404,
        "nothing was created"
    );
}
