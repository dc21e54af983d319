//! `iotmock advisor` against devices made of the `iotmock pub` / `iotmock sub` commands: cases
//! pass where the device does what Device Advisor asks and fail where it does not.

use serde_json::Value;
use std::process::Command;

/// Runs `iotmock advisor run CASES --device-cmd DEVICE --json` and returns the verdicts by case.
fn advisor(cases: &[&str], device: &str) -> (bool, Vec<(String, String)>) {
    advisor_with(cases, device, &[])
}

/// [`advisor`] with more arguments for `advisor run`.
fn advisor_with(cases: &[&str], device: &str, extra: &[&str]) -> (bool, Vec<(String, String)>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("verdicts.json");
    let bin = env!("CARGO_BIN_EXE_iotmock");
    let device = device.replace("IOTMOCK_BIN", bin);
    let status = Command::new(bin)
        .args(["advisor", "run"])
        .args(cases)
        .args(extra)
        .args(["--device-cmd", &device, "--json"])
        .arg(&json)
        .status()
        .expect("iotmock runs");
    let doc: Value =
        serde_json::from_slice(&std::fs::read(&json).expect("json written")).expect("json");
    let verdicts = doc["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or_default().to_string(),
                c["verdict"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    (status.success(), verdicts)
}

const TLS: &str = r#"--cafile "$IOTMOCK_CA_FILE" --cert "$IOTMOCK_CERT_FILE" --key "$IOTMOCK_KEY_FILE" -h "$IOTMOCK_HOST" -p "$IOTMOCK_PORT" -i "$IOTMOCK_CLIENT_ID""#;

#[test]
fn a_publishing_device_passes_the_publish_cases_and_fails_the_others() {
    let device = format!(r#"IOTMOCK_BIN pub {TLS} -t "$IOTMOCK_TOPIC" -m hello -q 1"#);
    let (ok, verdicts) = advisor(
        &[
            "TLS_Connect",
            "MQTT_Connect",
            "MQTT_Publish",
            "MQTT_Subscribe",
            "MQTT_Publish_Retry_No_Puback",
        ],
        &device,
    );
    let want = [
        ("TLS_Connect", "PASS"),
        ("MQTT_Connect", "PASS"),
        ("MQTT_Publish", "PASS"),
        ("MQTT_Subscribe", "FAIL"),
        ("MQTT_Publish_Retry_No_Puback", "FAIL"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(verdicts, want);
    assert!(!ok, "a failed case fails the run");
}

#[test]
fn a_subscribing_device_acknowledges_qos1_messages() {
    let device = format!(r#"IOTMOCK_BIN sub {TLS} -t "$IOTMOCK_TOPIC" -q 1 -C 1 -W 20"#);
    let (ok, verdicts) = advisor(&["MQTT_Subscribe", "MQTT_Client_Puback_QoS1"], &device);
    assert_eq!(
        verdicts,
        vec![
            ("MQTT_Subscribe".into(), "PASS".into()),
            ("MQTT_Client_Puback_QoS1".into(), "PASS".into())
        ]
    );
    assert!(ok);
}

#[test]
fn the_case_list_names_device_advisor_ids() {
    let out = Command::new(env!("CARGO_BIN_EXE_iotmock"))
        .args(["advisor", "list"])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    for id in [
        "TLS_Connect",
        "MQTT_Connect_Jitter_Backoff_Retries",
        "Shadow_Publish_Reported_State",
        "Job_Execution",
    ] {
        assert!(text.contains(id), "{id} listed");
    }
}

/// The reference device with `flags`, run through `cases`; the verdicts in order.
fn reference(flags: &str, cases: &[&str]) -> Vec<String> {
    let device = format!("IOTMOCK_BIN reference-device {flags}");
    let mut args = vec!["--set", "EXECUTION_TIMEOUT=6"];
    args.extend_from_slice(cases);
    advisor(&args, &device)
        .1
        .into_iter()
        .map(|(_, v)| v)
        .collect()
}

#[test]
fn the_reference_device_passes_every_case_and_each_flag_fails_its_own() {
    // With the runner's allow-all policy every case passes but Security_Device_Policies.
    let all = reference("", &[]);
    assert_eq!(all.len(), 25);
    let (last, rest) = all.split_last().expect("verdicts");
    assert!(rest.iter().all(|v| v == "PASS"), "{all:?}");
    assert_eq!(last, "FAIL");
    // The least-privilege policy passes it, and the device still works under it.
    let policy = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/policies/reference-device.json"
    );
    let scoped = [
        "--policy",
        policy,
        "Security_Device_Policies",
        "MQTT_Client_Puback_QoS1",
        "Shadow_Update_Reported_State",
        "Job_Execution",
    ];
    assert_eq!(reference("", &scoped), ["PASS"; 4]);
    // The backoff flags are timing-sensitive, so they run in `.ci/advisor-matrix` (with the
    // whole matrix) rather than here beside the rest of the suite on a loaded machine.
    let certs = [
        "TLS_Unsecure_Server_Cert",
        "TLS_Incorrect_Subject_Name_Server_Cert",
        "TLS_Expired_Server_Cert",
    ];
    assert_eq!(
        reference("--accept-unknown-ca", &certs),
        ["FAIL", "PASS", "PASS"]
    );
    assert_eq!(
        reference("--accept-wrong-name", &certs),
        ["PASS", "FAIL", "PASS"]
    );
    assert_eq!(
        reference("--accept-expired-cert", &certs),
        ["PASS", "PASS", "FAIL"]
    );
    let retries = [
        "MQTT_Publish_Retry_No_Puback",
        "MQTT_Subscribe_Retry_No_Suback",
    ];
    assert_eq!(
        reference("--new-packet-id-on-retry", &retries),
        ["FAIL", "FAIL"]
    );
    assert_eq!(
        reference("--no-subscribe-retry", &retries),
        ["PASS", "FAIL"]
    );
    assert_eq!(
        reference("--no-ping-timeout", &["MQTT_No_Ack_PingResp"]),
        ["FAIL"]
    );
    assert_eq!(
        reference("--ignore-jobs", &["Job_Execution", "MQTT_Publish"]),
        ["FAIL", "PASS"]
    );
    let shadow = [
        "Shadow_Update_Reported_State",
        "Shadow_Publish_Reported_State",
    ];
    assert_eq!(
        reference("--ignore-shadow-delta", &shadow),
        ["FAIL", "PASS"]
    );
    let sessions = [
        "MQTT_Persistent_Session_Happy_Case",
        "MQTT_Expired_Persistent_Session",
    ];
    assert_eq!(reference("--clean-session", &sessions), ["FAIL", "FAIL"]);
    assert_eq!(
        reference("--always-resubscribe", &sessions),
        ["FAIL", "PASS"]
    );
    assert_eq!(
        reference("--never-resubscribe", &sessions),
        ["PASS", "FAIL"]
    );
}

#[test]
fn a_device_over_websocket_is_judged_like_one_over_mutual_tls() {
    let wss = r#"--transport wss --cafile "$IOTMOCK_CA_FILE" -h "$IOTMOCK_HOST" -p "$IOTMOCK_PORT" -i "$IOTMOCK_CLIENT_ID""#;
    let device = format!(r#"IOTMOCK_BIN pub {wss} -t "$IOTMOCK_TOPIC" -m hello -q 1"#);
    let cases = ["MQTT_Connect", "MQTT_Publish"];
    let (_, verdicts) = advisor_with(&cases, &device, &["--transport", "wss"]);
    let want: Vec<(String, String)> = [("MQTT_Connect", "PASS"), ("MQTT_Publish", "PASS")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(verdicts, want);
}

#[test]
fn a_device_with_a_custom_authorizer_is_judged_through_it() {
    let cases = [
        "Custom_Auth_Connect",
        "Custom_Auth_Token_Refresh",
        "Custom_Auth_Reconnect_After_Disconnect",
        "MQTT_Connect",
    ];
    let (ok, verdicts) = advisor_with(
        &cases,
        "IOTMOCK_BIN reference-device",
        &["--auth", "custom"],
    );
    let want: Vec<(String, String)> = cases
        .iter()
        .map(|c| (c.to_string(), "PASS".to_string()))
        .collect();
    assert_eq!(verdicts, want);
    assert!(ok);
    // A device that never connects gets the custom-auth cases' own failure.
    let (ok, verdicts) = advisor_with(
        &["Custom_Auth_Connect"],
        "sleep 30",
        &["--set", "EXECUTION_TIMEOUT=2"],
    );
    assert!(!ok);
    assert_eq!(verdicts[0].1, "FAIL");
}

#[test]
fn the_report_says_what_the_topic_rules_did_with_the_devices_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rule = dir.path().join("capture.json");
    let payload = r#"{"sql":"SELECT * FROM '#'","actions":[{"lambda":{"functionArn":"arn:aws:lambda:us-east-1:123456789012:function:ingest"}}]}"#;
    std::fs::write(&rule, payload).expect("rule file");
    let cold = dir.path().join("cold.json");
    let sql = r#"{"sql":"SELECT * FROM '#' WHERE t > 5","actions":[{"lambda":{"functionArn":"arn:aws:lambda:us-east-1:123456789012:function:cold"}}]}"#;
    std::fs::write(&cold, sql).expect("rule file");
    let json = dir.path().join("verdicts.json");
    let bin = env!("CARGO_BIN_EXE_iotmock");
    let device = format!(r#"{bin} pub {TLS} -t "$IOTMOCK_TOPIC" -m '{{"t":1}}' -q 1"#);
    let status = Command::new(bin)
        .args(["advisor", "run", "MQTT_Publish", "--rule"])
        .arg(&rule)
        .arg("--rule")
        .arg(&cold)
        .args(["--device-cmd", &device, "--json"])
        .arg(&json)
        .status()
        .expect("iotmock runs");
    assert!(status.success());
    let doc: Value = serde_json::from_slice(&std::fs::read(&json).expect("json")).expect("json");
    let lines = doc["cases"][0]["rules"].as_array().expect("a rule trace");
    let lines: Vec<&str> = lines.iter().filter_map(|l| l.as_str()).collect();
    let has = |want: &dyn Fn(&str) -> bool| lines.iter().any(|l| want(l));
    assert!(
        has(&|l| l.contains("rule capture: lambda Captured") && l.contains(r#"{"t":1}"#)),
        "{lines:?}"
    );
    assert!(
        has(&|l| l.contains("rule capture on ") && l.ends_with(": matched")),
        "{lines:?}"
    );
    assert!(
        has(&|l| l.contains("rule cold on ") && l.contains("not matched")),
        "{lines:?}"
    );
}
