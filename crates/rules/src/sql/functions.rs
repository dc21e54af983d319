//! The function table (names, first SQL version, argument counts, external or not) checked at
//! parse time, and the dispatcher used by the evaluator. A function given arguments of the
//! wrong type at run time answers Undefined (AWS IoT developer guide, "Functions").

use super::ast::Expr;
use super::eval::{Abort, Ctx};
use super::value::Value;
use super::{functions_ext, functions_math, functions_str, functions_time};

/// An argument that must be written out, never a variable (a role ARN, or a mode switch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fixed {
    None,
    Index(usize),
    Last,
}

impl Fixed {
    /// The 0-based index of the fixed argument in a call with `count` arguments.
    pub fn index(&self, count: usize) -> Option<usize> {
        match self {
            Fixed::None => None,
            Fixed::Index(i) => Some(*i),
            Fixed::Last => count.checked_sub(1),
        }
    }
}

/// What the parser needs to know about a function.
#[derive(Debug, Clone, Copy)]
pub struct FnInfo {
    /// First available in 2016-03-23.
    pub since_2016: bool,
    pub min: usize,
    pub max: usize,
    pub external: bool,
    pub fixed: Fixed,
}

const MANY: usize = usize::MAX;

/// (name, since 2016-03-23, min args, max args, external, fixed argument).
type Row = (&'static str, bool, usize, usize, bool, Fixed);

const N: Fixed = Fixed::None;

#[rustfmt::skip]
const TABLE: &[Row] = &[
    ("topic", false, 0, 1, false, N), ("clientid", false, 0, 0, false, N),
    ("timestamp", false, 0, 0, false, N), ("newuuid", false, 0, 0, false, N),
    ("principal", false, 0, 0, false, N), ("accountid", false, 0, 0, false, N),
    ("sql_version", false, 0, 0, false, N), ("traceid", false, 0, 0, false, N),
    ("sourceip", false, 0, 0, false, N), ("get_mqtt_property", false, 1, 1, false, N),
    ("get_user_properties", false, 0, 1, false, N),
    ("concat", false, 0, MANY, false, N), ("replace", false, 3, 3, false, N),
    ("regexp_matches", false, 2, 2, false, N), ("regexp_replace", false, 3, 3, false, N),
    ("regexp_substr", false, 2, 2, false, N), ("substring", false, 2, 3, false, N),
    ("lower", false, 1, 1, false, N), ("upper", false, 1, 1, false, N),
    ("trim", false, 1, 1, false, N), ("ltrim", false, 1, 1, false, N), ("rtrim", false, 1, 1, false, N),
    ("isundefined", true, 1, 1, false, N), ("isnull", false, 1, 1, false, N),
    ("get_or_default", false, 2, 2, false, N), ("get", false, 2, 2, false, N),
    ("encode", true, 2, 2, false, Fixed::Index(1)), ("decode", true, 2, 5, false, Fixed::Index(1)),
    ("startswith", false, 2, 2, false, N), ("endswith", false, 2, 2, false, N),
    ("indexof", true, 2, 2, false, N), ("length", true, 1, 1, false, N),
    ("numbytes", true, 1, 1, false, N), ("lpad", false, 2, 2, false, N), ("rpad", false, 2, 2, false, N),
    ("chr", false, 1, 1, false, N), ("nanvl", false, 2, 2, false, N),
    ("transform", true, 3, 3, false, Fixed::Index(0)),
    ("md2", false, 1, 1, false, N), ("md5", false, 1, 1, false, N), ("sha1", false, 1, 1, false, N),
    ("sha224", false, 1, 1, false, N), ("sha256", false, 1, 1, false, N),
    ("sha384", false, 1, 1, false, N), ("sha512", false, 1, 1, false, N),
    ("abs", false, 1, 1, false, N), ("floor", false, 1, 1, false, N), ("ceil", false, 1, 1, false, N),
    ("round", false, 1, 1, false, N), ("mod", false, 2, 2, false, N), ("remainder", false, 2, 2, false, N),
    ("sign", false, 1, 1, false, N), ("trunc", false, 2, 2, false, N), ("rand", false, 0, 0, false, N),
    ("acos", false, 1, 1, false, N), ("asin", false, 1, 1, false, N), ("atan", false, 1, 1, false, N),
    ("atan2", false, 2, 2, false, N), ("cos", false, 1, 1, false, N), ("cosh", false, 1, 1, false, N),
    ("sin", false, 1, 1, false, N), ("sinh", false, 1, 1, false, N), ("tan", false, 1, 1, false, N),
    ("tanh", false, 1, 1, false, N), ("exp", false, 1, 1, false, N), ("ln", false, 1, 1, false, N),
    ("log", false, 1, 1, false, N), ("sqrt", false, 1, 1, false, N), ("power", false, 2, 2, false, N),
    ("bitand", false, 2, 2, false, N), ("bitor", false, 2, 2, false, N),
    ("bitxor", false, 2, 2, false, N), ("bitnot", false, 1, 1, false, N),
    ("parse_time", true, 2, 3, false, N), ("time_to_epoch", true, 2, 2, false, N),
    ("aws_lambda", false, 2, 2, true, N), ("get_thing_shadow", true, 2, 3, true, Fixed::Last),
    ("get_registry_data", false, 3, 3, true, Fixed::Last),
    ("get_dynamodb", true, 4, 6, true, Fixed::Last), ("get_secret", false, 3, 4, true, Fixed::Last),
    ("machinelearning_predict", false, 3, 3, true, Fixed::Index(1)),
];

/// The function `name` (lower case), if IoT SQL has it.
pub fn lookup(name: &str) -> Option<FnInfo> {
    TABLE
        .iter()
        .find(|row| row.0 == name)
        .map(|&(_, since_2016, min, max, external, fixed)| FnInfo {
            since_2016,
            min,
            max,
            external,
            fixed,
        })
}

/// Whether `name` is an external function.
pub fn is_external(name: &str) -> bool {
    lookup(name).is_some_and(|info| info.external)
}

/// "2 arguments", "2 to 3 arguments", "0 or more arguments".
pub fn arity_text(min: usize, max: usize) -> String {
    match (min, max) {
        (1, 1) => "1 argument".to_string(),
        (a, b) if a == b => format!("{a} arguments"),
        (a, MANY) => format!("{a} or more arguments"),
        (a, b) => format!("{a} to {b} arguments"),
    }
}

/// Calls `name` with `args` in `scope`.
pub fn call(ctx: &Ctx<'_>, name: &str, args: &[Expr], scope: &Value) -> Result<Value, Abort> {
    if name == "encode" && matches!(args.first(), Some(Expr::Star)) && ctx.is_root(scope) {
        let scheme = match args.get(1) {
            Some(e) => ctx.eval(e, scope)?,
            None => Value::Undefined,
        };
        return Ok(functions_str::encode_bytes(ctx.msg.payload, &scheme));
    }
    let mut values = Vec::with_capacity(args.len());
    for arg in args {
        values.push(ctx.eval(arg, scope)?);
    }
    if let Some(result) = functions_ext::call(ctx, name, &values) {
        return result;
    }
    Ok(functions_str::call(name, &values)
        .or_else(|| functions_math::call(name, &values))
        .or_else(|| functions_time::call(name, &values))
        .unwrap_or(Value::Undefined))
}

/// `get(x, k)`: an Array or String item by 0-based index, or an Object member by key.
pub fn get(container: &Value, key: &Value) -> Value {
    match (container, key) {
        (Value::Array(items), k) => index(k)
            .and_then(|i| items.get(i).cloned())
            .unwrap_or(Value::Undefined),
        (Value::String(s), k) => index(k)
            .and_then(|i| s.chars().nth(i))
            .map_or(Value::Undefined, |c| Value::String(c.to_string())),
        (Value::Object(_), Value::String(k)) => container.field(k),
        _ => Value::Undefined,
    }
}

/// A non-negative whole-number index.
fn index(v: &Value) -> Option<usize> {
    match v {
        Value::Int(i) => usize::try_from(*i).ok(),
        Value::Decimal(d) if d.fract() == 0.0 => {
            super::value::f64_to_i64(*d).and_then(|i| usize::try_from(i).ok())
        }
        _ => None,
    }
}
