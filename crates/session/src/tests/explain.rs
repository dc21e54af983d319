//! TestAuthorization and the broker agree: generated policies, actions, names and client ids,
//! judged by the connection's own check and by the explanation.

use super::principal;
use crate::explain::{AuthDecision, AuthInfo, explain};
use crate::{Authz, Right};
use proptest::prelude::*;

const ARN: &str = "arn:aws:iot:us-east-1:123456789012";

fn statement() -> impl Strategy<Value = String> {
    let effect = prop_oneof![Just("Allow"), Just("Deny")];
    let action = prop_oneof![
        Just("iot:Publish"),
        Just("iot:Subscribe"),
        Just("iot:Receive"),
        Just("iot:Connect"),
        Just("iot:*"),
    ];
    let resource = prop_oneof![
        Just("*".to_string()),
        "[a-c]{1,2}".prop_map(|t| format!("{ARN}:topic/{t}")),
        "[a-c]{1,2}".prop_map(|t| format!("{ARN}:topic/{t}/*")),
        Just(format!("{ARN}:topic/${{iot:ClientId}}/*")),
        "[a-c]{1,2}".prop_map(|t| format!("{ARN}:topicfilter/{t}/*")),
        "[a-c]{1,2}".prop_map(|c| format!("{ARN}:client/{c}")),
        Just(format!("{ARN}:client/${{iot:ClientId}}")),
    ];
    (effect, action, resource)
        .prop_map(|(e, a, r)| format!(r#"{{"Effect":"{e}","Action":"{a}","Resource":"{r}"}}"#))
}

fn policy() -> impl Strategy<Value = String> {
    proptest::collection::vec(statement(), 1..4).prop_map(|s| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
            s.join(",")
        )
    })
}

fn right() -> impl Strategy<Value = (Right, &'static str, &'static str)> {
    prop_oneof![
        Just((Right::Publish, "PUBLISH", "topic")),
        Just((Right::Subscribe, "SUBSCRIBE", "topicfilter")),
        Just((Right::Receive, "RECEIVE", "topic")),
        Just((Right::Connect, "CONNECT", "client")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    #[test]
    fn the_explanation_and_the_broker_never_disagree(
        doc in policy(),
        (right, action_type, kind) in right(),
        name in "[a-c]{1,2}(/[a-c]{1,2}){0,2}",
        client in "[a-c]{1,2}",
    ) {
        let p = principal(&doc);
        let mut authz = Authz::new(p.clone(), &client, None, &[]);
        let broker = authz.check(right, &name).decision;
        let info = AuthInfo {
            action_type: action_type.to_string(),
            resources: vec![format!("{ARN}:{kind}/{name}")],
        };
        let explained = explain(p, &client, &[info]);
        prop_assert_eq!(explained[0].decision, AuthDecision::of(&broker));
        let named = match explained[0].decision {
            AuthDecision::Allowed => &explained[0].allowed,
            AuthDecision::ExplicitDeny => &explained[0].explicit_deny,
            AuthDecision::ImplicitDeny => &explained[0].implicit_deny,
        };
        prop_assert_eq!(named, &vec!["p".to_string()]);
    }
}
