//! The IoT SQL value model (AWS IoT developer guide, "Data types"): Int, Decimal, Boolean,
//! String, Array, Object, Null and the non-value Undefined, with the standard conversions.
//! Int is an `i64` and Decimal an `f64` (AWS keeps 34 digits; double precision is what most
//! functions use anyway). Objects keep their keys in insertion order.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// An IoT SQL value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Not a value: a missing key, or a function given the wrong arguments.
    Undefined,
    Null,
    Bool(bool),
    Int(i64),
    Decimal(f64),
    String(String),
    Array(Vec<Value>),
    /// Keys in insertion order.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// Converts a serde_json value (key order as that map keeps it).
    pub fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => n.as_f64().map_or(Value::Undefined, Value::Decimal),
            },
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(a) => Value::Array(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Parses JSON text, keeping object keys in document order (a repeated key keeps its first
    /// place and its last value). `None` if the text is not JSON.
    pub fn parse_json(bytes: &[u8]) -> Option<Value> {
        serde_json::from_slice::<Value>(bytes).ok()
    }

    /// JSON text. A key whose value is Undefined is left out (so is an Undefined array item);
    /// a lone Undefined is the empty string.
    pub fn to_json_text(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    fn write_json(&self, out: &mut String) {
        match self {
            Value::Undefined => {}
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Decimal(d) if d.is_finite() => out.push_str(&decimal_text(*d)),
            Value::Decimal(_) => out.push_str("null"),
            Value::String(s) => out.push_str(&serde_json::Value::String(s.clone()).to_string()),
            Value::Array(items) => {
                out.push('[');
                let defined = items.iter().filter(|v| !matches!(v, Value::Undefined));
                for (i, item) in defined.enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json(out);
                }
                out.push(']');
            }
            Value::Object(fields) => {
                out.push('{');
                let defined = fields
                    .iter()
                    .filter(|(_, v)| !matches!(v, Value::Undefined));
                for (i, (key, value)) in defined.enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(key.clone()).to_string());
                    out.push(':');
                    value.write_json(out);
                }
                out.push('}');
            }
        }
    }

    /// As a serde_json value; `None` for Undefined (Undefined keys and items are left out).
    pub fn to_serde(&self) -> Option<serde_json::Value> {
        Some(match self {
            Value::Undefined => return None,
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Decimal(d) => {
                serde_json::Number::from_f64(*d).map_or(serde_json::Value::Null, Into::into)
            }
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Array(items) => items.iter().filter_map(Value::to_serde).collect(),
            Value::Object(fields) => serde_json::Value::Object(
                fields
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.to_serde()?)))
                    .collect(),
            ),
        })
    }

    /// The standard conversion to String: numbers in decimal notation (a Decimal may use
    /// scientific notation), Booleans as `true`/`false`, Arrays and Objects as JSON text; `None`
    /// (Undefined) for Null and Undefined.
    pub fn to_sql_string(&self) -> Option<String> {
        match self {
            Value::Undefined | Value::Null => None,
            Value::String(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Decimal(d) => Some(decimal_text(*d)),
            Value::Bool(b) => Some(b.to_string()),
            Value::Array(_) | Value::Object(_) => Some(self.to_json_text()),
        }
    }

    /// The standard conversion to Decimal: numbers, and Strings that match
    /// `^-?\d+(\.\d+)?((?i)E-?\d+)?$`. `None` otherwise (Null included).
    pub fn to_decimal(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Decimal(d) => Some(*d),
            Value::String(s) => parse_numeric(s),
            _ => None,
        }
    }

    /// The standard conversion to Int: a Decimal is rounded to the nearest Int, a numeric String
    /// is parsed as a Decimal and then truncated. `None` otherwise.
    pub fn to_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Decimal(d) => f64_to_i64(d.round()),
            Value::String(s) => match s.parse::<i64>() {
                Ok(i) => Some(i),
                Err(_) => parse_numeric(s).and_then(|d| f64_to_i64(d.trunc())),
            },
            _ => None,
        }
    }

    /// The standard conversion to Boolean: Booleans, and the Strings `true`/`false` in any case.
    pub fn to_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    /// Whether this is Undefined.
    pub fn is_undefined(&self) -> bool {
        matches!(self, Value::Undefined)
    }

    /// The field `key` of an Object, Undefined otherwise or when missing.
    pub fn field(&self, key: &str) -> Value {
        match self {
            Value::Object(fields) => fields
                .iter()
                .find(|(k, _)| k == key)
                .map_or(Value::Undefined, |(_, v)| v.clone()),
            _ => Value::Undefined,
        }
    }

    /// 2016-03-23 writes whole-number Decimals as Ints (`10.0` becomes `10`), recursively.
    pub fn whole_decimals_to_int(self) -> Value {
        match self {
            Value::Decimal(d) if d.fract() == 0.0 => {
                f64_to_i64(d).map_or(Value::Decimal(d), Value::Int)
            }
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(Value::whole_decimals_to_int)
                    .collect(),
            ),
            Value::Object(fields) => Value::Object(
                fields
                    .into_iter()
                    .map(|(k, v)| (k, v.whole_decimals_to_int()))
                    .collect(),
            ),
            other => other,
        }
    }
}

/// A Decimal as text: the shortest form that reads back the same (`22.5`, `10.0`, `1e300`).
pub fn decimal_text(d: f64) -> String {
    match serde_json::Number::from_f64(d) {
        Some(n) => n.to_string(),
        None if d.is_nan() => "NaN".to_string(),
        None if d > 0.0 => "Infinity".to_string(),
        None => "-Infinity".to_string(),
    }
}

/// Parses a String that matches `^-?\d+(\.\d+)?((?i)E-?\d+)?$`.
pub fn parse_numeric(s: &str) -> Option<f64> {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let exp_ok = exponent.is_none_or(|e| digits(e.strip_prefix('-').unwrap_or(e)));
    if !digits(int) || !frac.is_none_or(digits) || !exp_ok {
        return None;
    }
    s.parse::<f64>().ok().filter(|d| d.is_finite())
}

/// An `f64` holding a whole number as an `i64`, if it fits.
pub fn f64_to_i64(d: f64) -> Option<i64> {
    // 2^63 is exactly representable; anything below it (and at or above -2^63) fits.
    if d.is_finite() && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&d) {
        Some(d as i64)
    } else {
        None
    }
}

/// A whole-number result: Int if it fits, else Decimal; Undefined for NaN or infinity.
pub fn whole(d: f64) -> Value {
    match f64_to_i64(d) {
        Some(i) => Value::Int(i),
        None if d.is_finite() => Value::Decimal(d),
        None => Value::Undefined,
    }
}

/// A Decimal result, Undefined for NaN or infinity.
pub fn decimal(d: f64) -> Value {
    if d.is_finite() {
        Value::Decimal(d)
    } else {
        Value::Undefined
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

/// Builds a [`Value`] straight from JSON, keeping object keys in document order.
struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(i64::try_from(u).map_or(Value::Decimal(u as f64), Value::Int))
    }
    fn visit_f64<E>(self, d: f64) -> Result<Value, E> {
        Ok(Value::Decimal(d))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_string()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields: Vec<(String, Value)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            match index.get(&key).and_then(|&i| fields.get_mut(i)) {
                Some(slot) => slot.1 = value,
                None => {
                    index.insert(key.clone(), fields.len());
                    fields.push((key, value));
                }
            }
        }
        Ok(Value::Object(fields))
    }
}
