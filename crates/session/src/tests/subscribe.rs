//! SUBSCRIBE and DISCONNECT rules.
use super::*;
use crate::{Action, End, Start};
use iotmock_mqtt::{Packet, Version};

fn subscribe(filters: &[&str]) -> Packet {
    Packet::Subscribe {
        pkid: 1,
        filters: filters.iter().map(|f| (f.to_string(), 1)).collect(),
        subscription_id: false,
    }
}

fn suback(actions: &[Action]) -> Vec<u8> {
    sent(actions)
        .into_iter()
        .find_map(|p| match p {
            Packet::SubAck { codes, .. } => Some(codes.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

#[test]
fn subscriptions_answer_per_filter_within_aws_limits() {
    let mut s = open(Version::V5, LIMITED);
    assert_eq!(
        suback(&s.handle(subscribe(&["a", "s/x", "$SYS/#"]), t0())),
        vec![1, 0x87, 0x8F]
    );
    let nine: Vec<String> = (0..9).map(|i| format!("n/{i}")).collect();
    let nine: Vec<&str> = nine.iter().map(String::as_str).collect();
    assert_eq!(suback(&s.handle(subscribe(&nine), t0())), vec![0x97; 9]);
    for i in 0..49 {
        let f = format!("f/{i}");
        assert_eq!(suback(&s.handle(subscribe(&[&f]), t0())), vec![1]);
    }
    assert_eq!(
        suback(&s.handle(subscribe(&["one/more"]), t0())),
        vec![0x97]
    );
    assert_eq!(
        suback(&s.handle(subscribe(&["a"]), t0())),
        vec![1],
        "re-subscribing is not new"
    );
}

#[test]
fn reserved_and_identified_subscriptions_close_as_aws_does() {
    let mut s = open(Version::V311, ALL);
    let actions = s.handle(subscribe(&["$SYS/#"]), t0());
    assert_eq!(
        ended(&actions),
        Some(End::Closed(crate::CloseReason::TopicFilterInvalid))
    );
    let mut s = open(Version::V5, ALL);
    let with_id = Packet::Subscribe {
        pkid: 1,
        filters: vec![("a".into(), 0)],
        subscription_id: true,
    };
    assert_eq!(disconnect_code(&s.handle(with_id, t0())), Some(0xA1));
}

#[test]
fn qos2_is_refused() {
    let mut s = open(Version::V5, ALL);
    assert_eq!(
        disconnect_code(&s.handle(publish("t", 2, 1), t0())),
        Some(0x9B)
    );
    let mut s = open(Version::V311, ALL);
    let actions = s.handle(Packet::PubRel { pkid: 1 }, t0());
    assert_eq!(
        ended(&actions),
        Some(End::Closed(crate::CloseReason::QosNotSupported))
    );
}

#[test]
fn disconnect_may_lower_but_not_raise_a_zero_session_expiry() {
    let mut s = open(Version::V5, ALL);
    let raise = Packet::Disconnect {
        reason: 0,
        session_expiry: Some(60),
    };
    assert_eq!(disconnect_code(&s.handle(raise, t0())), Some(0x82));
    let mut c = connect("dev");
    c.session_expiry = Some(600);
    let (mut s, _) = open_with(c, Version::V5, principal(ALL), Start::default());
    let lower = Packet::Disconnect {
        reason: 0,
        session_expiry: Some(0),
    };
    s.handle(lower, t0());
    assert_eq!(s.keep_secs(), None);
}
