//! Keep-alive, ends, throttles, QoS 1 flow, wills, aliases and expiry.
use super::*;
use crate::admit::admit;
use crate::{Action, End, Rules, Session, Start, Stored};
use bytes::Bytes;
use iotmock_model::CertStatus;
use iotmock_mqtt::{Packet, Publish, Version, Will};
use std::sync::Arc;

/// A version 5 session allowed everything, under `rules`.
fn with_rules(rules: &Rules) -> Session {
    let a = admit(
        info(connect("dev"), Version::V5),
        rules,
        &mut env(principal(ALL)),
        t0(),
    )
    .unwrap();
    Session::start(a, Start::default(), rules, t0()).0
}

#[test]
fn keep_alive_expires_at_one_and_a_half_times_the_interval() {
    let mut s = open(Version::V5, ALL);
    assert_eq!(s.deadline(), t0() + 90_000);
    assert!(s.tick(t0() + 89_999).is_empty());
    s.handle(Packet::PingReq, t0() + 60_000);
    assert!(s.tick(t0() + 120_000).is_empty());
    let actions = s.tick(t0() + 150_000);
    assert_eq!(disconnect_code(&actions), Some(0x8D));
    let event = &routed(&actions)[0];
    assert!(String::from_utf8_lossy(&event.payload).contains("MQTT_KEEP_ALIVE_TIMEOUT"));
}

#[test]
fn a_certificate_expiring_while_connected_ends_the_connection() {
    let mut p = (*principal(ALL)).clone();
    p.cert.not_after = t0() / 1000 + 10;
    let (mut s, _) = open_with(connect("dev"), Version::V5, Arc::new(p), Start::default());
    assert_eq!(s.deadline(), (t0() / 1000 + 11) * 1000);
    let actions = s.tick(s.deadline());
    assert_eq!(disconnect_code(&actions), Some(0x87));
    assert_eq!(
        ended(&actions),
        Some(End::Closed(crate::CloseReason::NotAuthorized))
    );
}

#[test]
fn takeover_and_shutdown_say_why() {
    let mut s = open(Version::V5, ALL);
    let actions = s.taken_over(t0());
    assert_eq!(disconnect_code(&actions), Some(0x8E));
    assert!(String::from_utf8_lossy(&routed(&actions)[0].payload).contains("DUPLICATE_CLIENTID"));
    let mut s = open(Version::V5, ALL);
    let actions = s.shutdown(t0());
    assert_eq!(disconnect_code(&actions), Some(0x8B));
    assert!(
        String::from_utf8_lossy(&routed(&actions)[0].payload)
            .contains("SERVER_INITIATED_DISCONNECT")
    );
    assert!(s.shutdown(t0()).is_empty(), "a session ends once");
}

#[test]
fn the_publish_throttle_discards_the_101st_publish_in_a_second() {
    let rules = Rules {
        throttle: true,
        ..Rules::default()
    };
    let mut s = with_rules(&rules);
    for i in 1..=100 {
        assert_eq!(puback(&s.handle(publish("t", 1, i), t0())), Some(0));
    }
    assert_eq!(
        puback(&s.handle(publish("t", 1, 101), t0() + 999)),
        Some(0x97)
    );
    assert_eq!(
        puback(&s.handle(publish("t", 1, 102), t0() + 1000)),
        Some(0)
    );
}

#[test]
fn denied_publishes_close_3_1_1_and_answer_0x87_on_5() {
    let mut s = open(Version::V5, LIMITED);
    assert_eq!(puback(&s.handle(publish("w/x", 1, 1), t0())), Some(0x87));
    let mut s = open(Version::V311, LIMITED);
    let actions = s.handle(publish("w/x", 1, 1), t0());
    assert_eq!(
        ended(&actions),
        Some(End::Closed(crate::CloseReason::Forbidden))
    );
}

#[test]
fn retained_publishes_to_reserved_topics_are_refused() {
    let mut s = open(Version::V5, ALL);
    let p = Publish {
        pkid: 1,
        ..Publish::new(
            "$aws/things/t/shadow/update",
            Bytes::from_static(b"{}"),
            1,
            true,
        )
    };
    assert_eq!(puback(&s.handle(Packet::Publish(p), t0())), Some(0x90));
}

#[test]
fn qos1_deliveries_wait_for_room_in_a_window_of_100() {
    let mut s = open(Version::V5, ALL);
    let mut out = Vec::new();
    for _ in 0..101 {
        s.deliver(message("t"), 1, t0(), &mut out);
    }
    assert_eq!(delivered(&out).len(), 100);
    let actions = s.handle(Packet::PubAck { pkid: 1, reason: 0 }, t0());
    assert_eq!(
        delivered(&actions).len(),
        1,
        "the waiting delivery goes out"
    );
}

#[test]
fn qos1_deliveries_beyond_the_window_are_bounded_in_bytes() {
    let rules = Rules {
        queue_bytes: 4 * 1024,
        ..Rules::default()
    };
    let mut s = with_rules(&rules);
    let big = Arc::new(Publish::new("t", Bytes::from(vec![0u8; 1000]), 1, false));
    let mut out = Vec::new();
    for _ in 0..110 {
        s.deliver(big.clone(), 1, t0(), &mut out);
    }
    assert_eq!(delivered(&out).len(), 100, "the window of 100 went out");
    assert_eq!(
        s.pending.len(),
        3,
        "then 4 KiB of 1,064-byte messages waits"
    );
    assert_eq!(s.discarded(), 7, "and the rest is discarded and counted");
    let mut freed = Vec::new();
    for pkid in 1..=3 {
        freed.extend(s.handle(Packet::PubAck { pkid, reason: 0 }, t0()));
    }
    assert_eq!(delivered(&freed).len(), 3);
    assert_eq!(
        (s.pending_bytes, s.discarded()),
        (0, 0),
        "drained: a new episode"
    );
}

#[test]
fn unacknowledged_messages_are_redelivered_with_dup_on_resume() {
    let mut s = open(Version::V311, ALL);
    let mut out = Vec::new();
    s.deliver(message("a"), 1, t0(), &mut out);
    s.deliver(message("b"), 1, t0(), &mut out);
    s.handle(Packet::PubAck { pkid: 1, reason: 0 }, t0());
    let kept = s.take_stored();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].pkid, Some(2));
    let start = Start {
        session_present: true,
        stored: kept,
        ..Start::default()
    };
    let (_, actions) = open_with(connect("dev"), Version::V311, principal(ALL), start);
    let resent = delivered(&actions).remove(0);
    assert!(resent.dup && resent.pkid == 2 && resent.topic == "b");
}

#[test]
fn queued_messages_of_a_resumed_session_are_delivered_fresh() {
    let stored = vec![Stored {
        message: message("q"),
        qos: 1,
        pkid: None,
    }];
    let start = Start {
        session_present: true,
        stored,
        ..Start::default()
    };
    let (_, actions) = open_with(connect("dev"), Version::V5, principal(ALL), start);
    assert!(delivered(&actions).iter().any(|p| !p.dup && p.topic == "q"));
}

#[test]
fn a_resumed_session_keeps_only_subscriptions_its_certificate_may_hold() {
    let start = Start {
        session_present: true,
        subscriptions: vec![("s/1".into(), 1), ("ok".into(), 0)],
        ..Start::default()
    };
    let (_, actions) = open_with(connect("dev"), Version::V5, principal(LIMITED), start);
    let dropped: Vec<&Action> = actions
        .iter()
        .filter(|a| matches!(a, Action::Unsubscribe { .. }))
        .collect();
    assert_eq!(
        dropped,
        vec![&Action::Unsubscribe {
            filter: "s/1".into()
        }]
    );
}

#[test]
fn wills_follow_the_end_and_the_rights_of_now() {
    let mut c = connect("dev");
    c.will = Some(Will {
        topic: "w/last".into(),
        payload: Bytes::from_static(b"bye"),
        qos: 0,
        retain: false,
    });
    let (mut s, _) = open_with(c.clone(), Version::V5, principal(ALL), Start::default());
    let actions = s.lost(t0());
    assert!(routed(&actions).iter().any(|p| p.topic == "w/last"));
    let (mut s, _) = open_with(c.clone(), Version::V5, principal(ALL), Start::default());
    let actions = s.handle(
        Packet::Disconnect {
            reason: 0,
            session_expiry: None,
        },
        t0(),
    );
    assert!(!routed(&actions).iter().any(|p| p.topic == "w/last"));
    let (mut s, _) = open_with(c, Version::V5, principal(ALL), Start::default());
    assert!(
        s.principal_changed(Some(principal(LIMITED)), t0())
            .is_empty()
    );
    let actions = s.lost(t0());
    assert!(
        !routed(&actions).iter().any(|p| p.topic == "w/last"),
        "the policy no longer allows the will"
    );
}

#[test]
fn losing_the_right_to_connect_closes_with_not_authorized() {
    let mut s = open(Version::V5, ALL);
    let mut revoked = (*principal(ALL)).clone();
    revoked.status = CertStatus::Revoked;
    let actions = s.principal_changed(Some(Arc::new(revoked)), t0());
    assert_eq!(disconnect_code(&actions), Some(0x87));
    let mut s = open(Version::V5, ALL);
    let actions = s.principal_changed(None, t0());
    assert!(String::from_utf8_lossy(&routed(&actions)[0].payload).contains("AUTH_ERROR"));
}

#[test]
fn topic_aliases_are_resolved_and_never_forwarded() {
    let mut s = open(Version::V5, ALL);
    let mut props = iotmock_mqtt::empty_properties();
    props.topic_alias = Some(3);
    let first = Publish {
        properties: Some(props.clone()),
        ..Publish::new("long/topic", Bytes::from_static(b"1"), 0, false)
    };
    let actions = s.handle(Packet::Publish(first), t0());
    assert_eq!(
        routed(&actions)[0].properties.as_ref().unwrap().topic_alias,
        None
    );
    let by_alias = Publish {
        properties: Some(props.clone()),
        ..Publish::new("", Bytes::from_static(b"2"), 0, false)
    };
    let actions = s.handle(Packet::Publish(by_alias), t0());
    assert_eq!(routed(&actions)[0].topic, "long/topic");
    props.topic_alias = Some(9);
    let bad = Publish {
        properties: Some(props),
        ..Publish::new("x", Bytes::from_static(b"3"), 0, false)
    };
    assert_eq!(
        disconnect_code(&s.handle(Packet::Publish(bad), t0())),
        Some(0x94)
    );
}

#[test]
fn message_expiry_counts_down_and_drops_expired_messages() {
    let mut s = open(Version::V5, ALL);
    let mut props = iotmock_mqtt::empty_properties();
    props.message_expiry_interval = Some(10);
    let p = Publish {
        properties: Some(props),
        ..Publish::new("t", Bytes::from_static(b"1"), 0, false)
    };
    let actions = s.handle(Packet::Publish(p), t0());
    let msg = Arc::new(routed(&actions)[0].clone());
    assert_eq!(msg.expires_ms, Some(t0() + 10_000));
    let mut out = Vec::new();
    s.deliver(msg.clone(), 0, t0() + 4_000, &mut out);
    let first = delivered(&out).remove(0);
    assert_eq!(
        first.properties.as_ref().unwrap().message_expiry_interval,
        Some(6)
    );
    let mut late = Vec::new();
    s.deliver(msg, 0, t0() + 10_000, &mut late);
    assert!(late.is_empty());
}

#[test]
fn receive_is_checked_on_every_delivery() {
    let mut s = open(Version::V5, LIMITED);
    let mut out = Vec::new();
    s.deliver(message("hidden"), 0, t0(), &mut out);
    assert!(out.is_empty());
    s.deliver(message("shown"), 0, t0(), &mut out);
    assert_eq!(delivered(&out).len(), 1);
}

proptest::proptest! {
    #[test]
    fn a_publish_size_is_never_under_what_goes_on_the_wire(
        topic in "[a-z/]{1,300}",
        payload in 0usize..20_000,
        qos in 0u8..2,
        user in proptest::collection::vec(("[a-z]{0,20}", "[a-z]{0,40}"), 0..4),
    ) {
        let mut msg = iotmock_mqtt::Publish::new(topic, bytes::Bytes::from(vec![7u8; payload]), qos, false);
        if !user.is_empty() {
            let mut props = iotmock_mqtt::empty_properties();
            props.user_properties = user;
            msg.properties = Some(props);
        }
        msg.pkid = if qos > 0 { 1 } else { 0 };
        let estimate = crate::session::publish_size(&msg, qos);
        let mut wire = bytes::BytesMut::new();
        iotmock_mqtt::encode(&iotmock_mqtt::Packet::Publish(msg), iotmock_mqtt::Version::V5, &mut wire).expect("encodes");
        proptest::prop_assert!(estimate >= wire.len(), "{estimate} < {}", wire.len());
        proptest::prop_assert!(estimate <= wire.len() + 24, "{estimate} >> {}", wire.len());
    }
}
