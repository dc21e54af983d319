//! Who the broker admits, over real mutual TLS, MQTT 3.1.1 and 5.

use crate::mqtt::{ALLOW_ALL, BOTH, Fleet, assert_refused};
use iotmock_client::{ClientError, TlsOptions, Version};
use iotmock_testkit::{TestCa, self_signed};
use serde_json::json;

#[tokio::test]
async fn registered_active_certificate_with_policy_is_admitted() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    for v in BOTH {
        let (mut client, ack) = fleet.connect(&dev, "dev", v).await.expect("admitted");
        assert!(!ack.session_present);
        client.ping().await.expect("ping");
        client.disconnect().await.expect("disconnect");
    }
}

#[tokio::test]
async fn unknown_and_unregistered_certificates_are_refused_at_connect() {
    let mut fleet = Fleet::new().await;
    let stranger = TestCa::new("unregistered ca").leaf("x");
    let unregistered = fleet.ca.leaf("not registered");
    let self_signed = self_signed("nobody");
    let control = fleet.device("control", Some(ALLOW_ALL)).await;
    for v in BOTH {
        assert!(
            fleet.connect(&control, "control", v).await.is_ok(),
            "control case"
        );
        for minted in [&stranger, &unregistered, &self_signed] {
            assert_refused(fleet.connect_with(fleet.tls(minted), "x", v).await, v);
        }
    }
}

#[tokio::test]
async fn a_client_without_a_certificate_fails_the_handshake() {
    let fleet = Fleet::new().await;
    let result = fleet
        .connect_with(
            TlsOptions::new(fleet.mock.root_ca_pem()),
            "anon",
            Version::V311,
        )
        .await;
    assert!(
        matches!(
            result,
            Err(ClientError::Tls(_)) | Err(ClientError::ClosedBeforeConnack)
        ),
        "{:?}",
        result.err()
    );
}

#[tokio::test]
async fn status_rules_inactive_revoked_and_reactivation() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    for v in BOTH {
        fleet.set_status(&dev, "INACTIVE").await;
        assert_refused(fleet.connect(&dev, "dev", v).await, v);
        fleet.set_status(&dev, "ACTIVE").await;
        assert!(
            fleet.connect(&dev, "dev", v).await.is_ok(),
            "re-activated certificates connect again"
        );
    }
    fleet.set_status(&dev, "REVOKED").await;
    for v in BOTH {
        assert_refused(fleet.connect(&dev, "dev", v).await, v);
    }
}

#[tokio::test]
async fn no_policy_or_a_policy_without_connect_is_refused() {
    let mut fleet = Fleet::new().await;
    let bare = fleet.device("bare", None).await;
    let publish_only = fleet
        .device(
            "pub",
            Some(r#"{"Statement":{"Effect":"Allow","Action":"iot:Publish","Resource":"*"}}"#),
        )
        .await;
    let scoped = fleet
        .device("scoped", Some(r#"{"Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/sensor-*"}}"#))
        .await;
    let denied = fleet.device("denied", Some(ALLOW_ALL)).await;
    fleet
        .attach(&denied, r#"{"Statement":{"Effect":"Deny","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/blocked"}}"#)
        .await;
    for v in BOTH {
        assert_refused(fleet.connect(&bare, "bare", v).await, v);
        assert_refused(fleet.connect(&publish_only, "pub", v).await, v);
        assert!(fleet.connect(&scoped, "sensor-1", v).await.is_ok());
        assert_refused(fleet.connect(&scoped, "other-1", v).await, v);
        assert!(fleet.connect(&denied, "fine", v).await.is_ok());
        assert_refused(fleet.connect(&denied, "blocked", v).await, v);
    }
}

#[tokio::test]
async fn the_walkthrough_x509_v1_certificate_is_admitted_alone_or_with_its_ca() {
    let mut fleet = Fleet::new().await;
    let root = include_str!("../../fixtures/walkthrough/rootCA.pem");
    let cert = include_str!("../../fixtures/walkthrough/deviceCert.pem");
    let key = include_str!("../../fixtures/walkthrough/deviceCert.key");
    let chain = include_str!("../../fixtures/walkthrough/deviceCertAndCACert.crt");
    let body = json!({ "caCertificate": root, "certificateMode": "SNI_ONLY" });
    let ca = fleet
        .api
        .post("/cacertificate?setAsActive=true", body)
        .await
        .ok();
    assert!(ca["certificateId"].is_string());
    let dev = fleet
        .register(
            iotmock_testkit::Minted {
                cert_pem: cert.into(),
                key_pem: key.into(),
            },
            Some(ALLOW_ALL),
        )
        .await;
    for v in BOTH {
        assert!(
            fleet.connect(&dev, "deviceHoge", v).await.is_ok(),
            "v1 leaf alone"
        );
        let with_ca = TlsOptions::new(fleet.mock.root_ca_pem()).identity(chain, key);
        assert!(
            fleet.connect_with(with_ca, "deviceHoge", v).await.is_ok(),
            "leaf plus CA"
        );
    }
}

#[tokio::test]
async fn deactivation_closes_live_connections_at_once() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut v3 = fleet.client(&dev, "dev-3", Version::V311).await;
    let mut v5 = fleet.client(&dev, "dev-5", Version::V5).await;
    fleet.set_status(&dev, "INACTIVE").await;
    assert_eq!(v3.expect_closed().await.expect("closed"), None);
    assert_eq!(v5.expect_closed().await.expect("closed"), Some(0x87));
}

#[tokio::test]
async fn detaching_the_last_policy_closes_live_connections() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("dev", None).await;
    let policy = fleet.attach(&dev, ALLOW_ALL).await;
    let mut client = fleet.client(&dev, "dev", Version::V5).await;
    fleet
        .api
        .call(
            "POST",
            &format!("/target-policies/{policy}"),
            &[],
            Some(json!({ "target": dev.arn })),
        )
        .await
        .ok();
    assert_eq!(client.expect_closed().await.expect("closed"), Some(0x87));
    assert_refused(fleet.connect(&dev, "dev", Version::V5).await, Version::V5);
}

#[tokio::test]
async fn a_revoked_certificate_cannot_resume_a_tls_session() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut tls = fleet.tls(&dev.minted);
    tls.resumption = true;
    let config = iotmock_client::client_config(&tls).expect("tls");
    let opts = fleet.options("dev", Version::V311);
    let (client, _) = iotmock_client::DeviceClient::connect(config.clone(), &opts)
        .await
        .expect("first connect");
    client.disconnect().await.expect("disconnect");
    fleet.set_status(&dev, "REVOKED").await;
    let again = iotmock_client::DeviceClient::connect(config, &opts).await;
    assert_refused(again, Version::V311);
}

#[tokio::test]
async fn a_second_connection_with_the_same_client_id_takes_over() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut first = fleet.client(&dev, "same", Version::V5).await;
    let mut second = fleet.client(&dev, "same", Version::V5).await;
    assert_eq!(first.expect_closed().await.expect("closed"), Some(0x8E));
    second.ping().await.expect("the new connection stays");
    let mut old3 = fleet.client(&dev, "same3", Version::V311).await;
    let _new3 = fleet.client(&dev, "same3", Version::V311).await;
    assert_eq!(old3.expect_closed().await.expect("closed"), None);
}

#[tokio::test]
async fn client_ids_and_wills_are_checked_as_aws_does() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let long = "x".repeat(129);
    assert!(matches!(
        fleet.connect(&dev, "$reserved", Version::V5).await,
        Err(ClientError::Refused(0x85))
    ));
    assert!(matches!(
        fleet.connect(&dev, &long, Version::V5).await,
        Err(ClientError::Refused(0x85))
    ));
    assert!(matches!(
        fleet.connect(&dev, "$reserved", Version::V311).await,
        Err(ClientError::ClosedBeforeConnack)
    ));
    let (_, ack) = fleet
        .connect(&dev, "", Version::V5)
        .await
        .expect("v5 empty id gets one assigned");
    assert!(
        ack.props
            .assigned_client_id
            .is_some_and(|id| id.starts_with("iotmock-"))
    );
    let mut opts = fleet.options("willful", Version::V5);
    opts.will = Some(iotmock_client::Will {
        topic: "last/will".into(),
        payload: "bye".into(),
        qos: 2,
        retain: false,
    });
    let config = iotmock_client::client_config(&fleet.tls(&dev.minted)).expect("tls");
    assert!(matches!(
        iotmock_client::DeviceClient::connect(config, &opts).await,
        Err(ClientError::Refused(0x9B))
    ));
}

#[tokio::test]
async fn keep_alive_is_clamped_and_advertised() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut opts = fleet.options("ka", Version::V5);
    opts.keep_alive = 5;
    let config = iotmock_client::client_config(&fleet.tls(&dev.minted)).expect("tls");
    let (_, ack) = iotmock_client::DeviceClient::connect(config, &opts)
        .await
        .expect("admitted");
    assert_eq!(ack.props.server_keep_alive, Some(30));
}

#[tokio::test]
async fn a_thing_groups_policies_apply_to_its_members_certificates_live() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("grouped", None).await;
    assert_refused(
        fleet.connect(&dev, "grouped", Version::V5).await,
        Version::V5,
    );
    let api = &fleet.api;
    api.post("/things/grouped-thing", json!({})).await.ok();
    let principal = [("x-amzn-principal", dev.arn.as_str())];
    api.call("PUT", "/things/grouped-thing/principals", &principal, None)
        .await
        .ok();
    let group = api.post("/thing-groups/fleet-a", json!({})).await.ok();
    let group_arn = group["thingGroupArn"].as_str().expect("arn").to_string();
    let member = json!({ "thingGroupName": "fleet-a", "thingName": "grouped-thing" });
    api.call(
        "PUT",
        "/thing-groups/addThingToThingGroup",
        &[],
        Some(member.clone()),
    )
    .await
    .ok();
    api.post(
        "/policies/group-all",
        json!({ "policyDocument": ALLOW_ALL }),
    )
    .await
    .ok();
    let target = json!({ "target": group_arn });
    api.call(
        "PUT",
        "/target-policies/group-all",
        &[],
        Some(target.clone()),
    )
    .await
    .ok();
    let mut client = fleet.client(&dev, "grouped", Version::V5).await;
    client.ping().await.expect("the group's policy admits it");
    // Detaching the group's policy re-checks the live connection.
    api.call(
        "POST",
        "/target-policies/group-all",
        &[],
        Some(target.clone()),
    )
    .await
    .ok();
    assert_eq!(client.expect_closed().await.expect("closed"), Some(0x87));
    api.call("PUT", "/target-policies/group-all", &[], Some(target))
        .await
        .ok();
    let mut client = fleet.client(&dev, "grouped", Version::V5).await;
    // So does leaving the group.
    api.call(
        "PUT",
        "/thing-groups/removeThingFromThingGroup",
        &[],
        Some(member),
    )
    .await
    .ok();
    assert_eq!(client.expect_closed().await.expect("closed"), Some(0x87));
}

#[tokio::test]
async fn require_sni_closes_handshakes_that_name_no_host() {
    let settings = iotmock_broker::BrokerSettings {
        require_sni: true,
        ..Default::default()
    };
    let mut fleet = Fleet::with_settings(settings).await;
    let dev = fleet.device("sni", Some(ALLOW_ALL)).await;
    let mut by_ip = fleet.options("by-ip", Version::V5);
    by_ip.server_name = "127.0.0.1".into();
    let tls = iotmock_client::client_config(&fleet.tls(&dev.minted)).unwrap();
    let refused = iotmock_client::DeviceClient::connect(tls, &by_ip).await;
    assert!(refused.is_err(), "no SNI: closed");
    assert!(
        fleet.connect(&dev, "by-name", Version::V5).await.is_ok(),
        "SNI localhost: admitted"
    );
}
