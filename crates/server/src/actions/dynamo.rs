//! JSON to DynamoDB's attribute values, as the rules engine writes items: numbers as `N`,
//! strings `S`, booleans `BOOL`, null `NULL`, arrays `L`, objects `M`.

use super::calls::{Call, b64, json_call, object, text};
use serde_json::{Map, Value, json};

pub fn attribute(v: &Value) -> Value {
    match v {
        Value::Null => json!({ "NULL": true }),
        Value::Bool(b) => json!({ "BOOL": b }),
        Value::Number(n) => json!({ "N": n.to_string() }),
        Value::String(s) => json!({ "S": s }),
        Value::Array(items) => json!({ "L": items.iter().map(attribute).collect::<Vec<_>>() }),
        Value::Object(m) => json!({ "M": item(m) }),
    }
}

/// An attribute value as plain JSON (the reverse of [`attribute`]): `N` as a number, sets as
/// arrays, binary as its base64 text.
pub fn plain(v: &Value) -> Value {
    let Some((kind, inner)) = v.as_object().and_then(|m| m.iter().next()) else {
        return Value::Null;
    };
    let number = |t: &Value| {
        let text = t.as_str().unwrap_or_default();
        serde_json::from_str::<serde_json::Number>(text).map_or(Value::Null, Value::Number)
    };
    match kind.as_str() {
        "N" => number(inner),
        "NS" => Value::Array(inner.as_array().into_iter().flatten().map(number).collect()),
        "L" => Value::Array(inner.as_array().into_iter().flatten().map(plain).collect()),
        "M" => Value::Object(
            inner
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), plain(v)))
                .collect(),
        ),
        "NULL" => Value::Null,
        _ => inner.clone(),
    }
}

/// An item: each key of `m` as an attribute.
pub fn item(m: &Map<String, Value>) -> Map<String, Value> {
    m.iter().map(|(k, v)| (k.clone(), attribute(v))).collect()
}

/// A key value typed as the action says (`NUMBER` or `STRING`, the default).
pub fn typed(value: &str, kind: Option<&str>) -> Value {
    match kind {
        Some("NUMBER") => json!({ "N": value }),
        _ => json!({ "S": value }),
    }
}

/// `dynamoDBv2`: each top-level attribute of the SELECT output is its own attribute.
pub fn v2(p: &Map<String, Value>, payload: &[u8]) -> Result<Call, String> {
    let table = p
        .get("putItem")
        .and_then(|t| t.get("tableName"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let body = json!({ "TableName": table, "Item": item(&object(payload)?) });
    Ok(json_call(
        "dynamodb",
        "DynamoDB_20120810.PutItem",
        "1.0",
        body,
    ))
}

/// `dynamoDB`: the key columns and the SELECT output in one column (binary when not JSON);
/// `DeleteItem` when the operation resolves to DELETE.
pub fn v1(p: &Map<String, Value>, payload: &[u8]) -> Result<Call, String> {
    let mut key = Map::new();
    let hash = typed(
        text(p, "hashKeyValue"),
        p.get("hashKeyType").and_then(Value::as_str),
    );
    key.insert(text(p, "hashKeyField").to_string(), hash);
    if let Some(field) = p.get("rangeKeyField").and_then(Value::as_str) {
        let range = typed(
            text(p, "rangeKeyValue"),
            p.get("rangeKeyType").and_then(Value::as_str),
        );
        key.insert(field.to_string(), range);
    }
    let table = text(p, "tableName");
    if text(p, "operation").eq_ignore_ascii_case("DELETE") {
        let body = json!({ "TableName": table, "Key": key });
        return Ok(json_call(
            "dynamodb",
            "DynamoDB_20120810.DeleteItem",
            "1.0",
            body,
        ));
    }
    let column = p
        .get("payloadField")
        .and_then(Value::as_str)
        .unwrap_or("payload");
    let value = match serde_json::from_slice::<Value>(payload) {
        Ok(v) => attribute(&v),
        Err(_) => json!({ "B": b64(payload) }),
    };
    key.insert(column.to_string(), value);
    let body = json!({ "TableName": table, "Item": key });
    Ok(json_call(
        "dynamodb",
        "DynamoDB_20120810.PutItem",
        "1.0",
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_becomes_attribute_values() {
        let doc =
            json!({ "t": 21.5, "id": "a", "ok": true, "tags": ["x"], "m": { "n": 1 }, "z": null });
        let got = Value::Object(item(doc.as_object().unwrap()));
        assert_eq!(
            got,
            json!({ "t": { "N": "21.5" }, "id": { "S": "a" }, "ok": { "BOOL": true },
                    "tags": { "L": [{ "S": "x" }] }, "m": { "M": { "n": { "N": "1" } } },
                    "z": { "NULL": true } })
        );
    }
}
