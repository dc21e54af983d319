//! The IoT SQL lexer: turns text into tokens on demand, so a substitution template can stop at
//! the `}` that closes its expression. A lexing problem becomes a [`Tok::Error`] token, reported
//! only if the parser reaches it.

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A word: identifier, keyword or function name (keywords are recognised by the parser).
    Word(String),
    /// `@name` (the name without `@`).
    Var(String),
    /// An integer literal that fits an `i64`.
    Int(i64),
    /// A number with a fraction or exponent, or an integer too large for an `i64`.
    Decimal(f64),
    /// A quoted string; the quote character is kept (a FROM topic needs `'`).
    Str(String, char),
    /// Punctuation and operators.
    Sym(&'static str),
    /// Something that is not IoT SQL.
    Error(String),
    /// End of input.
    Eof,
}

impl Tok {
    /// How the token is named in an error message.
    pub fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("'{w}'"),
            Tok::Var(v) => format!("'@{v}'"),
            Tok::Int(i) => format!("'{i}'"),
            Tok::Decimal(d) => format!("'{d}'"),
            Tok::Str(s, q) => format!("{q}{s}{q}"),
            Tok::Sym(s) => format!("'{s}'"),
            Tok::Error(e) => e.clone(),
            Tok::Eof => "end of input".to_string(),
        }
    }
}

/// A token and its byte offset in the text.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub offset: usize,
}

/// The longest variable name after `@`.
pub const MAX_VAR_LEN: usize = 64;

const SYMBOLS: [&str; 20] = [
    "<>", "<=", ">=", "!=", "${", "(", ")", ",", ".", "*", "+", "-", "/", "%", "=", "<", ">", "[",
    "]", "{",
];
const MORE_SYMBOLS: [&str; 2] = ["}", ":"];

/// A lexer over `text`, starting at a byte offset.
pub struct Lexer<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(text: &'a str, start: usize) -> Lexer<'a> {
        Lexer {
            text,
            pos: start.min(text.len()),
        }
    }

    fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or("")
    }

    fn peek_char(&self) -> Option<char> {
        self.rest().chars().next()
    }

    /// The next token.
    pub fn next_token(&mut self) -> Token {
        while let Some(c) = self.peek_char() {
            if !c.is_whitespace() {
                break;
            }
            self.pos += c.len_utf8();
        }
        let offset = self.pos;
        let tok = match self.peek_char() {
            None => Tok::Eof,
            Some(c) if c.is_ascii_alphabetic() || c == '_' => Tok::Word(self.take_word()),
            Some(c) if c.is_ascii_digit() => self.number(),
            Some('@') => self.variable(),
            Some(q @ ('\'' | '"')) => self.string(q),
            Some(c) => self.symbol(c),
        };
        Token { tok, offset }
    }

    fn take_word(&mut self) -> String {
        let rest = self.rest();
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        self.pos += len;
        rest[..len].to_string()
    }

    fn digits(&mut self) -> usize {
        let rest = self.rest();
        let len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        self.pos += len;
        len
    }

    fn number(&mut self) -> Tok {
        let start = self.pos;
        self.digits();
        let mut decimal = false;
        let rest = self.rest().as_bytes();
        if rest.first() == Some(&b'.') && rest.get(1).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
            self.digits();
            decimal = true;
        }
        let rest = self.rest().as_bytes();
        if matches!(rest.first(), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(rest.get(1), Some(b'+' | b'-')));
            if rest.get(1 + sign).is_some_and(u8::is_ascii_digit) {
                self.pos += 1 + sign;
                self.digits();
                decimal = true;
            }
        }
        let text = &self.text[start..self.pos];
        if !decimal && let Ok(i) = text.parse::<i64>() {
            return Tok::Int(i);
        }
        match text.parse::<f64>() {
            Ok(d) if d.is_finite() => Tok::Decimal(d),
            _ => Tok::Error(format!("the number '{text}' is out of range")),
        }
    }

    fn variable(&mut self) -> Tok {
        self.pos += 1;
        let rest = self.rest();
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        self.pos += len;
        let name = &rest[..len];
        if name.is_empty() {
            Tok::Error("'@' without a variable name".to_string())
        } else if name.len() > MAX_VAR_LEN {
            Tok::Error(format!(
                "the variable name '@{name}' is longer than {MAX_VAR_LEN} characters"
            ))
        } else {
            Tok::Var(name.to_string())
        }
    }

    /// A quoted string; the quote written twice stands for itself.
    fn string(&mut self, quote: char) -> Tok {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek_char() else {
                return Tok::Error("an unterminated string".to_string());
            };
            self.pos += c.len_utf8();
            if c == quote {
                if self.peek_char() == Some(quote) {
                    self.pos += 1;
                } else {
                    return Tok::Str(out, quote);
                }
            }
            out.push(c);
        }
    }

    fn symbol(&mut self, c: char) -> Tok {
        let rest = self.rest();
        for sym in SYMBOLS.iter().chain(MORE_SYMBOLS.iter()) {
            if rest.starts_with(*sym) {
                self.pos += sym.len();
                return Tok::Sym(sym);
            }
        }
        self.pos += c.len_utf8();
        Tok::Error(format!("an unexpected character '{c}'"))
    }
}

/// `line:column` (both 1-based, column in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}
