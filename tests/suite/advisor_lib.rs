//! The advisor as a library: a firmware test in Rust runs a case against a device future.

use bytes::Bytes;
use iotmock::advisor::{CaseId, DeviceEnv, Outcome, check_device};
use iotmock_client::{ConnectOptions, DeviceClient, Packet, Publish, TlsOptions, client_config};
use std::time::Duration;

/// A device that connects, publishes once at QoS 0 and then idles.
async fn publishes_once(env: DeviceEnv) {
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
    let tls =
        TlsOptions::new(read(&env.ca_file)).identity(read(&env.cert_file), read(&env.key_file));
    let Ok(config) = client_config(&tls) else {
        return;
    };
    let mut opts = ConnectOptions::new(format!("{}:{}", env.host, env.port), env.client_id);
    opts.server_name = env.host;
    opts.timeout = Duration::from_secs(5);
    let Ok((mut client, _)) = DeviceClient::connect(config, &opts).await else {
        return;
    };
    let hello = Publish::new(env.topic, Bytes::from_static(b"hello"), 0, false);
    if client.send(&Packet::Publish(hello)).await.is_ok() {
        std::future::pending::<()>().await;
    }
}

#[tokio::test]
async fn a_device_future_gets_a_verdict_with_its_evidence() {
    let passed = check_device(CaseId::MqttPublish, &[], publishes_once)
        .await
        .expect("the case runs");
    assert_eq!(
        passed.verdict.outcome,
        Outcome::Pass,
        "{:?}",
        passed.verdict
    );
    assert!(
        passed.evidence.iter().any(|l| l.contains("-> PUBLISH")),
        "{:?}",
        passed.evidence
    );
    // The same device never sends a QoS 1 PUBLISH, so it cannot show a retry.
    let settings = [("EXECUTION_TIMEOUT", "2")];
    let failed = check_device(CaseId::PublishRetryNoPuback, &settings, publishes_once)
        .await
        .expect("the case runs");
    assert_eq!(failed.verdict.outcome, Outcome::Fail);
    assert!(
        failed.verdict.reason.starts_with("timed out"),
        "{:?}",
        failed.verdict
    );
}
