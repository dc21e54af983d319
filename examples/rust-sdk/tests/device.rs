//! Tests a Rust team would write against iotmock: the official AWS SDK registers a device, and
//! rumqttc, an MQTT client they already use, connects with it over mutual TLS.

use aws_sdk_iot::config::{BehaviorVersion, Credentials, Region};
use iotmock::MockIotCore;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS, Transport};
use std::time::Duration;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"iot:Connect","Resource":"*"},
  {"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:*:*:topic/sensors/*"},
  {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:*:*:topicfilter/sensors/*"}]}"#;

/// The AWS SDK client pointed at the mock, as any test would configure it.
async fn iot_client(mock: &MockIotCore) -> aws_sdk_iot::Client {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(mock.api_url())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "example"))
        .load()
        .await;
    aws_sdk_iot::Client::new(&config)
}

/// A certificate with its key, registered and attached through the SDK.
struct Device {
    id: String,
    cert_pem: String,
    key_pem: String,
}

async fn register(
    iot: &aws_sdk_iot::Client,
    thing: &str,
) -> Result<Device, Box<dyn std::error::Error>> {
    let keys = iot
        .create_keys_and_certificate()
        .set_as_active(true)
        .send()
        .await?;
    let arn = keys.certificate_arn().ok_or("no certificate ARN")?;
    iot.create_policy()
        .policy_name(format!("{thing}-policy"))
        .policy_document(POLICY)
        .send()
        .await?;
    iot.attach_policy()
        .policy_name(format!("{thing}-policy"))
        .target(arn)
        .send()
        .await?;
    iot.create_thing().thing_name(thing).send().await?;
    iot.attach_thing_principal()
        .thing_name(thing)
        .principal(arn)
        .send()
        .await?;
    let pair = keys.key_pair().ok_or("no key pair")?;
    Ok(Device {
        id: keys
            .certificate_id()
            .ok_or("no certificate id")?
            .to_string(),
        cert_pem: keys.certificate_pem().ok_or("no certificate")?.to_string(),
        key_pem: pair.private_key().ok_or("no private key")?.to_string(),
    })
}

/// rumqttc options for `device` on the mock's MQTT endpoint (the host DescribeEndpoint gives).
async fn mqtt(
    iot: &aws_sdk_iot::Client,
    mock: &MockIotCore,
    client_id: &str,
    device: &Device,
) -> Result<(AsyncClient, EventLoop), Box<dyn std::error::Error>> {
    let endpoint = iot
        .describe_endpoint()
        .endpoint_type("iot:Data-ATS")
        .send()
        .await?;
    let host = endpoint.endpoint_address().ok_or("no endpoint")?;
    let mut options = MqttOptions::new(client_id, host, mock.mqtt_addr().port());
    options.set_keep_alive(Duration::from_secs(30));
    let identity = (
        device.cert_pem.clone().into_bytes(),
        device.key_pem.clone().into_bytes(),
    );
    options.set_transport(Transport::tls(
        mock.root_ca_pem().as_bytes().to_vec(),
        Some(identity),
        None,
    ));
    Ok(AsyncClient::new(options, 16))
}

/// Polls `events` until `want` matches a packet, or fails after 10 s.
async fn until<F: Fn(&Packet) -> bool>(events: &mut EventLoop, want: F) -> TestResult {
    let wait = async {
        loop {
            if let Event::Incoming(packet) = events.poll().await?
                && want(&packet)
            {
                return Ok::<(), rumqttc::ConnectionError>(());
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait).await??;
    Ok(())
}

#[tokio::test]
async fn a_device_registered_with_the_sdk_publishes_to_a_subscriber() -> TestResult {
    let mock = MockIotCore::builder().start().await?;
    let iot = iot_client(&mock).await;
    let device = register(&iot, "sensor-1").await?;

    let (subscriber, mut sub_events) = mqtt(&iot, &mock, "sensor-1-sub", &device).await?;
    subscriber.subscribe("sensors/#", QoS::AtLeastOnce).await?;
    until(&mut sub_events, |p| matches!(p, Packet::SubAck(_))).await?;

    let (publisher, mut pub_events) = mqtt(&iot, &mock, "sensor-1", &device).await?;
    publisher
        .publish("sensors/temp", QoS::AtLeastOnce, false, b"21.5".to_vec())
        .await?;
    until(&mut pub_events, |p| matches!(p, Packet::PubAck(_))).await?;
    until(&mut sub_events, |p| {
        matches!(p, Packet::Publish(m) if m.topic == "sensors/temp" && m.payload.as_ref() == b"21.5")
    })
    .await?;

    let listed = iot
        .list_thing_principals()
        .thing_name("sensor-1")
        .send()
        .await?;
    assert_eq!(listed.principals().len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_deactivated_certificate_is_refused_and_sdk_errors_are_typed() -> TestResult {
    let mock = MockIotCore::builder().start().await?;
    let iot = iot_client(&mock).await;
    let device = register(&iot, "sensor-2").await?;
    iot.update_certificate()
        .certificate_id(&device.id)
        .new_status(aws_sdk_iot::types::CertificateStatus::Inactive)
        .send()
        .await?;
    let (_client, mut events) = mqtt(&iot, &mock, "sensor-2", &device).await?;
    let refused = tokio::time::timeout(Duration::from_secs(10), events.poll()).await?;
    assert!(
        refused.is_err(),
        "an INACTIVE certificate connected: {refused:?}"
    );

    let denied = iot
        .describe_certificate()
        .certificate_id("0".repeat(64))
        .send()
        .await
        .expect_err("no such certificate");
    assert!(
        denied
            .as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception()),
        "{denied:?}"
    );
    Ok(())
}

#[tokio::test]
async fn the_testing_helpers_make_a_device_in_one_call() -> TestResult {
    let mock = MockIotCore::builder().start().await?;
    let made = mock.create_device("sensor-3", None)?;
    let device = Device {
        id: made.certificate_id.clone(),
        cert_pem: made.certificate_pem.clone(),
        key_pem: made.private_key_pem.clone(),
    };
    let iot = iot_client(&mock).await;
    let mut watch = mock.watch_connections();
    let (client, mut events) = mqtt(&iot, &mock, "sensor-3", &device).await?;
    until(&mut events, |p| matches!(p, Packet::ConnAck(_))).await?;
    watch.connected("sensor-3", Duration::from_secs(5)).await?;
    client
        .publish("sensors/state", QoS::AtLeastOnce, true, b"on".to_vec())
        .await?;
    until(&mut events, |p| matches!(p, Packet::PubAck(_))).await?;
    let retained = mock
        .retained_message("sensors/state")
        .ok_or("nothing retained")?;
    assert_eq!(retained, (b"on".to_vec(), 1));
    Ok(())
}
