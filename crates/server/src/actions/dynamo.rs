//! JSON to DynamoDB's attribute values, as the rules engine writes items: numbers as `N`,
//! strings `S`, booleans `BOOL`, null `NULL`, arrays `L`, objects `M`.

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
