//! What one message makes the rules do: which rules see it (FROM matches, or Basic Ingest
//! names the rule), what each one's WHERE and SELECT give, and each action's parameters with
//! their templates resolved. The error action's document is built here too. Nothing is sent.

use crate::actions::{CompiledAction, Kind, put_at};
use crate::book::RuleBook;
use crate::rule::CompiledRule;
use crate::sql::{self, Abort, Env, Evaluation, Message, Value as SqlValue};
use base64::Engine as _;
use serde_json::{Map, Value, json};

/// The Basic Ingest prefix: `$aws/rules/<rule>/<topic>` reaches that rule only.
pub const BASIC_INGEST: &str = "$aws/rules/";

/// `$aws/rules/<rule>/<rest>` -> the rule's name and `rest`.
pub fn basic_ingest(topic: &str) -> Option<(&str, &str)> {
    let rest = topic.strip_prefix(BASIC_INGEST)?;
    Some(rest.split_once('/').unwrap_or((rest, "")))
}

/// The enabled rules of `region` that see a message on `topic`, with the topic their SQL sees.
pub fn rules_for<'b>(
    book: &'b RuleBook,
    region: &str,
    topic: &'b str,
) -> Vec<(&'b CompiledRule, &'b str)> {
    if let Some((name, rest)) = basic_ingest(topic) {
        return book
            .get(region, name)
            .ok()
            .filter(|r| !r.record.rule_disabled)
            .map(|r| vec![(r, rest)])
            .unwrap_or_default();
    }
    book.list(region)
        .filter(|r| !r.record.rule_disabled)
        .filter(|r| {
            r.topic_pattern()
                .is_some_and(|f| iotmock_mqtt::topic::matches(f, topic))
        })
        .map(|r| (r, topic))
        .collect()
}

/// One action to carry out: its type, its parameters with templates resolved, the payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub kind: &'static Kind,
    pub params: Map<String, Value>,
    pub payload: Vec<u8>,
}

impl Invocation {
    /// The resource an error action names (`failedResource`).
    pub fn resource(&self) -> String {
        let mut at: Option<&Value> = None;
        for (i, part) in self.kind.resource.split('.').enumerate() {
            at = if i == 0 {
                self.params.get(part)
            } else {
                at.and_then(|v| v.get(part))
            };
        }
        at.and_then(Value::as_str).unwrap_or_default().to_string()
    }
}

/// What a rule did with one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Firing {
    /// WHERE was not true: no actions, no error action.
    Filtered { why: String },
    /// An external function failed: no actions; the error action runs.
    Aborted(Abort),
    /// The actions to run (an action whose template could not be resolved is in `failed`).
    Matched {
        output: Vec<u8>,
        invocations: Vec<Invocation>,
        failed: Vec<Failure>,
    },
}

/// One failed action, as the error action's document lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub failed_action: String,
    pub failed_resource: String,
    pub error_message: String,
}

impl Failure {
    pub fn of(invocation: &Invocation, message: impl Into<String>) -> Self {
        Self {
            failed_action: invocation.kind.class.to_string(),
            failed_resource: invocation.resource(),
            error_message: message.into(),
        }
    }
}

/// Runs `rule` on `msg`.
pub fn fire(rule: &CompiledRule, msg: &Message<'_>, env: &dyn Env) -> Firing {
    let (output, variables) = match sql::evaluate(&rule.statement, msg, env) {
        Err(abort) => return Firing::Aborted(abort),
        Ok(Evaluation::Filtered { why }) => return Firing::Filtered { why },
        Ok(Evaluation::Matched { output, variables }) => (output.to_bytes(), variables),
    };
    let (mut invocations, mut failed) = (Vec::new(), Vec::new());
    for action in &rule.actions {
        match resolve(action, msg, &variables, env, output.clone()) {
            Ok(i) => invocations.push(i),
            Err((i, abort)) => failed.push(Failure::of(&i, abort.to_string())),
        }
    }
    Firing::Matched {
        output,
        invocations,
        failed,
    }
}

/// The action's parameters with every template rendered against the original message.
pub fn resolve(
    action: &CompiledAction,
    msg: &Message<'_>,
    variables: &[(String, SqlValue)],
    env: &dyn Env,
    payload: Vec<u8>,
) -> Result<Invocation, (Invocation, Abort)> {
    let mut invocation = Invocation {
        kind: action.kind,
        params: action.fields.clone(),
        payload,
    };
    for (path, template) in action.templates() {
        match template.render(msg, variables, env) {
            Ok(text) => put_at(&mut invocation.params, path, text),
            Err(abort) => return Err((invocation, abort)),
        }
    }
    Ok(invocation)
}

/// The error action's invocation for `failures` of `rule` on `msg` (AWS's document:
/// ruleName, topic, cloudwatchTraceId, clientId, base64OriginalPayload, failures).
pub fn error_invocation(
    rule: &CompiledRule,
    msg: &Message<'_>,
    failures: &[Failure],
    env: &dyn Env,
) -> Option<Result<Invocation, (Invocation, Abort)>> {
    let action = rule.error_action.as_ref()?;
    let document = json!({
        "ruleName": rule.name(),
        "topic": msg.topic,
        "cloudwatchTraceId": msg.trace_id.unwrap_or_default(),
        "clientId": msg.client_id.unwrap_or("n/a"),
        "base64OriginalPayload": base64::engine::general_purpose::STANDARD.encode(msg.payload),
        "failures": failures.iter().map(|f| json!({
            "failedAction": f.failed_action,
            "failedResource": f.failed_resource,
            "errorMessage": f.error_message,
        })).collect::<Vec<_>>(),
    });
    Some(resolve(
        action,
        msg,
        &[],
        env,
        document.to_string().into_bytes(),
    ))
}
