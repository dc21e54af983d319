//! Parsing and validating a template body: the sections, the parameters, the resources and
//! their types, and the shape of every intrinsic function, before anything is evaluated.

use crate::{MAX_TEMPLATE_CHARS, PSEUDO_PARAMETERS, TemplateError};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub(crate) const THING: &str = "AWS::IoT::Thing";
pub(crate) const CERTIFICATE: &str = "AWS::IoT::Certificate";
pub(crate) const POLICY: &str = "AWS::IoT::Policy";

const SECTIONS: [&str; 5] = [
    "Parameters",
    "Mappings",
    "Conditions",
    "Resources",
    "DeviceConfiguration",
];

/// A declared parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parameter {
    pub default: Option<String>,
}

/// One resource: its logical name, type, properties, override settings and condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Resource {
    pub name: String,
    pub kind: String,
    pub properties: Map<String, Value>,
    pub overrides: Map<String, Value>,
    pub condition: Option<String>,
}

/// A parsed, validated template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub(crate) parameters: BTreeMap<String, Parameter>,
    pub(crate) mappings: Map<String, Value>,
    pub(crate) conditions: Map<String, Value>,
    pub(crate) resources: Vec<Resource>,
    pub(crate) device_configuration: Map<String, Value>,
}

fn object<'a>(v: &'a Value, at: &str) -> Result<&'a Map<String, Value>, TemplateError> {
    v.as_object()
        .ok_or_else(|| TemplateError::new(at, "must be a JSON object"))
}

fn section(root: &Map<String, Value>, name: &str) -> Result<Map<String, Value>, TemplateError> {
    match root.get(name) {
        None => Ok(Map::new()),
        Some(v) => object(v, name).cloned(),
    }
}

impl Template {
    /// Parses and validates a template body.
    pub fn parse(body: &str) -> Result<Self, TemplateError> {
        if body.chars().count() > MAX_TEMPLATE_CHARS {
            return Err(TemplateError::new(
                "templateBody",
                format!("is longer than {MAX_TEMPLATE_CHARS} characters"),
            ));
        }
        let root: Value = serde_json::from_str(body)
            .map_err(|e| TemplateError::new("templateBody", format!("is not valid JSON: {e}")))?;
        let root = object(&root, "templateBody")?;
        if let Some(unknown) = root.keys().find(|k| !SECTIONS.contains(&k.as_str())) {
            return Err(TemplateError::new(
                unknown,
                format!("is not a template section (known: {})", SECTIONS.join(", ")),
            ));
        }
        let template = Self {
            parameters: parameters(&section(root, "Parameters")?)?,
            mappings: section(root, "Mappings")?,
            conditions: section(root, "Conditions")?,
            resources: resources(&section(root, "Resources")?)?,
            device_configuration: section(root, "DeviceConfiguration")?,
        };
        template.check()?;
        Ok(template)
    }

    /// Whether the template has a policy resource (a JITP template needs one).
    pub fn has_policy(&self) -> bool {
        self.resources.iter().any(|r| r.kind == POLICY)
    }

    /// Every intrinsic well formed, every `Ref` declared, every condition defined.
    fn check(&self) -> Result<(), TemplateError> {
        for (name, cond) in &self.conditions {
            self.check_value(cond, &format!("Conditions.{name}"))?;
        }
        for r in &self.resources {
            let at = format!("Resources.{}", r.name);
            if let Some(c) = &r.condition
                && !self.conditions.contains_key(c)
            {
                return Err(TemplateError::new(
                    &format!("{at}.Condition"),
                    format!("names condition '{c}', which the Conditions section does not define"),
                ));
            }
            for (k, v) in &r.properties {
                self.check_value(v, &format!("{at}.Properties.{k}"))?;
            }
            check_resource(r, &at)?;
        }
        for (k, v) in &self.device_configuration {
            self.check_value(v, &format!("DeviceConfiguration.{k}"))?;
        }
        Ok(())
    }

    fn check_value(&self, v: &Value, at: &str) -> Result<(), TemplateError> {
        match v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, item)| self.check_value(item, &format!("{at}[{i}]"))),
            Value::Object(map) if map.len() == 1 => {
                let (key, arg) = map
                    .iter()
                    .next()
                    .map_or(("", &Value::Null), |(k, v)| (k, v));
                self.check_function(key, arg, at)
            }
            Value::Object(map) => map
                .iter()
                .try_for_each(|(k, item)| self.check_value(item, &format!("{at}.{k}"))),
            _ => Ok(()),
        }
    }

    fn check_function(&self, key: &str, arg: &Value, at: &str) -> Result<(), TemplateError> {
        let here = format!("{at}.{key}");
        let arity = |n: usize| match arg.as_array() {
            Some(a) if a.len() == n => Ok(a),
            _ => Err(TemplateError::new(
                &here,
                format!("takes a list of {n} arguments"),
            )),
        };
        let args: Vec<Value> = match key {
            "Ref" => return self.check_ref(arg, &here),
            "Condition" => return self.check_condition_name(arg, &here),
            "Fn::Join" | "Fn::Select" | "Fn::Split" | "Fn::Equals" => arity(2)?.clone(),
            "Fn::FindInMap" | "Fn::If" => arity(3)?.clone(),
            "Fn::Not" => arity(1)?.clone(),
            "Fn::And" | "Fn::Or" => match arg.as_array() {
                Some(a) if (2..=10).contains(&a.len()) => a.clone(),
                _ => {
                    return Err(TemplateError::new(&here, "takes 2 to 10 conditions"));
                }
            },
            "Fn::Sub" => match arg {
                Value::String(_) => vec![arg.clone()],
                Value::Array(a) if a.len() == 2 && a[0].is_string() && a[1].is_object() => {
                    a.clone()
                }
                _ => {
                    return Err(TemplateError::new(
                        &here,
                        "takes a string, or a string and a map of variables",
                    ));
                }
            },
            k if k.starts_with("Fn::") => {
                return Err(TemplateError::new(
                    &here,
                    "is not an intrinsic function provisioning templates support",
                ));
            }
            // A plain one-key object (an attribute map, a policy document).
            _ => vec![arg.clone()],
        };
        if key == "Fn::Sub"
            && let Some(Value::String(text)) = args.first()
        {
            self.check_sub(text, args.get(1), &here)?;
        }
        if key == "Fn::If" {
            self.check_condition_name(&args[0], &format!("{here}[0]"))?;
        }
        args.iter()
            .enumerate()
            .try_for_each(|(i, a)| self.check_value(a, &format!("{here}[{i}]")))
    }

    fn check_ref(&self, arg: &Value, at: &str) -> Result<(), TemplateError> {
        let Some(name) = arg.as_str() else {
            return Err(TemplateError::new(at, "must name a parameter"));
        };
        if self.parameters.contains_key(name) || PSEUDO_PARAMETERS.contains(&name) {
            return Ok(());
        }
        Err(TemplateError::new(
            at,
            format!("refers to '{name}', which is not a declared parameter"),
        ))
    }

    fn check_condition_name(&self, arg: &Value, at: &str) -> Result<(), TemplateError> {
        match arg.as_str() {
            Some(c) if self.conditions.contains_key(c) => Ok(()),
            _ => Err(TemplateError::new(
                at,
                format!("names condition {arg}, which the Conditions section does not define"),
            )),
        }
    }

    /// Every `${Name}` in a Fn::Sub string is a parameter or one of its own variables.
    fn check_sub(&self, text: &str, vars: Option<&Value>, at: &str) -> Result<(), TemplateError> {
        for name in crate::eval::sub_names(text) {
            let local = vars.and_then(|v| v.get(&name)).is_some();
            if !local {
                self.check_ref(&Value::String(name), at)?;
            }
        }
        Ok(())
    }
}

fn parameters(section: &Map<String, Value>) -> Result<BTreeMap<String, Parameter>, TemplateError> {
    let mut out = BTreeMap::new();
    for (name, decl) in section {
        let at = format!("Parameters.{name}");
        let decl = object(decl, &at)?;
        if !decl.get("Type").is_some_and(Value::is_string) {
            return Err(TemplateError::new(&at, "needs a Type (\"String\")"));
        }
        let default = match decl.get("Default") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(_) => {
                return Err(TemplateError::new(
                    &format!("{at}.Default"),
                    "must be a string",
                ));
            }
        };
        out.insert(name.clone(), Parameter { default });
    }
    Ok(out)
}

fn resources(section: &Map<String, Value>) -> Result<Vec<Resource>, TemplateError> {
    let mut out = Vec::new();
    for (name, decl) in section {
        let at = format!("Resources.{name}");
        let decl = object(decl, &at)?;
        let kind = decl.get("Type").and_then(Value::as_str).unwrap_or_default();
        if ![THING, CERTIFICATE, POLICY].contains(&kind) {
            return Err(TemplateError::new(
                &format!("{at}.Type"),
                format!(
                    "'{kind}' is not a resource type provisioning supports ({THING}, {CERTIFICATE}, {POLICY})"
                ),
            ));
        }
        let properties = match decl.get("Properties") {
            Some(p) => object(p, &format!("{at}.Properties"))?.clone(),
            None => Map::new(),
        };
        let overrides = match decl.get("OverrideSettings") {
            Some(o) => object(o, &format!("{at}.OverrideSettings"))?.clone(),
            None => Map::new(),
        };
        let condition = decl
            .get("Condition")
            .and_then(Value::as_str)
            .map(str::to_string);
        out.push(Resource {
            name: name.clone(),
            kind: kind.to_string(),
            properties,
            overrides,
            condition,
        });
    }
    Ok(out)
}

/// The resource-specific rules: a policy has a name or a document (not both, not neither);
/// override settings are known values.
fn check_resource(r: &Resource, at: &str) -> Result<(), TemplateError> {
    if r.kind == POLICY {
        let named = r.properties.contains_key("PolicyName");
        let document = r.properties.contains_key("PolicyDocument");
        if named == document {
            return Err(TemplateError::new(
                &format!("{at}.Properties"),
                "a policy resource needs exactly one of PolicyName and PolicyDocument",
            ));
        }
    }
    for (k, v) in &r.overrides {
        let ok = matches!(
            v.as_str(),
            Some("DO_NOTHING" | "REPLACE" | "FAIL" | "MERGE")
        );
        if !ok {
            return Err(TemplateError::new(
                &format!("{at}.OverrideSettings.{k}"),
                "must be DO_NOTHING, REPLACE, FAIL or MERGE",
            ));
        }
    }
    Ok(())
}
