//! IAM wildcard patterns: `*` is any run of characters (across `/`), `?` exactly one; MQTT's
//! `+` and `#` are ordinary characters. Variables are substituted first, as literals, so a
//! client id of `*` cannot widen a pattern; `${*}`, `${?}` and `${$}` write literal `*?$`.

/// One element of a compiled pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok {
    Lit(char),
    Star,
    Any,
}

/// Resolves a policy variable name (without `${}`) to its value(s).
pub trait Vars {
    fn get(&self, name: &str) -> Option<&[String]>;
}

/// No variables at all.
pub struct NoVars;

impl Vars for NoVars {
    fn get(&self, _: &str) -> Option<&[String]> {
        None
    }
}

impl Vars for std::collections::HashMap<String, Vec<String>> {
    fn get(&self, name: &str) -> Option<&[String]> {
        std::collections::HashMap::get(self, name).map(Vec::as_slice)
    }
}

/// Compiles `text` with its variables substituted; `None` when a variable has no value.
pub fn compile(text: &str, vars: &dyn Vars) -> Option<Vec<Tok>> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        push_pattern(&mut out, &rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            push_pattern(&mut out, &rest[start..]);
            return Some(out);
        };
        let name = &after[..end];
        match name {
            "*" | "?" | "$" => out.extend(name.chars().map(Tok::Lit)),
            _ => out.extend(vars.get(name)?.first()?.chars().map(Tok::Lit)),
        }
        rest = &after[end + 1..];
    }
    push_pattern(&mut out, rest);
    Some(out)
}

fn push_pattern(out: &mut Vec<Tok>, text: &str) {
    out.extend(text.chars().map(|c| match c {
        '*' => Tok::Star,
        '?' => Tok::Any,
        c => Tok::Lit(c),
    }));
}

/// Substitutes variables into a plain string (condition values); `None` when one is missing.
pub fn substitute(text: &str, vars: &dyn Vars) -> Option<String> {
    if !text.contains("${") {
        return Some(text.to_string());
    }
    let toks = compile(text, vars)?;
    Some(
        toks.iter()
            .map(|t| match t {
                Tok::Lit(c) => *c,
                Tok::Star => '*',
                Tok::Any => '?',
            })
            .collect(),
    )
}

/// Glob match without regexes: linear backtracking on the last `*`.
pub fn matches(pattern: &[Tok], text: &str, ignore_case: bool) -> bool {
    let text: Vec<char> = text.chars().collect();
    let eq = |a: char, b: char| {
        if ignore_case {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Tok::Lit(c)) if eq(*c, text[t]) => (p, t) = (p + 1, t + 1),
            Some(Tok::Any) => (p, t) = (p + 1, t + 1),
            Some(Tok::Star) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    star = Some((sp, st + 1));
                    (p, t) = (sp + 1, st + 1);
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..]
        .iter()
        .all(|t| *t == Tok::Star)
}

/// Compiles `pattern` (no variables) and matches it.
pub fn glob(pattern: &str, text: &str) -> bool {
    compile(pattern, &NoVars).is_some_and(|p| matches(&p, text, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The obvious exponential reference: used to check `matches` on random inputs.
    fn reference(p: &[Tok], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(Tok::Star), _) => {
                reference(&p[1..], t) || (!t.is_empty() && reference(p, &t[1..]))
            }
            (Some(Tok::Any), Some(_)) => reference(&p[1..], &t[1..]),
            (Some(Tok::Lit(c)), Some(x)) if c == x => reference(&p[1..], &t[1..]),
            _ => false,
        }
    }

    #[test]
    fn iam_wildcards() {
        assert!(glob(
            "arn:aws:iot:*:*:topic/sensors/*",
            "arn:aws:iot:us-east-1:1:topic/sensors/a/b"
        ));
        assert!(glob("topic/dt/thing-?/*", "topic/dt/thing-1/x"));
        assert!(!glob("topic/dt/thing-?/*", "topic/dt/thing-12"));
        assert!(glob("topicfilter/a/*", "topicfilter/a/#"));
        assert!(glob("topicfilter/some/+/topic", "topicfilter/some/+/topic"));
        assert!(!glob(
            "topicfilter/some/+/topic",
            "topicfilter/some/x/topic"
        ));
        assert!(glob("*", ""));
        assert!(!glob("a", ""));
    }

    #[test]
    fn variables_substitute_as_literals() {
        let vars: HashMap<String, Vec<String>> =
            HashMap::from([("iot:ClientId".to_string(), vec!["*".to_string()])]);
        let p = compile("client/${iot:ClientId}", &vars).expect("resolves");
        assert!(matches(&p, "client/*", false));
        assert!(
            !matches(&p, "client/anything", false),
            "a client id of * must not widen the pattern"
        );
        assert!(compile("client/${iot:Connection.Thing.ThingName}", &vars).is_none());
        let lit = compile("a/${*}/b${?}", &NoVars).expect("special");
        assert!(matches(&lit, "a/*/b?", false) && !matches(&lit, "a/x/bc", false));
    }

    proptest::proptest! {
        #[test]
        fn matcher_agrees_with_the_reference(p in "[ab*?]{0,8}", t in "[ab]{0,10}") {
            let toks = compile(&p, &NoVars).expect("no vars");
            let chars: Vec<char> = t.chars().collect();
            proptest::prop_assert_eq!(matches(&toks, &t, false), reference(&toks, &chars));
        }
    }
}
