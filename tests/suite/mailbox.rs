//! What waits in a connection's mailbox when the connection ends is not lost: a persistent
//! session keeps it at QoS 1 and gets it on its next connection.

use crate::mqtt::{ALLOW_ALL, Fleet};
use iotmock_broker::FaultPlan;
use iotmock_client::{DeviceClient, Version, client_config};
use std::time::Duration;

#[tokio::test]
async fn deliveries_still_in_the_mailbox_when_a_persistent_session_drops_are_kept() {
    let mut fleet = Fleet::new().await;
    let dev = fleet.device("keeper", Some(ALLOW_ALL)).await;
    let broker = fleet.mock.broker().clone();
    // After its 3rd packet (CONNECT, SUBSCRIBE, PINGREQ) the connection answers, stops for a
    // while (what is routed to it meanwhile waits in its mailbox), then drops.
    let plan = FaultPlan {
        stall: Some((3, Duration::from_secs(3))),
        drop_after: Some(3),
        ..FaultPlan::default()
    };
    broker.set_fault_plan("keeper", plan);
    let tls = || client_config(&fleet.tls(&dev.minted)).expect("tls");
    let mut opts = fleet.options("keeper", Version::V311);
    opts.clean_start = false;
    let (mut keeper, _) = DeviceClient::connect(tls(), &opts).await.expect("admitted");
    keeper.subscribe(&[("kept/t", 1)]).await.expect("suback");
    // The PINGRESP is written just before the stall begins.
    keeper.ping().await.expect("pingresp");
    for i in 0..5 {
        broker.publish("kept/t", format!("m{i}").into(), 1, false);
    }
    keeper.expect_closed().await.expect("dropped by its plan");
    broker.clear_fault_plan("keeper");

    let (mut keeper, ack) = DeviceClient::connect(tls(), &opts)
        .await
        .expect("admitted again");
    assert!(ack.session_present, "the persistent session is back");
    for i in 0..5 {
        let m = tokio::time::timeout(Duration::from_secs(10), keeper.next_message())
            .await
            .expect("a message the mailbox held")
            .expect("delivered");
        assert_eq!(&m.payload[..], format!("m{i}").as_bytes());
    }
}
