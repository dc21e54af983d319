//! The in-process test helpers: a device in one call, waiting for it, retained messages.

use iotmock::MockIotCore;
use iotmock_client::{ConnectOptions, DeviceClient, TlsOptions, client_config};
use std::time::Duration;

#[tokio::test]
async fn a_device_in_one_call_connects_and_is_seen() {
    let mock = MockIotCore::builder().start().await.expect("starts");
    let device = mock.create_device("helper-1", None).expect("device");
    let mut watch = mock.watch_connections();
    let tls = TlsOptions::new(device.root_ca_pem.clone()).identity(
        device.certificate_pem.clone(),
        device.private_key_pem.clone(),
    );
    let opts = ConnectOptions::new(device.mqtt_addr.to_string(), &device.thing_name);
    let (mut c, _) = DeviceClient::connect(client_config(&tls).expect("tls"), &opts)
        .await
        .expect("admitted");
    watch
        .connected("helper-1", Duration::from_secs(5))
        .await
        .expect("seen connecting");
    c.publish("status/helper-1", "online", 1, true)
        .await
        .expect("puback");
    assert_eq!(
        mock.retained_message("status/helper-1"),
        Some((b"online".to_vec(), 1))
    );
    let other = watch.connected("nobody", Duration::from_millis(200)).await;
    assert!(other.is_err(), "a client that never came is reported");
}

#[tokio::test]
async fn a_test_device_connects_in_one_call_and_a_job_handle_follows_its_execution() {
    let mock = MockIotCore::builder().start().await.expect("starts");
    let device = mock.create_device("helper-2", None).expect("device");
    let mut c = device.connect(None).await.expect("admitted");
    c.subscribe(&[("$aws/things/helper-2/jobs/notify-next", 1)])
        .await
        .expect("suback");
    let job = mock.job("helper-job");
    job.create(&["helper-2"], r#"{"op":"reboot"}"#)
        .expect("created");
    let next = c.next_message().await.expect("notify-next");
    assert!(String::from_utf8_lossy(&next.payload).contains("helper-job"));
    c.publish(
        "$aws/things/helper-2/jobs/helper-job/update",
        r#"{"status":"SUCCEEDED"}"#,
        1,
        false,
    )
    .await
    .expect("puback");
    let done = job
        .wait_for(
            "helper-2",
            iotmock::ExecStatus::Succeeded,
            Duration::from_secs(5),
        )
        .await
        .expect("succeeded");
    assert_eq!(done.number, 1);
    let ca = iotmock::TestCa::new("re-exported");
    assert!(ca.leaf("x").cert_pem.contains("BEGIN CERTIFICATE"));
}

#[tokio::test]
async fn health_answers_once_every_listener_serves() {
    let mock = MockIotCore::builder().start().await.expect("starts");
    let url = format!("{}/iotmock/health", mock.api_url());
    let body = iotmock_client::get_text(&mock.api_url(), "/iotmock/health")
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    assert!(body.contains("ready"), "{body}");
}

#[tokio::test]
async fn an_address_in_use_names_the_flag_that_moves_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let refused = MockIotCore::builder().api_addr(addr).start().await;
    let why = refused.err().expect("the address is taken").to_string();
    assert!(
        why.contains("--api-addr") && why.contains("in use"),
        "{why}"
    );
}

#[test]
fn device_files_are_checked_before_any_connection() {
    let ca = iotmock_testkit::TestCa::new("files");
    let (a, b) = (ca.leaf("a"), ca.leaf("b"));
    let why = |cert: &str, key: &str| {
        let opts = TlsOptions::new(ca.pem()).identity(cert, key);
        client_config(&opts)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert!(why(&a.cert_pem, &b.key_pem).contains("does not belong"));
    assert!(why("not a pem", &a.key_pem).contains("no PEM CERTIFICATE"));
    assert!(why(&a.cert_pem, "junk").contains("not a PEM private key"));
    assert_eq!(why(&a.cert_pem, &a.key_pem), "");
}
