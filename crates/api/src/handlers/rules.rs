//! Topic rules (restJson1): CreateTopicRule, GetTopicRule, ListTopicRules, ReplaceTopicRule,
//! DeleteTopicRule, EnableTopicRule, DisableTopicRule; and iotmock's own: the action log
//! (`GET`/`DELETE /iotmock/actions`) and `POST /iotmock/rules/evaluate`, which says what a
//! statement makes of a message without creating a rule.

use super::{names_page, write};
use crate::request::ApiRequest;
use crate::state::ApiState;
use crate::wire::Reply;
use iotmock_model::{ErrorCode, IotError, IotResult};
use iotmock_rules::{BookError, RuleError, RulesService};
use serde_json::{Value, json};

/// The rules engine, or ServiceUnavailable when this mock (or account) runs without one.
pub(crate) fn service(state: &ApiState) -> IotResult<&RulesService> {
    state.rules.as_deref().ok_or_else(|| {
        IotError::new(
            ErrorCode::ServiceUnavailable,
            "The rules engine is not running for this account",
        )
    })
}

/// A refusal of the rules engine as the API answers it. A rule that does not exist is
/// answered with the configured code (UnauthorizedException by default: the model lists no
/// ResourceNotFoundException for these operations).
pub(crate) fn to_iot(state: &ApiState, req: &ApiRequest, e: BookError) -> IotError {
    match e {
        BookError::NotFound(name) => {
            IotError::new(state.rules_not_found, format!("Rule {name} does not exist"))
        }
        BookError::AlreadyExists { name } => {
            let arn = iotmock_rules::rule::rule_arn(&req.region, &account(state), &name);
            IotError::already_exists(format!("Rule {name} already exists"), &name, &arn)
        }
        BookError::Rule(RuleError::Sql(m)) => IotError::new(ErrorCode::SqlParse, m),
        BookError::Rule(RuleError::Invalid(m)) => IotError::invalid(m),
        BookError::Store(m) => IotError::internal(format!("The rule could not be stored: {m}")),
    }
}

fn account(state: &ApiState) -> String {
    state
        .rules
        .as_ref()
        .map(|r| r.account().to_string())
        .unwrap_or_default()
}

fn checked_name(name: &str) -> IotResult<&str> {
    match iotmock_rules::rule::valid_name(name) {
        true => Ok(name),
        false => Err(IotError::invalid(format!(
            "Invalid rule name {name}: 1 to 128 characters of a-z, A-Z, 0-9 and _"
        ))),
    }
}

fn now_secs(state: &ApiState) -> IotResult<i64> {
    Ok(now_ms(state)?.div_euclid(1000))
}

pub(crate) fn now_ms(state: &ApiState) -> IotResult<i64> {
    Ok(super::read(state)?.now_millis())
}

/// `x-amz-tagging`: `k1=v1&k2=v2`, URL-encoded.
fn tagging(req: &ApiRequest) -> IotResult<Vec<(String, String)>> {
    let Some(header) = req.header("x-amz-tagging") else {
        return Ok(Vec::new());
    };
    let tags: Vec<(String, String)> = form_urlencoded::parse(header.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    iotmock_registry::check_tags(&tags)?;
    Ok(tags)
}

/// The request's body is the `TopicRulePayload` itself (the model binds it as the payload).
fn payload(req: &ApiRequest) -> IotResult<Value> {
    if req.body.is_empty() {
        return Err(IotError::invalid("topicRulePayload is required"));
    }
    Ok(Value::Object(req.json()?))
}

pub fn create(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let rules = service(state)?;
    let name = checked_name(name)?;
    let tags = tagging(req)?;
    let payload = payload(req)?;
    let now = now_secs(state)?;
    let urls = iotmock_rules::destination::required_by_rule(&payload)
        .map_err(|e| to_iot(state, req, e))?;
    rules
        .change(|book| {
            book.create(&req.region, name, &payload, Vec::new(), now)
                .map(|_| ())
        })
        .map_err(|e| to_iot(state, req, e))?;
    rules
        .imply_destinations(&req.region, &urls, now_ms(state)?)
        .map_err(|e| to_iot(state, req, e))?;
    let arn = iotmock_rules::rule::rule_arn(&req.region, rules.account(), name);
    super::common::tag_created(&mut *write(state)?, &req.region, &arn, &tags)?;
    Ok(Reply::Json(json!({})))
}

pub fn get(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let rules = service(state)?;
    let found = rules.read(|book| {
        book.get(&req.region, name)
            .map(|r| json!({ "ruleArn": r.arn(rules.account()), "rule": r.to_topic_rule() }))
    });
    found.map(Reply::Json).map_err(|e| to_iot(state, req, e))
}

pub fn list(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let rules = service(state)?;
    let topic = req.qs("topic");
    let disabled = match req.qs("ruleDisabled") {
        None => None,
        Some(_) => Some(req.qs_bool("ruleDisabled")?),
    };
    let items = rules.read(|book| {
        book.list(&req.region)
            .filter(|r| topic.is_none_or(|t| r.topic_pattern() == Some(t)))
            .filter(|r| disabled.is_none_or(|d| r.record.rule_disabled == d))
            .map(|r| {
                let item = json!({
                    "ruleArn": r.arn(rules.account()),
                    "ruleName": r.name(),
                    "topicPattern": r.topic_pattern(),
                    "createdAt": r.record.created_at,
                    "ruleDisabled": r.record.rule_disabled,
                });
                (r.name().to_string(), item)
            })
            .collect::<Vec<_>>()
    });
    names_page(req, items, "rules", "maxResults")
}

pub fn replace(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let rules = service(state)?;
    let payload = payload(req)?;
    let urls = iotmock_rules::destination::required_by_rule(&payload)
        .map_err(|e| to_iot(state, req, e))?;
    rules
        .change(|book| book.replace(&req.region, name, &payload))
        .map_err(|e| to_iot(state, req, e))?;
    rules
        .imply_destinations(&req.region, &urls, now_ms(state)?)
        .map_err(|e| to_iot(state, req, e))?;
    Ok(Reply::Json(json!({})))
}

pub fn delete(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let rules = service(state)?;
    rules
        .change(|book| book.delete(&req.region, name))
        .map_err(|e| to_iot(state, req, e))?;
    Ok(Reply::Json(json!({})))
}

pub fn set_disabled(
    state: &ApiState,
    req: &ApiRequest,
    name: &str,
    disabled: bool,
) -> IotResult<Reply> {
    let rules = service(state)?;
    rules
        .change(|book| book.set_disabled(&req.region, name, disabled))
        .map_err(|e| to_iot(state, req, e))?;
    Ok(Reply::Json(json!({})))
}

/// `GET /iotmock/actions[?rule=NAME]`.
pub fn actions(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let entries = service(state)?.actions(req.qs("rule"));
    let list: Vec<Value> = entries.iter().map(|e| e.to_json()).collect();
    Ok(Reply::Json(json!({ "actions": list })))
}

/// `DELETE /iotmock/actions`.
pub fn clear_actions(state: &ApiState, _req: &ApiRequest) -> IotResult<Reply> {
    service(state)?.clear_actions();
    Ok(Reply::Json(json!({})))
}

/// `POST /iotmock/rules/evaluate` with `{sql, topic, payload, clientId?, awsIotSqlVersion?}`.
pub fn evaluate(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let rules = service(state)?;
    let body = req.json()?;
    let text = |k: &str| body.get(k).and_then(Value::as_str);
    let sql = text("sql").ok_or_else(|| IotError::invalid("sql is required"))?;
    let topic = text("topic").ok_or_else(|| IotError::invalid("topic is required"))?;
    let payload = match body.get("payload") {
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(v) => v.to_string().into_bytes(),
        None => Vec::new(),
    };
    let now = super::read(state)?.now_millis();
    let trial = iotmock_rules::service::Trial {
        sql,
        version: text("awsIotSqlVersion"),
        topic,
        payload: &payload,
        client_id: text("clientId"),
        region: &req.region,
        now_ms: now,
    };
    match rules.evaluate(&trial) {
        Ok(v) => Ok(Reply::Json(v)),
        Err(RuleError::Sql(m)) => Err(IotError::new(ErrorCode::SqlParse, m)),
        Err(RuleError::Invalid(m)) => Err(IotError::invalid(m)),
    }
}
