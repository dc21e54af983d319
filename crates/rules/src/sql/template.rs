//! Substitution templates (AWS IoT developer guide, "Substitution templates"): action fields
//! with `${expr}` parts. They are evaluated against the original message and the SET
//! variables, never against the SELECT output. Undefined renders as the empty string; other
//! values use the standard String conversion (Objects and Arrays as JSON text).

use super::eval::{Abort, Ctx, Env, Message};
use super::parser::{SqlError, parse_template_expr};
use super::{Expr, SqlVersion, Value};

/// One part of a template.
#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Expr(Expr),
}

/// A parsed substitution template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    version: SqlVersion,
    parts: Vec<Part>,
}

impl Template {
    /// Parses `text`; a bad expression is an [`SqlError`] whose offset is within `text`.
    /// `allow_external` is false for error actions, whose templates may not call external
    /// functions. `@variables` are not checked here (the rule's SET declares them).
    pub fn parse(
        text: &str,
        version: SqlVersion,
        allow_external: bool,
    ) -> Result<Template, SqlError> {
        let mut parts = Vec::new();
        let mut pos = 0;
        while let Some(found) = text.get(pos..).and_then(|rest| rest.find("${")) {
            let start = pos + found;
            if start > pos {
                parts.push(Part::Text(text[pos..start].to_string()));
            }
            let (expr, end) = parse_template_expr(text, start + 2, version, allow_external)?;
            parts.push(Part::Expr(expr));
            pos = end;
        }
        if pos < text.len() {
            parts.push(Part::Text(text[pos..].to_string()));
        }
        Ok(Template { version, parts })
    }

    /// Whether the template has no `${…}` part.
    pub fn is_static(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// Renders against the original message plus the SET variables.
    pub fn render(
        &self,
        msg: &Message<'_>,
        variables: &[(String, Value)],
        env: &dyn Env,
    ) -> Result<String, Abort> {
        let mut ctx = Ctx::new(msg, env, self.version);
        ctx.vars = variables.to_vec();
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Expr(e) => {
                    let value = ctx.finish(ctx.eval(e, &ctx.root)?);
                    out.push_str(&value.to_sql_string().unwrap_or_default());
                }
            }
        }
        Ok(out)
    }
}
