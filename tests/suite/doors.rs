//! The doors besides 8883: MQTT over WebSocket with a SigV4 presigned URL and MQTT with a
//! client certificate on the port-443 listener, HTTPS publish with a client certificate on
//! 8443 and on port 443 (ALPN `x-amzn-http-ca`), each under AWS's checks.

use crate::mqtt::{ALLOW_ALL, Fleet, body};
use iotmock_client::{
    ClientError, ConnectOptions, DeviceClient, TlsOptions, Version, client_config,
};
use serde_json::json;
use std::net::SocketAddr;

/// `yyyymmddThhmmssZ` for `ms` since the epoch.
fn amz_date(ms: i64) -> String {
    let (days, secs) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000) / 1000);
    let (y, m, d) = iotmock_model::civil_from_days(days);
    let (h, mi, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    format!("{y:04}{m:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// A presigned `/mqtt` URL as the AWS SDKs build it (the mock does not verify signatures
/// by default, so any 64 hex digits do), the session token appended after signing.
pub fn presigned(region: &str, signed_ms: i64, expires: Option<u64>) -> String {
    presigned_as("AKIDDOORS", region, signed_ms, expires)
}

/// [`presigned`] for the access key `key`.
pub fn presigned_as(key: &str, region: &str, signed_ms: i64, expires: Option<u64>) -> String {
    let date = amz_date(signed_ms);
    let scope = format!(
        "{key}/{}/{region}/iotdevicegateway/aws4_request",
        &date[..8]
    );
    let mut url = form_urlencoded::Serializer::new(String::from("/mqtt?"));
    url.append_pair("X-Amz-Algorithm", "AWS4-HMAC-SHA256")
        .append_pair("X-Amz-Credential", &scope)
        .append_pair("X-Amz-Date", &date);
    if let Some(secs) = expires {
        url.append_pair("X-Amz-Expires", &secs.to_string());
    }
    url.append_pair("X-Amz-SignedHeaders", "host")
        .append_pair("X-Amz-Signature", &"0f".repeat(32))
        .append_pair("X-Amz-Security-Token", "FwoGZXIvYXdzE/token+==");
    url.finish().replacen("/mqtt?&", "/mqtt?", 1)
}

pub fn wss_options(
    fleet: &Fleet,
    client_id: &str,
    version: Version,
    url: String,
) -> ConnectOptions {
    let addr = fleet.mock.port_443_addr().expect("port 443 is open");
    let mut opts = ConnectOptions::new(addr.to_string(), client_id).version(version);
    opts.websocket = Some(url);
    opts
}

async fn wss(fleet: &Fleet, client_id: &str, version: Version) -> DeviceClient {
    let url = presigned(fleet.mock.region(), fleet.mock.now_millis(), Some(3600));
    let tls = client_config(&TlsOptions::new(fleet.mock.root_ca_pem())).unwrap();
    let opts = wss_options(fleet, client_id, version, url);
    DeviceClient::connect(tls, &opts)
        .await
        .expect("admitted over WSS")
        .0
}

#[tokio::test]
async fn mqtt_over_websocket_publishes_and_subscribes_in_both_versions() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("tls-dev", Some(ALLOW_ALL)).await;
    let mut device = fleet.client(&dev, "tls-dev", Version::V311).await;
    device.subscribe(&[("doors/up/#", 1)]).await.unwrap();
    for version in [Version::V311, Version::V5] {
        let id = format!("browser-{version:?}");
        let mut browser = wss(&fleet, &id, version).await;
        browser.subscribe(&[("doors/down", 1)]).await.unwrap();
        device
            .publish("doors/down", r#"{"to":"browser"}"#, 1, false)
            .await
            .unwrap();
        let got = browser.next_message().await.unwrap();
        assert_eq!(body(&got), json!({ "to": "browser" }));
        let code = browser
            .publish(&format!("doors/up/{id}"), r#"{"from":"browser"}"#, 1, false)
            .await
            .unwrap();
        assert_eq!(code, Some(0), "PUBACK success");
        let up = device.next_message().await.unwrap();
        assert_eq!(up.topic, format!("doors/up/{id}"));
        browser.disconnect().await.ok();
    }
}

#[tokio::test]
async fn a_packet_split_across_websocket_frames_is_reassembled() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
    let fleet = Fleet::new().await;
    let addr = fleet.mock.port_443_addr().unwrap();
    let tls = client_config(&TlsOptions::new(fleet.mock.root_ca_pem())).unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .unwrap();
    let url = presigned(fleet.mock.region(), fleet.mock.now_millis(), None);
    let mut request = format!("wss://localhost{url}")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "mqtt".parse().unwrap());
    let (mut ws, response) = tokio_tungstenite::client_async(request, stream)
        .await
        .unwrap();
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "mqtt",
        "echoed"
    );
    let connect = iotmock_mqtt::Packet::Connect(iotmock_mqtt::Connect {
        client_id: "split".into(),
        keep_alive: 30,
        clean_start: true,
        will: None,
        username: None,
        password: None,
        max_packet_size: None,
        session_expiry: None,
    });
    let ping = iotmock_mqtt::Packet::PingReq;
    let mut bytes = bytes::BytesMut::new();
    iotmock_mqtt::encode(&connect, Version::V311, &mut bytes).unwrap();
    iotmock_mqtt::encode(&ping, Version::V311, &mut bytes).unwrap();
    let (head, rest) = bytes.split_at(5);
    ws.send(Message::Binary(bytes::Bytes::copy_from_slice(head)))
        .await
        .unwrap();
    ws.send(Message::Binary(bytes::Bytes::copy_from_slice(rest)))
        .await
        .unwrap();
    let mut seen = bytes::BytesMut::new();
    while seen.len() < 6 {
        match ws.next().await.expect("frames").unwrap() {
            Message::Binary(b) => seen.extend_from_slice(&b),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(&seen[..4], &[0x20, 0x02, 0x00, 0x00], "CONNACK accepted");
    assert_eq!(&seen[4..6], &[0xD0, 0x00], "PINGRESP");
}

async fn refused(fleet: &Fleet, url: String) -> u16 {
    let tls = client_config(&TlsOptions::new(fleet.mock.root_ca_pem())).unwrap();
    let opts = wss_options(fleet, "refused", Version::V311, url);
    match DeviceClient::connect(tls, &opts).await {
        Err(ClientError::Upgrade(status)) => status,
        Err(other) => panic!("expected a refused upgrade, got {other}"),
        Ok(_) => panic!("expected a refused upgrade, got admitted"),
    }
}

#[tokio::test]
async fn refused_urls_get_403_on_the_upgrade() {
    let fleet = Fleet::new().await;
    let (region, now) = (fleet.mock.region().to_string(), fleet.mock.now_millis());
    assert_eq!(refused(&fleet, "/mqtt".into()).await, 403, "no SigV4 query");
    let expired = presigned(&region, now - 120_000, Some(60));
    assert_eq!(refused(&fleet, expired).await, 403, "expired");
    let elsewhere = presigned("eu-central-1", now, Some(60));
    assert_eq!(refused(&fleet, elsewhere).await, 403, "another region");
    let unsigned = presigned(&region, now, None).replace("X-Amz-Signature", "X-Amz-Nothing");
    assert_eq!(refused(&fleet, unsigned).await, 403, "no signature");
    let future = presigned(&region, now + 3_600_000, None);
    assert_eq!(refused(&fleet, future).await, 403, "signed an hour ahead");
}

#[tokio::test]
async fn port_443_serves_mqtt_with_a_client_certificate_under_alpn() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("alpn", Some(ALLOW_ALL)).await;
    let mut tls = fleet.tls(&dev.minted);
    tls.alpn = vec![b"x-amzn-mqtt-ca".to_vec()];
    let addr = fleet.mock.port_443_addr().unwrap();
    let opts = ConnectOptions::new(addr.to_string(), "alpn");
    let (mut client, _) = DeviceClient::connect(client_config(&tls).unwrap(), &opts)
        .await
        .expect("admitted on 443");
    client.ping().await.unwrap();
    let unknown = fleet.ca.leaf("never-registered");
    let mut tls = fleet.tls(&unknown);
    tls.alpn = vec![b"x-amzn-mqtt-ca".to_vec()];
    let opts = ConnectOptions::new(addr.to_string(), "stranger");
    let result = DeviceClient::connect(client_config(&tls).unwrap(), &opts).await;
    assert!(
        result.is_err(),
        "an unregistered certificate is refused as on 8883"
    );
}

/// One HTTP/1.1 request over TLS with `tls` (a client certificate, ALPN) to `addr`: the
/// status and the JSON body.
pub(crate) async fn https(
    addr: SocketAddr,
    tls: &TlsOptions,
    path: &str,
    headers: &str,
    payload: &[u8],
) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut stream = tokio_rustls::TlsConnector::from(client_config(tls).unwrap())
        .connect(name, tcp)
        .await
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n",
        payload.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(payload).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.ok();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn https_publish_with_a_certificate_reaches_an_8883_subscriber_under_its_policy() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("poster", Some(ALLOW_ALL)).await;
    let mut watcher = fleet.client(&dev, "watcher", Version::V5).await;
    watcher.subscribe(&[("doors/http/#", 1)]).await.unwrap();
    let https_addr = fleet.mock.https_addr().unwrap();
    let tls = fleet.tls(&dev.minted);
    let props = "x-amz-mqtt5-user-properties: W3siZGV2aWNlTmFtZSI6ImFscGhhIn1d\r\n";
    let (status, answer) = https(
        https_addr,
        &tls,
        "/topics/doors%2Fhttp%2Fa?qos=1",
        props,
        b"{\"n\":1}",
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["message"], "OK");
    let got = watcher.next_message().await.unwrap();
    assert_eq!(got.topic, "doors/http/a");
    let user = got
        .properties
        .map(|p| p.user_properties)
        .unwrap_or_default();
    assert_eq!(user, vec![("deviceName".to_string(), "alpha".to_string())]);
    let mut on_443 = tls.clone();
    on_443.alpn = vec![b"x-amzn-http-ca".to_vec()];
    let port_443 = fleet.mock.port_443_addr().unwrap();
    let (status, _) = https(port_443, &on_443, "/topics/doors%2Fhttp%2Fb", "", b"{}").await;
    assert_eq!(status, 200);
    assert_eq!(watcher.next_message().await.unwrap().topic, "doors/http/b");
    let big = vec![b'x'; 128 * 1024 + 1];
    let (status, _) = https(https_addr, &tls, "/topics/doors%2Fhttp%2Fbig", "", &big).await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn https_publish_is_forbidden_without_the_right_or_an_active_certificate() {
    let mut fleet = Fleet::new().await;
    let only_reads = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/allowed"}]}"#;
    let dev = fleet.device("narrow", Some(only_reads)).await;
    let addr = fleet.mock.https_addr().unwrap();
    let tls = fleet.tls(&dev.minted);
    let (status, _) = https(addr, &tls, "/topics/allowed", "", b"{}").await;
    assert_eq!(status, 200);
    let (status, answer) = https(addr, &tls, "/topics/elsewhere", "", b"{}").await;
    assert_eq!(status, 403, "{answer}");
    let (status, _) = https(addr, &tls, "/topics/allowed?retain=true", "", b"{}").await;
    assert_eq!(status, 403, "retained needs iot:RetainPublish");
    fleet.set_status(&dev, "INACTIVE").await;
    let (status, answer) = https(addr, &tls, "/topics/allowed", "", b"{}").await;
    assert_eq!(status, 403, "{answer}");
    let (status, _) = https(addr, &tls, "/things", "", b"{}").await;
    assert_eq!(status, 403, "a certificate may only publish");
}

/// A fleet on a mock that verifies WebSocket URLs with `keys` (`AKID:SECRET`).
async fn strict(keys: &str) -> Fleet {
    let secrets = iotmock::SigV4Secrets::parse(keys).unwrap();
    let mock = iotmock::MockIotCore::builder()
        .sigv4_credentials(secrets)
        .start()
        .await
        .unwrap();
    Fleet::on(mock).await
}

#[tokio::test]
async fn with_sigv4_credentials_a_wrong_signature_is_refused() {
    let fleet = strict("AKIDDOORS:secret").await;
    let url = presigned(fleet.mock.region(), fleet.mock.now_millis(), Some(60));
    assert_eq!(refused(&fleet, url).await, 403, "a made-up signature");
}

#[tokio::test]
async fn the_device_clients_signed_url_verifies_in_strict_mode() {
    use iotmock_client::presign::{AwsCredentials, mqtt_path};
    let fleet = strict("AKIDRUST:s3cr3t").await;
    let addr = fleet.mock.port_443_addr().unwrap();
    let now = std::time::UNIX_EPOCH
        + std::time::Duration::from_millis(fleet.mock.now_millis().try_into().unwrap());
    let sign = |secret: &str| {
        let creds = AwsCredentials {
            access_key: "AKIDRUST".into(),
            secret_key: secret.into(),
            session_token: Some("session/token+==".into()),
        };
        let host = format!("localhost:{}", addr.port());
        let expires = std::time::Duration::from_secs(60);
        mqtt_path(&host, fleet.mock.region(), &creds, now, expires).unwrap()
    };
    let tls = client_config(&TlsOptions::new(fleet.mock.root_ca_pem())).unwrap();
    let opts = wss_options(&fleet, "signed", Version::V311, sign("s3cr3t"));
    let (mut client, _) = DeviceClient::connect(tls, &opts)
        .await
        .expect("a correctly signed URL is admitted");
    client.ping().await.unwrap();
    assert_eq!(refused(&fleet, sign("wrong")).await, 403, "another secret");
}
