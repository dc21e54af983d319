//! Device Shadow's in-flight bound under AWS's throttles: "more than 10 in-flight requests on
//! a single connection" are answered 429 on `.../rejected` at once, while the first 10 wait
//! for the (stalled) shadow service and are answered when it resumes; without the throttles
//! nothing is refused.

use crate::mqtt::{ALLOW_ALL, Fleet, next_on};
use iotmock_broker::BrokerSettings;
use iotmock_client::Version;
use serde_json::json;

async fn burst_while_stalled(throttle: bool, version: Version) -> Vec<(u64, String)> {
    let settings = BrokerSettings {
        throttle,
        ..BrokerSettings::default()
    };
    let mut fleet = Fleet::with_settings(settings).await;
    let dev = fleet.device("busy", Some(ALLOW_ALL)).await;
    let mut c = fleet.client(&dev, "busy", version).await;
    let p = "$aws/things/busy/shadow";
    c.subscribe(&[(format!("{p}/get/rejected").as_str(), 1)])
        .await
        .expect("suback");
    let held = fleet.mock.hold_service("shadow").expect("a shadow worker");
    for i in 0..12 {
        let token = json!({ "clientToken": format!("t{i}") }).to_string();
        c.publish(&format!("{p}/get"), token, 1, false)
            .await
            .expect("puback");
    }
    let mut answers = Vec::new();
    if throttle {
        for _ in 0..2 {
            let r = next_on(&mut c, &format!("{p}/get/rejected")).await;
            answers.push((
                r["code"].as_u64().unwrap(),
                r["clientToken"].as_str().unwrap().to_string(),
            ));
        }
    }
    drop(held);
    while answers.len() < 12 {
        let r = next_on(&mut c, &format!("{p}/get/rejected")).await;
        answers.push((
            r["code"].as_u64().unwrap(),
            r["clientToken"].as_str().unwrap().to_string(),
        ));
    }
    answers
}

#[tokio::test]
async fn over_ten_shadow_requests_in_flight_are_answered_429_under_the_throttles() {
    for v in [Version::V311, Version::V5] {
        let answers = burst_while_stalled(true, v).await;
        assert_eq!(
            answers[..2],
            [(429, "t10".to_string()), (429, "t11".to_string())],
            "the 11th and 12th at once ({v:?})"
        );
        assert!(
            answers[2..].iter().all(|(code, _)| *code == 404),
            "the first 10 answered when the service resumed: {answers:?}"
        );
    }
}

#[tokio::test]
async fn without_the_throttles_nothing_in_flight_is_refused() {
    let answers = burst_while_stalled(false, Version::V5).await;
    assert!(answers.iter().all(|(code, _)| *code == 404), "{answers:?}");
}
