//! The syntax tree of a statement, and its printing back to IoT SQL: the printed text parses
//! back to an equal tree (compound expressions are fully parenthesised).

use std::fmt::{self, Display, Formatter};

use super::SqlVersion;

/// A parsed rule statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub version: SqlVersion,
    /// `SET @v = expr, …` in order.
    pub sets: Vec<SetVar>,
    /// `SELECT [VALUE] items`.
    pub value: bool,
    pub items: Vec<SelectItem>,
    /// The FROM topic filter, without quotes.
    pub from: Option<String>,
    pub where_clause: Option<Expr>,
}

/// One `@name = expr` of SET.
#[derive(Debug, Clone, PartialEq)]
pub struct SetVar {
    pub name: String,
    pub expr: Expr,
}

/// One item of a select list.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// `*`: the payload (or the element, in a nested query).
    Star,
    /// `expr [AS a.b]`; the alias is a dotted path.
    Expr {
        expr: Expr,
        alias: Option<Vec<String>>,
    },
}

/// A nested object query `(SELECT [VALUE] items FROM expr [WHERE cond])`.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub value: bool,
    pub items: Vec<SelectItem>,
    pub from: Expr,
    pub where_clause: Option<Expr>,
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Not,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinOp {
    pub fn symbol(&self) -> &'static str {
        match self {
            BinOp::Or => "OR",
            BinOp::And => "AND",
            BinOp::Eq => "=",
            BinOp::Ne => "<>",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }
}

/// The target of `cast(x AS type)`, synonyms folded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CastType {
    /// `String`, `Nvarchar`, `Text`, `Ntext`, `varchar`.
    String,
    /// `Int`, `Integer`.
    Int,
    /// `Decimal` (2016-03-23) and `Double`.
    Decimal,
    /// `Bool`, `Boolean` (2016-03-23).
    Bool,
    /// Any other type name: the cast gives Undefined.
    Unknown(String),
}

impl CastType {
    pub fn name(&self) -> &str {
        match self {
            CastType::String => "String",
            CastType::Int => "Int",
            CastType::Decimal => "Decimal",
            CastType::Bool => "Boolean",
            CastType::Unknown(name) => name,
        }
    }
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Null,
    Bool(bool),
    Int(i64),
    Decimal(f64),
    String(String),
    /// An attribute of the current scope (the payload, or the element in a nested query).
    Attr(String),
    /// `@name`.
    Var(String),
    /// `*` as a function argument: the whole payload (raw bytes for `encode`).
    Star,
    /// `e.name`.
    Field(Box<Expr>, String),
    /// `e[i]`, the same as `get(e, i)`.
    Index(Box<Expr>, Box<Expr>),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// A function call; the name is lower case.
    Call(String, Vec<Expr>),
    Cast(Box<Expr>, CastType),
    /// `CASE [operand] WHEN … THEN … [ELSE …] END`.
    Case {
        operand: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    /// `{'k': e, …}` (2016-03-23).
    Object(Vec<(String, Expr)>),
    /// `[e, …]` (2016-03-23).
    Array(Vec<Expr>),
    /// `(SELECT …)` (2016-03-23).
    Query(Box<Query>),
}

/// Writes a string literal with single quotes, doubling any quote inside.
fn write_str_literal(f: &mut Formatter<'_>, s: &str) -> fmt::Result {
    write!(f, "'{}'", s.replace('\'', "''"))
}

fn write_list<T>(
    f: &mut Formatter<'_>,
    items: &[T],
    mut each: impl FnMut(&mut Formatter<'_>, &T) -> fmt::Result,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        each(f, item)?;
    }
    Ok(())
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Null => f.write_str("NULL"),
            Expr::Bool(b) => f.write_str(if *b { "TRUE" } else { "FALSE" }),
            Expr::Int(i) => write!(f, "{i}"),
            Expr::Decimal(d) => write!(f, "{d:?}"),
            Expr::String(s) => write_str_literal(f, s),
            Expr::Attr(name) => f.write_str(name),
            Expr::Var(name) => write!(f, "@{name}"),
            Expr::Star => f.write_str("*"),
            Expr::Field(base, name) => {
                write_postfix_base(f, base).and_then(|()| write!(f, ".{name}"))
            }
            Expr::Index(base, index) => {
                write_postfix_base(f, base)?;
                write!(f, "[{index}]")
            }
            Expr::Unary(UnaryOp::Neg, e) => write!(f, "(-{e})"),
            Expr::Unary(UnaryOp::Not, e) => write!(f, "(NOT {e})"),
            Expr::Binary(op, l, r) => write!(f, "({l} {} {r})", op.symbol()),
            Expr::Call(name, args) => {
                write!(f, "{name}(")?;
                write_list(f, args, |f, a| write!(f, "{a}"))?;
                f.write_str(")")
            }
            Expr::Cast(e, ty) => write!(f, "cast({e} AS {})", ty.name()),
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => write_case(f, operand, whens, otherwise),
            Expr::Object(fields) => {
                f.write_str("{")?;
                write_list(f, fields, |f, (k, v)| {
                    write_str_literal(f, k)?;
                    write!(f, ": {v}")
                })?;
                f.write_str("}")
            }
            Expr::Array(items) => {
                f.write_str("[")?;
                write_list(f, items, |f, e| write!(f, "{e}"))?;
                f.write_str("]")
            }
            Expr::Query(q) => write!(f, "({q})"),
        }
    }
}

/// The base of `.name` or `[i]`: parenthesised unless it is already a postfix-safe primary.
fn write_postfix_base(f: &mut Formatter<'_>, base: &Expr) -> fmt::Result {
    match base {
        Expr::Attr(_) | Expr::Var(_) | Expr::Field(..) | Expr::Index(..) | Expr::Call(..) => {
            write!(f, "{base}")
        }
        Expr::Unary(..) | Expr::Binary(..) | Expr::Query(_) => write!(f, "{base}"),
        _ => write!(f, "({base})"),
    }
}

fn write_case(
    f: &mut Formatter<'_>,
    operand: &Option<Box<Expr>>,
    whens: &[(Expr, Expr)],
    otherwise: &Option<Box<Expr>>,
) -> fmt::Result {
    f.write_str("CASE")?;
    if let Some(op) = operand {
        write!(f, " {op}")?;
    }
    for (w, t) in whens {
        write!(f, " WHEN {w} THEN {t}")?;
    }
    if let Some(e) = otherwise {
        write!(f, " ELSE {e}")?;
    }
    f.write_str(" END")
}

impl Display for SelectItem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            SelectItem::Star => f.write_str("*"),
            SelectItem::Expr { expr, alias: None } => write!(f, "{expr}"),
            SelectItem::Expr {
                expr,
                alias: Some(path),
            } => write!(f, "{expr} AS {}", path.join(".")),
        }
    }
}

fn write_select(f: &mut Formatter<'_>, value: bool, items: &[SelectItem]) -> fmt::Result {
    f.write_str(if value { "SELECT VALUE " } else { "SELECT " })?;
    write_list(f, items, |f, i| write!(f, "{i}"))
}

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_select(f, self.value, &self.items)?;
        write!(f, " FROM {}", self.from)?;
        if let Some(w) = &self.where_clause {
            write!(f, " WHERE {w}")?;
        }
        Ok(())
    }
}

impl Display for Statement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if !self.sets.is_empty() {
            f.write_str("SET ")?;
            write_list(f, &self.sets, |f, s| write!(f, "@{} = {}", s.name, s.expr))?;
            f.write_str(" ")?;
        }
        write_select(f, self.value, &self.items)?;
        if let Some(topic) = &self.from {
            f.write_str(" FROM ")?;
            write_str_literal(f, topic)?;
        }
        if let Some(w) = &self.where_clause {
            write!(f, " WHERE {w}")?;
        }
        Ok(())
    }
}

impl Statement {
    /// The FROM topic filter (without quotes), if any.
    pub fn topic_filter(&self) -> Option<&str> {
        self.from.as_deref()
    }

    /// The SQL version the statement was parsed for.
    pub fn version(&self) -> SqlVersion {
        self.version
    }

    /// Whether it calls an external function (`aws_lambda`, `get_thing_shadow`,
    /// `get_registry_data`, `get_dynamodb`, `get_secret`, `machinelearning_predict`).
    pub fn uses_external(&self) -> bool {
        let items = self.items.iter().filter_map(|i| match i {
            SelectItem::Expr { expr, .. } => Some(expr),
            SelectItem::Star => None,
        });
        self.sets
            .iter()
            .map(|s| &s.expr)
            .chain(items)
            .chain(self.where_clause.iter())
            .any(Expr::uses_external)
    }
}

impl Expr {
    /// Whether this expression calls an external function anywhere inside.
    pub fn uses_external(&self) -> bool {
        let mut found = false;
        self.walk(&mut |e| {
            if let Expr::Call(name, _) = e {
                found |= super::functions::is_external(name);
            }
        });
        found
    }

    /// Visits this expression and every expression inside it, nested queries included.
    pub fn walk(&self, visit: &mut dyn FnMut(&Expr)) {
        visit(self);
        match self {
            Expr::Field(e, _) | Expr::Unary(_, e) | Expr::Cast(e, _) => e.walk(visit),
            Expr::Index(a, b) | Expr::Binary(_, a, b) => {
                a.walk(visit);
                b.walk(visit);
            }
            Expr::Call(_, args) | Expr::Array(args) => args.iter().for_each(|a| a.walk(visit)),
            Expr::Object(fields) => fields.iter().for_each(|(_, v)| v.walk(visit)),
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                operand.iter().for_each(|o| o.walk(visit));
                whens.iter().for_each(|(w, t)| {
                    w.walk(visit);
                    t.walk(visit);
                });
                otherwise.iter().for_each(|o| o.walk(visit));
            }
            Expr::Query(q) => {
                q.from.walk(visit);
                q.where_clause.iter().for_each(|w| w.walk(visit));
                for item in &q.items {
                    if let SelectItem::Expr { expr, .. } = item {
                        expr.walk(visit);
                    }
                }
            }
            _ => {}
        }
    }
}
