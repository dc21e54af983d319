//! One topic rule: the record kept (as `TopicRulePayload` gave it, plus its name, region and
//! creation time) and its compiled form (parsed SQL, checked actions and templates).

use crate::actions::{ActionError, CompiledAction};
use crate::sql::{self, SqlError, SqlVersion, Statement};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// At most this many actions per rule (the model's `ActionList`).
pub const MAX_ACTIONS: usize = 10;

/// What the state dir keeps of a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleRecord {
    pub rule_name: String,
    pub region: String,
    pub sql: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub actions: Vec<Value>,
    pub rule_disabled: bool,
    /// As sent; `None` runs on 2015-10-08 (the API's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_iot_sql_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_action: Option<Value>,
    /// Epoch seconds.
    pub created_at: i64,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

/// Why a rule was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleError {
    /// `SqlParseException`: the SQL or a template does not parse.
    Sql(String),
    /// `InvalidRequestException`.
    Invalid(String),
}

impl From<ActionError> for RuleError {
    fn from(e: ActionError) -> Self {
        match e {
            ActionError::Invalid(m) => RuleError::Invalid(m),
            ActionError::Template(e) => RuleError::Sql(template_message(&e)),
        }
    }
}

fn template_message(e: &SqlError) -> String {
    format!("A substitution template does not parse: {e}")
}

/// The rule name's rule: 1-128 of `[a-zA-Z0-9_]`.
pub fn valid_name(name: &str) -> bool {
    (1..=128).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A rule ready to run.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub record: RuleRecord,
    pub statement: Statement,
    pub actions: Vec<CompiledAction>,
    pub error_action: Option<CompiledAction>,
}

impl CompiledRule {
    /// Checks and compiles `record`: the SQL parses for its version, each action and the
    /// error action is valid.
    pub fn compile(record: RuleRecord) -> Result<Self, RuleError> {
        let version =
            SqlVersion::parse(record.aws_iot_sql_version.as_deref()).map_err(RuleError::Invalid)?;
        if record.actions.len() > MAX_ACTIONS {
            return Err(RuleError::Invalid(format!(
                "A rule has at most {MAX_ACTIONS} actions; this one has {}",
                record.actions.len()
            )));
        }
        let statement = sql::parse(&record.sql, version).map_err(|e| RuleError::Sql(e.message))?;
        let actions = record
            .actions
            .iter()
            .map(|a| CompiledAction::compile(a, version, false))
            .collect::<Result<Vec<_>, _>>()?;
        let error_action = record
            .error_action
            .as_ref()
            .map(|a| CompiledAction::compile(a, version, true))
            .transpose()?;
        Ok(Self {
            record,
            statement,
            actions,
            error_action,
        })
    }

    pub fn name(&self) -> &str {
        &self.record.rule_name
    }

    pub fn arn(&self, account: &str) -> String {
        rule_arn(&self.record.region, account, &self.record.rule_name)
    }

    /// The FROM topic filter (`topicPattern` in ListTopicRules).
    pub fn topic_pattern(&self) -> Option<&str> {
        self.statement.topic_filter()
    }

    /// GetTopicRule's `rule`.
    pub fn to_topic_rule(&self) -> Value {
        let r = &self.record;
        let mut rule = serde_json::json!({
            "ruleName": r.rule_name,
            "sql": r.sql,
            "createdAt": r.created_at,
            "actions": r.actions,
            "ruleDisabled": r.rule_disabled,
        });
        let put = |rule: &mut Value, k: &str, v: Option<Value>| {
            if let (Some(v), Some(m)) = (v, rule.as_object_mut()) {
                m.insert(k.to_string(), v);
            }
        };
        put(
            &mut rule,
            "description",
            r.description.clone().map(Value::String),
        );
        put(
            &mut rule,
            "awsIotSqlVersion",
            r.aws_iot_sql_version.clone().map(Value::String),
        );
        put(&mut rule, "errorAction", r.error_action.clone());
        rule
    }
}

pub fn rule_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:iot:{region}:{account}:rule/{name}")
}

/// Reads a `TopicRulePayload` into a record named `name` in `region`, created at `now_secs`.
pub fn record_from_payload(
    name: &str,
    region: &str,
    payload: &Value,
    now_secs: i64,
) -> Result<RuleRecord, RuleError> {
    let invalid = |m: &str| RuleError::Invalid(m.to_string());
    let p = payload
        .as_object()
        .ok_or_else(|| invalid("topicRulePayload is required"))?;
    let text = |k: &str| -> Result<Option<String>, RuleError> {
        match p.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(RuleError::Invalid(format!("{k} must be a string"))),
        }
    };
    let sql = text("sql")?.ok_or_else(|| invalid("topicRulePayload.sql is required"))?;
    let actions = match p.get("actions") {
        Some(Value::Array(a)) => a.clone(),
        None | Some(Value::Null) => return Err(invalid("topicRulePayload.actions is required")),
        Some(_) => return Err(invalid("topicRulePayload.actions must be a list")),
    };
    let rule_disabled = match p.get("ruleDisabled") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("ruleDisabled must be a boolean")),
    };
    Ok(RuleRecord {
        rule_name: name.to_string(),
        region: region.to_string(),
        sql,
        description: text("description")?,
        actions,
        rule_disabled,
        aws_iot_sql_version: text("awsIotSqlVersion")?,
        error_action: p.get("errorAction").filter(|v| !v.is_null()).cloned(),
        created_at: now_secs,
        tags: Vec::new(),
    })
}
