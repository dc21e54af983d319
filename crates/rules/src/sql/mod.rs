//! AWS IoT SQL, the language of the rules engine: a hand-written lexer and Pratt parser
//! ([`parse`]), the value model with AWS's `Undefined` ([`Value`]), the evaluator of SET, WHERE and
//! SELECT ([`evaluate`]), the function library and substitution templates ([`Template`]).
//!
//! IoT SQL is not ANSI SQL: the FROM target is a single-quoted topic filter, double-quoted text is
//! a string literal (never a quoted identifier), and function names such as `timestamp`, `topic`
//! or `replace` are ordinary identifiers that become calls only when followed by `(`.
//!
//! Choices where the AWS IoT developer guide is silent or unconfirmed (each also noted where it
//! is made):
//! * Precedence is standard SQL: `.`/`[]` > unary `-` > `* / %` > `+ -` > comparisons > `NOT` >
//!   `AND` > `OR`. `IS`, `IN`, `BETWEEN`, `LIKE` (and `!=`) are refused at parse time.
//! * `"…"` is always a string literal; a quote inside a literal is written twice (`'it''s'`);
//!   backslashes are literal (so regular expressions keep theirs).
//! * `a[i]` is accepted in every version as sugar for `get(a, i)`; the searched
//!   `CASE WHEN cond THEN …` form is accepted; `true`/`false`/`null` are keywords.
//! * A 2016-03-23 function, literal, nested query or cast under 2015-10-08 is refused at parse
//!   time (not Undefined at run time).
//! * At most 10 SET variables; a variable name is at most 64 characters after the `@`.
//! * An unaliased item keys the output with the last segment of its attribute path (or the
//!   variable's name); any other expression is keyed `_N`, N its 1-based position.
//! * Int `/` Int truncates toward zero; division (and `%`) by zero gives Undefined; unary `-` is
//!   `0 - x`. Int overflow falls back to Decimal.
//! * `SELECT VALUE` of Undefined outputs an empty payload. `SELECT *, x` with a binary payload
//!   passes the bytes through unchanged; with an empty payload `*` adds no keys.
//! * Every external function's failure aborts the rule (with its error action).
//! * Templates: Undefined (and Null, whose String conversion is Undefined) renders as `""`.
//! * Function details: `get_or_default` takes the default for Undefined only; `indexof` not
//!   found is -1; `length` counts Unicode code points; `regexp_substr` without a match is `""`;
//!   `topic(n)` out of range is Undefined; `concat` of only numbers is Undefined;
//!   `get_mqtt_property('format_indicator')` defaults to `UNSPECIFIED_BYTES`.

mod ast;
mod eval;
mod eval_ops;
mod eval_select;
mod explain;
mod functions;
mod functions_ext;
mod functions_math;
mod functions_regex;
mod functions_str;
mod functions_time;
mod hashes;
mod lexer;
mod parser;
mod parser_expr;
mod template;
mod value;
mod version;

pub use ast::{BinOp, CastType, Expr, Query, SelectItem, SetVar, Statement, UnaryOp};
pub use eval::{Abort, Env, Evaluation, Message, Output, Properties, evaluate, parse_payload};
pub use parser::{SqlError, parse};
pub use template::Template;
pub use value::Value;
pub use version::SqlVersion;

#[cfg(test)]
mod tests_eval;
#[cfg(test)]
mod tests_functions;
#[cfg(test)]
mod tests_functions_more;
#[cfg(test)]
mod tests_parse;
#[cfg(test)]
mod tests_prop;
#[cfg(test)]
mod tests_support;
