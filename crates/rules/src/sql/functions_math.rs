//! Numeric functions: `abs`, `floor`, `ceil`, `round`, `mod`, `sign`, `trunc`, the double
//! precision math functions, the bit functions and the hashes. Numeric Strings are accepted
//! where AWS says so; a result that is not a real number (`sqrt(-1)`) gives Undefined.

use super::ast::BinOp;
use super::value::{Value, decimal, f64_to_i64, whole};
use super::{eval_ops, hashes};

pub fn call(name: &str, a: &[Value]) -> Option<Value> {
    let arg = |i: usize| a.get(i).unwrap_or(&Value::Undefined);
    Some(match name {
        "abs" => match arg(0) {
            Value::Int(i) => i
                .checked_abs()
                .map_or(Value::Decimal((*i as f64).abs()), Value::Int),
            v => num(v).map_or(Value::Undefined, |d| decimal(d.abs())),
        },
        "floor" => num(arg(0)).map_or(Value::Undefined, |d| whole(d.floor())),
        "ceil" => num(arg(0)).map_or(Value::Undefined, |d| whole(d.ceil())),
        // Half away from zero, as AWS's examples show (round(-1.5) = -2).
        "round" => match arg(0) {
            Value::Int(i) => Value::Int(*i),
            v => num(v).map_or(Value::Undefined, |d| whole(d.round())),
        },
        "mod" | "remainder" => eval_ops::arithmetic(BinOp::Rem, arg(0), arg(1)),
        "sign" => num(arg(0)).map_or(Value::Undefined, |d| {
            Value::Int(if d > 0.0 {
                1
            } else if d < 0.0 {
                -1
            } else {
                0
            })
        }),
        "trunc" => trunc(arg(0), arg(1)),
        "bitand" | "bitor" | "bitxor" => match (bits(arg(0)), bits(arg(1))) {
            (Some(x), Some(y)) => Value::Int(match name {
                "bitand" => x & y,
                "bitor" => x | y,
                _ => x ^ y,
            }),
            _ => Value::Undefined,
        },
        "bitnot" => bits(arg(0)).map_or(Value::Undefined, |x| Value::Int(!x)),
        "md2" | "md5" | "sha1" | "sha224" | "sha256" | "sha384" | "sha512" => {
            arg(0).to_sql_string().map_or(Value::Undefined, |s| {
                Value::String(hashes::hex(name, s.as_bytes()))
            })
        }
        _ => return double(name, a),
    })
}

/// A number, or a numeric String, as a Decimal.
fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Int(_) | Value::Decimal(_) | Value::String(_) => v.to_decimal(),
        _ => None,
    }
}

/// A bit function's operand: an Int after flooring.
fn bits(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        _ => num(v).and_then(|d| f64_to_i64(d.floor())),
    }
}

/// The double precision functions.
fn double(name: &str, a: &[Value]) -> Option<Value> {
    let x = a.first().and_then(num);
    let y = a.get(1).and_then(num);
    let unary: Option<fn(f64) -> f64> = match name {
        "acos" => Some(f64::acos),
        "asin" => Some(f64::asin),
        "atan" => Some(f64::atan),
        "cos" => Some(f64::cos),
        "cosh" => Some(f64::cosh),
        "sin" => Some(f64::sin),
        "sinh" => Some(f64::sinh),
        "tan" => Some(f64::tan),
        "tanh" => Some(f64::tanh),
        "exp" => Some(f64::exp),
        "ln" => Some(f64::ln),
        "log" => Some(f64::log10),
        "sqrt" => Some(f64::sqrt),
        _ => None,
    };
    if let Some(f) = unary {
        return Some(x.map_or(Value::Undefined, |x| decimal(f(x))));
    }
    let binary: fn(f64, f64) -> f64 = match name {
        "atan2" => f64::atan2,
        "power" => f64::powf,
        _ => return None,
    };
    Some(match (x, y) {
        (Some(x), Some(y)) => decimal(binary(x, y)),
        _ => Value::Undefined,
    })
}

/// `trunc(n, d)`: `n` cut (not rounded) to `d` decimal places, `d` clamped to 0..=34, trailing
/// zeros dropped. Works on the shortest decimal text of `n`, so `trunc(2.55, 2)` is 2.55.
fn trunc(n: &Value, places: &Value) -> Value {
    let Some(places) = bits(places) else {
        return Value::Undefined;
    };
    let places = usize::try_from(places.clamp(0, 34)).unwrap_or(0);
    match n {
        Value::Int(i) => Value::Int(*i),
        v => {
            let Some(d) = num(v) else {
                return Value::Undefined;
            };
            let text = format!("{d}");
            let cut = match text.split_once('.') {
                Some((int, frac)) => match frac
                    .get(..frac.len().min(places))
                    .map(|f| f.trim_end_matches('0'))
                {
                    Some(f) if !f.is_empty() => format!("{int}.{f}"),
                    _ => int.to_string(),
                },
                None => text,
            };
            match cut.parse::<f64>() {
                Ok(r) if r.fract() == 0.0 => whole(r),
                Ok(r) => decimal(r),
                Err(_) => Value::Undefined,
            }
        }
    }
}
