//! Building the SELECT output: `*`, projected items with their (dotted) keys, `SELECT VALUE`,
//! binary payloads passed through, and nested object queries.

use super::ast::{Expr, Query, SelectItem, Statement};
use super::eval::{Abort, Ctx, Output};
use super::value::Value;

/// The output of the statement's SELECT.
///
/// A non-JSON payload (or an empty one) under `SELECT *` passes through as raw bytes. With
/// `*` mixed with other items, a binary payload also passes through unchanged and an empty one
/// contributes no keys (AWS documents `*, x` only for empty or JSON payloads). A JSON payload
/// that is not an object is output as is by `SELECT *` and passes through with `*, x`.
pub fn output(ctx: &Ctx<'_>, stmt: &Statement) -> Result<Output, Abort> {
    if stmt.value {
        let value = match stmt.items.first() {
            Some(SelectItem::Expr { expr, .. }) => ctx.eval(expr, &ctx.root)?,
            _ => Value::Undefined,
        };
        return Ok(Output::Value(ctx.finish(value)));
    }
    let star = stmt.items.contains(&SelectItem::Star);
    let alone = stmt.items.len() == 1;
    if star && !matches!(*ctx.root, Value::Object(_)) {
        let payload = ctx.msg.payload;
        if ctx.is_json() && alone {
            return Ok(Output::Value(ctx.finish(ctx.root.as_ref().clone())));
        }
        if alone || !payload.is_empty() {
            return Ok(Output::Bytes(payload.to_vec()));
        }
    }
    let fields = project(ctx, &stmt.items, &ctx.root)?;
    Ok(Output::Value(ctx.finish(Value::Object(fields))))
}

/// The object a select list builds in `scope`. Undefined items are left out.
pub fn project(
    ctx: &Ctx<'_>,
    items: &[SelectItem],
    scope: &Value,
) -> Result<Vec<(String, Value)>, Abort> {
    let mut out = Vec::new();
    for (position, item) in items.iter().enumerate() {
        match item {
            SelectItem::Star => {
                if let Value::Object(fields) = scope {
                    for (k, v) in fields {
                        insert(&mut out, std::slice::from_ref(k), v.clone());
                    }
                }
            }
            SelectItem::Expr { expr, alias } => {
                let value = ctx.eval(expr, scope)?;
                if value.is_undefined() {
                    continue;
                }
                match alias {
                    Some(path) => insert(&mut out, path, value),
                    None => insert(&mut out, &[default_key(expr, position)], value),
                }
            }
        }
    }
    Ok(out)
}

/// The key of an unaliased item: the last segment of an attribute path (`color.red` gives
/// `red`), else `_N` for the N-th item (AWS documents neither; `_N` is a guess).
pub fn default_key(expr: &Expr, position: usize) -> String {
    match expr {
        Expr::Attr(name) | Expr::Field(_, name) | Expr::Var(name) => name.clone(),
        _ => format!("_{}", position + 1),
    }
}

/// Sets `path` in `fields`, creating (or replacing non-object) intermediate objects.
fn insert(fields: &mut Vec<(String, Value)>, path: &[String], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let slot = match fields.iter().position(|(k, _)| k == first) {
        Some(i) => i,
        None => {
            fields.push((first.clone(), Value::Undefined));
            fields.len() - 1
        }
    };
    let Some((_, current)) = fields.get_mut(slot) else {
        return;
    };
    if rest.is_empty() {
        *current = value;
        return;
    }
    if !matches!(current, Value::Object(_)) {
        *current = Value::Object(Vec::new());
    }
    if let Value::Object(inner) = current {
        insert(inner, rest, value);
    }
}

/// `(SELECT [VALUE] … FROM arr [WHERE …])`: one result per element of `arr` for which WHERE is
/// true, each evaluated with the element as its scope. Undefined if `arr` is not an Array.
pub fn nested(ctx: &Ctx<'_>, query: &Query, scope: &Value) -> Result<Value, Abort> {
    let Value::Array(elements) = ctx.eval(&query.from, scope)? else {
        return Ok(Value::Undefined);
    };
    let mut results = Vec::new();
    for element in &elements {
        if let Some(cond) = &query.where_clause
            && ctx.eval(cond, element)? != Value::Bool(true)
        {
            continue;
        }
        if query.value {
            let value = match query.items.first() {
                Some(SelectItem::Expr { expr, .. }) => ctx.eval(expr, element)?,
                _ => Value::Undefined,
            };
            if !value.is_undefined() {
                results.push(value);
            }
        } else {
            results.push(Value::Object(project(ctx, &query.items, element)?));
        }
    }
    Ok(Value::Array(results))
}
