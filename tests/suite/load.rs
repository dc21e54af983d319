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
        addr: mock.mqtt_addr().to_string(),
        server_name: "localhost".into(),
        version: Version::V311,
        concurrency: 4,
        duration: Duration::from_secs(60),
        count: Some(count),
        rate: None,
        timeout: Duration::from_secs(10),
    }
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

#[tokio::test]
async fn publish_fan_out_loses_nothing() {
    let (mock, configs) = fleet(3, KeyType::Ec).await;
    for qos in [0, 1] {
        let plan = PublishPlan {
            addr: mock.mqtt_addr().to_string(),
            server_name: "localhost".into(),
            version: Version::V5,
            publishers: 1,
            subscribers: 2,
            qos,
            size: 64,
            count: 300,
            duration: Duration::from_secs(30),
        };
        let report = publish::run(plan, configs.clone(), false)
            .await
            .expect("run");
        assert_eq!(report.ok, 600, "{}", report.to_text());
        assert_eq!(report.extra["lost"], 0);
        assert_eq!(report.extra["duplicated"], 0);
    }
}
