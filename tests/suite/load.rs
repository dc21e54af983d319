//! The load generator against the in-process mock, bounded to a few hundred connections.

use iotmock::MockIotCore;
use iotmock_client::Version;
use iotmock_client::load::devices::{KeyType, register, root_ca};
use iotmock_client::load::handshake::{self, HandshakePlan};
use iotmock_client::load::publish::{self, PublishPlan};
use std::sync::Arc;
use std::time::Duration;

async fn fleet(n: usize, key_type: KeyType) -> (MockIotCore, Vec<Arc<rustls::ClientConfig>>) {
    let mock = MockIotCore::builder().start().await.expect("mock");
    let api = mock.api_url();
    let root = root_ca(&api).await.expect("root");
    let ids = register(&api, n, key_type, &root).await.expect("devices");
    let configs = ids
        .iter()
        .map(|o| iotmock_client::client_config(o).expect("tls"))
        .collect();
    (mock, configs)
}

fn plan(mock: &MockIotCore, count: u64) -> HandshakePlan {
    HandshakePlan {
        login: None,
        addr: mock.mqtt_addr().to_string(),
        server_name: "localhost".into(),
        version: Version::V311,
        concurrency: 4,
        duration: Duration::from_secs(60),
        count: Some(count),
        rate: None,
        timeout: Duration::from_secs(10),
        id_prefix: "load".into(),
        websocket: None,
    }
}

#[tokio::test]
async fn handshakes_over_websocket_upgrade_then_connect() {
    let (mock, _) = fleet(1, KeyType::Ec).await;
    let addr = mock.port_443_addr().expect("port 443");
    let root = iotmock_client::TlsOptions::new(mock.root_ca_pem());
    let configs = vec![iotmock_client::client_config(&root).unwrap()];
    let url = crate::doors::presigned(mock.region(), mock.now_millis(), Some(600));
    let mut wss = plan(&mock, 50);
    wss.addr = addr.to_string();
    wss.websocket = Some(url);
    let report = handshake::run(wss, configs, false).await;
    assert_eq!(report.ok, 50, "{:?}", report.failures);
}

#[tokio::test]
async fn handshakes_are_counted_and_failures_sorted_by_cause() {
    let (mock, configs) = fleet(3, KeyType::Ec).await;
    let report = handshake::run(plan(&mock, 200), configs.clone(), false).await;
    assert_eq!(report.ok, 200, "{}", report.to_text());
    assert!(report.failures.is_empty());
    assert!(report.latency.len() == 200 && report.latency.value_at_quantile(0.99) > 0);

    let first = {
        let reg = mock.registry();
        let reg = reg.read().unwrap();
        let region = reg.region(mock.region()).unwrap();
        region.certs.keys().next().unwrap().clone()
    };
    mock.registry()
        .write()
        .unwrap()
        .update_certificate(mock.region(), &first, Some("INACTIVE"))
        .unwrap();
    let report = handshake::run(plan(&mock, 90), configs, false).await;
    assert_eq!(
        report.failures.get("closed before CONNACK"),
        Some(&30),
        "{}",
        report.to_text()
    );
    assert_eq!(report.ok, 60);
    let json = report.to_json();
    assert_eq!(json["failures"]["closed before CONNACK"], 30);
}

#[tokio::test]
async fn rsa_devices_from_create_keys_and_certificate_connect() {
    let (mock, configs) = fleet(1, KeyType::Rsa).await;
    let report = handshake::run(plan(&mock, 20), configs, false).await;
    assert_eq!(
        (report.ok, report.failures.len()),
        (20, 0),
        "{}",
        report.to_text()
    );
}

/// One publisher and one subscriber, QoS 0, 64 B, as fast as they go.
fn publish_plan(mock: &MockIotCore, run_label: &str) -> PublishPlan {
    PublishPlan {
        addr: mock.mqtt_addr().to_string(),
        server_name: "localhost".into(),
        version: Version::V311,
        publishers: 1,
        subscribers: 1,
        qos: 0,
        size: 64,
        count: 100,
        duration: Duration::from_secs(30),
        rate: None,
        run_label: run_label.into(),
        websocket: None,
    }
}

#[tokio::test]
async fn qos1_over_websocket_loses_nothing() {
    let (mock, _) = fleet(1, KeyType::Ec).await;
    let root = iotmock_client::TlsOptions::new(mock.root_ca_pem());
    let configs = vec![iotmock_client::client_config(&root).unwrap()];
    let plan = PublishPlan {
        addr: mock.port_443_addr().expect("port 443").to_string(),
        qos: 1,
        count: 500,
        websocket: Some(crate::doors::presigned(
            mock.region(),
            mock.now_millis(),
            Some(600),
        )),
        ..publish_plan(&mock, "wss")
    };
    let report = publish::run(plan, configs, false).await.expect("run");
    assert_eq!(report.ok, 500, "{}", report.to_text());
    assert_eq!(report.extra["lost"], 0);
}

#[tokio::test]
async fn publish_fan_out_loses_nothing() {
    let (mock, configs) = fleet(3, KeyType::Ec).await;
    for qos in [0, 1] {
        let plan = PublishPlan {
            version: Version::V5,
            subscribers: 2,
            qos,
            count: 300,
            ..publish_plan(&mock, &format!("fan-out-{qos}"))
        };
        let report = publish::run(plan, configs.clone(), false)
            .await
            .expect("run");
        assert_eq!(report.ok, 600, "{}", report.to_text());
        assert_eq!(report.extra["lost"], 0);
        assert_eq!(report.extra["duplicated"], 0);
    }
}

#[tokio::test]
async fn a_publish_rate_is_kept_on_schedule() {
    let (mock, configs) = fleet(3, KeyType::Ec).await;
    let plan = PublishPlan {
        publishers: 2,
        count: 100,
        rate: Some(1000.0),
        ..publish_plan(&mock, "paced")
    };
    let report = publish::run(plan, configs, false).await.expect("run");
    assert_eq!(report.ok, 200, "{}", report.to_text());
    // Two publishers at 500/s each: the 100th publish of each is due 198 ms after the start.
    assert!(
        report.elapsed >= Duration::from_millis(198),
        "200 at 1,000/s took only {:?}",
        report.elapsed
    );
}

/// `iotmock load ...` as a process, with `env` set; its standard output.
async fn load_cli(args: Vec<String>, env: Vec<(&'static str, String)>) -> String {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_iotmock"));
    cmd.arg("load").args(&args).envs(env).kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("the load run ends by itself")
        .expect("iotmock runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).expect("one JSON report")
}

#[tokio::test]
async fn three_indexed_workers_merge_into_the_report_of_one_run() {
    let mock = MockIotCore::builder().start().await.expect("mock");
    let (api, mqtt) = (mock.api_url(), mock.mqtt_addr().to_string());
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().to_string_lossy().into_owned();
    let target = strings(&[
        "handshake",
        "--api",
        &api,
        "--mqtt",
        &mqtt,
        "--devices",
        "3",
        "--count",
        "31",
        "-c",
        "2",
        "--json",
    ]);
    let workers: Vec<_> = (0..3)
        .map(|index| {
            let args = [target.clone(), strings(&["--out", &out])].concat();
            let env = vec![
                ("JOB_COMPLETION_INDEX", index.to_string()),
                ("IOTMOCK_LOAD_SHARDS", "3".to_string()),
            ];
            tokio::spawn(load_cli(args, env))
        })
        .collect();
    let mut parts = Vec::new();
    for w in workers {
        parts.push(json(&w.await.expect("worker")));
    }
    let oks: Vec<u64> = parts
        .iter()
        .map(|p| p["ok"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(oks, [11, 10, 10], "each worker takes its part of --count");

    let report_dir = dir.path().join("report");
    let report_arg = report_dir.to_string_lossy().into_owned();
    let merge = strings(&["merge", &out, "--json", "--report", &report_arg]);
    let merged = json(&load_cli(merge, vec![]).await);
    let single = json(&load_cli(target, vec![]).await);
    for key in ["ok", "samples", "failures"] {
        assert_eq!(merged[key], single[key], "{key}: {merged} vs {single}");
    }
    assert_eq!(merged["workers"], 3);
    let summed: u64 = parts
        .iter()
        .map(|p| p["samples"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(
        merged["samples"], summed,
        "histograms are added, sample by sample"
    );
    assert!(
        merged["client_cpu_us_per_op"].as_f64().is_some(),
        "{merged}"
    );
    let html = std::fs::read_to_string(report_dir.join("report.html")).expect("html");
    assert_eq!(
        html.matches("<svg").count(),
        3,
        "distribution, rate, latency over time (no failure: said in words)"
    );
    assert!(html.contains("No operation failed."));
    // Two runs side by side: the merged one against itself, no change anywhere.
    let compared = dir.path().join("compared");
    let args = strings(&[
        "compare",
        &report_arg,
        &report_arg,
        "--report",
        &compared.to_string_lossy(),
    ]);
    let text = load_cli(args, vec![]).await;
    assert!(
        text.contains("p99 (ms)") && text.contains("+0.0 %"),
        "{text}"
    );
    let page = std::fs::read_to_string(compared.join("compare.html")).expect("compare.html");
    assert_eq!(page.matches("<svg").count(), 2, "distribution and rate");
}

/// The served binary on its defaults (its own MQTT I/O thread, input coalescing on): a QoS 0
/// stream published back to back arrives whole, and QoS 1 publishes after it, which the
/// coalescing never holds back, all come through too.
#[tokio::test]
async fn the_served_mock_delivers_a_back_to_back_stream_whole() {
    let dir = tempfile::tempdir().expect("dir");
    let served = crate::crash::serve(dir.path());
    let (api, mqtt) = (format!("http://{}", served.api), served.mqtt.to_string());
    for qos in ["0", "1"] {
        let args = strings(&[
            "publish",
            "--api",
            &api,
            "--mqtt",
            &mqtt,
            "--devices",
            "2",
            "--count",
            "20000",
            "-q",
            qos,
            "--json",
        ]);
        let report = json(&load_cli(args, vec![]).await);
        assert_eq!(report["ok"], 20_000, "QoS {qos}: {report}");
        assert_eq!(report["extra"]["lost"], 0, "QoS {qos}: {report}");
        assert_eq!(report["extra"]["duplicated"], 0, "QoS {qos}: {report}");
    }
    crate::crash::terminate(served.child).await;
}

#[test]
fn json_means_one_thing_and_the_api_flag_is_endpoint_url() {
    let bin = env!("CARGO_BIN_EXE_iotmock");
    for sub in [&["load", "handshake"][..], &["advisor", "run"][..]] {
        let help = std::process::Command::new(bin)
            .args(sub)
            .arg("--help")
            .output()
            .expect("help");
        let text = String::from_utf8_lossy(&help.stdout);
        assert!(text.contains("--json [<JSON>]"), "{sub:?}: {text}");
    }
    let help = std::process::Command::new(bin)
        .args(["load", "handshake", "--help"])
        .output()
        .expect("help");
    assert!(String::from_utf8_lossy(&help.stdout).contains("--endpoint-url"));
}

#[tokio::test]
async fn many_connections_are_opened_held_at_once_and_closed() {
    let mock = MockIotCore::builder().start().await.expect("mock");
    let (api, mqtt) = (mock.api_url(), mock.mqtt_addr().to_string());
    let args = strings(&[
        "connections",
        "--endpoint-url",
        &api,
        "--mqtt",
        &mqtt,
        "--devices",
        "2",
        "--target",
        "300",
        "--rate",
        "2000",
        "--hold",
        "1s",
        "--keep-alive",
        "2",
        "--sources",
        "3",
        "--json",
    ]);
    let report = json(&load_cli(args, Vec::new()).await);
    assert_eq!(report["ok"], 300, "{report}");
    assert_eq!(report["failures"], serde_json::json!({}), "{report}");
    assert_eq!(
        report["extra"]["peak_open"], 300,
        "all 300 open at once: {report}"
    );
    assert_eq!(report["extra"]["held"], 300, "{report}");
    assert_eq!(
        report["extra"]["closed"], 300,
        "each closed with DISCONNECT: {report}"
    );
}
