//! Publish, subscribe and delivery with AWS's rules, limits and per-message policy checks.

use crate::mqtt::{ALLOW_ALL, BOTH, Fleet};
use iotmock_client::{ClientError, DeviceClient, Packet, Publish, Version};
use std::time::Duration;

#[tokio::test]
async fn messages_route_across_versions_with_wildcards() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut sub3 = fleet.client(&dev, "sub3", Version::V311).await;
    let mut sub5 = fleet.client(&dev, "sub5", Version::V5).await;
    assert_eq!(
        sub3.subscribe(&[("sensors/+/temp", 1)])
            .await
            .expect("suback"),
        vec![1]
    );
    assert_eq!(
        sub5.subscribe(&[("sensors/#", 0)]).await.expect("suback"),
        vec![0]
    );
    for v in BOTH {
        let mut publisher = fleet.client(&dev, &format!("pub-{v:?}"), v).await;
        assert_eq!(
            publisher
                .publish("sensors/kitchen/temp", "21.5", 1, false)
                .await
                .expect("puback"),
            Some(0)
        );
        let m3 = sub3.next_message().await.expect("v3 delivery");
        assert_eq!(
            (m3.topic.as_str(), &m3.payload[..], m3.qos),
            ("sensors/kitchen/temp", &b"21.5"[..], 1)
        );
        let m5 = sub5.next_message().await.expect("v5 delivery");
        assert_eq!(
            (m5.qos, m5.retain),
            (0, false),
            "delivered QoS is min(publish, granted)"
        );
    }
}

#[tokio::test]
async fn hash_does_not_match_the_parent_level_on_aws() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut sub = fleet.client(&dev, "sub", Version::V311).await;
    sub.subscribe(&[("sensor/#", 1)]).await.expect("suback");
    let mut publisher = fleet.client(&dev, "pub", Version::V311).await;
    publisher
        .publish("sensor", "parent", 1, false)
        .await
        .expect("puback");
    publisher
        .publish("sensor/a", "child", 1, false)
        .await
        .expect("puback");
    assert_eq!(
        &sub.next_message().await.expect("delivery").payload[..],
        b"child"
    );
}

#[tokio::test]
async fn denied_publish_closes_3_1_1_and_gets_puback_0x87_on_5() {
    let mut fleet = Fleet::new().await;
    let policy = r#"{"Statement":[
        {"Effect":"Allow","Action":"iot:Connect","Resource":"*"},
        {"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/ok/*"}]}"#;
    let dev = fleet.device("dev", Some(policy)).await;
    let mut v5 = fleet.client(&dev, "v5", Version::V5).await;
    assert_eq!(
        v5.publish("ok/1", "x", 1, false).await.expect("puback"),
        Some(0)
    );
    assert_eq!(
        v5.publish("secret/1", "x", 1, false).await.expect("puback"),
        Some(0x87)
    );
    v5.ping().await.expect("still connected");
    assert_eq!(
        v5.publish("ok/retained", "x", 1, true)
            .await
            .expect("puback"),
        Some(0x87),
        "retain needs iot:RetainPublish"
    );
    let mut v3 = fleet.client(&dev, "v3", Version::V311).await;
    let closed = v3.publish("secret/1", "x", 1, false).await;
    assert!(
        matches!(
            closed,
            Err(ClientError::Closed { reason: None }) | Err(ClientError::Io(_))
        ),
        "{closed:?}"
    );
}

#[tokio::test]
async fn denied_subscribe_gets_a_failure_code_and_the_connection_stays() {
    let mut fleet = Fleet::new().await;
    let policy = r#"{"Statement":[
        {"Effect":"Allow","Action":["iot:Connect","iot:Receive"],"Resource":"*"},
        {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:*:*:topicfilter/ok/*"}]}"#;
    let dev = fleet.device("dev", Some(policy)).await;
    for (v, code) in [(Version::V311, 0x80), (Version::V5, 0x87)] {
        let mut c = fleet.client(&dev, &format!("c-{v:?}"), v).await;
        assert_eq!(
            c.subscribe(&[("ok/#", 1), ("other/#", 1)])
                .await
                .expect("suback"),
            vec![1, code]
        );
        c.ping().await.expect("still connected");
    }
}

#[tokio::test]
async fn subscription_limits_answer_as_aws_does() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    for (v, quota, invalid) in [(Version::V311, 0x80, 0x80), (Version::V5, 0x97, 0x8F)] {
        let mut c = fleet.client(&dev, &format!("lim-{v:?}"), v).await;
        let nine: Vec<String> = (0..9).map(|i| format!("n/{i}")).collect();
        let nine: Vec<(&str, u8)> = nine.iter().map(|f| (f.as_str(), 0)).collect();
        assert_eq!(
            c.subscribe(&nine).await.expect("suback"),
            vec![quota; 9],
            "more than 8 filters in one SUBSCRIBE"
        );
        for batch in 0..7 {
            let size = if batch == 6 { 2 } else { 8 };
            let filters: Vec<String> = (0..size).map(|i| format!("t/{batch}/{i}")).collect();
            let filters: Vec<(&str, u8)> = filters.iter().map(|f| (f.as_str(), 0)).collect();
            c.subscribe(&filters).await.expect("suback");
        }
        assert_eq!(
            c.subscribe(&[("t/x", 0)]).await.expect("suback"),
            vec![quota],
            "51st subscription"
        );
        assert_eq!(
            c.subscribe(&[("bad/#/x", 0)]).await.expect("suback"),
            vec![invalid]
        );
    }
}

#[tokio::test]
async fn receive_is_checked_on_every_delivery() {
    let mut fleet = Fleet::new().await;
    let policy = r#"{"Statement":[
        {"Effect":"Allow","Action":["iot:Connect","iot:Publish","iot:Subscribe","iot:Receive"],"Resource":"*"},
        {"Effect":"Deny","Action":"iot:Receive","Resource":"arn:aws:iot:*:*:topic/a/restricted/*"}]}"#;
    let dev = fleet.device("dev", Some(policy)).await;
    let mut sub = fleet.client(&dev, "sub", Version::V311).await;
    assert_eq!(sub.subscribe(&[("a/#", 1)]).await.expect("suback"), vec![1]);
    let mut publisher = fleet.client(&dev, "pub", Version::V311).await;
    publisher
        .publish("a/restricted/x", "hidden", 1, false)
        .await
        .expect("puback");
    publisher
        .publish("a/open", "shown", 1, false)
        .await
        .expect("puback");
    assert_eq!(
        &sub.next_message().await.expect("delivery").payload[..],
        b"shown"
    );
}

#[tokio::test]
async fn qos2_reserved_topics_and_oversize_payloads_are_refused() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut v5 = fleet.client(&dev, "q5", Version::V5).await;
    v5.send(&Packet::Publish(Publish {
        pkid: 1,
        ..Publish::new("t", "x".into(), 2, false)
    }))
    .await
    .expect("send");
    assert_eq!(v5.expect_closed().await.expect("closed"), Some(0x9B));
    let mut v5 = fleet.client(&dev, "r5", Version::V5).await;
    assert_eq!(
        v5.publish("$SYS/x", "x", 1, false).await.expect("puback"),
        Some(0x90)
    );
    assert_eq!(
        v5.publish("1/2/3/4/5/6/7/8/9", "x", 1, false)
            .await
            .expect("puback"),
        Some(0x90)
    );
    let mut v3 = fleet.client(&dev, "big3", Version::V311).await;
    let big = vec![b'x'; 128 * 1024 + 1];
    let r = v3.publish("t", big, 1, false).await;
    assert!(
        r.is_err(),
        "payload over 128 KB closes the connection: {r:?}"
    );
    let mut v3 = fleet.client(&dev, "sys3", Version::V311).await;
    assert!(
        v3.publish("$aws/events/presence/connected/x", "x", 1, false)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn unsubscribe_stops_delivery() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut sub = fleet.client(&dev, "sub", Version::V5).await;
    sub.subscribe(&[("u/1", 1), ("u/2", 1)])
        .await
        .expect("suback");
    assert_eq!(
        sub.unsubscribe(&["u/1", "never"]).await.expect("unsuback"),
        vec![0, 0x11]
    );
    let mut publisher = fleet.client(&dev, "pub", Version::V5).await;
    publisher
        .publish("u/1", "gone", 1, false)
        .await
        .expect("puback");
    publisher
        .publish("u/2", "kept", 1, false)
        .await
        .expect("puback");
    assert_eq!(
        &sub.next_message().await.expect("delivery").payload[..],
        b"kept"
    );
}

/// The MQTT I/O threads alive in this process.
fn io_threads() -> usize {
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task");
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("mqtt-io-"))
        .count()
}

#[tokio::test]
async fn io_threads_serve_deliver_between_them_coalesce_and_stop() {
    let settings = iotmock_broker::BrokerSettings {
        io_threads: 3,
        // A wait after any round with a QoS 0 publish, when input came back within 5 ms.
        coalescing: iotmock_broker::Coalescing {
            window: Duration::from_millis(5),
            min_packets: 1,
        },
        ..iotmock_broker::BrokerSettings::default()
    };
    let mut fleet = Fleet::with_settings(settings).await;
    assert_eq!(io_threads(), 3, "one thread per listener of the group");
    let dev = fleet.device("spread", Some(ALLOW_ALL)).await;
    // Enough connections that the kernel's spread over three listeners puts some on each.
    let mut subs = Vec::new();
    for i in 0..9 {
        let mut c = fleet.client(&dev, &format!("sub-{i}"), Version::V5).await;
        c.subscribe(&[("spread/t", 1)]).await.expect("suback");
        subs.push(c);
    }
    let mut publisher = fleet.client(&dev, "pub", Version::V311).await;
    let acked = publisher.publish("spread/t", "hi", 1, false).await;
    assert_eq!(acked.expect("puback"), Some(0));
    for c in &mut subs {
        let m = c.next_message().await.expect("delivery");
        assert_eq!(&m.payload[..], b"hi");
    }
    coalesce_for_streams_only(&mut publisher, &mut subs, fleet.mock.broker()).await;
    let addr = fleet.mock.mqtt_addr();
    let crate::mqtt::Fleet { mock, .. } = fleet;
    let stopping = tokio::spawn(mock.shutdown());
    for c in &mut subs {
        assert_eq!(c.expect_closed().await.expect("closed"), Some(0x8B));
    }
    stopping.await.expect("shut down");
    let again = std::net::TcpListener::bind(addr);
    assert!(again.is_ok(), "every listener of the group is closed");
}

/// A stream of QoS 0 publishes arrives whole and in order, and makes the publisher's thread
/// wait for more; QoS 1 publishes answered one at a time never do.
async fn coalesce_for_streams_only(
    publisher: &mut DeviceClient,
    subs: &mut [DeviceClient],
    broker: &iotmock_broker::BrokerCore,
) {
    // Back to back, as fast as the client writes.
    for i in 0..300u32 {
        let sent = publisher.publish("spread/t", i.to_string(), 0, false).await;
        assert_eq!(sent.expect("sent"), None);
    }
    // Then in pairs, each pair one round of work (PINGREQ comes back after both are handled).
    for i in 300..400u32 {
        let sent = publisher.publish("spread/t", i.to_string(), 0, false).await;
        assert_eq!(sent.expect("sent"), None);
        if i % 2 == 1 {
            publisher.ping().await.expect("PINGRESP");
        }
    }
    for c in subs.iter_mut() {
        for i in 0..400u32 {
            let m = c.next_message().await.expect("delivery");
            assert_eq!(m.payload, i.to_string().as_bytes(), "in order");
        }
    }
    // The round that answers this PUBACK comes after any wait the stream's last round took.
    let acked = publisher.publish("spread/t", "q1", 1, false).await;
    assert_eq!(acked.expect("puback"), Some(0));
    let after_stream = broker.coalesced_waits();
    assert!(after_stream > 0, "a QoS 0 stream is read in batches");
    for _ in 0..20 {
        let acked = publisher.publish("spread/t", "q1", 1, false).await;
        assert_eq!(acked.expect("puback"), Some(0));
    }
    for c in subs.iter_mut() {
        for _ in 0..21 {
            assert_eq!(
                &c.next_message().await.expect("delivery").payload[..],
                b"q1"
            );
        }
    }
    assert_eq!(
        broker.coalesced_waits(),
        after_stream,
        "nobody waits for QoS 1"
    );
}

#[tokio::test]
async fn a_message_over_the_clients_maximum_packet_size_is_not_sent_to_it() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("small", Some(ALLOW_ALL)).await;
    let mut opts = fleet.options("small", Version::V5);
    opts.max_packet_size = Some(200);
    let tls = iotmock_client::client_config(&fleet.tls(&dev.minted)).unwrap();
    let (mut small, _) = iotmock_client::DeviceClient::connect(tls, &opts)
        .await
        .unwrap();
    small.subscribe(&[("sized/#", 1)]).await.unwrap();
    let mut sender = fleet.client(&dev, "sender", Version::V5).await;
    sender
        .publish("sized/big", vec![b'x'; 1000], 1, false)
        .await
        .unwrap();
    sender
        .publish("sized/small", "fits", 1, false)
        .await
        .unwrap();
    let got = small.next_message().await.unwrap();
    assert_eq!(
        got.topic, "sized/small",
        "the 1000-byte message was not sent"
    );
    // The limit is the client's own: a client without one gets both.
    let mut any = fleet.client(&dev, "any", Version::V5).await;
    any.subscribe(&[("sized/#", 1)]).await.unwrap();
    sender
        .publish("sized/big", vec![b'x'; 1000], 1, false)
        .await
        .unwrap();
    assert_eq!(any.next_message().await.unwrap().topic, "sized/big");
}
