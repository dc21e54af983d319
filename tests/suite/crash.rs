//! The real binary: SIGKILL during a burst of registrations loses nothing acknowledged;
//! SIGTERM drains and exits cleanly.

use crate::support::{Api, REGION};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `iotmock serve`: the child process and its API and MQTT addresses.
pub struct Served {
    pub child: Child,
    pub api: std::net::SocketAddr,
    pub mqtt: std::net::SocketAddr,
}

fn address(line: &str, prefix: &str) -> Option<std::net::SocketAddr> {
    let rest = line
        .strip_prefix(prefix)?
        .trim()
        .trim_start_matches("http://");
    rest.parse().ok()
}

/// Starts `iotmock serve` on free loopback ports with `state` as its state dir.
pub fn serve(state: &std::path::Path) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iotmock"))
        .args([
            "serve",
            "--api-addr",
            "127.0.0.1:0",
            "--mqtt-addr",
            "127.0.0.1:0",
            "--port-443-addr",
            "127.0.0.1:0",
            "--https-addr",
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
    let (mut api, mut mqtt) = (None, None);
    while api.is_none() || mqtt.is_none() {
        let line = lines.next().expect("a line before exit").expect("utf-8");
        api = api.or_else(|| address(&line, "iotmock API:"));
        mqtt = mqtt.or_else(|| address(&line, "MQTT (mTLS):"));
    }
    std::thread::spawn(move || for _ in lines {});
    let (api, mqtt) = (api.expect("api"), mqtt.expect("mqtt"));
    Served { child, api, mqtt }
}

/// Sends SIGTERM and waits (at most 10 s) for a clean exit.
pub async fn terminate(child: Child) {
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

fn start(state: &std::path::Path) -> (Child, std::net::SocketAddr) {
    let served = serve(state);
    (served.child, served.api)
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
    terminate(child).await;
}
