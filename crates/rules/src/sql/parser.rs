//! The statement parser: `[SET …] SELECT [VALUE] … [FROM 'filter'] [WHERE …]`, the token
//! buffer and error reporting shared with the expression parser (`parser_expr`).

use std::collections::VecDeque;

use super::SqlVersion;
use super::ast::{Expr, SelectItem, SetVar, Statement};
use super::lexer::{Lexer, Tok, Token, line_col};

/// A statement or template AWS would refuse with `SqlParseException`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct SqlError {
    /// Byte offset in the text where the problem is.
    pub offset: usize,
    /// What was wrong, with `line:column (offset n)` and what was expected.
    pub message: String,
}

/// The most SET variables a statement may declare (gopherstack's cap; a guess for AWS).
pub const MAX_SET_VARIABLES: usize = 10;

/// The tallest expression tree the parser accepts (keeps evaluation's stack bounded).
pub const MAX_HEIGHT: usize = 100;

/// How deeply the parser may recurse, parentheses included. A printed statement needs at most
/// two levels per level of its tree, so anything accepted prints to text that is accepted.
pub const MAX_RECURSION: usize = 2 * MAX_HEIGHT + 8;

/// Words that are never attribute names.
const RESERVED: [&str; 20] = [
    "SELECT", "FROM", "WHERE", "AS", "SET", "AND", "OR", "NOT", "CASE", "WHEN", "THEN", "ELSE",
    "END", "NULL", "TRUE", "FALSE", "IS", "IN", "BETWEEN", "LIKE",
];

/// Whether `word` is a reserved word.
pub fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(word))
}

/// The parser state shared by statements, nested queries and templates.
pub(crate) struct Parser<'a> {
    text: &'a str,
    lexer: Lexer<'a>,
    buf: VecDeque<Token>,
    pub(crate) version: SqlVersion,
    /// Declared SET variables; `None` accepts any (templates cannot see the rule's SET).
    pub(crate) vars: Option<Vec<String>>,
    pub(crate) allow_external: bool,
    /// Current recursion depth of the expression parser.
    pub(crate) depth: usize,
    /// The height of the expression (or select list) parsed last.
    pub(crate) height: usize,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(text: &'a str, start: usize, version: SqlVersion) -> Parser<'a> {
        Parser {
            text,
            lexer: Lexer::new(text, start),
            buf: VecDeque::new(),
            version,
            vars: Some(Vec::new()),
            allow_external: true,
            depth: 0,
            height: 0,
        }
    }

    /// The token `k` places ahead (0 = the next one).
    pub(crate) fn peek_at(&mut self, k: usize) -> &Token {
        while self.buf.len() <= k {
            let token = self.lexer.next_token();
            self.buf.push_back(token);
        }
        &self.buf[k]
    }

    pub(crate) fn peek(&mut self) -> &Tok {
        &self.peek_at(0).tok
    }

    pub(crate) fn bump(&mut self) -> Token {
        self.peek_at(0);
        self.buf.pop_front().unwrap_or(Token {
            tok: Tok::Eof,
            offset: self.text.len(),
        })
    }

    /// Whether the next token is the keyword `kw` (any case).
    pub(crate) fn at_kw(&mut self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    pub(crate) fn at_sym(&mut self, sym: &str) -> bool {
        matches!(self.peek(), Tok::Sym(s) if *s == sym)
    }

    /// Consumes the keyword `kw` if it is next.
    pub(crate) fn eat_kw(&mut self, kw: &str) -> bool {
        let at = self.at_kw(kw);
        if at {
            self.bump();
        }
        at
    }

    pub(crate) fn eat_sym(&mut self, sym: &str) -> bool {
        let at = self.at_sym(sym);
        if at {
            self.bump();
        }
        at
    }

    /// An error at `offset` with a message that names the position.
    pub(crate) fn error_at(&self, offset: usize, what: &str) -> SqlError {
        let (line, col) = line_col(self.text, offset);
        SqlError {
            offset,
            message: format!("{what} at {line}:{col} (offset {offset})"),
        }
    }

    /// "Expected X at l:c (offset n), found Y" for the next token.
    pub(crate) fn expected(&mut self, what: &str) -> SqlError {
        let token = self.peek_at(0).clone();
        let mut err = self.error_at(token.offset, &format!("Expected {what}"));
        err.message
            .push_str(&format!(", found {}", token.tok.describe()));
        err
    }

    pub(crate) fn expect_sym(&mut self, sym: &str) -> Result<Token, SqlError> {
        if self.at_sym(sym) {
            Ok(self.bump())
        } else {
            Err(self.expected(&format!("'{sym}'")))
        }
    }

    pub(crate) fn expect_kw(&mut self, kw: &str) -> Result<(), SqlError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.expected(kw))
        }
    }

    /// Refuses a 2016-03-23 feature under 2015-10-08.
    pub(crate) fn need_2016(&self, offset: usize, feature: &str) -> Result<(), SqlError> {
        if self.version.is_2016() {
            return Ok(());
        }
        Err(self.error_at(
            offset,
            &format!("{feature} needs SQL version 2016-03-23 or later"),
        ))
    }

    /// `SELECT [VALUE] items`, after the SELECT keyword. Returns (value, items); afterwards
    /// `self.height` is the tallest item's height.
    pub(crate) fn select_list(&mut self) -> Result<(bool, Vec<SelectItem>), SqlError> {
        let value = self.at_kw("VALUE") && self.value_is_keyword();
        let value_offset = self.peek_at(0).offset;
        if value {
            self.bump();
        }
        let mut items = Vec::new();
        let mut height = 0;
        loop {
            if !value && self.eat_sym("*") {
                items.push(SelectItem::Star);
            } else {
                let expr = self.expr(0)?;
                height = height.max(self.height);
                let alias = if self.eat_kw("AS") {
                    Some(self.alias()?)
                } else {
                    None
                };
                items.push(SelectItem::Expr { expr, alias });
            }
            if !self.eat_sym(",") {
                break;
            }
        }
        if value && items.len() != 1 {
            return Err(self.error_at(value_offset, "SELECT VALUE takes exactly one expression"));
        }
        self.height = height;
        Ok((value, items))
    }

    /// `VALUE` right after SELECT is the keyword when an expression follows it; otherwise it
    /// is an attribute named `value`.
    fn value_is_keyword(&mut self) -> bool {
        match &self.peek_at(1).tok {
            Tok::Word(w) => !["FROM", "AS", "WHERE", "AND", "OR"]
                .iter()
                .any(|k| k.eq_ignore_ascii_case(w)),
            Tok::Var(_) | Tok::Int(_) | Tok::Decimal(_) | Tok::Str(..) => true,
            Tok::Sym(s) => matches!(*s, "(" | "{" | "[" | "-"),
            Tok::Error(_) | Tok::Eof => false,
        }
    }

    /// A dotted alias path `a.b.c`.
    fn alias(&mut self) -> Result<Vec<String>, SqlError> {
        let mut path = Vec::new();
        loop {
            match self.peek().clone() {
                Tok::Word(w) => {
                    self.bump();
                    path.push(w);
                }
                _ => return Err(self.expected("an alias name")),
            }
            if !self.eat_sym(".") {
                return Ok(path);
            }
        }
    }

    /// `SET @a = e, @b = e` after the SET keyword.
    fn sets(&mut self) -> Result<Vec<SetVar>, SqlError> {
        let mut sets: Vec<SetVar> = Vec::new();
        loop {
            let token = self.bump();
            let Tok::Var(name) = token.tok else {
                self.buf.push_front(token);
                return Err(self.expected("a variable such as @name"));
            };
            if sets.iter().any(|s| s.name == name) {
                return Err(
                    self.error_at(token.offset, &format!("Variable '@{name}' is set twice"))
                );
            }
            if sets.len() == MAX_SET_VARIABLES {
                let msg = format!("More than {MAX_SET_VARIABLES} SET variables");
                return Err(self.error_at(token.offset, &msg));
            }
            self.expect_sym("=")?;
            let expr = self.expr(0)?;
            if let Some(vars) = &mut self.vars {
                vars.push(name.clone());
            }
            sets.push(SetVar { name, expr });
            if !self.eat_sym(",") {
                return Ok(sets);
            }
        }
    }

    fn statement(&mut self) -> Result<Statement, SqlError> {
        let sets = if self.eat_kw("SET") {
            self.sets()?
        } else {
            Vec::new()
        };
        self.expect_kw("SELECT")?;
        let (value, items) = self.select_list()?;
        let from = if self.eat_kw("FROM") {
            match self.peek().clone() {
                Tok::Str(topic, '\'') => {
                    self.bump();
                    Some(topic)
                }
                _ => return Err(self.expected("a topic filter in single quotes")),
            }
        } else {
            None
        };
        let where_clause = if self.eat_kw("WHERE") {
            Some(self.expr(0)?)
        } else {
            None
        };
        if !matches!(self.peek(), Tok::Eof) {
            return Err(self.expected("end of input"));
        }
        let version = self.version;
        Ok(Statement {
            version,
            sets,
            value,
            items,
            from,
            where_clause,
        })
    }
}

/// Parses a rule's SQL for `version`. Refuses what the version lacks (2016-03-23 functions,
/// literals and nested queries under 2015-10-08), unknown functions, undeclared or duplicate
/// `@variables`, more than 10 SET variables, and `IS`/`IN`/`BETWEEN`/`LIKE`.
pub fn parse(sql: &str, version: SqlVersion) -> Result<Statement, SqlError> {
    Parser::new(sql, 0, version).statement()
}

/// Parses the expression of a template part starting at byte `start` (just after `${`).
/// Returns it and the offset just past its closing `}`.
pub(crate) fn parse_template_expr(
    text: &str,
    start: usize,
    version: SqlVersion,
    allow_external: bool,
) -> Result<(Expr, usize), SqlError> {
    let mut parser = Parser::new(text, start, version);
    parser.vars = None;
    parser.allow_external = allow_external;
    let expr = parser.expr(0)?;
    let close = parser.expect_sym("}")?;
    Ok((expr, close.offset + 1))
}
