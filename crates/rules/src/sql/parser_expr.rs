//! The Pratt parser for IoT SQL expressions. Binding powers (standard SQL, since AWS documents
//! none): `OR` < `AND` < `NOT` < comparisons < `+ -` < `* / %` < unary `-` < `.`/`[]`.

use super::ast::{BinOp, CastType, Expr, Query, UnaryOp};
use super::functions::{self, FnInfo};
use super::lexer::Tok;
use super::parser::{MAX_HEIGHT, MAX_RECURSION, Parser, SqlError, is_reserved};

const NOT_BP: u8 = 5;
const NEG_BP: u8 = 13;
const POSTFIX_BP: u8 = 15;

/// The (left, right) binding powers of an infix operator.
fn infix(tok: &Tok) -> Option<(u8, u8, BinOp)> {
    let (l, op) = match tok {
        Tok::Word(w) if w.eq_ignore_ascii_case("OR") => (1, BinOp::Or),
        Tok::Word(w) if w.eq_ignore_ascii_case("AND") => (3, BinOp::And),
        Tok::Sym(s) => match *s {
            "=" => (7, BinOp::Eq),
            "<>" => (7, BinOp::Ne),
            "<" => (7, BinOp::Lt),
            "<=" => (7, BinOp::Le),
            ">" => (7, BinOp::Gt),
            ">=" => (7, BinOp::Ge),
            "+" => (9, BinOp::Add),
            "-" => (9, BinOp::Sub),
            "*" => (11, BinOp::Mul),
            "/" => (11, BinOp::Div),
            "%" => (11, BinOp::Rem),
            _ => return None,
        },
        _ => return None,
    };
    Some((l, l + 1, op))
}

/// Operators AWS does not document; refused rather than guessed.
fn unsupported(tok: &Tok) -> Option<String> {
    match tok {
        Tok::Word(w)
            if ["IS", "IN", "BETWEEN", "LIKE"]
                .iter()
                .any(|k| k.eq_ignore_ascii_case(w)) =>
        {
            Some(format!(
                "'{}' is not supported by AWS IoT SQL",
                w.to_ascii_uppercase()
            ))
        }
        Tok::Sym("!=") => Some("'!=' is not supported by AWS IoT SQL (use '<>')".to_string()),
        _ => None,
    }
}

impl Parser<'_> {
    /// An expression whose operators bind at least as tightly as `min_bp`. Afterwards
    /// `self.height` is the height of its tree.
    pub(crate) fn expr(&mut self, min_bp: u8) -> Result<Expr, SqlError> {
        self.depth += 1;
        let result = if self.depth > MAX_RECURSION {
            let offset = self.peek_at(0).offset;
            Err(self.error_at(offset, "Expression nested too deeply"))
        } else {
            self.operators(min_bp)
        };
        self.depth -= 1;
        result
    }

    /// The height of a node whose tallest child is `child` tall; refused past [`MAX_HEIGHT`].
    pub(crate) fn grow(&mut self, child: usize) -> Result<usize, SqlError> {
        let height = child + 1;
        if height > MAX_HEIGHT {
            let offset = self.peek_at(0).offset;
            return Err(self.error_at(offset, "Expression nested too deeply"));
        }
        self.height = height;
        Ok(height)
    }

    fn operators(&mut self, min_bp: u8) -> Result<Expr, SqlError> {
        let mut lhs = self.prefix()?;
        let mut height = self.height;
        loop {
            let token = self.peek_at(0).clone();
            if let Some(message) = unsupported(&token.tok) {
                return Err(self.error_at(token.offset, &message));
            }
            if matches!(token.tok, Tok::Sym(".") | Tok::Sym("[")) && POSTFIX_BP >= min_bp {
                lhs = self.postfix(lhs, height)?;
                height = self.height;
                continue;
            }
            let Some((l_bp, r_bp, op)) = infix(&token.tok) else {
                break;
            };
            if l_bp < min_bp {
                break;
            }
            self.bump();
            let rhs = self.expr(r_bp)?;
            height = self.grow(height.max(self.height))?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
        self.height = height;
        Ok(lhs)
    }

    /// `base[i]` or `base.name`; `height` is the height of `base`.
    fn postfix(&mut self, base: Expr, height: usize) -> Result<Expr, SqlError> {
        if self.eat_sym("[") {
            let index = self.expr(0)?;
            self.expect_sym("]")?;
            self.grow(height.max(self.height))?;
            return Ok(Expr::Index(Box::new(base), Box::new(index)));
        }
        self.expect_sym(".")?;
        match self.peek().clone() {
            Tok::Word(name) => {
                self.bump();
                self.grow(height)?;
                Ok(Expr::Field(Box::new(base), name))
            }
            _ => Err(self.expected("an attribute name after '.'")),
        }
    }

    fn prefix(&mut self) -> Result<Expr, SqlError> {
        let op = if self.eat_kw("NOT") {
            (UnaryOp::Not, NOT_BP)
        } else if self.eat_sym("-") {
            (UnaryOp::Neg, NEG_BP)
        } else {
            return self.primary();
        };
        let operand = self.expr(op.1)?;
        self.grow(self.height)?;
        Ok(Expr::Unary(op.0, Box::new(operand)))
    }

    fn primary(&mut self) -> Result<Expr, SqlError> {
        let token = self.peek_at(0).clone();
        let expr = match token.tok {
            Tok::Int(i) => Expr::Int(i),
            Tok::Decimal(d) => Expr::Decimal(d),
            Tok::Str(s, _) => Expr::String(s),
            Tok::Var(name) => self.variable(token.offset, name)?,
            Tok::Word(word) => return self.word(token.offset, word),
            Tok::Sym("(") => return self.parenthesised(),
            Tok::Sym("{") => return self.object(token.offset),
            Tok::Sym("[") => return self.array(token.offset),
            _ => return Err(self.expected("an expression")),
        };
        self.bump();
        self.height = 1;
        Ok(expr)
    }

    fn variable(&self, offset: usize, name: String) -> Result<Expr, SqlError> {
        match &self.vars {
            Some(vars) if !vars.contains(&name) => Err(self.error_at(
                offset,
                &format!("Variable '@{name}' is not declared by SET"),
            )),
            _ => Ok(Expr::Var(name)),
        }
    }

    fn word(&mut self, offset: usize, word: String) -> Result<Expr, SqlError> {
        let upper = word.to_ascii_uppercase();
        match upper.as_str() {
            "NULL" | "TRUE" | "FALSE" => {
                self.bump();
                self.height = 1;
                return Ok(match upper.as_str() {
                    "NULL" => Expr::Null,
                    u => Expr::Bool(u == "TRUE"),
                });
            }
            "CASE" => {
                self.bump();
                return self.case();
            }
            _ if is_reserved(&word) => return Err(self.expected("an expression")),
            _ => {}
        }
        self.bump();
        if !self.at_sym("(") {
            self.height = 1;
            return Ok(Expr::Attr(word));
        }
        self.bump();
        let name = word.to_ascii_lowercase();
        if name == "cast" {
            return self.cast(offset);
        }
        let args = self.call_args()?;
        self.check_call(offset, &name, &args)?;
        self.grow(self.height)?;
        Ok(Expr::Call(name, args))
    }

    /// The arguments after `(`, through `)`. A lone `*` is the whole payload. Afterwards
    /// `self.height` is the tallest argument's height.
    fn call_args(&mut self) -> Result<Vec<Expr>, SqlError> {
        let mut args = Vec::new();
        let mut height = 0;
        if !self.eat_sym(")") {
            loop {
                let star = self.at_sym("*")
                    && matches!(self.peek_at(1).tok, Tok::Sym(",") | Tok::Sym(")"));
                if star {
                    self.bump();
                    args.push(Expr::Star);
                    height = height.max(1);
                } else {
                    args.push(self.expr(0)?);
                    height = height.max(self.height);
                }
                if self.eat_sym(")") {
                    break;
                }
                self.expect_sym(",")?;
            }
        }
        self.height = height;
        Ok(args)
    }

    /// Refuses unknown functions, functions of a later version, impossible argument counts,
    /// external functions where they are not allowed and variables in role or mode arguments.
    fn check_call(&self, offset: usize, name: &str, args: &[Expr]) -> Result<(), SqlError> {
        let Some(FnInfo {
            since_2016,
            min,
            max,
            external,
            fixed,
        }) = functions::lookup(name)
        else {
            return Err(self.error_at(offset, &format!("Unknown function '{name}'")));
        };
        if since_2016 {
            self.need_2016(offset, &format!("Function '{name}'"))?;
        }
        if args.len() < min || args.len() > max {
            let arity = functions::arity_text(min, max);
            let msg = format!("Function '{name}' takes {arity}, not {}", args.len());
            return Err(self.error_at(offset, &msg));
        }
        if external && !self.allow_external {
            let msg = format!("External function '{name}' is not allowed here");
            return Err(self.error_at(offset, &msg));
        }
        if let Some(index) = fixed.index(args.len())
            && args.get(index).is_some_and(|a| matches!(a, Expr::Var(_)))
        {
            let msg = format!("Argument {} of '{name}' cannot be a variable", index + 1);
            return Err(self.error_at(offset, &msg));
        }
        Ok(())
    }

    /// `cast(expr AS type)` after `cast(`.
    fn cast(&mut self, offset: usize) -> Result<Expr, SqlError> {
        let expr = self.expr(0)?;
        self.expect_kw("AS")?;
        let Tok::Word(ty) = self.peek().clone() else {
            return Err(self.expected("a type name"));
        };
        self.bump();
        self.expect_sym(")")?;
        self.grow(self.height)?;
        let cast = match ty.to_ascii_lowercase().as_str() {
            "string" | "nvarchar" | "text" | "ntext" | "varchar" => CastType::String,
            "int" | "integer" => CastType::Int,
            "double" => CastType::Decimal,
            "decimal" => {
                self.need_2016(offset, "cast to Decimal")?;
                CastType::Decimal
            }
            "bool" | "boolean" => {
                self.need_2016(offset, "cast to Boolean")?;
                CastType::Bool
            }
            _ => CastType::Unknown(ty),
        };
        Ok(Expr::Cast(Box::new(expr), cast))
    }

    /// `CASE [operand] WHEN a THEN b … [ELSE c] END` after CASE.
    fn case(&mut self) -> Result<Expr, SqlError> {
        let mut height = 0;
        let operand = if self.at_kw("WHEN") {
            None
        } else {
            Some(Box::new(self.expr(0)?))
        };
        height = height.max(if operand.is_some() { self.height } else { 0 });
        let mut whens = Vec::new();
        while self.eat_kw("WHEN") {
            let when = self.expr(0)?;
            height = height.max(self.height);
            self.expect_kw("THEN")?;
            whens.push((when, self.expr(0)?));
            height = height.max(self.height);
        }
        if whens.is_empty() {
            return Err(self.expected("WHEN"));
        }
        let otherwise = if self.eat_kw("ELSE") {
            Some(Box::new(self.expr(0)?))
        } else {
            None
        };
        height = height.max(if otherwise.is_some() { self.height } else { 0 });
        self.expect_kw("END")?;
        self.grow(height)?;
        Ok(Expr::Case {
            operand,
            whens,
            otherwise,
        })
    }

    /// `( expr )` or a nested query `(SELECT …)`.
    fn parenthesised(&mut self) -> Result<Expr, SqlError> {
        let open = self.bump();
        if !self.eat_kw("SELECT") {
            let expr = self.expr(0)?;
            self.expect_sym(")")?;
            return Ok(expr);
        }
        self.need_2016(open.offset, "A nested query")?;
        let (value, items) = self.select_list()?;
        let mut height = self.height;
        self.expect_kw("FROM")?;
        let from = self.expr(0)?;
        height = height.max(self.height);
        let where_clause = if self.eat_kw("WHERE") {
            Some(self.expr(0)?)
        } else {
            None
        };
        height = height.max(if where_clause.is_some() {
            self.height
        } else {
            0
        });
        self.expect_sym(")")?;
        self.grow(height)?;
        Ok(Expr::Query(Box::new(Query {
            value,
            items,
            from,
            where_clause,
        })))
    }

    /// `{'k': e, …}` (2016-03-23).
    fn object(&mut self, offset: usize) -> Result<Expr, SqlError> {
        self.need_2016(offset, "An object literal")?;
        self.bump();
        let mut fields = Vec::new();
        let mut height = 0;
        if !self.eat_sym("}") {
            loop {
                let Tok::Str(key, _) = self.peek().clone() else {
                    return Err(self.expected("a quoted key"));
                };
                self.bump();
                self.expect_sym(":")?;
                fields.push((key, self.expr(0)?));
                height = height.max(self.height);
                if self.eat_sym("}") {
                    break;
                }
                self.expect_sym(",")?;
            }
        }
        self.grow(height)?;
        Ok(Expr::Object(fields))
    }

    /// `[e, …]` (2016-03-23).
    fn array(&mut self, offset: usize) -> Result<Expr, SqlError> {
        self.need_2016(offset, "An array literal")?;
        self.bump();
        let mut items = Vec::new();
        let mut height = 0;
        if !self.eat_sym("]") {
            loop {
                items.push(self.expr(0)?);
                height = height.max(self.height);
                if self.eat_sym("]") {
                    break;
                }
                self.expect_sym(",")?;
            }
        }
        self.grow(height)?;
        Ok(Expr::Array(items))
    }
}
