//! Why a WHERE clause filtered a message out, in words: the part of an `AND` chain that was not
//! true, and the values of the attributes and variables it reads. External functions are not
//! called again while explaining (they answer Undefined).

use super::ast::{BinOp, Expr};
use super::eval::Ctx;
use super::value::Value;

/// The most attributes named in an explanation.
const MAX_REFS: usize = 5;

/// "WHERE temperature > 50 is false: temperature is 12", "WHERE is Undefined: temperature is
/// Undefined", "WHERE x is "on", not a Boolean".
pub fn why(ctx: &Ctx<'_>, cond: &Expr, value: &Value) -> String {
    let (part, part_value) = blame(ctx, cond, value.clone());
    let refs = references(ctx, part);
    let text = bare(part);
    let mut why = match &part_value {
        Value::Bool(false) => with_refs(format!("WHERE {text} is false"), &refs),
        Value::Undefined => {
            let undefined: Vec<_> = refs
                .iter()
                .filter(|(_, v)| v.is_undefined())
                .cloned()
                .collect();
            if undefined.is_empty() {
                with_refs(format!("WHERE {text} is Undefined"), &refs)
            } else {
                with_refs("WHERE is Undefined".to_string(), &undefined)
            }
        }
        other => with_refs(
            format!("WHERE {text} is {}, not a Boolean", describe(other)),
            &refs,
        ),
    };
    if !ctx.is_json() {
        why.push_str(" (the payload is not JSON)");
    }
    why
}

/// Walks down `AND`s to the first operand that is not true.
fn blame<'e>(ctx: &Ctx<'_>, expr: &'e Expr, value: Value) -> (&'e Expr, Value) {
    if let Expr::Binary(BinOp::And, l, r) = expr {
        let lv = ctx.eval(l, &ctx.root).unwrap_or(Value::Undefined);
        if lv != Value::Bool(true) {
            return blame(ctx, l, lv);
        }
        let rv = ctx.eval(r, &ctx.root).unwrap_or(Value::Undefined);
        if rv != Value::Bool(true) {
            return blame(ctx, r, rv);
        }
    }
    (expr, value)
}

/// The attribute paths and variables `expr` reads, with their values.
fn references(ctx: &Ctx<'_>, expr: &Expr) -> Vec<(String, Value)> {
    let mut paths: Vec<&Expr> = Vec::new();
    collect(expr, &mut paths);
    let mut refs: Vec<(String, Value)> = Vec::new();
    for path in paths {
        let name = path.to_string();
        if refs.len() < MAX_REFS && !refs.iter().any(|(n, _)| *n == name) {
            let value = ctx.eval(path, &ctx.root).unwrap_or(Value::Undefined);
            refs.push((name, value));
        }
    }
    refs
}

fn collect<'e>(expr: &'e Expr, out: &mut Vec<&'e Expr>) {
    if is_path(expr) {
        out.push(expr);
        return;
    }
    match expr {
        Expr::Binary(_, l, r) => {
            collect(l, out);
            collect(r, out);
        }
        Expr::Unary(_, e) | Expr::Cast(e, _) => collect(e, out),
        Expr::Call(_, args) => args.iter().for_each(|a| collect(a, out)),
        _ => {}
    }
}

fn is_path(expr: &Expr) -> bool {
    match expr {
        Expr::Attr(_) | Expr::Var(_) => true,
        Expr::Field(base, _) => is_path(base),
        _ => false,
    }
}

fn with_refs(head: String, refs: &[(String, Value)]) -> String {
    if refs.is_empty() {
        return head;
    }
    let list: Vec<String> = refs
        .iter()
        .map(|(n, v)| format!("{n} is {}", describe(v)))
        .collect();
    format!("{head}: {}", list.join(", "))
}

/// An expression without its outer parentheses.
fn bare(expr: &Expr) -> String {
    let text = expr.to_string();
    match expr {
        Expr::Binary(..) | Expr::Unary(..) => text
            .strip_prefix('(')
            .and_then(|t| t.strip_suffix(')'))
            .map_or(text.clone(), str::to_string),
        _ => text,
    }
}

/// A value for a message: JSON text (at most 100 characters), or `Undefined`.
fn describe(value: &Value) -> String {
    if value.is_undefined() {
        return "Undefined".to_string();
    }
    let text = value.to_json_text();
    if text.chars().count() > 100 {
        format!("{}…", text.chars().take(100).collect::<String>())
    } else {
        text
    }
}
