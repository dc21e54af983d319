//! The policy grammar: `Version`, `Statement` (object or list), `Effect`, `Action`/`NotAction`,
//! `Resource`/`NotResource` (string or list) and `Condition` blocks.

use serde_json::{Map, Value};

/// Why a policy document was refused; the text becomes MalformedPolicyException's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MalformedPolicy(pub String);

fn malformed(msg: impl Into<String>) -> MalformedPolicy {
    MalformedPolicy(msg.into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// A value of `Action`, `Resource` and friends: one pattern or several, plus whether the
/// statement used the `Not` form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringOrList {
    pub negated: bool,
    pub patterns: Vec<String>,
}

/// One `Condition` test: operator (e.g. `StringLike`, `ForAllValues:StringEquals`,
/// `BoolIfExists`), context key and the values it is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub operator: String,
    pub key: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub actions: StringOrList,
    pub resources: StringOrList,
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    pub version: Option<String>,
    pub statements: Vec<Statement>,
}

impl PolicyDocument {
    /// Whether evaluating this document may read the variable or condition key `name`: a
    /// `${name}` in a pattern or condition value, or a condition on `name`. It may answer yes
    /// for a name that is only part of another (never no for one that is read).
    pub fn mentions(&self, name: &str) -> bool {
        let substitutes = |text: &String| text.contains("${") && text.contains(name);
        self.statements.iter().any(|s| {
            s.resources.patterns.iter().any(substitutes)
                || s.actions.patterns.iter().any(substitutes)
                || s.conditions
                    .iter()
                    .any(|c| c.key == name || c.values.iter().any(substitutes))
        })
    }

    /// Whether evaluating this document may read any variable or condition key (a `${...}`
    /// anywhere, or any condition); when not, [`Self::mentions`] is false for every name.
    pub fn reads_variables(&self) -> bool {
        let substitutes = |text: &String| text.contains("${");
        self.statements.iter().any(|s| {
            s.resources.patterns.iter().any(substitutes)
                || s.actions.patterns.iter().any(substitutes)
                || !s.conditions.is_empty()
        })
    }

    /// Parses and validates a document exactly as submitted to CreatePolicy.
    pub fn parse(text: &str) -> Result<Self, MalformedPolicy> {
        let counted = text.chars().filter(|c| !c.is_whitespace()).count();
        if counted > crate::MAX_POLICY_CHARS {
            return Err(malformed(format!(
                "Policy document is {counted} characters long (excluding whitespace); the limit is {}",
                crate::MAX_POLICY_CHARS
            )));
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|e| malformed(format!("Policy document is not valid JSON: {e}")))?;
        let Value::Object(top) = value else {
            return Err(malformed("Policy document must be a JSON object"));
        };
        check_keys(&top, &["Version", "Statement", "Id"], "policy document")?;
        let version = match top.get("Version") {
            None => None,
            Some(Value::String(v)) if v == "2012-10-17" || v == "2008-10-17" => Some(v.clone()),
            Some(other) => return Err(malformed(format!("Unsupported policy Version {other}"))),
        };
        let statements = match top.get("Statement") {
            None => {
                return Err(malformed(
                    "Policy document is missing the required element Statement",
                ));
            }
            Some(Value::Array(items)) if items.is_empty() => {
                return Err(malformed("Statement must contain at least one statement"));
            }
            Some(Value::Array(items)) => items
                .iter()
                .map(parse_statement)
                .collect::<Result<_, _>>()?,
            Some(obj @ Value::Object(_)) => vec![parse_statement(obj)?],
            Some(_) => {
                return Err(malformed(
                    "Statement must be an object or a list of objects",
                ));
            }
        };
        Ok(Self {
            version,
            statements,
        })
    }
}

fn check_keys(
    obj: &Map<String, Value>,
    allowed: &[&str],
    what: &str,
) -> Result<(), MalformedPolicy> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(malformed(format!("Unknown element '{k}' in {what}"))),
        None => Ok(()),
    }
}

const STATEMENT_KEYS: &[&str] = &[
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

fn parse_statement(value: &Value) -> Result<Statement, MalformedPolicy> {
    let Value::Object(obj) = value else {
        return Err(malformed("Each Statement must be a JSON object"));
    };
    check_keys(obj, STATEMENT_KEYS, "Statement")?;
    let effect = match obj.get("Effect") {
        Some(Value::String(s)) if s == "Allow" => Effect::Allow,
        Some(Value::String(s)) if s == "Deny" => Effect::Deny,
        Some(other) => {
            return Err(malformed(format!(
                "Effect must be \"Allow\" or \"Deny\", found {other}"
            )));
        }
        None => {
            return Err(malformed(
                "Statement is missing the required element Effect",
            ));
        }
    };
    let sid = match obj.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(malformed("Sid must be a string")),
    };
    Ok(Statement {
        sid,
        effect,
        actions: either(obj, "Action", "NotAction")?,
        resources: either(obj, "Resource", "NotResource")?,
        conditions: parse_conditions(obj.get("Condition"))?,
    })
}

fn either(
    obj: &Map<String, Value>,
    plain: &str,
    not: &str,
) -> Result<StringOrList, MalformedPolicy> {
    match (obj.get(plain), obj.get(not)) {
        (Some(_), Some(_)) => Err(malformed(format!("Statement has both {plain} and {not}"))),
        (Some(v), None) => Ok(StringOrList {
            negated: false,
            patterns: strings(v, plain)?,
        }),
        (None, Some(v)) => Ok(StringOrList {
            negated: true,
            patterns: strings(v, not)?,
        }),
        (None, None) => Err(malformed(format!(
            "Statement is missing the required element {plain} (or {not})"
        ))),
    }
}

fn strings(value: &Value, what: &str) -> Result<Vec<String>, MalformedPolicy> {
    let list = match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                other => Err(malformed(format!(
                    "{what} entries must be strings, found {other}"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?,
        other => {
            return Err(malformed(format!(
                "{what} must be a string or a list, found {other}"
            )));
        }
    };
    if list.is_empty() || list.iter().any(String::is_empty) {
        return Err(malformed(format!("{what} must not be empty")));
    }
    Ok(list)
}

fn parse_conditions(value: Option<&Value>) -> Result<Vec<Condition>, MalformedPolicy> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let Value::Object(ops) = value else {
        return Err(malformed("Condition must be an object of operators"));
    };
    let mut out = Vec::new();
    for (operator, keys) in ops {
        if crate::condition::split_operator(operator).is_none() {
            return Err(malformed(format!("Unknown condition operator {operator}")));
        }
        let Value::Object(keys) = keys else {
            return Err(malformed(format!(
                "Condition operator {operator} must map keys to values"
            )));
        };
        for (key, values) in keys {
            out.push(Condition {
                operator: operator.clone(),
                key: key.clone(),
                values: condition_values(values, key)?,
            });
        }
    }
    Ok(out)
}

fn condition_values(value: &Value, key: &str) -> Result<Vec<String>, MalformedPolicy> {
    let one = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(malformed(format!(
            "Condition value for {key} must be a string, found {other}"
        ))),
    };
    match value {
        Value::Array(items) => items.iter().map(one).collect(),
        v => Ok(vec![one(v)?]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tutorial_policy_parses() {
        let d = PolicyDocument::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#,
        )
        .expect("parse");
        assert_eq!(d.statements.len(), 1);
        assert_eq!(d.statements[0].effect, Effect::Allow);
        assert_eq!(d.statements[0].actions.patterns, vec!["iot:*"]);
    }

    #[test]
    fn statement_may_be_a_single_object_with_not_forms_and_conditions() {
        let d = PolicyDocument::parse(
            r#"{"Statement":{"Effect":"Deny","NotAction":["iot:Connect"],"NotResource":"x",
                "Condition":{"Bool":{"iot:Connection.Thing.IsAttached":true},
                             "StringLike":{"iot:ClientId":["a*","b?"]}}}}"#,
        )
        .expect("parse");
        let s = &d.statements[0];
        assert!(s.actions.negated && s.resources.negated);
        assert_eq!(s.conditions.len(), 2);
        assert_eq!(s.conditions[0].values, vec!["true"]);
    }

    #[test]
    fn refusals_name_the_broken_rule() {
        let cases = [
            ("this is not json", "not valid JSON"),
            ("[]", "must be a JSON object"),
            (
                r#"{"Version":"2012-10-17"}"#,
                "missing the required element Statement",
            ),
            (
                r#"{"Statement":[{"Effect":"Maybe","Action":"a","Resource":"*"}]}"#,
                "Effect must be",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Resource":"*"}]}"#,
                "element Action",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"a"}]}"#,
                "element Resource",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":3,"Resource":"*"}]}"#,
                "Action must be",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"a","Resource":"*","Foo":1}]}"#,
                "Unknown element 'Foo'",
            ),
            (r#"{"Statement":[]}"#, "at least one"),
            (
                r#"{"Version":"2020-01-01","Statement":[]}"#,
                "Unsupported policy Version",
            ),
        ];
        for (text, want) in cases {
            let e = PolicyDocument::parse(text).expect_err(text);
            assert!(e.0.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn the_size_limit_ignores_whitespace() {
        let pad = " ".repeat(5000);
        let ok =
            format!(r#"{{"Statement":{pad}{{"Effect":"Allow","Action":"a","Resource":"*"}}}}"#);
        assert!(PolicyDocument::parse(&ok).is_ok());
        let long = format!(
            r#"{{"Statement":{{"Effect":"Allow","Action":"a","Resource":"{}"}}}}"#,
            "x".repeat(2100)
        );
        assert!(
            PolicyDocument::parse(&long)
                .unwrap_err()
                .0
                .contains("limit is 2048")
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in ".{0,300}") {
            let _ = PolicyDocument::parse(&s);
        }
    }
}
