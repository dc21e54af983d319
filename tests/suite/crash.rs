//! The real binary: SIGKILL during a burst of registrations loses nothing acknowledged;
//! SIGTERM drains and exits cleanly.

use crate::support::{Api, REGION};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Starts `iotmock serve` on free loopback ports; returns the child and its API address.
fn start(state: &std::path::Path) -> (Child, std::net::SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iotmock"))
        .args([
            "serve",
            "--api-addr",
            "127.0.0.1:0",
            "--mqtt-addr",
            "127.0.0.1:0",
            "--state-dir",
        ])
        .arg(state)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("iotmock starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines.next().expect("a line before exit").expect("utf-8");
        if let Some(url) = line.strip_prefix("iotmock API:") {
            break url
                .trim()
                .trim_start_matches("http://")
                .parse()
                .expect("address");
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

#[tokio::test]
async fn sigkill_during_a_burst_loses_no_acknowledged_registration() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = start(dir.path());
    let api = Api::new(addr, REGION);
    let mut acked = Vec::new();
    let burst = async {
        for i in 0.. {
            let a = api
                .post(
                    &format!("/things/burst-{i}"),
                    json!({ "attributePayload": { "attributes": { "n": i.to_string() } } }),
                )
                .await;
            if a.status == 200 {
                acked.push(i);
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(1500), burst).await;
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    assert!(
        acked.len() > 10,
        "the burst got going ({} acknowledged)",
        acked.len()
    );

    let (mut child, addr) = start(dir.path());
    let api = Api::new(addr, REGION);
    for i in &acked {
        let got = api.get(&format!("/things/burst-{i}")).await;
        assert_eq!(got.status, 200, "acknowledged thing burst-{i} was lost");
        assert_eq!(got.body["attributes"]["n"], i.to_string());
    }
    child.kill().expect("stop");
    let _ = child.wait();
}

#[tokio::test]
async fn sigterm_drains_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (child, addr) = start(dir.path());
    let api = Api::new(addr, REGION);
    api.post("/things/before-term", json!({})).await.ok();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let waited = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::task::spawn_blocking(move || {
            let mut child = child;
            child.wait()
        }),
    )
    .await
    .expect("iotmock exits after SIGTERM");
    let code = waited.expect("join").expect("wait");
    assert!(code.success(), "exit status {code:?}");
}
