//! Operators and `cast` with AWS's rules (AWS IoT developer guide, "Operators" and "Data
//! types"): an Undefined operand gives Undefined, `=` between different types is false, `+`
//! with a String concatenates, Int with Int stays Int (`/` truncates toward zero), and division
//! by zero gives Undefined (not documented by AWS).

use std::cmp::Ordering;

use super::ast::{BinOp, CastType, UnaryOp};
use super::value::{Value, decimal, f64_to_i64};

/// `-x` (as `0 - x`) and `NOT x`.
pub fn unary(op: UnaryOp, v: &Value) -> Value {
    match op {
        UnaryOp::Not => v.to_bool().map_or(Value::Undefined, |b| Value::Bool(!b)),
        UnaryOp::Neg => match v {
            Value::Int(i) => i
                .checked_neg()
                .map_or(Value::Decimal(-(*i as f64)), Value::Int),
            other => other.to_decimal().map_or(Value::Undefined, |d| decimal(-d)),
        },
    }
}

/// A binary operator.
pub fn binary(op: BinOp, l: &Value, r: &Value) -> Value {
    if l.is_undefined() || r.is_undefined() {
        return Value::Undefined;
    }
    match op {
        BinOp::And | BinOp::Or => match (l.to_bool(), r.to_bool()) {
            (Some(a), Some(b)) => Value::Bool(if op == BinOp::And { a && b } else { a || b }),
            _ => Value::Undefined,
        },
        BinOp::Eq => equals(l, r).map_or(Value::Undefined, Value::Bool),
        BinOp::Ne => equals(l, r).map_or(Value::Undefined, |b| Value::Bool(!b)),
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => compare(op, l, r),
        BinOp::Add => add(l, r),
        BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => arithmetic(op, l, r),
    }
}

/// `=`: `None` (Undefined) if either side is Undefined; different types are not equal; an Int
/// equals the Decimal of the same value; Objects are equal whatever their key order.
pub fn equals(l: &Value, r: &Value) -> Option<bool> {
    Some(match (l, r) {
        (Value::Undefined, _) | (_, Value::Undefined) => return None,
        (Value::Null, Value::Null) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Int(a), Value::Int(b)) => a == b,
        (Value::Int(_) | Value::Decimal(_), Value::Int(_) | Value::Decimal(_)) => {
            l.to_decimal() == r.to_decimal()
        }
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equals(x, y) == Some(true))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter().all(|(k, v)| {
                    b.iter()
                        .any(|(k2, v2)| k == k2 && equals(v, v2) == Some(true))
                })
        }
        _ => false,
    })
}

/// `<`, `<=`, `>`, `>=`: both sides as Decimals (numeric Strings parse), else Undefined.
fn compare(op: BinOp, l: &Value, r: &Value) -> Value {
    let ordering = match (l, r) {
        (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
        _ => match (l.to_decimal(), r.to_decimal()) {
            (Some(a), Some(b)) => a.partial_cmp(&b),
            _ => None,
        },
    };
    let Some(ordering) = ordering else {
        return Value::Undefined;
    };
    Value::Bool(match op {
        BinOp::Lt => ordering == Ordering::Less,
        BinOp::Le => ordering != Ordering::Greater,
        BinOp::Gt => ordering == Ordering::Greater,
        _ => ordering != Ordering::Less,
    })
}

/// `+`: a String on either side concatenates (the other side converted to a String); Int + Int
/// is an Int; an Int/Decimal mix is a Decimal; anything else is Undefined.
fn add(l: &Value, r: &Value) -> Value {
    if matches!(l, Value::String(_)) || matches!(r, Value::String(_)) {
        return match (l.to_sql_string(), r.to_sql_string()) {
            (Some(a), Some(b)) => Value::String(a + &b),
            _ => Value::Undefined,
        };
    }
    match (l, r) {
        (Value::Int(a), Value::Int(b)) => a
            .checked_add(*b)
            .map_or_else(|| decimal(*a as f64 + *b as f64), Value::Int),
        (Value::Int(_) | Value::Decimal(_), Value::Int(_) | Value::Decimal(_)) => {
            match (l.to_decimal(), r.to_decimal()) {
                (Some(a), Some(b)) => decimal(a + b),
                _ => Value::Undefined,
            }
        }
        _ => Value::Undefined,
    }
}

/// `-`, `*`, `/`, `%`: Int with Int stays Int; with a Decimal or a numeric String the result
/// is a Decimal; a zero divisor gives Undefined.
pub fn arithmetic(op: BinOp, l: &Value, r: &Value) -> Value {
    if let (Value::Int(a), Value::Int(b)) = (l, r) {
        let (a, b) = (*a, *b);
        let exact = match op {
            BinOp::Sub => a.checked_sub(b),
            BinOp::Mul => a.checked_mul(b),
            BinOp::Div if b == 0 => return Value::Undefined,
            BinOp::Div => a.checked_div(b),
            BinOp::Rem if b == 0 => return Value::Undefined,
            _ => a.checked_rem(b),
        };
        if let Some(i) = exact {
            return Value::Int(i);
        }
    }
    let numeric = |v: &Value| match v {
        Value::Int(_) | Value::Decimal(_) | Value::String(_) => v.to_decimal(),
        _ => None,
    };
    let (Some(a), Some(b)) = (numeric(l), numeric(r)) else {
        return Value::Undefined;
    };
    match op {
        BinOp::Sub => decimal(a - b),
        BinOp::Mul => decimal(a * b),
        _ if b == 0.0 => Value::Undefined,
        BinOp::Div => decimal(a / b),
        _ => decimal(a % b),
    }
}

/// `cast(v AS type)`: Decimal to Int rounds down, Boolean to a number is 1 or 0, a number to
/// Boolean is `false` only for 0, Null and unknown types give Undefined.
pub fn cast(v: &Value, ty: &CastType) -> Value {
    if matches!(v, Value::Undefined | Value::Null) {
        return Value::Undefined;
    }
    match ty {
        CastType::String => v.to_sql_string().map_or(Value::Undefined, Value::String),
        CastType::Int => match v {
            Value::Int(i) => Value::Int(*i),
            Value::Bool(b) => Value::Int(i64::from(*b)),
            Value::Decimal(_) | Value::String(_) => v
                .to_decimal()
                .and_then(|d| f64_to_i64(d.floor()))
                .map_or(Value::Undefined, Value::Int),
            _ => Value::Undefined,
        },
        CastType::Decimal => match v {
            Value::Bool(b) => Value::Decimal(if *b { 1.0 } else { 0.0 }),
            Value::Int(_) | Value::Decimal(_) | Value::String(_) => {
                v.to_decimal().map_or(Value::Undefined, decimal)
            }
            _ => Value::Undefined,
        },
        CastType::Bool => match v {
            Value::Int(i) => Value::Bool(*i != 0),
            Value::Decimal(d) => Value::Bool(*d != 0.0),
            _ => v.to_bool().map_or(Value::Undefined, Value::Bool),
        },
        CastType::Unknown(_) => Value::Undefined,
    }
}
