//! `regexp_matches`, `regexp_replace` and `regexp_substr`. AWS uses Java regular expressions;
//! the `regex` crate covers the common syntax (no look-around or back-references: such patterns
//! are invalid here and give Undefined). Replacements use Java's `$n` and `\x` escapes.

use regex::{Regex, RegexBuilder};

use super::value::Value;

/// Bounds the compiled size of a pattern taken from a rule or a payload.
const SIZE_LIMIT: usize = 1 << 20;

pub fn call(name: &str, a: &[Value]) -> Value {
    let texts: Option<Vec<String>> = a.iter().map(Value::to_sql_string).collect();
    let Some(texts) = texts else {
        return Value::Undefined;
    };
    let (Some(subject), Some(pattern)) = (texts.first(), texts.get(1)) else {
        return Value::Undefined;
    };
    let Some(re) = compile(pattern) else {
        return Value::Undefined;
    };
    match name {
        "regexp_matches" => Value::Bool(re.is_match(subject)),
        "regexp_substr" => Value::String(
            re.find(subject)
                .map_or(String::new(), |m| m.as_str().to_string()),
        ),
        _ => match texts
            .get(2)
            .and_then(|r| java_replacement(r, re.captures_len()))
        {
            Some(rep) => Value::String(re.replace_all(subject, rep.as_str()).into_owned()),
            None => Value::Undefined,
        },
    }
}

fn compile(pattern: &str) -> Option<Regex> {
    RegexBuilder::new(pattern)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(SIZE_LIMIT)
        .build()
        .ok()
}

/// Rewrites a Java replacement (`$1` a group, `\$` a literal) in the `regex` crate's syntax.
/// `None` where Java would throw: a `$` without a group number, a group that does not exist,
/// or a trailing `\`.
fn java_replacement(rep: &str, groups: usize) -> Option<String> {
    let mut out = String::new();
    let mut chars = rep.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                '$' => out.push_str("$$"),
                other => out.push(other),
            },
            '$' => {
                let mut number = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    // Java takes more digits only while they still name an existing group.
                    let candidate = format!("{number}{d}");
                    if !number.is_empty() && candidate.parse::<usize>().ok()? >= groups {
                        break;
                    }
                    number = candidate;
                    chars.next();
                }
                if number.is_empty() || number.parse::<usize>().ok()? >= groups {
                    return None;
                }
                out.push_str(&format!("${{{number}}}"));
            }
            other => out.push(other),
        }
    }
    Some(out)
}
