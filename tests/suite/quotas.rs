//! The account's retained-message quota (`max_retained`; AWS's figure is only published by
//! third parties, so it is a setting): past it, a retained publish with a payload to a topic
//! that holds none is answered as throttled (MQTT 5 PUBACK 0x97, HTTP 429) and goes nowhere;
//! replacing or clearing a retained message still works.

use crate::mqtt::{ALLOW_ALL, Fleet};
use iotmock_broker::BrokerSettings;
use iotmock_client::Version;
use serde_json::json;

#[tokio::test]
async fn past_the_retained_quota_a_new_retained_topic_is_throttled() {
    let settings = BrokerSettings {
        max_retained: 2,
        ..BrokerSettings::default()
    };
    let mut fleet = Fleet::with_settings(settings).await;
    let dev = fleet.device("keeper", Some(ALLOW_ALL)).await;
    let mut c = fleet.client(&dev, "keeper", Version::V5).await;
    for topic in ["q/a", "q/b"] {
        let code = c.publish(topic, "kept", 1, true).await.expect("puback");
        assert_ne!(code, Some(0x97), "{topic} within the quota");
    }
    let code = c
        .publish("q/c", "one too many", 1, true)
        .await
        .expect("puback");
    assert_eq!(code, Some(0x97), "a third retained topic is over the quota");
    let replaced = c.publish("q/a", "replaced", 1, true).await.expect("puback");
    assert_ne!(
        replaced,
        Some(0x97),
        "replacing a retained message is not a new one"
    );
    let plain = c
        .publish("q/c", "live only", 1, false)
        .await
        .expect("puback");
    assert_ne!(plain, Some(0x97), "a publish without RETAIN is not counted");

    let retained = fleet.api.get("/retainedMessage").await.ok();
    let topics: Vec<&str> = retained["retainedTopics"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["topic"].as_str())
        .collect();
    assert_eq!(topics.len(), 2, "{retained}");
    assert!(!topics.contains(&"q/c"));

    let over = fleet
        .api
        .post("/topics/q%2Fd?qos=1&retain=true", json!({"x": 1}))
        .await;
    over.err(429, "ThrottlingException");
}

/// Messages `c` receives before one whose payload is `marker`.
async fn received_before(c: &mut iotmock_client::DeviceClient, marker: &[u8]) -> usize {
    let mut n = 0;
    loop {
        let m = c.next_message().await.expect("a message");
        if &m.payload[..] == marker {
            return n;
        }
        n += 1;
    }
}

#[tokio::test]
async fn the_accounts_publishes_per_second_bound_inbound_and_outbound_under_the_throttles() {
    let settings = BrokerSettings {
        throttle: true,
        account_publishes_per_second: 3,
        ..BrokerSettings::default()
    };
    let (mock, clock) = crate::support::clocked_mock_with(settings).await;
    let mut fleet = Fleet::on(mock).await;
    let mut subs = Vec::new();
    for name in ["rate-a", "rate-b"] {
        let dev = fleet.device(name, Some(ALLOW_ALL)).await;
        let mut c = fleet.client(&dev, name, Version::V5).await;
        c.subscribe(&[("rate/t", 1)]).await.expect("suback");
        subs.push(c);
    }
    let dev = fleet.device("rate-pub", Some(ALLOW_ALL)).await;
    let mut publisher = fleet.client(&dev, "rate-pub", Version::V5).await;
    let mut codes = Vec::new();
    for i in 0..4 {
        codes.push(
            publisher
                .publish("rate/t", format!("m{i}"), 1, false)
                .await
                .expect("puback"),
        );
    }
    assert!(codes[..3].iter().all(|c| *c != Some(0x97)), "{codes:?}");
    assert_eq!(
        codes[3],
        Some(0x97),
        "the 4th inbound publish of the second"
    );

    clock.advance(std::time::Duration::from_secs(1));
    let code = publisher
        .publish("rate/t", "after", 1, false)
        .await
        .expect("puback");
    assert_ne!(code, Some(0x97), "a new second");
    let mut delivered = 0;
    for c in &mut subs {
        delivered += received_before(c, b"after").await;
    }
    assert_eq!(
        delivered, 3,
        "3 of the first second's 6 deliveries are made"
    );
}
