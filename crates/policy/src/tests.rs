//! Table tests: statement x request -> decision.

use crate::*;
use std::collections::HashMap;

const ACCT: &str = "arn:aws:iot:us-east-1:123456789012";

fn policy(name: &str, json: &str) -> NamedPolicy {
    NamedPolicy {
        name: name.into(),
        version: "1".into(),
        document: PolicyDocument::parse(json).expect("valid policy"),
    }
}

fn vars() -> HashMap<String, Vec<String>> {
    [
        ("iot:ClientId", "thing-1"),
        ("iot:Connection.Thing.ThingName", "thing-1"),
        ("iot:Connection.Thing.IsAttached", "true"),
        ("iot:Connection.Thing.Attributes[room]", "kitchen"),
        ("iot:Certificate.Subject.CommonName", "deviceHoge"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
    .collect()
}

fn decide(policies: &[NamedPolicy], action: &str, resource: &str) -> Decision {
    evaluate(
        policies,
        &Request {
            action,
            resource: &format!("{ACCT}:{resource}"),
        },
        &vars(),
    )
}

#[test]
fn decision_table() {
    let allow_all = policy(
        "all",
        r#"{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*"}}"#,
    );
    let own = policy(
        "own",
        r#"{"Statement":[
          {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
          {"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:*:*:topic/things/${iot:ClientId}/*"},
          {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:*:*:topicfilter/things/${iot:ClientId}/*"},
          {"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/rooms/${iot:Connection.Thing.Attributes[room]}"},
          {"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/ghost/${iot:Connection.Thing.Attributes[floor]}"}
        ]}"#,
    );
    let deny_restricted = policy(
        "deny",
        r#"{"Statement":[{"Sid":"NoSecrets","Effect":"Deny","Action":"iot:Receive","Resource":"arn:aws:iot:*:*:topic/things/thing-1/secret/*"}]}"#,
    );
    let not_action = policy(
        "na",
        r#"{"Statement":{"Effect":"Allow","NotAction":"iot:Publish","Resource":"*"}}"#,
    );
    let conditional = policy(
        "cond",
        r#"{"Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"*",
            "Condition":{"Bool":{"iot:Connection.Thing.IsAttached":"true"},"StringLike":{"iot:Certificate.Subject.CommonName":"device*"}}}}"#,
    );
    let cond_fails = policy(
        "cond2",
        r#"{"Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"StringEquals":{"iot:ClientId":"other"}}}}"#,
    );
    let both = [own.clone(), deny_restricted.clone()];
    let table: Vec<(&[NamedPolicy], &str, &str, &str)> = vec![
        (
            std::slice::from_ref(&allow_all),
            "iot:Connect",
            "client/anything",
            "allow",
        ),
        (
            std::slice::from_ref(&allow_all),
            "iot:publish",
            "topic/x",
            "allow",
        ),
        (&[], "iot:Connect", "client/thing-1", "implicit"),
        (
            std::slice::from_ref(&own),
            "iot:Connect",
            "client/thing-1",
            "allow",
        ),
        (
            std::slice::from_ref(&own),
            "iot:Connect",
            "client/thing-2",
            "implicit",
        ),
        (
            std::slice::from_ref(&own),
            "iot:Publish",
            "topic/things/thing-1/temp",
            "allow",
        ),
        (
            std::slice::from_ref(&own),
            "iot:Publish",
            "topic/things/thing-2/temp",
            "implicit",
        ),
        (
            std::slice::from_ref(&own),
            "iot:Subscribe",
            "topicfilter/things/thing-1/#",
            "allow",
        ),
        (
            std::slice::from_ref(&own),
            "iot:Subscribe",
            "topicfilter/things/+/temp",
            "implicit",
        ),
        (
            std::slice::from_ref(&own),
            "iot:Publish",
            "topic/rooms/kitchen",
            "allow",
        ),
        (
            std::slice::from_ref(&own),
            "iot:Publish",
            "topic/ghost/",
            "implicit",
        ),
        (
            &both,
            "iot:Receive",
            "topic/things/thing-1/secret/a",
            "deny",
        ),
        (&both, "iot:Receive", "topic/things/thing-1/open", "allow"),
        (
            std::slice::from_ref(&not_action),
            "iot:Connect",
            "client/x",
            "allow",
        ),
        (
            std::slice::from_ref(&not_action),
            "iot:Publish",
            "topic/x",
            "implicit",
        ),
        (
            std::slice::from_ref(&conditional),
            "iot:Connect",
            "client/thing-1",
            "allow",
        ),
        (
            std::slice::from_ref(&cond_fails),
            "iot:Connect",
            "client/thing-1",
            "implicit",
        ),
    ];
    for (policies, action, resource, want) in table {
        let got = decide(policies, action, resource);
        let kind = match got {
            Decision::Allow(_) => "allow",
            Decision::ExplicitDeny(_) => "deny",
            Decision::ImplicitDeny => "implicit",
        };
        assert_eq!(kind, want, "{action} {resource}: {got}");
    }
}

#[test]
fn deny_wins_whatever_the_order_and_is_named() {
    let deny = policy(
        "d",
        r#"{"Statement":{"Sid":"Block","Effect":"Deny","Action":"iot:*","Resource":"*"}}"#,
    );
    let allow = policy(
        "a",
        r#"{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*"}}"#,
    );
    for set in [
        vec![allow.clone(), deny.clone()],
        vec![deny.clone(), allow.clone()],
    ] {
        let got = decide(&set, "iot:Connect", "client/x");
        assert_eq!(
            got.to_string(),
            "explicitly denied by policy d version 1 statement 0 (Sid Block)"
        );
    }
    assert_eq!(
        decide(&[], "iot:Connect", "client/x").to_string(),
        "no statement allows"
    );
}

proptest::proptest! {
    #[test]
    fn wildcard_resource_matches_every_topic(topic in "[a-z0-9/+#$]{0,40}") {
        let all = policy("p", r#"{"Statement":{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/*"}}"#);
        let resource = format!("topic/{topic}");
        proptest::prop_assert!(decide(std::slice::from_ref(&all), "iot:Publish", &resource).allowed());
    }
}
