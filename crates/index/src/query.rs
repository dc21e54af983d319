//! AWS IoT fleet indexing's query syntax (a Lucene subset): terms and phrases, `field:value`,
//! wildcards (`*`, `?`, never leading except `*` and `field:*`), ranges (`[a TO b]`,
//! `{a TO b}`, mixed), comparisons (`field>n`, `>=`, `<`, `<=`), `AND` / `OR` / `NOT` / `-`,
//! parentheses and field grouping (`thingName:(tv* AND -plasma)`), `\` escapes. The default
//! operator is AND; at most 7 terms. Anything else is refused with its position.

use std::fmt;

/// The most terms one query may have (AWS's limit).
pub const MAX_TERMS: usize = 7;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// `*`: every document.
    All,
    And(Vec<Query>),
    Or(Vec<Query>),
    Not(Box<Query>),
    /// A value, in one field or (no field) in any.
    Term {
        field: Option<String>,
        value: Pattern,
    },
    /// `field:*`
    Exists(String),
    Range {
        field: Option<String>,
        low: Bound,
        high: Bound,
    },
}

/// One end of a range.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    Open,
    Inclusive(String),
    Exclusive(String),
}

/// A value to match: literal characters and wildcards, or a quoted phrase.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    Word(Vec<Piece>),
    Phrase(String),
}

/// One piece of a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece {
    Char(char),
    /// `*`: any run of characters.
    Any,
    /// `?`: one character.
    One,
}

impl Pattern {
    /// The literal text (wildcards dropped), for comparisons.
    pub fn text(&self) -> String {
        match self {
            Pattern::Phrase(p) => p.clone(),
            Pattern::Word(pieces) => pieces
                .iter()
                .filter_map(|p| match p {
                    Piece::Char(c) => Some(*c),
                    _ => None,
                })
                .collect(),
        }
    }

    pub fn has_wildcard(&self) -> bool {
        matches!(self, Pattern::Word(p) if p.iter().any(|p| !matches!(p, Piece::Char(_))))
    }
}

/// Why a query was refused: AWS's `InvalidQueryException`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// Character offset in the query string.
    pub position: usize,
    pub message: String,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at position {})", self.message, self.position)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    OpenRange(bool),
    CloseRange(bool),
    Colon,
    Cmp(&'static str),
    Minus,
    Word(Vec<Piece>),
    Phrase(String),
}

fn is_special(c: char) -> bool {
    c.is_whitespace() || "()[]{}\":<>".contains(c)
}

/// Splits the query into tokens with their positions.
fn lex(q: &str) -> Result<Vec<(usize, Tok)>, QueryError> {
    let chars: Vec<char> = q.chars().collect();
    let err = |position, m: &str| QueryError {
        position,
        message: m.to_string(),
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        i += 1;
        let tok = match c {
            c if c.is_whitespace() => continue,
            '(' => Tok::Open,
            ')' => Tok::Close,
            '[' | '{' => Tok::OpenRange(c == '['),
            ']' | '}' => Tok::CloseRange(c == ']'),
            ':' => Tok::Colon,
            '<' | '>' => {
                let eq = chars.get(i) == Some(&'=');
                i += usize::from(eq);
                Tok::Cmp(match (c, eq) {
                    ('<', false) => "<",
                    ('<', true) => "<=",
                    ('>', false) => ">",
                    _ => ">=",
                })
            }
            '-' if chars.get(i).is_some_and(|n| !n.is_whitespace()) && preceded_by_gap(&out) => {
                Tok::Minus
            }
            '"' => {
                let mut text = String::new();
                loop {
                    match chars.get(i) {
                        None => return Err(err(start, "a phrase is not closed with \"")),
                        Some('"') => break,
                        Some('\\') if i + 1 < chars.len() => {
                            text.push(chars[i + 1]);
                            i += 1;
                        }
                        Some(c) => text.push(*c),
                    }
                    i += 1;
                }
                i += 1;
                Tok::Phrase(text)
            }
            _ => {
                i -= 1;
                let mut pieces = Vec::new();
                while let Some(&c) = chars.get(i) {
                    match c {
                        '\\' => match chars.get(i + 1) {
                            Some(&n) => {
                                pieces.push(Piece::Char(n));
                                i += 1;
                            }
                            None => return Err(err(i, "a query cannot end with \\")),
                        },
                        '*' => pieces.push(Piece::Any),
                        '?' => pieces.push(Piece::One),
                        '~' | '^' => {
                            return Err(err(
                                i,
                                "fuzzy (~) and boosted (^) terms are not supported",
                            ));
                        }
                        c if is_special(c) => break,
                        c => pieces.push(Piece::Char(c)),
                    }
                    i += 1;
                }
                Tok::Word(pieces)
            }
        };
        out.push((start, tok));
    }
    Ok(out)
}

/// A `-` excludes only where a term may start (not in `field:-5`, `>-5` or `[-5 TO 0]`).
fn preceded_by_gap(out: &[(usize, Tok)]) -> bool {
    match out.last() {
        Some((_, Tok::Colon | Tok::Cmp(_) | Tok::OpenRange(_))) => false,
        Some((_, t)) => !keyword(t, "TO"),
        None => true,
    }
}

/// Parses `q`.
pub fn parse(q: &str) -> Result<Query, QueryError> {
    let tokens = lex(q)?;
    if tokens.is_empty() {
        return Err(QueryError {
            position: 0,
            message: "the query is empty".into(),
        });
    }
    let mut p = Parser {
        tokens,
        at: 0,
        terms: 0,
        end: q.chars().count(),
    };
    let query = p.or(None)?;
    if let Some((pos, _)) = p.tokens.get(p.at) {
        return Err(p.error(*pos, "unexpected input"));
    }
    Ok(query)
}

struct Parser {
    tokens: Vec<(usize, Tok)>,
    at: usize,
    terms: usize,
    end: usize,
}

fn keyword(t: &Tok, k: &str) -> bool {
    matches!(t, Tok::Word(p) if p.len() == k.len()
        && p.iter().zip(k.chars()).all(|(a, b)| *a == Piece::Char(b)))
}

fn word_text(p: &[Piece]) -> Option<String> {
    p.iter()
        .map(|p| match p {
            Piece::Char(c) => Some(*c),
            _ => None,
        })
        .collect()
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.at).map(|(_, t)| t)
    }

    fn pos(&self) -> usize {
        self.tokens.get(self.at).map_or(self.end, |(p, _)| *p)
    }

    fn error(&self, position: usize, m: &str) -> QueryError {
        QueryError {
            position,
            message: m.to_string(),
        }
    }

    fn or(&mut self, field: Option<&str>) -> Result<Query, QueryError> {
        let mut parts = vec![self.and(field)?];
        while self.peek().is_some_and(|t| keyword(t, "OR")) {
            self.at += 1;
            parts.push(self.and(field)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Query::Or(parts)
        })
    }

    fn and(&mut self, field: Option<&str>) -> Result<Query, QueryError> {
        let mut parts = vec![self.unary(field)?];
        loop {
            match self.peek() {
                None | Some(Tok::Close) => break,
                Some(t) if keyword(t, "OR") => break,
                Some(t) if keyword(t, "AND") => self.at += 1,
                _ => {}
            }
            parts.push(self.unary(field)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Query::And(parts)
        })
    }

    fn unary(&mut self, field: Option<&str>) -> Result<Query, QueryError> {
        match self.peek() {
            Some(Tok::Minus) => {
                self.at += 1;
                Ok(Query::Not(Box::new(self.primary(field)?)))
            }
            Some(t) if keyword(t, "NOT") => {
                self.at += 1;
                Ok(Query::Not(Box::new(self.unary(field)?)))
            }
            _ => self.primary(field),
        }
    }

    fn primary(&mut self, field: Option<&str>) -> Result<Query, QueryError> {
        let pos = self.pos();
        match self.tokens.get(self.at).map(|(_, t)| t.clone()) {
            Some(Tok::Open) => {
                self.at += 1;
                let inner = self.or(field)?;
                self.expect_close()?;
                Ok(inner)
            }
            Some(Tok::Word(w)) => {
                self.at += 1;
                match self.peek() {
                    Some(Tok::Colon) if field.is_none() => {
                        self.at += 1;
                        let name = self.field_name(&w, pos)?;
                        self.after_field(&name)
                    }
                    Some(Tok::Cmp(op)) if field.is_none() => {
                        let op = *op;
                        self.at += 1;
                        let name = self.field_name(&w, pos)?;
                        self.comparison(Some(name), op)
                    }
                    _ => self.value(field, Pattern::Word(w), pos),
                }
            }
            Some(Tok::Phrase(p)) => {
                self.at += 1;
                self.value(field, Pattern::Phrase(p), pos)
            }
            Some(Tok::OpenRange(inclusive)) => self.range(field.map(str::to_string), inclusive),
            Some(Tok::Cmp(op)) if field.is_some() => {
                self.at += 1;
                self.comparison(field.map(str::to_string), op)
            }
            Some(_) => Err(self.error(pos, "expected a term")),
            None => Err(self.error(pos, "the query ends where a term was expected")),
        }
    }

    fn field_name(&self, w: &[Piece], pos: usize) -> Result<String, QueryError> {
        word_text(w)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| self.error(pos, "a field name cannot hold wildcards"))
    }

    fn after_field(&mut self, name: &str) -> Result<Query, QueryError> {
        let pos = self.pos();
        match self.peek().cloned() {
            Some(Tok::Open) => {
                self.at += 1;
                let inner = self.or(Some(name))?;
                self.expect_close()?;
                Ok(inner)
            }
            Some(Tok::OpenRange(inclusive)) => self.range(Some(name.to_string()), inclusive),
            Some(Tok::Cmp(op)) => {
                self.at += 1;
                self.comparison(Some(name.to_string()), op)
            }
            Some(Tok::Word(w)) => {
                self.at += 1;
                self.value(Some(name), Pattern::Word(w), pos)
            }
            Some(Tok::Phrase(p)) => {
                self.at += 1;
                self.value(Some(name), Pattern::Phrase(p), pos)
            }
            _ => Err(self.error(pos, &format!("expected a value after {name}:"))),
        }
    }

    fn count(&mut self, pos: usize) -> Result<(), QueryError> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(self.error(pos, "a query may have at most 7 terms"));
        }
        Ok(())
    }

    fn value(
        &mut self,
        field: Option<&str>,
        value: Pattern,
        pos: usize,
    ) -> Result<Query, QueryError> {
        self.count(pos)?;
        if let Pattern::Word(w) = &value {
            if w.is_empty() {
                return Err(self.error(pos, "expected a value"));
            }
            if w == &[Piece::Any] {
                return Ok(match field {
                    Some(f) => Query::Exists(f.to_string()),
                    None => Query::All,
                });
            }
            if !matches!(w[0], Piece::Char(_)) {
                return Err(self.error(pos, "a leading wildcard is not supported"));
            }
        }
        Ok(Query::Term {
            field: field.map(str::to_string),
            value,
        })
    }

    fn bound_word(&mut self) -> Result<String, QueryError> {
        let pos = self.pos();
        match self.tokens.get(self.at).map(|(_, t)| t.clone()) {
            Some(Tok::Word(w)) => {
                self.at += 1;
                if w == [Piece::Any] {
                    return Ok("*".into());
                }
                word_text(&w).ok_or_else(|| self.error(pos, "a range bound cannot hold wildcards"))
            }
            Some(Tok::Phrase(p)) => {
                self.at += 1;
                Ok(p)
            }
            _ => Err(self.error(pos, "expected a range bound")),
        }
    }

    fn range(&mut self, field: Option<String>, inclusive: bool) -> Result<Query, QueryError> {
        let pos = self.pos();
        self.at += 1;
        self.count(pos)?;
        let low = self.bound_word()?;
        if !self.peek().is_some_and(|t| keyword(t, "TO")) {
            return Err(self.error(self.pos(), "expected TO in a range"));
        }
        self.at += 1;
        let high = self.bound_word()?;
        let close = match self.peek() {
            Some(Tok::CloseRange(c)) => *c,
            _ => return Err(self.error(self.pos(), "expected ] or } to close the range")),
        };
        self.at += 1;
        let bound = |v: String, inclusive: bool| match (v.as_str(), inclusive) {
            ("*", _) => Bound::Open,
            (_, true) => Bound::Inclusive(v),
            (_, false) => Bound::Exclusive(v),
        };
        Ok(Query::Range {
            field,
            low: bound(low, inclusive),
            high: bound(high, close),
        })
    }

    fn comparison(&mut self, field: Option<String>, op: &str) -> Result<Query, QueryError> {
        let pos = self.pos();
        self.count(pos)?;
        let v = self.bound_word()?;
        let (low, high) = match op {
            ">" => (Bound::Exclusive(v), Bound::Open),
            ">=" => (Bound::Inclusive(v), Bound::Open),
            "<" => (Bound::Open, Bound::Exclusive(v)),
            _ => (Bound::Open, Bound::Inclusive(v)),
        };
        Ok(Query::Range { field, low, high })
    }

    fn expect_close(&mut self) -> Result<(), QueryError> {
        match self.peek() {
            Some(Tok::Close) => {
                self.at += 1;
                Ok(())
            }
            _ => Err(self.error(self.pos(), "expected )")),
        }
    }
}
