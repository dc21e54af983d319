//! The evaluator: SET, then WHERE (fail closed), then SELECT, over one message. What evaluation
//! needs from outside (UUIDs, randomness, shadows, the registry, Lambda) comes through [`Env`];
//! an external function that fails aborts the rule ([`Abort`]).

use std::cell::Cell;

use super::ast::{Expr, Statement};
use super::value::Value;
use super::{SqlVersion, eval_ops, eval_select, explain, functions};

/// MQTT 5 properties of the message, for `get_mqtt_property` and `get_user_properties`.
#[derive(Debug, Clone, Default)]
pub struct Properties {
    pub payload_format_utf8: Option<bool>,
    pub content_type: Option<String>,
    pub response_topic: Option<String>,
    pub correlation_data: Option<Vec<u8>>,
    pub user_properties: Vec<(String, String)>,
}

/// One message as a rule sees it.
pub struct Message<'a> {
    /// For Basic Ingest already without `$aws/rules/<rule>/`.
    pub topic: &'a str,
    pub payload: &'a [u8],
    /// `None` over HTTP, where `clientid()` is `"n/a"`.
    pub client_id: Option<&'a str>,
    pub principal: Option<&'a str>,
    pub account: &'a str,
    /// `timestamp()`, epoch milliseconds.
    pub now_ms: i64,
    pub source_ip: Option<&'a str>,
    pub trace_id: Option<&'a str>,
    pub properties: &'a Properties,
    /// The payload already parsed (every rule a message reaches reads the same); `None`:
    /// parsed here.
    pub parsed: Option<&'a Value>,
}

/// What evaluation may need from outside.
pub trait Env {
    fn new_uuid(&self) -> String;
    /// A double in [0, 1).
    fn rand(&self) -> f64;
    /// `get_thing_shadow`: the shadow document; `Err(why)` aborts the rule.
    fn thing_shadow(&self, thing: &str, shadow: Option<&str>) -> Result<Value, String>;
    /// `get_registry_data`: the `DescribeThing` or `ListThingGroupsForThing` response; `Err` aborts.
    fn registry_data(&self, api: &str, thing: &str) -> Result<Value, String>;
    /// `aws_lambda`: the function's JSON result; `Err` aborts.
    fn lambda(&self, function_arn: &str, input: &Value) -> Result<Value, String>;
    /// `get_dynamodb`: the item as plain JSON; `Err` aborts. No back end by default.
    fn dynamodb_item(&self, table: &str, key: &[(String, Value)]) -> Result<Value, String> {
        let _ = key;
        Err(format!("no DynamoDB back end to read table '{table}'"))
    }
    /// `get_secret`: the secret's string (or base64 of its binary); `Err` aborts. No back end
    /// by default.
    fn secret(&self, secret_id: &str, binary: bool) -> Result<String, String> {
        let _ = binary;
        Err(format!("no Secrets Manager back end to read '{secret_id}'"))
    }
}

/// Why a rule stopped: an external function failed (the rule's error action runs).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{function}: {message}")]
pub struct Abort {
    pub function: String,
    pub message: String,
}

/// The SELECT output.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// JSON output: an object, or the value of SELECT VALUE.
    Value(Value),
    /// `SELECT *` of a non-JSON payload: the raw bytes.
    Bytes(Vec<u8>),
}

impl Output {
    /// The JSON text or the raw bytes; SELECT VALUE of Undefined gives an empty payload.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Output::Value(v) => v.to_json_text().into_bytes(),
            Output::Bytes(b) => b.clone(),
        }
    }
}

/// The outcome of WHERE and SELECT.
#[derive(Debug, Clone, PartialEq)]
pub enum Evaluation {
    /// WHERE was not Boolean true; `why` says which part was false or Undefined.
    Filtered { why: String },
    Matched {
        output: Output,
        variables: Vec<(String, Value)>,
    },
}

/// Evaluation state for one message.
pub(crate) struct Ctx<'a> {
    pub msg: &'a Message<'a>,
    pub env: &'a dyn Env,
    pub version: SqlVersion,
    /// The payload as JSON, or Undefined when it is not JSON.
    pub root: std::borrow::Cow<'a, Value>,
    pub vars: Vec<(String, Value)>,
    pub dynamodb_calls: Cell<u32>,
    /// While explaining a filtered WHERE: external functions are not called again.
    pub quiet: bool,
}

impl<'a> Ctx<'a> {
    pub fn new(msg: &'a Message<'a>, env: &'a dyn Env, version: SqlVersion) -> Ctx<'a> {
        let root = match msg.parsed {
            Some(parsed) => std::borrow::Cow::Borrowed(parsed),
            None => std::borrow::Cow::Owned(parse_payload(msg.payload)),
        };
        Ctx {
            msg,
            env,
            version,
            root,
            vars: Vec::new(),
            dynamodb_calls: Cell::new(0),
            quiet: false,
        }
    }

    /// Whether `scope` is the payload itself (not an element of a nested query).
    pub fn is_root(&self, scope: &Value) -> bool {
        std::ptr::eq(scope, &*self.root)
    }

    /// Whether the payload parsed as JSON.
    pub fn is_json(&self) -> bool {
        !self.root.is_undefined()
    }

    pub fn var(&self, name: &str) -> Value {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map_or(Value::Undefined, |(_, v)| v.clone())
    }

    /// Evaluates `expr` with `scope` as the object whose attributes bare names refer to.
    pub fn eval(&self, expr: &Expr, scope: &Value) -> Result<Value, Abort> {
        Ok(match expr {
            Expr::Null => Value::Null,
            Expr::Bool(b) => Value::Bool(*b),
            Expr::Int(i) => Value::Int(*i),
            Expr::Decimal(d) => Value::Decimal(*d),
            Expr::String(s) => Value::String(s.clone()),
            Expr::Attr(name) => scope.field(name),
            Expr::Var(name) => self.var(name),
            Expr::Star => scope.clone(),
            Expr::Field(base, name) => self.eval(base, scope)?.field(name),
            Expr::Index(base, index) => {
                functions::get(&self.eval(base, scope)?, &self.eval(index, scope)?)
            }
            Expr::Unary(op, e) => eval_ops::unary(*op, &self.eval(e, scope)?),
            Expr::Binary(op, l, r) => {
                eval_ops::binary(*op, &self.eval(l, scope)?, &self.eval(r, scope)?)
            }
            Expr::Call(name, args) => functions::call(self, name, args, scope)?,
            Expr::Cast(e, ty) => eval_ops::cast(&self.eval(e, scope)?, ty),
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => self.case(operand.as_deref(), whens, otherwise.as_deref(), scope)?,
            Expr::Object(fields) => {
                let mut out = Vec::with_capacity(fields.len());
                for (k, e) in fields {
                    out.push((k.clone(), self.eval(e, scope)?));
                }
                Value::Object(out)
            }
            Expr::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|e| self.eval(e, scope))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Query(q) => eval_select::nested(self, q, scope)?,
        })
    }

    /// `CASE`: the simple form tests each WHEN for equality with the operand (Undefined operand
    /// gives Undefined); the searched form takes the first WHEN that is true.
    fn case(
        &self,
        operand: Option<&Expr>,
        whens: &[(Expr, Expr)],
        otherwise: Option<&Expr>,
        scope: &Value,
    ) -> Result<Value, Abort> {
        let subject = match operand {
            Some(e) => Some(self.eval(e, scope)?),
            None => None,
        };
        if subject.as_ref().is_some_and(Value::is_undefined) {
            return Ok(Value::Undefined);
        }
        for (when, then) in whens {
            let w = self.eval(when, scope)?;
            let hit = match &subject {
                Some(s) => eval_ops::equals(s, &w) == Some(true),
                None => w.to_bool() == Some(true),
            };
            if hit {
                return self.eval(then, scope);
            }
        }
        match otherwise {
            Some(e) => self.eval(e, scope),
            None => Ok(Value::Undefined),
        }
    }

    /// A value leaving the evaluator: 2016-03-23 writes whole-number Decimals as Ints.
    pub fn finish(&self, v: Value) -> Value {
        if self.version.is_2016() {
            v.whole_decimals_to_int()
        } else {
            v
        }
    }
}

/// A payload as the SQL sees it: its JSON, or Undefined when it is not JSON.
pub fn parse_payload(payload: &[u8]) -> Value {
    Value::parse_json(payload).unwrap_or(Value::Undefined)
}

/// Evaluates SET, then WHERE against the payload (anything but Boolean true filters the
/// message out), then SELECT. Never panics.
pub fn evaluate(stmt: &Statement, msg: &Message<'_>, env: &dyn Env) -> Result<Evaluation, Abort> {
    let mut ctx = Ctx::new(msg, env, stmt.version);
    for set in &stmt.sets {
        let v = ctx.eval(&set.expr, &ctx.root)?;
        ctx.vars.push((set.name.clone(), v));
    }
    if let Some(cond) = &stmt.where_clause {
        let v = ctx.eval(cond, &ctx.root)?;
        if v != Value::Bool(true) {
            ctx.quiet = true;
            return Ok(Evaluation::Filtered {
                why: explain::why(&ctx, cond, &v),
            });
        }
    }
    let output = eval_select::output(&ctx, stmt)?;
    let variables = std::mem::take(&mut ctx.vars);
    let variables = variables
        .into_iter()
        .map(|(n, v)| (n, ctx.finish(v)))
        .collect();
    Ok(Evaluation::Matched { output, variables })
}
