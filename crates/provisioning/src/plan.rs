//! What a template evaluates to: the resources to create or update, and the device
//! configuration to return to the device.

use crate::eval::Eval;
use crate::template::{CERTIFICATE, POLICY, Resource, THING, Template};
use crate::{PSEUDO_PARAMETERS, TemplateError};
use serde_json::Value;
use std::collections::BTreeMap;

/// OverrideSettings for a thing property that already has a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Override {
    DoNothing,
    Replace,
    Fail,
    Merge,
}

/// The thing to create or update.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ThingPlan {
    pub name: String,
    pub type_name: Option<String>,
    pub groups: Vec<String>,
    pub billing_group: Option<String>,
    pub attributes: BTreeMap<String, String>,
    /// By property (`AttributePayload`, `ThingTypeName`, `ThingGroups`, `BillingGroup`).
    pub overrides: BTreeMap<String, Override>,
}

/// The certificate, as the template names it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertificatePlan {
    pub id: Option<String>,
    pub csr: Option<String>,
    pub pem: Option<String>,
    pub ca_pem: Option<String>,
    /// Upper case (`ACTIVE` unless the template says otherwise; `Active` is accepted).
    pub status: String,
}

/// A policy to attach: an existing one by name, or a document (named after its hash when the
/// template gives no name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyPlan {
    pub name: Option<String>,
    pub document: Option<String>,
}

/// Everything a provisioning run does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub thing: Option<ThingPlan>,
    pub certificate: Option<CertificatePlan>,
    pub policies: Vec<PolicyPlan>,
    /// Flat string values, as AWS returns them.
    pub device_configuration: BTreeMap<String, String>,
}

impl Template {
    /// Evaluates the template with the device's `parameters` and the pseudo parameters AWS
    /// supplies (`AWS::IoT::Certificate::Id`, and the certificate's subject for JITP).
    pub fn evaluate(
        &self,
        parameters: &BTreeMap<String, String>,
        pseudo: &BTreeMap<String, String>,
    ) -> Result<Plan, TemplateError> {
        let values = self.values(parameters, pseudo)?;
        let eval = Eval {
            template: self,
            values: &values,
        };
        let mut plan = Plan::default();
        for r in &self.resources {
            let at = format!("Resources.{}", r.name);
            if let Some(c) = &r.condition
                && !eval.condition_named(c, &format!("{at}.Condition"))?
            {
                continue;
            }
            match r.kind.as_str() {
                THING => plan.thing = Some(thing(&eval, r, &at)?),
                CERTIFICATE => plan.certificate = Some(certificate(&eval, r, &at)?),
                POLICY => plan.policies.push(policy(&eval, r, &at)?),
                _ => {}
            }
        }
        for (k, v) in &self.device_configuration {
            let at = format!("DeviceConfiguration.{k}");
            plan.device_configuration
                .insert(k.clone(), eval.string(v, &at)?);
        }
        Ok(plan)
    }

    /// Parameter values: the request's, else the defaults; then the pseudo parameters. A
    /// parameter the request gives but the template does not declare is ignored.
    fn values(
        &self,
        parameters: &BTreeMap<String, String>,
        pseudo: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, TemplateError> {
        let mut values = BTreeMap::new();
        for (name, decl) in &self.parameters {
            match parameters.get(name).or(decl.default.as_ref()) {
                Some(v) => {
                    values.insert(name.clone(), v.clone());
                }
                None if PSEUDO_PARAMETERS.contains(&name.as_str()) => {}
                None => {
                    return Err(TemplateError::new(
                        &format!("Parameters.{name}"),
                        "has no value: the request does not give it and it has no Default",
                    ));
                }
            }
        }
        for (k, v) in pseudo {
            values.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Ok(values)
    }
}

fn prop<'a>(r: &'a Resource, name: &str) -> Option<&'a Value> {
    r.properties.get(name)
}

fn optional(
    eval: &Eval<'_>,
    r: &Resource,
    name: &str,
    at: &str,
) -> Result<Option<String>, TemplateError> {
    prop(r, name)
        .map(|v| eval.string(v, &format!("{at}.Properties.{name}")))
        .transpose()
}

fn thing(eval: &Eval<'_>, r: &Resource, at: &str) -> Result<ThingPlan, TemplateError> {
    let name = optional(eval, r, "ThingName", at)?.ok_or_else(|| {
        TemplateError::new(
            &format!("{at}.Properties"),
            "a thing resource needs ThingName",
        )
    })?;
    let mut plan = ThingPlan {
        name,
        type_name: optional(eval, r, "ThingTypeName", at)?,
        billing_group: optional(eval, r, "BillingGroup", at)?,
        ..ThingPlan::default()
    };
    if let Some(groups) = prop(r, "ThingGroups") {
        let here = format!("{at}.Properties.ThingGroups");
        plan.groups = match eval.value(groups, &here)? {
            Value::Array(items) => items
                .iter()
                .map(|g| eval.string(g, &here))
                .collect::<Result<_, _>>()?,
            other => vec![eval.string(&other, &here)?],
        };
    }
    if let Some(attrs) = prop(r, "AttributePayload") {
        let here = format!("{at}.Properties.AttributePayload");
        let Value::Object(map) = eval.value(attrs, &here)? else {
            return Err(TemplateError::new(&here, "must be a map of attributes"));
        };
        for (k, v) in map {
            plan.attributes
                .insert(k.clone(), eval.string(&v, &format!("{here}.{k}"))?);
        }
    }
    for (k, v) in &r.overrides {
        let o = match v.as_str() {
            Some("REPLACE") => Override::Replace,
            Some("FAIL") => Override::Fail,
            Some("MERGE") => Override::Merge,
            _ => Override::DoNothing,
        };
        plan.overrides.insert(k.clone(), o);
    }
    Ok(plan)
}

fn certificate(eval: &Eval<'_>, r: &Resource, at: &str) -> Result<CertificatePlan, TemplateError> {
    let status = optional(eval, r, "Status", at)?.unwrap_or_else(|| "ACTIVE".into());
    let status = status.to_ascii_uppercase();
    if ![
        "ACTIVE",
        "INACTIVE",
        "REVOKED",
        "PENDING_TRANSFER",
        "PENDING_ACTIVATION",
    ]
    .contains(&status.as_str())
    {
        return Err(TemplateError::new(
            &format!("{at}.Properties.Status"),
            format!("'{status}' is not a certificate status"),
        ));
    }
    Ok(CertificatePlan {
        id: optional(eval, r, "CertificateId", at)?,
        csr: optional(eval, r, "CertificateSigningRequest", at)?,
        pem: optional(eval, r, "CertificatePem", at)?,
        ca_pem: optional(eval, r, "CACertificatePem", at)?,
        status,
    })
}

fn policy(eval: &Eval<'_>, r: &Resource, at: &str) -> Result<PolicyPlan, TemplateError> {
    let document = match prop(r, "PolicyDocument") {
        None => None,
        Some(doc) => {
            let here = format!("{at}.Properties.PolicyDocument");
            match eval.value(doc, &here)? {
                Value::String(s) => Some(s),
                v @ Value::Object(_) => Some(v.to_string()),
                other => {
                    return Err(TemplateError::new(
                        &here,
                        format!("must be a policy document (a JSON object or string), got {other}"),
                    ));
                }
            }
        }
    };
    Ok(PolicyPlan {
        name: optional(eval, r, "PolicyName", at)?,
        document,
    })
}
