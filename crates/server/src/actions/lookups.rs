//! The SQL functions that read AWS services, sent to `--aws-endpoint-url` as the AWS SDK
//! sends them: `get_dynamodb` (DynamoDB GetItem, consistent read) and `get_secret` (Secrets
//! Manager GetSecretValue).

use super::Trust;
use super::calls::json_call;
use super::dynamo;
use serde_json::{Map, Value, json};

/// GetItem of `key` in `table`: the item as plain JSON (Null when there is none).
pub async fn get_item(
    trust: &Trust,
    endpoint: &str,
    (region, now_ms): (&str, i64),
    table: &str,
    key: &[(String, Value)],
) -> Result<Value, String> {
    let key: Map<String, Value> = key
        .iter()
        .map(|(name, v)| (name.clone(), dynamo::attribute(v)))
        .collect();
    let body = json!({ "TableName": table, "Key": key, "ConsistentRead": true });
    let call = json_call("dynamodb", "DynamoDB_20120810.GetItem", "1.0", body);
    let answer = super::aws::send(trust, endpoint, call, (region, now_ms)).await?;
    let doc: Value = serde_json::from_slice(&answer)
        .map_err(|e| format!("DynamoDB GetItem answered something that is not JSON: {e}"))?;
    Ok(match doc.get("Item").and_then(Value::as_object) {
        Some(item) => Value::Object(
            item.iter()
                .map(|(k, v)| (k.clone(), dynamo::plain(v)))
                .collect(),
        ),
        None => Value::Null,
    })
}

/// GetSecretValue of `id`: its SecretString, or its SecretBinary (base64) when `binary`.
pub async fn get_secret(
    trust: &Trust,
    endpoint: &str,
    (region, now_ms): (&str, i64),
    id: &str,
    binary: bool,
) -> Result<String, String> {
    let body = json!({ "SecretId": id });
    let call = json_call(
        "secretsmanager",
        "secretsmanager.GetSecretValue",
        "1.1",
        body,
    );
    let answer = super::aws::send(trust, endpoint, call, (region, now_ms)).await?;
    let doc: Value = serde_json::from_slice(&answer)
        .map_err(|e| format!("GetSecretValue answered something that is not JSON: {e}"))?;
    let member = if binary {
        "SecretBinary"
    } else {
        "SecretString"
    };
    doc.get(member)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("the secret '{id}' has no {member}"))
}
