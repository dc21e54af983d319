//! Test helpers: a fake [`Env`], a fixed message, and shortcuts to run a statement or one
//! expression.

use std::cell::Cell;

use super::eval::Ctx;
use super::{
    Env, Evaluation, Message, Output, Properties, SelectItem, SqlVersion, Value, evaluate, parse,
};

pub const V15: SqlVersion = SqlVersion::V2015_10_08;
pub const V16: SqlVersion = SqlVersion::V2016_03_23;

/// Deterministic answers; shadows exist for thing "t1" only; Lambda echoes its input.
#[derive(Default)]
pub struct FakeEnv {
    pub lambda_calls: Cell<u32>,
}

impl Env for FakeEnv {
    fn new_uuid(&self) -> String {
        "00000000-0000-4000-8000-000000000001".to_string()
    }
    fn rand(&self) -> f64 {
        0.25
    }
    fn thing_shadow(&self, thing: &str, shadow: Option<&str>) -> Result<Value, String> {
        if thing != "t1" {
            return Err(format!("no shadow for thing {thing}"));
        }
        let name = shadow.unwrap_or("classic").to_string();
        Ok(Value::Object(vec![("name".into(), Value::String(name))]))
    }
    fn registry_data(&self, api: &str, thing: &str) -> Result<Value, String> {
        if thing != "t1" {
            return Err(format!("thing {thing} not found"));
        }
        Ok(Value::Object(vec![(
            "api".into(),
            Value::String(api.to_string()),
        )]))
    }
    fn lambda(&self, function_arn: &str, input: &Value) -> Result<Value, String> {
        self.lambda_calls.set(self.lambda_calls.get() + 1);
        if function_arn.ends_with(":fail") {
            return Err("function error".to_string());
        }
        Ok(Value::Object(vec![("echo".into(), input.clone())]))
    }
}

pub fn props() -> &'static Properties {
    static PROPS: std::sync::OnceLock<Properties> = std::sync::OnceLock::new();
    PROPS.get_or_init(|| Properties {
        payload_format_utf8: Some(true),
        content_type: Some("application/json".into()),
        response_topic: None,
        correlation_data: Some(b"abc".to_vec()),
        user_properties: vec![
            ("k".into(), "v1".into()),
            ("x".into(), "y".into()),
            ("k".into(), "v2".into()),
        ],
    })
}

/// A message on topic `a/b/c` from client `c1`.
pub fn message(payload: &[u8]) -> Message<'_> {
    Message {
        topic: "a/b/c",
        payload,
        client_id: Some("c1"),
        principal: Some("abc123"),
        account: "123456789012",
        now_ms: 1_600_000_000_123,
        source_ip: Some("10.0.0.1"),
        trace_id: None,
        properties: props(),
        parsed: None,
    }
}

/// Parses (or panics) and evaluates against `payload`.
pub fn run(version: SqlVersion, sql: &str, payload: &str) -> Evaluation {
    let stmt = parse(sql, version).unwrap_or_else(|e| panic!("{sql}: {e}"));
    evaluate(&stmt, &message(payload.as_bytes()), &FakeEnv::default())
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The JSON text of the output of a matching statement.
pub fn out(version: SqlVersion, sql: &str, payload: &str) -> String {
    match run(version, sql, payload) {
        Evaluation::Matched {
            output: Output::Value(v),
            ..
        } => v.to_json_text(),
        other => panic!("{sql}: {other:?}"),
    }
}

/// The value of one expression (before any output conversion) against `payload`.
pub fn value_in(version: SqlVersion, expr: &str, payload: &str) -> Value {
    let sql = format!("SELECT VALUE {expr} FROM 't'");
    let stmt = parse(&sql, version).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let msg = message(payload.as_bytes());
    let env = FakeEnv::default();
    let ctx = Ctx::new(&msg, &env, version);
    match stmt.items.first() {
        Some(SelectItem::Expr { expr, .. }) => ctx
            .eval(expr, &ctx.root)
            .unwrap_or_else(|e| panic!("{sql}: {e}")),
        _ => panic!("no item"),
    }
}

/// The value of one expression under 2016-03-23 against `{}`.
pub fn v(expr: &str) -> Value {
    value_in(V16, expr, "{}")
}

/// Shorthand for a String value.
pub fn s(text: &str) -> Value {
    Value::String(text.to_string())
}

/// A JSON text as a value.
pub fn j(text: &str) -> Value {
    Value::parse_json(text.as_bytes()).unwrap_or_else(|| panic!("bad JSON {text}"))
}
