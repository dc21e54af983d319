//! Evaluating intrinsic functions against the resolved parameters: `Ref`, `Fn::Join`,
//! `Fn::Select`, `Fn::Split`, `Fn::Sub`, `Fn::FindInMap`, `Fn::If`, and the condition
//! functions `Fn::Equals`, `Fn::And`, `Fn::Or`, `Fn::Not` and `Condition`.

use crate::TemplateError;
use crate::template::Template;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The names `${...}` in a Fn::Sub string refers to (`${!Literal}` is a literal).
pub(crate) fn sub_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !name.starts_with('!') {
            names.push(name.to_string());
        }
        rest = &after[end + 1..];
    }
    names
}

/// A template with its parameter values, evaluating.
pub(crate) struct Eval<'a> {
    pub template: &'a Template,
    pub values: &'a BTreeMap<String, String>,
}

fn text(v: &Value, at: &str) -> Result<String, TemplateError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(TemplateError::new(
            at,
            format!("expected a string, got {v}"),
        )),
    }
}

impl Eval<'_> {
    /// Resolves every intrinsic in `v`.
    pub fn value(&self, v: &Value, at: &str) -> Result<Value, TemplateError> {
        match v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| self.value(item, &format!("{at}[{i}]")))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Value::Object(map) if map.len() == 1 => {
                let Some((key, arg)) = map.iter().next() else {
                    return Ok(v.clone());
                };
                match self.function(key, arg, &format!("{at}.{key}"))? {
                    Some(out) => Ok(out),
                    None => Ok(Value::Object(self.object(map, at)?)),
                }
            }
            Value::Object(map) => Ok(Value::Object(self.object(map, at)?)),
            other => Ok(other.clone()),
        }
    }

    fn object(
        &self,
        map: &Map<String, Value>,
        at: &str,
    ) -> Result<Map<String, Value>, TemplateError> {
        map.iter()
            .map(|(k, item)| Ok((k.clone(), self.value(item, &format!("{at}.{k}"))?)))
            .collect()
    }

    /// Resolves `v` to a string.
    pub fn string(&self, v: &Value, at: &str) -> Result<String, TemplateError> {
        text(&self.value(v, at)?, at)
    }

    /// The value of a parameter (given, defaulted or pseudo).
    pub fn reference(&self, name: &str, at: &str) -> Result<String, TemplateError> {
        self.values.get(name).cloned().ok_or_else(|| {
            TemplateError::new(
                at,
                format!("parameter '{name}' has no value: the request does not give it and it has no Default"),
            )
        })
    }

    /// An intrinsic, or `None` when `key` is not one.
    fn function(&self, key: &str, arg: &Value, at: &str) -> Result<Option<Value>, TemplateError> {
        let args = arg.as_array().map(Vec::as_slice).unwrap_or_default();
        let out = match key {
            "Ref" => Value::String(self.reference(&text(arg, at)?, at)?),
            "Fn::Join" => self.join(args, at)?,
            "Fn::Select" => self.select(args, at)?,
            "Fn::Split" => {
                let delim = self.string(&args[0], &format!("{at}[0]"))?;
                let source = self.string(&args[1], &format!("{at}[1]"))?;
                Value::Array(
                    source
                        .split(delim.as_str())
                        .map(|s| Value::String(s.to_string()))
                        .collect(),
                )
            }
            "Fn::Sub" => Value::String(self.sub(arg, at)?),
            "Fn::FindInMap" => self.find_in_map(args, at)?,
            "Fn::If" => {
                let name = text(&args[0], at)?;
                let pick = if self.condition_named(&name, at)? {
                    1
                } else {
                    2
                };
                self.value(&args[pick], &format!("{at}[{pick}]"))?
            }
            "Fn::Equals" | "Fn::And" | "Fn::Or" | "Fn::Not" | "Condition" => {
                let mut one = Map::new();
                one.insert(key.to_string(), arg.clone());
                Value::Bool(self.condition(&Value::Object(one), at)?)
            }
            _ => return Ok(None),
        };
        Ok(Some(out))
    }

    fn join(&self, args: &[Value], at: &str) -> Result<Value, TemplateError> {
        let delim = self.string(&args[0], &format!("{at}[0]"))?;
        let items = match self.value(&args[1], &format!("{at}[1]"))? {
            Value::Array(items) => items,
            other => {
                return Err(TemplateError::new(
                    &format!("{at}[1]"),
                    format!("expected a list to join, got {other}"),
                ));
            }
        };
        let parts = items
            .iter()
            .enumerate()
            .map(|(i, item)| text(item, &format!("{at}[1][{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Value::String(parts.join(&delim)))
    }

    fn select(&self, args: &[Value], at: &str) -> Result<Value, TemplateError> {
        let index = self.string(&args[0], &format!("{at}[0]"))?;
        let index: usize = index.parse().map_err(|_| {
            TemplateError::new(&format!("{at}[0]"), format!("'{index}' is not an index"))
        })?;
        let list = match self.value(&args[1], &format!("{at}[1]"))? {
            Value::Array(items) => items,
            other => {
                return Err(TemplateError::new(
                    &format!("{at}[1]"),
                    format!("expected a list to select from, got {other}"),
                ));
            }
        };
        let len = list.len();
        list.into_iter().nth(index).ok_or_else(|| {
            TemplateError::new(
                at,
                format!("index {index} is out of range for a list of {len}"),
            )
        })
    }

    fn sub(&self, arg: &Value, at: &str) -> Result<String, TemplateError> {
        let (template, vars) = match arg {
            Value::Array(a) => (text(&a[0], at)?, a.get(1).and_then(Value::as_object)),
            other => (text(other, at)?, None),
        };
        let mut out = template.clone();
        for name in sub_names(&template) {
            let value = match vars.and_then(|v| v.get(&name)) {
                Some(local) => self.string(local, &format!("{at}.{name}"))?,
                None => self.reference(&name, at)?,
            };
            out = out.replace(&format!("${{{name}}}"), &value);
        }
        Ok(out.replace("${!", "${"))
    }

    fn find_in_map(&self, args: &[Value], at: &str) -> Result<Value, TemplateError> {
        let map = self.string(&args[0], &format!("{at}[0]"))?;
        let first = self.string(&args[1], &format!("{at}[1]"))?;
        let second = self.string(&args[2], &format!("{at}[2]"))?;
        self.template
            .mappings
            .get(&map)
            .and_then(|m| m.get(&first))
            .and_then(|m| m.get(&second))
            .cloned()
            .ok_or_else(|| {
                TemplateError::new(
                    at,
                    format!("Mappings.{map}.{first}.{second} is not defined"),
                )
            })
    }

    /// A condition expression's truth.
    pub fn condition(&self, v: &Value, at: &str) -> Result<bool, TemplateError> {
        let Some((key, arg)) = v.as_object().and_then(|m| m.iter().next()) else {
            return Err(TemplateError::new(at, "is not a condition"));
        };
        let here = format!("{at}.{key}");
        let list = arg.as_array().map(Vec::as_slice).unwrap_or_default();
        let nth = |i: usize| self.condition(&list[i], &format!("{here}[{i}]"));
        match key.as_str() {
            "Fn::Equals" => Ok(self.value(&list[0], &here)? == self.value(&list[1], &here)?),
            "Fn::Not" => Ok(!nth(0)?),
            "Fn::And" => (0..list.len()).try_fold(true, |acc, i| Ok(acc && nth(i)?)),
            "Fn::Or" => (0..list.len()).try_fold(false, |acc, i| Ok(acc || nth(i)?)),
            "Condition" => self.condition_named(&text(arg, &here)?, &here),
            _ => Err(TemplateError::new(&here, "is not a condition function")),
        }
    }

    /// A condition of the Conditions section, by name.
    pub fn condition_named(&self, name: &str, at: &str) -> Result<bool, TemplateError> {
        match self.template.conditions.get(name) {
            Some(c) => self.condition(c, &format!("Conditions.{name}")),
            None => Err(TemplateError::new(
                at,
                format!("condition '{name}' is not defined"),
            )),
        }
    }
}
