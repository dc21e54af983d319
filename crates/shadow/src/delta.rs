//! The delta: what `desired` asks for that `reported` does not show, leaf by leaf.

use serde_json::{Map, Value};

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        },
        _ => a == b,
    }
}

/// The part of `desired` that differs from `reported` (`None`: in sync). Objects recurse,
/// keeping the path to the root and dropping empty branches; numbers compare by value; any
/// other difference (arrays, strings, types) copies the whole desired value.
pub fn delta(desired: &Value, reported: Option<&Value>) -> Option<Value> {
    let Value::Object(want) = desired else {
        return None;
    };
    let have = reported.and_then(Value::as_object);
    let mut out = Map::new();
    for (k, d) in want {
        let r = have.and_then(|h| h.get(k));
        let diff = match (d, r) {
            (Value::Object(_), Some(r @ Value::Object(_))) => delta(d, Some(r)),
            (Value::Object(m), _) if m.is_empty() => None,
            (_, Some(r)) if same(d, r) => None,
            _ => Some(d.clone()),
        };
        if let Some(v) = diff {
            out.insert(k.clone(), v);
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// The metadata of the delta's leaves: `desired`'s metadata at the same paths.
pub fn delta_metadata(delta: &Value, desired_meta: Option<&Value>) -> Value {
    match delta {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let meta = desired_meta.and_then(|d| d.get(k));
                    (k.clone(), delta_metadata(v, meta))
                })
                .collect(),
        ),
        _ => desired_meta.cloned().unwrap_or(Value::Null),
    }
}
