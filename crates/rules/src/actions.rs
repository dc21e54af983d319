//! The `Action` union of a topic rule: one member per action type, each with the fields the
//! service model gives it. A rule's actions are checked when it is created or replaced: exactly
//! one member, a known type, its required fields present, no field the model does not have
//! (refused, never ignored), and every field that takes substitution templates parsed.

use crate::sql::{SqlError, SqlVersion, Template};
use serde_json::{Map, Value};

/// One action type.
#[derive(Debug, PartialEq, Eq)]
pub struct Kind {
    /// The member name in `Action` (`republish`, `dynamoDBv2`, ...).
    pub member: &'static str,
    /// The name an error action's `failures[].failedAction` gives it.
    pub class: &'static str,
    /// The field whose value is the `failedResource` of an error action.
    pub resource: &'static str,
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
    /// Fields that take `${...}` templates: `a`, `a.b`, or `a[].b` (each element's `b`).
    pub templated: &'static [&'static str],
}

const fn kind(
    member: &'static str,
    class: &'static str,
    resource: &'static str,
    required: &'static [&'static str],
    optional: &'static [&'static str],
    templated: &'static [&'static str],
) -> Kind {
    Kind {
        member,
        class,
        resource,
        required,
        optional,
        templated,
    }
}

/// Every action type of the model, and `influxDB` (on AWS's current action list).
#[rustfmt::skip]
pub static KINDS: &[Kind] = &[
    kind("republish", "RepublishAction", "topic", &["topic", "roleArn"], &["qos", "headers"],
        &["topic", "headers.contentType", "headers.responseTopic", "headers.correlationData",
          "headers.messageExpiry", "headers.payloadFormatIndicator", "headers.userProperties[].key",
          "headers.userProperties[].value"]),
    kind("http", "HttpAction", "url", &["url"],
        &["confirmationUrl", "headers", "auth", "enableBatching", "batchConfig"],
        &["url", "confirmationUrl", "headers[].value"]),
    kind("lambda", "LambdaAction", "functionArn", &["functionArn"], &[], &["functionArn"]),
    kind("sqs", "SqsAction", "queueUrl", &["queueUrl", "roleArn"], &["useBase64"], &["queueUrl"]),
    kind("sns", "SnsAction", "targetArn", &["targetArn", "roleArn"], &["messageFormat"],
        &["targetArn"]),
    kind("dynamoDB", "DynamoDBAction", "tableName",
        &["tableName", "hashKeyField", "hashKeyValue", "roleArn"],
        &["hashKeyType", "rangeKeyField", "rangeKeyValue", "rangeKeyType", "payloadField",
          "operation"],
        &["tableName", "hashKeyField", "hashKeyValue", "rangeKeyField", "rangeKeyValue",
          "payloadField", "operation"]),
    kind("dynamoDBv2", "DynamoDBv2Action", "putItem.tableName", &["putItem", "roleArn"], &[],
        &["putItem.tableName"]),
    kind("kinesis", "KinesisAction", "streamName", &["streamName", "roleArn"], &["partitionKey"],
        &["streamName", "partitionKey"]),
    kind("firehose", "FirehoseAction", "deliveryStreamName", &["deliveryStreamName", "roleArn"],
        &["separator", "batchMode"], &["deliveryStreamName"]),
    kind("s3", "S3Action", "bucketName", &["bucketName", "key", "roleArn"], &["cannedAcl"],
        &["bucketName", "key"]),
    kind("cloudwatchLogs", "CloudwatchLogsAction", "logGroupName", &["logGroupName", "roleArn"],
        &["batchMode"], &["logGroupName"]),
    kind("cloudwatchMetric", "CloudwatchMetricAction", "metricName",
        &["metricNamespace", "metricName", "metricValue", "metricUnit", "roleArn"],
        &["metricTimestamp"],
        &["metricNamespace", "metricName", "metricValue", "metricUnit", "metricTimestamp"]),
    kind("cloudwatchAlarm", "CloudwatchAlarmAction", "alarmName",
        &["alarmName", "stateReason", "stateValue", "roleArn"], &[],
        &["alarmName", "stateReason", "stateValue"]),
    kind("stepFunctions", "StepFunctionsAction", "stateMachineName",
        &["stateMachineName", "roleArn"], &["executionNamePrefix"],
        &["stateMachineName", "executionNamePrefix"]),
    kind("iotEvents", "IotEventsAction", "inputName", &["inputName", "roleArn"],
        &["messageId", "batchMode"], &["inputName", "messageId"]),
    kind("timestream", "TimestreamAction", "tableName",
        &["databaseName", "tableName", "dimensions", "roleArn"], &["timestamp"],
        &["databaseName", "tableName", "dimensions[].value", "timestamp.value"]),
    kind("kafka", "KafkaAction", "topic", &["destinationArn", "topic", "clientProperties"],
        &["key", "partition", "headers"], &["topic", "key", "partition", "headers[].value"]),
    kind("openSearch", "OpenSearchAction", "index", &["endpoint", "index", "type", "id", "roleArn"],
        &[], &["endpoint", "index", "type", "id"]),
    kind("elasticsearch", "ElasticsearchAction", "index",
        &["endpoint", "index", "type", "id", "roleArn"], &[], &["endpoint", "index", "type", "id"]),
    kind("location", "LocationAction", "trackerName",
        &["trackerName", "deviceId", "latitude", "longitude", "roleArn"], &["timestamp"],
        &["trackerName", "deviceId", "latitude", "longitude", "timestamp.value"]),
    kind("iotSiteWise", "IotSiteWiseAction", "putAssetPropertyValueEntries",
        &["putAssetPropertyValueEntries", "roleArn"], &[], &[]),
    kind("iotAnalytics", "IotAnalyticsAction", "channelName", &[],
        &["channelArn", "channelName", "batchMode", "roleArn"], &["channelName"]),
    kind("salesforce", "SalesforceAction", "url", &["token", "url"], &[], &[]),
    kind("influxDB", "InfluxDBAction", "database", &[], &[], &[]),
];

/// One action of a rule, checked, with its templates parsed.
#[derive(Debug, Clone)]
pub struct CompiledAction {
    pub kind: &'static Kind,
    /// The action's fields as given.
    pub fields: Map<String, Value>,
    templates: Vec<(String, Template)>,
}

/// Why an action was refused: the message of the API's `InvalidRequestException`, or SQL in a
/// template that does not parse (`SqlParseException`).
#[derive(Debug, Clone, PartialEq)]
pub enum ActionError {
    Invalid(String),
    Template(SqlError),
}

impl CompiledAction {
    /// Checks one element of `actions` (or the `errorAction`: no external functions there).
    pub fn compile(
        action: &Value,
        version: SqlVersion,
        error_action: bool,
    ) -> Result<Self, ActionError> {
        let invalid = |m: String| ActionError::Invalid(m);
        let members = action
            .as_object()
            .ok_or_else(|| invalid("An action must be an object".into()))?;
        let mut set = members.iter().filter(|(_, v)| !v.is_null());
        let (member, body) = match (set.next(), set.next()) {
            (Some(one), None) => one,
            (None, _) => return Err(invalid("An action must set exactly one action type".into())),
            (Some((a, _)), Some((b, _))) => {
                return Err(invalid(format!(
                    "An action must set exactly one action type; it sets {a} and {b}"
                )));
            }
        };
        let kind = KINDS
            .iter()
            .find(|k| k.member == member)
            .ok_or_else(|| invalid(format!("Unknown action type: {member}")))?;
        let fields = body
            .as_object()
            .ok_or_else(|| invalid(format!("The {member} action must be an object")))?;
        check_fields(kind, fields).map_err(invalid)?;
        let mut templates = Vec::new();
        for path in kind.templated {
            for (at, text) in strings_at(fields, path) {
                let t = Template::parse(&text, version, !error_action)
                    .map_err(ActionError::Template)?;
                if !t.is_static() {
                    templates.push((at, t));
                }
            }
        }
        Ok(Self {
            kind,
            fields: fields.clone(),
            templates,
        })
    }

    /// The `Action` union element as given (`{"republish": {...}}`).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert(
            self.kind.member.to_string(),
            Value::Object(self.fields.clone()),
        );
        Value::Object(m)
    }

    /// The templates of the action, by the field they fill (`topic`, `headers[2].value`).
    pub fn templates(&self) -> &[(String, Template)] {
        &self.templates
    }
}

fn check_fields(kind: &Kind, fields: &Map<String, Value>) -> Result<(), String> {
    for required in kind.required {
        if fields.get(*required).is_none_or(Value::is_null) {
            return Err(format!("The {} action requires {required}", kind.member));
        }
    }
    if kind.member == "influxDB" {
        return Ok(());
    }
    for key in fields.keys() {
        if !kind.required.contains(&key.as_str()) && !kind.optional.contains(&key.as_str()) {
            return Err(format!("Unknown field {key} in the {} action", kind.member));
        }
    }
    if kind.member == "republish" {
        match fields.get("qos") {
            None | Some(Value::Null) => {}
            Some(q) if q.as_u64().is_some_and(|q| q <= 1) => {}
            Some(q) => return Err(format!("Invalid qos {q} in the republish action: 0 or 1")),
        }
    }
    if kind.member == "http" {
        check_batch_config(fields)?;
    }
    if kind.member == "dynamoDBv2"
        && fields
            .get("putItem")
            .and_then(|p| p.get("tableName"))
            .and_then(Value::as_str)
            .is_none()
    {
        return Err("The dynamoDBv2 action requires putItem.tableName".into());
    }
    Ok(())
}

/// `batchConfig` of an `http` action: AWS's ranges, and no unknown field.
fn check_batch_config(fields: &Map<String, Value>) -> Result<(), String> {
    if let Some(v) = fields
        .get("enableBatching")
        .filter(|v| !v.is_null() && !v.is_boolean())
    {
        return Err(format!(
            "Invalid enableBatching {v} in the http action: true or false"
        ));
    }
    let Some(config) = fields.get("batchConfig").filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let Some(config) = config.as_object() else {
        return Err("Invalid batchConfig in the http action: an object".into());
    };
    const RANGES: [(&str, u64, u64); 3] = [
        ("maxBatchOpenMs", 5, 200),
        ("maxBatchSize", 2, 10),
        ("maxBatchSizeBytes", 100, 131_072),
    ];
    for (key, value) in config {
        if key == "batchAcrossTopics" {
            if value.is_boolean() || value.is_null() {
                continue;
            }
            return Err(format!(
                "Invalid batchConfig.batchAcrossTopics {value}: true or false"
            ));
        }
        let Some((_, lo, hi)) = RANGES.iter().find(|(k, _, _)| k == key) else {
            return Err(format!(
                "Unknown field batchConfig.{key} in the http action"
            ));
        };
        if !value.is_null() && !value.as_u64().is_some_and(|n| (*lo..=*hi).contains(&n)) {
            return Err(format!(
                "Invalid batchConfig.{key} {value} in the http action: {lo} to {hi}"
            ));
        }
    }
    Ok(())
}

/// The strings at `path` (`a`, `a.b`, `a[].b`) with the concrete path of each.
pub(crate) fn strings_at(fields: &Map<String, Value>, path: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let (name, each) = match head.strip_suffix("[]") {
        Some(n) => (n, true),
        None => (head, false),
    };
    let Some(value) = fields.get(name) else {
        return out;
    };
    let items: Vec<(String, &Value)> = if each {
        let list = value.as_array().map(Vec::as_slice).unwrap_or_default();
        list.iter()
            .enumerate()
            .map(|(i, v)| (format!("{name}[{i}]"), v))
            .collect()
    } else {
        vec![(name.to_string(), value)]
    };
    for (at, v) in items {
        match (rest, v) {
            (None, Value::String(s)) => out.push((at, s.clone())),
            (Some(r), Value::Object(m)) => out.extend(
                strings_at(m, r)
                    .into_iter()
                    .map(|(p, s)| (format!("{at}.{p}"), s)),
            ),
            _ => {}
        }
    }
    out
}

/// Writes `text` at the concrete `path` (`a`, `a.b`, `a[2].b`) of `fields`.
pub(crate) fn put_at(fields: &mut Map<String, Value>, path: &str, text: String) {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let (name, index) = match head.split_once('[') {
        Some((n, i)) => (n, i.trim_end_matches(']').parse::<usize>().ok()),
        None => (head, None),
    };
    let Some(slot) = fields.get_mut(name) else {
        return;
    };
    let slot = match index {
        Some(i) => match slot.get_mut(i) {
            Some(s) => s,
            None => return,
        },
        None => slot,
    };
    match (rest, slot) {
        (None, slot) => *slot = Value::String(text),
        (Some(r), Value::Object(m)) => put_at(m, r, text),
        _ => {}
    }
}
