//! String, collection and encoding functions. Arguments are converted to String with the
//! standard conversion where AWS says so; anything unconvertible gives Undefined.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::value::Value;
use super::{functions, functions_regex};

/// The functions of this module; `None` if `name` is not one of them.
pub fn call(name: &str, a: &[Value]) -> Option<Value> {
    let arg = |i: usize| a.get(i).unwrap_or(&Value::Undefined);
    Some(match name {
        "concat" => concat(a),
        "replace" => strings(a, |[s, from, to]| Value::String(s.replace(&from, &to))),
        "regexp_matches" | "regexp_replace" | "regexp_substr" => functions_regex::call(name, a),
        "substring" => substring(arg(0), arg(1), a.get(2)),
        "lower" => strings(a, |[s]| Value::String(s.to_lowercase())),
        "upper" => strings(a, |[s]| Value::String(s.to_uppercase())),
        "trim" => strings(a, |[s]| {
            Value::String(s.trim_matches([' ', '\t']).to_string())
        }),
        "ltrim" => strings(a, |[s]| {
            Value::String(s.trim_start_matches([' ', '\t']).to_string())
        }),
        "rtrim" => strings(a, |[s]| {
            Value::String(s.trim_end_matches([' ', '\t']).to_string())
        }),
        "isundefined" => Value::Bool(arg(0).is_undefined()),
        "isnull" => Value::Bool(matches!(arg(0), Value::Null)),
        "get_or_default" => {
            if arg(0).is_undefined() {
                arg(1).clone()
            } else {
                arg(0).clone()
            }
        }
        "get" => functions::get(arg(0), arg(1)),
        "encode" => encode_value(arg(0), arg(1)),
        "decode" => decode(arg(0), arg(1)),
        "startswith" => strings(a, |[s, p]| Value::Bool(s.starts_with(p.as_str()))),
        "endswith" => strings(a, |[s, p]| Value::Bool(s.ends_with(p.as_str()))),
        "indexof" => indexof(arg(0), arg(1)),
        "length" => strings(a, |[s]| Value::Int(count(s.chars().count()))),
        "numbytes" => strings(a, |[s]| Value::Int(count(s.len()))),
        "lpad" | "rpad" => pad(name == "lpad", arg(0), arg(1)),
        "chr" => chr(arg(0)),
        "nanvl" => match arg(0) {
            Value::Undefined | Value::Null => arg(1).clone(),
            Value::Decimal(d) if d.is_nan() => arg(1).clone(),
            v => v.clone(),
        },
        "transform" => transform(arg(0), arg(1), arg(2)),
        _ => return None,
    })
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Applies `f` to the `N` arguments converted to Strings; Undefined if there are not exactly
/// `N` or any does not convert.
fn strings<const N: usize>(a: &[Value], f: impl FnOnce([String; N]) -> Value) -> Value {
    let converted = a
        .iter()
        .map(Value::to_sql_string)
        .collect::<Option<Vec<String>>>();
    match converted.and_then(|v| <[String; N]>::try_from(v).ok()) {
        Some(s) => f(s),
        None => Value::Undefined,
    }
}

/// All arguments converted to Strings and joined.
fn join(a: &[Value]) -> Value {
    a.iter()
        .map(Value::to_sql_string)
        .collect::<Option<String>>()
        .map_or(Value::Undefined, Value::String)
}

/// `concat`: no arguments give Undefined, one is returned unchanged; with an Array among them
/// the result is one Array (arrays spliced, other values appended); otherwise with a String
/// among them the converted Strings are joined; otherwise Undefined.
fn concat(a: &[Value]) -> Value {
    match a {
        [] => Value::Undefined,
        [one] => one.clone(),
        _ if a.iter().any(Value::is_undefined) => Value::Undefined,
        _ if a.iter().any(|v| matches!(v, Value::Array(_))) => {
            let mut out = Vec::new();
            for v in a {
                match v {
                    Value::Array(items) => out.extend(items.iter().cloned()),
                    other => out.push(other.clone()),
                }
            }
            Value::Array(out)
        }
        _ if a.iter().any(|v| matches!(v, Value::String(_))) => join(a),
        _ => Value::Undefined,
    }
}

/// An index argument: a number (Decimals floored) or numeric String.
fn index_arg(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        _ => v
            .to_decimal()
            .and_then(|d| super::value::f64_to_i64(d.floor())),
    }
}

/// `substring(s, from[, to])`: 0-based, `to` exclusive, both clamped to the string.
fn substring(s: &Value, from: &Value, to: Option<&Value>) -> Value {
    let Some(text) = s.to_sql_string() else {
        return Value::Undefined;
    };
    let chars: Vec<char> = text.chars().collect();
    let len = count(chars.len());
    let Some(start) = index_arg(from) else {
        return Value::Undefined;
    };
    let end = match to {
        Some(v) => match index_arg(v) {
            Some(e) => e,
            None => return Value::Undefined,
        },
        None => len,
    };
    let (start, end) = (start.clamp(0, len), end.clamp(0, len));
    if end <= start {
        return Value::String(String::new());
    }
    let (start, end) = (
        usize::try_from(start).unwrap_or(0),
        usize::try_from(end).unwrap_or(0),
    );
    Value::String(
        chars
            .get(start..end)
            .map(|c| c.iter().collect())
            .unwrap_or_default(),
    )
}

/// `indexof(s, sub)`: the first 0-based character index, -1 if absent; Strings only.
fn indexof(s: &Value, sub: &Value) -> Value {
    let (Value::String(s), Value::String(sub)) = (s, sub) else {
        return Value::Undefined;
    };
    match s.find(sub.as_str()) {
        Some(byte) => Value::Int(count(s[..byte].chars().count())),
        None => Value::Int(-1),
    }
}

/// `lpad`/`rpad(s, n)`: `n` spaces (clamped to 0..=1000, a Decimal floored) before or after
/// `s`.
fn pad(left: bool, s: &Value, n: &Value) -> Value {
    let (Some(text), Some(n)) = (s.to_sql_string(), index_arg(n)) else {
        return Value::Undefined;
    };
    let spaces = " ".repeat(usize::try_from(n.clamp(0, 1000)).unwrap_or(0));
    Value::String(if left { spaces + &text } else { text + &spaces })
}

/// `chr(n)`: the ASCII character with code `n`.
fn chr(n: &Value) -> Value {
    match n {
        Value::Int(i @ 0..=127) => {
            let byte = u8::try_from(*i).unwrap_or(0);
            Value::String(char::from(byte).to_string())
        }
        _ => Value::Undefined,
    }
}

/// `encode(*, 'base64')`: the raw payload bytes in base64.
pub fn encode_bytes(payload: &[u8], scheme: &Value) -> Value {
    match scheme {
        Value::String(s) if s == "base64" => Value::String(STANDARD.encode(payload)),
        _ => Value::Undefined,
    }
}

/// `encode(v, 'base64')` of a value: its String conversion, in base64.
fn encode_value(v: &Value, scheme: &Value) -> Value {
    match v.to_sql_string() {
        Some(s) => encode_bytes(s.as_bytes(), scheme),
        None => Value::Undefined,
    }
}

/// `decode(s, 'base64')`: a decoded JSON document becomes a value, anything else a String;
/// text that is not base64 gives Null. Other schemes (Protobuf) give Undefined.
fn decode(v: &Value, scheme: &Value) -> Value {
    if !matches!(scheme, Value::String(s) if s == "base64") {
        return Value::Undefined;
    }
    let Some(text) = v.to_sql_string() else {
        return Value::Undefined;
    };
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    match engine.decode(text.trim()) {
        Ok(bytes) => Value::parse_json(&bytes)
            .unwrap_or_else(|| Value::String(String::from_utf8_lossy(&bytes).into_owned())),
        Err(_) => Value::Null,
    }
}

/// The largest result `transform` may build (128 KiB of JSON).
const TRANSFORM_LIMIT: usize = 128 * 1024;

/// `transform('enrichArray', obj, arr)`: every Object element of `arr` gains `obj`'s keys
/// (other elements are kept as they are).
fn transform(mode: &Value, obj: &Value, arr: &Value) -> Value {
    let (Value::String(mode), Value::Object(extra), Value::Array(items)) = (mode, obj, arr) else {
        return Value::Undefined;
    };
    if mode != "enrichArray" {
        return Value::Undefined;
    }
    let enriched: Vec<Value> = items
        .iter()
        .map(|item| match item {
            Value::Object(fields) => {
                let mut fields = fields.clone();
                for (k, v) in extra {
                    match fields.iter_mut().find(|(key, _)| key == k) {
                        Some(slot) => slot.1 = v.clone(),
                        None => fields.push((k.clone(), v.clone())),
                    }
                }
                Value::Object(fields)
            }
            other => other.clone(),
        })
        .collect();
    let result = Value::Array(enriched);
    if result.to_json_text().len() > TRANSFORM_LIMIT {
        Value::Undefined
    } else {
        result
    }
}
