//! Hostile and broken clients: each is closed cleanly and the broker keeps serving others.

use crate::mqtt::{ALLOW_ALL, Fleet};
use iotmock_broker::BrokerSettings;
use iotmock_client::{ClientError, Version};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn strict_fleet() -> Fleet {
    let settings = BrokerSettings {
        handshake_timeout: Duration::from_millis(300),
        connect_timeout: Duration::from_millis(300),
        max_connections: 8,
        ..BrokerSettings::default()
    };
    Fleet::with_settings(settings).await
}

/// Reads until the server closes; panics if it does not within 5 s.
async fn closed_by_server(stream: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    let waited = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(waited.is_ok(), "the server did not close the connection");
}

#[tokio::test]
async fn a_stalled_tls_handshake_is_cut_at_its_deadline() {
    let mut fleet = strict_fleet().await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut slow = TcpStream::connect(fleet.mock.mqtt_addr())
        .await
        .expect("tcp");
    slow.write_all(&[0x16, 0x03, 0x01])
        .await
        .expect("a partial ClientHello");
    closed_by_server(&mut slow).await;
    let mut silent = TcpStream::connect(fleet.mock.mqtt_addr())
        .await
        .expect("tcp");
    closed_by_server(&mut silent).await;
    assert!(
        fleet
            .connect(&dev, "still-served", Version::V311)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn garbage_and_missing_connects_are_closed() {
    let mut fleet = strict_fleet().await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let config = iotmock_client::client_config(&fleet.tls(&dev.minted)).expect("tls");
    let connector = tokio_rustls::TlsConnector::from(config);
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    for bytes in [
        &b""[..],
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        &[0x10, 0xff, 0xff, 0xff, 0x7f][..],
        &[0x30, 0x02, 0x00][..],
    ] {
        let tcp = TcpStream::connect(fleet.mock.mqtt_addr())
            .await
            .expect("tcp");
        let mut tls = connector.connect(name.clone(), tcp).await.expect("tls");
        tls.write_all(bytes).await.expect("write");
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf))
            .await
            .expect("closed in time");
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "{bytes:?} should be closed without an answer, got {read:?}"
        );
    }
    let mut c = fleet.client(&dev, "after", Version::V311).await;
    c.ping().await.expect("the broker still serves");
}

#[tokio::test]
async fn garbage_after_connect_closes_only_that_client() {
    let mut fleet = strict_fleet().await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut bystander = fleet.client(&dev, "bystander", Version::V5).await;
    let mut bad = fleet.client(&dev, "bad", Version::V5).await;
    bad.send(&iotmock_client::Packet::ConnAck {
        session_present: false,
        code: 0,
        props: Default::default(),
    })
    .await
    .expect("send");
    assert!(
        matches!(bad.expect_closed().await, Ok(Some(0x82))),
        "protocol error"
    );
    bystander.ping().await.expect("others are unaffected");
}

#[tokio::test]
async fn connections_past_the_limit_are_refused() {
    let mut fleet = strict_fleet().await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut held = Vec::new();
    for i in 0..8 {
        held.push(fleet.client(&dev, &format!("c{i}"), Version::V311).await);
    }
    let over = fleet.connect(&dev, "one-too-many", Version::V311).await;
    assert!(
        matches!(
            over,
            Err(ClientError::Tls(_)) | Err(ClientError::ClosedBeforeConnack)
        ),
        "{:?}",
        over.err()
    );
    drop(held.pop());
    let again = async {
        loop {
            if fleet
                .connect(&dev, "room-again", Version::V311)
                .await
                .is_ok()
            {
                return;
            }
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), again)
        .await
        .expect("a slot frees when a client leaves");
}

#[tokio::test]
async fn throttling_applies_aws_limits_when_on() {
    let settings = BrokerSettings {
        throttle: true,
        ..BrokerSettings::default()
    };
    let mut fleet = Fleet::with_settings(settings).await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let (first, _) = fleet
        .connect(&dev, "eager", Version::V5)
        .await
        .expect("first connect");
    drop(first);
    assert!(
        matches!(
            fleet.connect(&dev, "eager", Version::V5).await,
            Err(ClientError::Refused(0x97))
        ),
        "a second CONNECT within the second"
    );
    let mut c = fleet.client(&dev, "chatty", Version::V5).await;
    let mut codes = Vec::new();
    for _ in 0..120 {
        codes.push(c.publish("t/x", "x", 1, false).await.expect("puback"));
    }
    let refused = codes.iter().filter(|c| **c == Some(0x97)).count();
    assert!(
        refused >= 1,
        "publishes beyond 100 in a second are refused: {refused}"
    );
}

#[tokio::test]
async fn under_the_throttles_an_account_takes_500_connects_a_second() {
    let settings = BrokerSettings {
        throttle: true,
        ..BrokerSettings::default()
    };
    let (mock, clock) = crate::support::clocked_mock_with(settings).await;
    let mut fleet = Fleet::on(mock).await;
    let dev = fleet.device("many", Some(ALLOW_ALL)).await;
    for i in 0..500 {
        let (c, _) = fleet
            .connect(&dev, &format!("many-{i}"), Version::V311)
            .await
            .unwrap_or_else(|e| panic!("CONNECT {i} of the second: {e}"));
        drop(c);
    }
    assert!(
        matches!(
            fleet.connect(&dev, "many-500", Version::V5).await,
            Err(ClientError::Refused(0x97))
        ),
        "the 501st CONNECT of the second is refused as over the quota"
    );
    clock.advance(Duration::from_secs(1));
    fleet
        .connect(&dev, "many-501", Version::V5)
        .await
        .expect("the next second takes CONNECTs again");
}

#[tokio::test]
async fn connect_attributes_can_be_required() {
    let settings = BrokerSettings {
        require_connect_attributes: true,
        ..BrokerSettings::default()
    };
    let mut fleet = Fleet::with_settings(settings).await;
    let plain = fleet.device("plain", Some(ALLOW_ALL)).await;
    let persistent_ok = fleet
        .device(
            "persistent",
            Some(r#"{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*",
                "Condition":{"ForAllValues:StringEquals":{"iot:ConnectAttributes":["PersistentConnect"]}}}}"#),
        )
        .await;
    let config = |d: &crate::mqtt::Device| {
        iotmock_client::client_config(&fleet.tls(&d.minted)).expect("tls")
    };
    let mut opts = fleet.options("p", Version::V5);
    opts.session_expiry = Some(60);
    assert!(matches!(
        iotmock_client::DeviceClient::connect(config(&plain), &opts).await,
        Err(ClientError::Refused(0x87))
    ));
    assert!(
        iotmock_client::DeviceClient::connect(config(&persistent_ok), &opts)
            .await
            .is_ok()
    );
    assert!(
        fleet.connect(&plain, "clean", Version::V5).await.is_ok(),
        "clean sessions need no attribute"
    );
}

#[tokio::test]
async fn a_second_connect_and_a_flood_of_connects_leave_others_served() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut bystander = fleet.client(&dev, "bystander", Version::V5).await;
    let mut twice = fleet.client(&dev, "twice", Version::V5).await;
    let again = iotmock_client::Packet::Connect(iotmock_client::Connect {
        client_id: "twice".into(),
        keep_alive: 30,
        clean_start: true,
        will: None,
        username: None,
        password: None,
        max_packet_size: None,
        session_expiry: None,
    });
    twice.send(&again).await.expect("send");
    assert_eq!(
        twice.expect_closed().await.expect("closed"),
        Some(0x82),
        "a second CONNECT is a protocol error"
    );
    let flood: Vec<_> = (0..40)
        .map(|i| {
            let config = iotmock_client::client_config(&fleet.tls(&dev.minted)).expect("tls");
            let opts = fleet.options(&format!("flood-{i}"), Version::V311);
            tokio::spawn(async move {
                iotmock_client::DeviceClient::connect(config, &opts)
                    .await
                    .is_ok()
            })
        })
        .collect();
    let mut admitted = 0;
    for f in flood {
        admitted += usize::from(f.await.expect("join"));
    }
    assert_eq!(admitted, 40, "every CONNECT of the flood was answered");
    bystander
        .ping()
        .await
        .expect("the bystander is still served");
}

#[tokio::test]
async fn the_broker_picks_aes_128_gcm_first_as_aws_lists_it() {
    use rustls::CipherSuite as C;
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("suites", Some(ALLOW_ALL)).await;
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    // The client (rustls' default order) prefers AES-256-GCM; the server's order wins.
    for (tls12_only, want) in [
        (false, C::TLS13_AES_128_GCM_SHA256),
        (true, C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
    ] {
        let mut opts = fleet.tls(&dev.minted);
        opts.tls12_only = tls12_only;
        let config = iotmock_client::client_config(&opts).expect("tls");
        let first = config.crypto_provider().cipher_suites[0].suite();
        assert_ne!(
            first, want,
            "the client's own first choice is another suite"
        );
        let tcp = TcpStream::connect(fleet.mock.mqtt_addr())
            .await
            .expect("tcp");
        let connector = tokio_rustls::TlsConnector::from(config);
        let tls = connector.connect(name.clone(), tcp).await.expect("tls");
        let suite = tls.get_ref().1.negotiated_cipher_suite().map(|s| s.suite());
        assert_eq!(suite, Some(want));
    }
}
