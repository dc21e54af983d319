//! The cases and the classifier, one test per rule.
#![allow(clippy::unwrap_used)]

use crate::{
    Act, Backoff, Case, CaseId, Config, Event, Outcome, Packet, SHADOW_SETUP_TOKEN, Timed, Verdict,
    classify, contains, judge_policies,
};

fn at(ms: i64, event: Event) -> Timed {
    Timed { at_ms: ms, event }
}

fn publish(pkid: u16, topic: &str, payload: &str) -> Packet {
    Packet {
        kind: "PUBLISH".into(),
        pkid: Some(pkid),
        topic: Some(topic.into()),
        qos: 1,
        payload: payload.into(),
        ..Packet::default()
    }
}

fn connect(conn: u64) -> Event {
    Event::Connect {
        conn,
        client_id: "d".into(),
        clean_start: true,
        keep_alive: 30,
    }
}

#[test]
fn backoff_shapes_are_told_apart_at_any_scale() {
    for scale in [0.05, 1.0, 30.0] {
        let s = |v: &[f64]| v.iter().map(|x| x * scale).collect::<Vec<_>>();
        assert_eq!(
            classify(&s(&[1.0, 2.0, 4.0, 8.0, 16.0])),
            Backoff::Exponential
        );
        assert_eq!(classify(&s(&[1.3, 1.9, 4.6, 7.1, 17.5])), Backoff::Jitter);
        assert_eq!(classify(&s(&[1.0, 2.0, 3.0, 4.0, 5.0])), Backoff::Linear);
        assert_eq!(
            classify(&s(&[2.0, 2.05, 1.98, 2.0, 2.02])),
            Backoff::Constant
        );
    }
    assert_eq!(classify(&[1.0, 2.0]), Backoff::Unknown);
    let with_timeout = [350.0, 400.0, 500.0, 700.0, 1100.0];
    assert_eq!(
        classify(&with_timeout),
        Backoff::Exponential,
        "a fixed wait in each interval"
    );
    let jitter_with_timeout = [378.0, 363.0, 566.0, 687.0, 727.0];
    assert_eq!(classify(&jitter_with_timeout), Backoff::Jitter);
    let shrinking = [900.0, 500.0, 700.0, 300.0, 400.0];
    assert_eq!(classify(&shrinking), Backoff::Unknown);
    let linear_with_timeout = [350.0, 400.0, 450.0, 500.0, 550.0];
    assert_eq!(classify(&linear_with_timeout), Backoff::Linear);
}

/// The device's QoS 1 PUBLISH of "x" to `t` with packet id `pkid`, on `conn`, at `ms`.
fn sent(ms: i64, conn: u64, pkid: u16) -> Timed {
    at(
        ms,
        Event::In {
            conn,
            packet: publish(pkid, "t", "x"),
        },
    )
}

fn run(case: &mut Case, events: Vec<Timed>) -> (Vec<Act>, Option<crate::Verdict>) {
    let mut acts = Vec::new();
    for e in events {
        let (a, v) = case.on(&e);
        acts.extend(a);
        if v.is_some() {
            return (acts, v);
        }
    }
    (acts, None)
}

#[test]
fn publish_retry_needs_the_same_packet_id_on_the_same_connection() {
    let c = Config::new("d");
    let same = vec![sent(0, 1, 7), sent(5, 1, 7)];
    let (_, v) = run(
        &mut Case::new(CaseId::PublishRetryNoPuback, c.clone()),
        same,
    );
    assert_eq!(v.unwrap().outcome, Outcome::Pass);
    let new_id = vec![sent(0, 1, 7), sent(5, 1, 8)];
    assert_eq!(
        run(
            &mut Case::new(CaseId::PublishRetryNoPuback, c.clone()),
            new_id
        )
        .1
        .unwrap()
        .outcome,
        Outcome::Fail
    );
    let dropped = vec![
        sent(0, 1, 7),
        at(
            5,
            Event::Closed {
                conn: 1,
                reason: "CONNECTION_LOST".into(),
            },
        ),
    ];
    assert_eq!(
        run(&mut Case::new(CaseId::PublishRetryNoPuback, c), dropped)
            .1
            .unwrap()
            .outcome,
        Outcome::Fail
    );
}

#[test]
fn backoff_cases_lift_the_fault_and_judge_the_intervals() {
    let c = Config::new("d");
    let expo: Vec<Timed> = [0, 100, 300, 700, 1500, 3100]
        .iter()
        .enumerate()
        .map(|(i, t)| at(*t, connect(i as u64 + 1)))
        .collect();
    let (acts, v) = run(
        &mut Case::new(CaseId::ConnectJitterBackoff, c.clone()),
        expo.clone(),
    );
    assert_eq!(
        (acts, v.unwrap().outcome),
        (vec![Act::LiftFaults], Outcome::Warn)
    );
    assert_eq!(
        run(
            &mut Case::new(CaseId::ConnectExponentialBackoff, c.clone()),
            expo
        )
        .1
        .unwrap()
        .outcome,
        Outcome::Pass
    );
    let constant: Vec<Timed> = (0..6)
        .map(|i| at(i * 1000, connect(i as u64 + 1)))
        .collect();
    assert_eq!(
        run(
            &mut Case::new(CaseId::ConnectExponentialBackoff, c),
            constant
        )
        .1
        .unwrap()
        .outcome,
        Outcome::Fail
    );
}

#[test]
fn puback_case_sends_a_qos1_message_and_waits_for_its_ack() {
    let mut case = Case::new(CaseId::ClientPubackQos1, Config::new("d"));
    let sub = Packet {
        kind: "SUBSCRIBE".into(),
        pkid: Some(1),
        filters: vec!["cmd/d".into()],
        ..Packet::default()
    };
    let (acts, _) = case.on(&at(
        0,
        Event::In {
            conn: 1,
            packet: sub,
        },
    ));
    assert!(matches!(&acts[0], Act::Publish { topic, qos: 1, .. } if topic == "cmd/d"));
    // The device's own message echoed back is not the one under test.
    let echo = Event::Out {
        conn: 1,
        packet: publish(2, "cmd/d", "hello"),
        withheld: false,
    };
    case.on(&at(1, echo));
    let echo_ack = Packet {
        kind: "PUBACK".into(),
        pkid: Some(2),
        ..Packet::default()
    };
    let (_, early) = inbound(&mut case, echo_ack);
    assert_eq!(early, None);
    case.on(&at(
        1,
        Event::Out {
            conn: 1,
            packet: publish(3, "cmd/d", &"x".repeat(1024)),
            withheld: false,
        },
    ));
    let ack = Packet {
        kind: "PUBACK".into(),
        pkid: Some(3),
        ..Packet::default()
    };
    assert_eq!(
        case.on(&at(
            2,
            Event::In {
                conn: 1,
                packet: ack
            }
        ))
        .1
        .unwrap()
        .outcome,
        Outcome::Pass
    );
}

#[test]
fn shadow_and_job_cases_read_the_payloads() {
    let mut shadow = Case::new(CaseId::ShadowPublishReportedState, Config::new("d"));
    let bad = publish(1, "$aws/things/d/shadow/update", r#"{"state":{}}"#);
    assert_eq!(
        shadow
            .on(&at(
                0,
                Event::In {
                    conn: 1,
                    packet: bad
                }
            ))
            .1
            .unwrap()
            .outcome,
        Outcome::Fail
    );
    let mut named = Config::new("d");
    named.set("SHADOW_NAME", "cfg").unwrap();
    let mut shadow = Case::new(CaseId::ShadowPublishReportedState, named);
    let good = publish(
        1,
        "$aws/things/d/shadow/name/cfg/update",
        r#"{"state":{"reported":{"on":true}}}"#,
    );
    assert_eq!(
        shadow
            .on(&at(
                0,
                Event::In {
                    conn: 1,
                    packet: good
                }
            ))
            .1
            .unwrap()
            .outcome,
        Outcome::Pass
    );
    let mut job = Case::new(CaseId::JobExecution, Config::new("d"));
    let (acts, _) = job.on(&at(0, connect(1)));
    assert!(acts.is_empty(), "not before the device listens");
    let subscribe = Packet {
        kind: "SUBSCRIBE".into(),
        filters: vec!["$aws/things/d/jobs/notify-next".into()],
        ..Packet::default()
    };
    let (acts, _) = job.on(&at(
        1,
        Event::In {
            conn: 1,
            packet: subscribe,
        },
    ));
    assert!(matches!(acts[0], Act::CreateJob { .. }));
    let done = publish(
        2,
        "$aws/things/d/jobs/advisor-job/update",
        r#"{"status":"SUCCEEDED"}"#,
    );
    assert_eq!(
        job.on(&at(
            1,
            Event::In {
                conn: 1,
                packet: done
            }
        ))
        .1
        .unwrap()
        .outcome,
        Outcome::Pass
    );
}

#[test]
fn silence_without_a_verdict_times_out_as_a_failure() {
    let case = Case::new(CaseId::MqttSubscribe, Config::new("d"));
    let v = case.timed_out();
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(v.reason.contains("timed out"));
    assert_eq!(CaseId::parse("mqtt_connect"), Some(CaseId::MqttConnect));
}

fn inbound(case: &mut Case, packet: Packet) -> (Vec<Act>, Option<Verdict>) {
    case.on(&at(0, Event::In { conn: 1, packet }))
}

#[test]
fn a_new_message_is_not_taken_for_a_resend() {
    let mut case = Case::new(CaseId::PublishRetryNoPuback, Config::new("d"));
    assert_eq!(inbound(&mut case, publish(2, "t", "[1]")).1, None);
    assert_eq!(
        inbound(&mut case, publish(3, "t", "[2]")).1,
        None,
        "new data"
    );
    let resend = Packet {
        dup: true,
        ..publish(2, "t", "[1]")
    };
    assert_eq!(inbound(&mut case, resend).1.unwrap().outcome, Outcome::Pass);
}

#[test]
fn publish_reported_state_checks_the_shadow_and_the_state_it_was_given() {
    let mut config = Config::new("d");
    config.set("REPORTED_STATE", r#"{"fw":{"v":2}}"#).unwrap();
    assert!(config.set("REPORTED_STATE", "[1]").is_err());
    let mut case = Case::new(CaseId::ShadowPublishReportedState, config);
    let named = publish(
        1,
        "$aws/things/d/shadow/name/x/update",
        r#"{"state":{"reported":{"fw":{"v":2}}}}"#,
    );
    assert_eq!(inbound(&mut case, named), (Vec::new(), None));
    let old = publish(
        2,
        "$aws/things/d/shadow/update",
        r#"{"state":{"reported":{"fw":{"v":1}}}}"#,
    );
    assert_eq!(inbound(&mut case, old), (Vec::new(), None));
    assert!(case.timed_out().reason.contains(r#"{"fw":{"v":2}}"#));
    let new = publish(
        3,
        "$aws/things/d/shadow/update",
        r#"{"state":{"reported":{"fw":{"v":2},"up":1}}}"#,
    );
    assert_eq!(inbound(&mut case, new).1.unwrap().outcome, Outcome::Pass);
}

#[test]
fn update_reported_state_sets_desired_once_the_device_listens_then_waits_for_it() {
    let mut config = Config::new("d");
    config.set("DESIRED_STATE", r#"{"led":"on"}"#).unwrap();
    let mut case = Case::new(CaseId::ShadowUpdateReportedState, config);
    let early = publish(
        1,
        "$aws/things/d/shadow/update",
        r#"{"state":{"reported":{"led":"on"}}}"#,
    );
    assert_eq!(inbound(&mut case, early), (Vec::new(), None));
    assert!(case.timed_out().reason.contains("never subscribed"));
    let sub = Packet {
        kind: "SUBSCRIBE".into(),
        pkid: Some(2),
        filters: vec!["$aws/things/d/shadow/update/+".into()],
        ..Packet::default()
    };
    let (acts, verdict) = inbound(&mut case, sub);
    assert_eq!(verdict, None);
    assert_eq!(
        acts,
        [Act::SetDesired {
            shadow: None,
            state: serde_json::json!({"led": "on"}),
            client_token: SHADOW_SETUP_TOKEN.into(),
        }]
    );
    let stale = publish(
        3,
        "$aws/things/d/shadow/update",
        r#"{"state":{"reported":{"led":"off"}}}"#,
    );
    assert_eq!(inbound(&mut case, stale), (Vec::new(), None));
    assert!(case.timed_out().reason.contains("never reported"));
    let synced = publish(
        4,
        "$aws/things/d/shadow/update",
        r#"{"state":{"reported":{"led":"on"}}}"#,
    );
    assert_eq!(inbound(&mut case, synced).1.unwrap().outcome, Outcome::Pass);
}

#[test]
fn a_named_shadow_get_also_starts_the_update_case() {
    let mut config = Config::new("d");
    config.set("SHADOW_NAME", "cfg").unwrap();
    let mut case = Case::new(CaseId::ShadowUpdateReportedState, config);
    let classic = publish(1, "$aws/things/d/shadow/get", "");
    assert_eq!(inbound(&mut case, classic), (Vec::new(), None));
    let get = publish(2, "$aws/things/d/shadow/name/cfg/get", "");
    assert!(matches!(
        inbound(&mut case, get).0.as_slice(),
        [Act::SetDesired { shadow: Some(n), .. }] if n == "cfg"
    ));
}

proptest::proptest! {
    #[test]
    fn a_document_contains_itself_and_its_parts(doc in proptest::collection::btree_map("[a-c]", 0u8..3, 0..4)) {
        let value = serde_json::to_value(&doc).unwrap();
        proptest::prop_assert!(contains(&value, &value));
        let empty = serde_json::json!({});
        proptest::prop_assert!(contains(&value, &empty));
        for (k, v) in &doc {
            let part = serde_json::json!({ k: v });
            let other = serde_json::json!({ k: v + 10 });
            proptest::prop_assert!(contains(&value, &part));
            proptest::prop_assert!(!contains(&value, &other));
        }
    }
}

fn policy(statements: &str) -> Vec<(String, String)> {
    vec![(
        "p".to_string(),
        format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#),
    )]
}

#[test]
fn device_policies_fail_on_wildcard_grants_and_warn_on_narrow_wildcards() {
    let judge = |s: &str| judge_policies(&policy(s));
    let scoped = r#"{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"}"#;
    assert_eq!(judge(scoped).outcome, Outcome::Pass);
    let all = r#"{"Effect":"Allow","Action":"iot:*","Resource":"*"}"#;
    let v = judge(all);
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(v.reason.contains("action 'iot:*'") && v.reason.contains("resource '*'"));
    let every_topic =
        r#"{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:1:topic/*"}"#;
    assert_eq!(judge(every_topic).outcome, Outcome::Fail);
    let narrow = r#"{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:1:topic/d/${iot:ClientId}/*"}"#;
    assert_eq!(judge(narrow).outcome, Outcome::Warn);
    let not_action =
        r#"{"Effect":"Allow","NotAction":"iot:Connect","Resource":"arn:aws:iot:r:1:topic/a"}"#;
    assert_eq!(judge(not_action).outcome, Outcome::Fail);
    let denied = r#"{"Effect":"Deny","Action":"iot:*","Resource":"*"}"#;
    assert_eq!(judge(&format!("{scoped},{denied}")).outcome, Outcome::Pass);
    assert_eq!(judge_policies(&[]).outcome, Outcome::Fail);
    let broken = vec![("b".to_string(), "{".to_string())];
    assert!(judge_policies(&broken).reason.contains("malformed"));
}

#[test]
fn the_policy_case_judges_when_the_device_connects() {
    let mut config = Config::new("d");
    config.policies = policy(r#"{"Effect":"Allow","Action":"iot:*","Resource":"*"}"#);
    let mut case = Case::new(CaseId::SecurityDevicePolicies, config);
    let v = case.on(&at(0, Event::Accepted { conn: 1 })).1.unwrap();
    assert_eq!(v.outcome, Outcome::Fail);
}

fn connack(conn: u64) -> Event {
    Event::Out {
        conn,
        packet: Packet {
            kind: "CONNACK".into(),
            ..Packet::default()
        },
        withheld: false,
    }
}

fn closed(conn: u64, reason: &str) -> Event {
    Event::Closed {
        conn,
        reason: reason.into(),
    }
}

#[test]
fn custom_auth_refresh_asks_for_a_renewal_and_passes_when_the_connection_stays() {
    let mut case = Case::new(CaseId::CustomAuthRefresh, Config::new("t"));
    let (acts, v) = case.on(&at(0, connack(1)));
    assert!(matches!(acts.as_slice(), [Act::RefreshGrant]) && v.is_none());
    assert!(case.on(&at(1000, Event::Tick)).1.is_none());
    assert_eq!(
        case.on(&at(2500, Event::Tick)).1.unwrap().outcome,
        Outcome::Pass
    );
    let mut dropped = Case::new(CaseId::CustomAuthRefresh, Config::new("t"));
    dropped.on(&at(0, connack(1)));
    let v = dropped.on(&at(100, closed(1, "AUTH_ERROR"))).1.unwrap();
    assert_eq!(v.outcome, Outcome::Fail);
}

#[test]
fn custom_auth_reconnect_needs_a_new_connection_after_the_lapse() {
    let mut case = Case::new(CaseId::CustomAuthReconnect, Config::new("t"));
    let (acts, _) = case.on(&at(0, connack(1)));
    assert!(matches!(acts.as_slice(), [Act::LapseGrant]));
    assert!(
        case.on(&at(10, closed(1, "CUSTOMAUTH_TTL_EXPIRATION")))
            .1
            .is_none()
    );
    assert_eq!(
        case.on(&at(900, connack(2))).1.unwrap().outcome,
        Outcome::Pass
    );
    let waiting = Case::new(CaseId::CustomAuthReconnect, Config::new("t"));
    assert_eq!(waiting.timed_out().outcome, Outcome::Fail);
}

#[test]
fn custom_auth_cases_are_not_in_device_advisors_suites() {
    assert!(crate::all_cases().iter().all(|c| !c.is_custom_auth()));
    assert_eq!(crate::custom_auth_cases().len(), 3);
    assert_eq!(
        CaseId::parse("custom_auth_connect"),
        Some(CaseId::CustomAuthConnect)
    );
    let mut case = Case::new(CaseId::CustomAuthConnect, Config::new("t"));
    case.on(&at(0, connack(4)));
    let ping = Event::In {
        conn: 4,
        packet: Packet {
            kind: "PINGREQ".into(),
            ..Packet::default()
        },
    };
    assert_eq!(case.on(&at(5, ping)).1.unwrap().outcome, Outcome::Pass);
}

#[test]
fn the_job_comes_when_the_device_asks_or_after_a_wait_or_before_connect() {
    let mut asks = Case::new(CaseId::JobExecution, Config::new("d"));
    asks.on(&at(0, connect(1)));
    let get = publish(1, "$aws/things/d/jobs/get", "{}");
    let (acts, _) = asks.on(&at(
        5,
        Event::In {
            conn: 1,
            packet: get,
        },
    ));
    assert!(matches!(acts.as_slice(), [Act::CreateJob { .. }]));
    let mut quiet = Case::new(CaseId::JobExecution, Config::new("d"));
    quiet.on(&at(0, connect(1)));
    assert!(quiet.on(&at(1000, Event::Tick)).0.is_empty());
    assert!(matches!(
        quiet.on(&at(2000, Event::Tick)).0.as_slice(),
        [Act::CreateJob { .. }]
    ));
    assert!(quiet.on(&at(3000, Event::Tick)).0.is_empty(), "once");
    let mut config = Config::new("d");
    config.set("JOB_CREATION", "BEFORE_CONNECT").unwrap();
    let mut early = Case::new(CaseId::JobExecution, config);
    let (acts, _) = early.on(&at(0, Event::Accepted { conn: 1 }));
    assert!(matches!(acts.as_slice(), [Act::CreateJob { .. }]));
    assert!(Config::new("d").set("JOB_CREATION", "LATER").is_err());
}
