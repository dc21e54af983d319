//! Whether a document's fields satisfy a query. Field names match exactly (case-sensitive);
//! values case-insensitively, whole or word by word (split on whitespace); numbers compare as
//! numbers where both sides are numbers.

use crate::doc::Leaf;
use crate::query::{Bound, Pattern, Piece, Query};
use std::cmp::Ordering;

/// Whether `fields` satisfy `q`.
pub fn matches(q: &Query, fields: &[(String, Leaf)]) -> bool {
    match q {
        Query::All => true,
        Query::And(parts) => parts.iter().all(|p| matches(p, fields)),
        Query::Or(parts) => parts.iter().any(|p| matches(p, fields)),
        Query::Not(inner) => !matches(inner, fields),
        Query::Exists(field) => fields.iter().any(|(f, _)| {
            f == field || (f.starts_with(field.as_str()) && f[field.len()..].starts_with('.'))
        }),
        Query::Term { field, value } => in_field(fields, field.as_deref(), |l| term(value, l)),
        Query::Range { field, low, high } => {
            in_field(fields, field.as_deref(), |l| range(low, high, l))
        }
    }
}

fn in_field(fields: &[(String, Leaf)], field: Option<&str>, test: impl Fn(&Leaf) -> bool) -> bool {
    fields
        .iter()
        .filter(|(f, _)| field.is_none_or(|want| f == want))
        .any(|(_, leaf)| test(leaf))
}

fn term(value: &Pattern, leaf: &Leaf) -> bool {
    let text = leaf.text().to_lowercase();
    match value {
        Pattern::Phrase(p) => {
            let p = p.to_lowercase();
            text == p || {
                let words: Vec<&str> = text.split_whitespace().collect();
                let want: Vec<&str> = p.split_whitespace().collect();
                !want.is_empty() && words.windows(want.len()).any(|w| w == want.as_slice())
            }
        }
        Pattern::Word(pieces) => {
            let number = value.text().trim().parse::<f64>();
            if let (false, Leaf::Num(a), Ok(b)) = (value.has_wildcard(), leaf, number) {
                return *a == b;
            }
            let lower: Vec<Piece> = pieces
                .iter()
                .map(|p| match p {
                    Piece::Char(c) => Piece::Char(c.to_lowercase().next().unwrap_or(*c)),
                    other => *other,
                })
                .collect();
            let chars = |s: &str| s.chars().collect::<Vec<char>>();
            wildcard(&lower, &chars(&text))
                || text.split_whitespace().any(|w| wildcard(&lower, &chars(w)))
        }
    }
}

/// Glob matching with `*` and `?`, iterative with one backtrack point.
pub fn wildcard(p: &[Piece], s: &[char]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(Piece::Char(c)) if *c == s[si] => {
                pi += 1;
                si += 1;
            }
            Some(Piece::One) => {
                pi += 1;
                si += 1;
            }
            Some(Piece::Any) => {
                star = Some((pi, si));
                pi += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p[pi.min(p.len())..].iter().all(|p| *p == Piece::Any)
}

/// How `leaf` compares with a bound's value: as numbers when both are, else as lowercase text.
fn compare(leaf: &Leaf, bound: &str) -> Option<Ordering> {
    match (leaf.number(), bound.trim().parse::<f64>()) {
        (Some(a), Ok(b)) => a.partial_cmp(&b),
        _ => Some(leaf.text().to_lowercase().cmp(&bound.to_lowercase())),
    }
}

fn range(low: &Bound, high: &Bound, leaf: &Leaf) -> bool {
    let above = match low {
        Bound::Open => true,
        Bound::Inclusive(v) => compare(leaf, v).is_some_and(|o| o != Ordering::Less),
        Bound::Exclusive(v) => compare(leaf, v) == Some(Ordering::Greater),
    };
    let below = match high {
        Bound::Open => true,
        Bound::Inclusive(v) => compare(leaf, v).is_some_and(|o| o != Ordering::Greater),
        Bound::Exclusive(v) => compare(leaf, v) == Some(Ordering::Less),
    };
    above && below
}
