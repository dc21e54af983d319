//! Functions that read the message or the outside world: `topic`, `clientid`, `timestamp`,
//! `newuuid`, `principal`, `accountid`, `sql_version`, `traceid`, `sourceip`, the MQTT 5
//! property functions and the external functions (`aws_lambda`, `get_thing_shadow`,
//! `get_registry_data`, `get_dynamodb`, `get_secret`, `machinelearning_predict`). An external
//! function that fails aborts the rule.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::eval::{Abort, Ctx};
use super::value::{Value, decimal};

/// The functions of this module; `None` if `name` is not one of them.
pub fn call(ctx: &Ctx<'_>, name: &str, a: &[Value]) -> Option<Result<Value, Abort>> {
    let msg = ctx.msg;
    let text = |o: Option<&str>| o.map_or(Value::Undefined, |s| Value::String(s.to_string()));
    Some(Ok(match name {
        "topic" => topic(msg.topic, a.first()),
        "clientid" => Value::String(msg.client_id.unwrap_or("n/a").to_string()),
        "timestamp" => Value::Int(msg.now_ms),
        "newuuid" => Value::String(ctx.env.new_uuid()),
        "principal" => text(msg.principal),
        "accountid" => Value::String(msg.account.to_string()),
        "sql_version" => Value::String(ctx.version.as_str().to_string()),
        "traceid" => text(msg.trace_id),
        "sourceip" => text(msg.source_ip),
        "rand" => decimal(ctx.env.rand()),
        "get_mqtt_property" => mqtt_property(ctx, a.first()),
        "get_user_properties" => user_properties(ctx, a.first()),
        "machinelearning_predict" => Value::Undefined,
        "aws_lambda" | "get_thing_shadow" | "get_registry_data" | "get_dynamodb" | "get_secret" => {
            return Some(if ctx.quiet {
                Ok(Value::Undefined)
            } else {
                external(ctx, name, a)
            });
        }
        _ => return None,
    }))
}

/// `topic()` or `topic(n)`: the whole topic or its n-th (1-based) level.
fn topic(topic: &str, n: Option<&Value>) -> Value {
    match n {
        None => Value::String(topic.to_string()),
        Some(Value::Int(n)) if *n >= 1 => usize::try_from(*n - 1)
            .ok()
            .and_then(|i| topic.split('/').nth(i))
            .map_or(Value::Undefined, |s| Value::String(s.to_string())),
        Some(_) => Value::Undefined,
    }
}

/// `get_mqtt_property(name)`: `format_indicator` (`UTF8_DATA` or, by default,
/// `UNSPECIFIED_BYTES`), `content_type`, `response_topic`, `correlation_data` (base64).
fn mqtt_property(ctx: &Ctx<'_>, name: Option<&Value>) -> Value {
    let props = ctx.msg.properties;
    let Some(Value::String(name)) = name else {
        return Value::Undefined;
    };
    let text = |o: Option<&String>| o.map_or(Value::Undefined, |s| Value::String(s.clone()));
    match name.to_ascii_lowercase().as_str() {
        "format_indicator" => Value::String(
            if props.payload_format_utf8 == Some(true) {
                "UTF8_DATA"
            } else {
                "UNSPECIFIED_BYTES"
            }
            .to_string(),
        ),
        "content_type" => text(props.content_type.as_ref()),
        "response_topic" => text(props.response_topic.as_ref()),
        "correlation_data" => props
            .correlation_data
            .as_ref()
            .map_or(Value::Undefined, |d| Value::String(STANDARD.encode(d))),
        _ => Value::Undefined,
    }
}

/// `get_user_properties()`: an Array of `{key: value}` Objects in order; with a key, an Array
/// of that key's values. Undefined when there are none.
fn user_properties(ctx: &Ctx<'_>, key: Option<&Value>) -> Value {
    let props = &ctx.msg.properties.user_properties;
    let items: Vec<Value> = match key {
        None => props
            .iter()
            .map(|(k, v)| Value::Object(vec![(k.clone(), Value::String(v.clone()))]))
            .collect(),
        Some(Value::String(key)) => props
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| Value::String(v.clone()))
            .collect(),
        Some(_) => return Value::Undefined,
    };
    if items.is_empty() {
        Value::Undefined
    } else {
        Value::Array(items)
    }
}

fn abort(function: &str, message: impl Into<String>) -> Abort {
    Abort {
        function: function.to_string(),
        message: message.into(),
    }
}

/// A String argument of an external function, or an abort naming it.
fn text_arg(function: &str, a: &[Value], i: usize, what: &str) -> Result<String, Abort> {
    a.get(i)
        .and_then(Value::to_sql_string)
        .ok_or_else(|| abort(function, format!("{what} is Undefined")))
}

fn external(ctx: &Ctx<'_>, name: &str, a: &[Value]) -> Result<Value, Abort> {
    let env = ctx.env;
    match name {
        "aws_lambda" => {
            let arn = text_arg(name, a, 0, "the function ARN")?;
            let input = a.get(1).cloned().unwrap_or(Value::Undefined);
            env.lambda(&arn, &input).map_err(|e| abort(name, e))
        }
        "get_thing_shadow" => {
            let thing = text_arg(name, a, 0, "the thing name")?;
            let shadow = if a.len() == 3 {
                Some(text_arg(name, a, 1, "the shadow name")?)
            } else {
                None
            };
            env.thing_shadow(&thing, shadow.as_deref())
                .map_err(|e| abort(name, e))
        }
        "get_registry_data" => {
            let api = text_arg(name, a, 0, "the API name")?;
            if api != "DescribeThing" && api != "ListThingGroupsForThing" {
                return Ok(Value::Undefined);
            }
            let thing = text_arg(name, a, 1, "the thing name")?;
            env.registry_data(&api, &thing).map_err(|e| abort(name, e))
        }
        "get_dynamodb" => dynamodb(ctx, a),
        _ => secret(ctx, a),
    }
}

/// `get_dynamodb(table, pk, pkValue[, sk, skValue], roleArn)`, at most once per evaluation: a
/// second call terminates the rule.
fn dynamodb(ctx: &Ctx<'_>, a: &[Value]) -> Result<Value, Abort> {
    const NAME: &str = "get_dynamodb";
    let calls = ctx.dynamodb_calls.get() + 1;
    ctx.dynamodb_calls.set(calls);
    if calls > 1 {
        return Err(abort(
            NAME,
            "get_dynamodb can be called only once per rule evaluation",
        ));
    }
    let table = text_arg(NAME, a, 0, "the table name")?;
    let mut key = vec![(
        text_arg(NAME, a, 1, "the partition key name")?,
        a.get(2).cloned().unwrap_or(Value::Undefined),
    )];
    if a.len() == 6 {
        key.push((
            text_arg(NAME, a, 3, "the sort key name")?,
            a.get(4).cloned().unwrap_or(Value::Undefined),
        ));
    }
    ctx.env
        .dynamodb_item(&table, &key)
        .map_err(|e| abort(NAME, e))
}

/// `get_secret(id, 'SecretString' | 'SecretBinary'[, key], roleArn)`: a key reads that member
/// of a JSON secret (an error for any other secret); without a key, a JSON secret is an Object,
/// anything else a String.
fn secret(ctx: &Ctx<'_>, a: &[Value]) -> Result<Value, Abort> {
    const NAME: &str = "get_secret";
    let id = text_arg(NAME, a, 0, "the secret id")?;
    let binary = match text_arg(NAME, a, 1, "the secret type")?.as_str() {
        "SecretString" => false,
        "SecretBinary" => true,
        other => return Err(abort(NAME, format!("unknown secret type '{other}'"))),
    };
    let secret = ctx.env.secret(&id, binary).map_err(|e| abort(NAME, e))?;
    let parsed = if binary {
        None
    } else {
        Value::parse_json(secret.as_bytes())
    };
    if a.len() == 4 {
        let key = text_arg(NAME, a, 2, "the key")?;
        return match parsed {
            Some(obj @ Value::Object(_)) => Ok(obj.field(&key)),
            _ => Err(abort(
                NAME,
                format!("the secret '{id}' is not a JSON object, so it has no key '{key}'"),
            )),
        };
    }
    Ok(parsed
        .filter(|v| matches!(v, Value::Object(_)))
        .unwrap_or(Value::String(secret)))
}
