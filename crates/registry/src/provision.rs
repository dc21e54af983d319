//! Running a provisioning template for a certificate (fleet provisioning's RegisterThing, JITP
//! at first connect): evaluate it, check every resource it names, then create or update the
//! thing, create the policy, attach both to the certificate and set its status.

use crate::Registry;
use crate::things::{CreateThing, UpdateThing};
use iotmock_model::{CertStatus, ErrorCode, IotError, IotResult};
use iotmock_provisioning::{Override, Plan, PolicyPlan, Template, ThingPlan};
use std::collections::BTreeMap;

/// What a provisioning run made.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Provisioned {
    /// Absent when the template has no thing resource.
    pub thing_name: Option<String>,
    pub device_configuration: BTreeMap<String, String>,
    /// `certificate`, `thing`, `policy` ARNs, as RegisterThing returns them.
    pub resource_arns: BTreeMap<String, String>,
}

/// Why provisioning failed, naming the template element or the resource.
fn failed(template: &str, message: impl std::fmt::Display) -> IotError {
    IotError::new(
        ErrorCode::ResourceRegistrationFailure,
        format!("Provisioning with template {template} failed: {message}"),
    )
}

/// A policy's default name: the SHA-256 of its document, in hex.
fn policy_name(p: &PolicyPlan) -> String {
    if let Some(name) = &p.name {
        return name.clone();
    }
    let doc = p.document.as_deref().unwrap_or_default();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, doc.as_bytes());
    hex::encode(digest.as_ref())
}

/// Fleet provisioning's CreateKeysAndCertificate (no CSR) or CreateCertificateFromCsr: a
/// certificate from `ca` (the registry's [`Registry::issuer`]) and, when it made the key, the
/// key PEM. Runs without the registry's lock: an RSA key takes long enough to stall every
/// admission if it were made under it.
pub fn issue_for_provisioning(
    ca: &iotmock_pki::MockCa,
    now_secs: i64,
    csr_pem: Option<&str>,
) -> IotResult<(String, Option<String>)> {
    match csr_pem {
        Some(csr) => {
            let der =
                iotmock_pki::parse_csr_pem(csr).map_err(|e| IotError::invalid(e.to_string()))?;
            let pem = ca
                .issue_from_csr(&der, now_secs)
                .map_err(|e| IotError::invalid(e.to_string()))?;
            Ok((pem, None))
        }
        None => {
            let keys = crate::mint_keys(ca, now_secs)?;
            Ok((keys.certificate_pem, Some(keys.private_key_pem)))
        }
    }
}

impl Registry {
    /// Registers PENDING_ACTIVATION a certificate made by [`issue_for_provisioning`] (outside
    /// the registry's lock).
    pub fn register_for_provisioning(
        &mut self,
        region: &str,
        certificate_pem: &str,
    ) -> IotResult<crate::Registered> {
        self.insert_issued_as(region, certificate_pem, CertStatus::PendingActivation)
    }

    /// Deletes a certificate issued for provisioning whose ownership token expired unused:
    /// still PENDING_ACTIVATION, with no policy or thing attached. True when deleted.
    pub fn expire_unprovisioned(&mut self, region: &str, cert_id: &str) -> IotResult<bool> {
        let Ok(cert) = self.describe_certificate(region, cert_id) else {
            return Ok(false);
        };
        let arn = self.arn(region).cert(cert_id);
        let state = self.state(region);
        let attached = !state.policies_of(&arn).is_empty() || !state.things_of(&arn).is_empty();
        if cert.status != CertStatus::PendingActivation || attached {
            return Ok(false);
        }
        let (region, id) = (region.to_string(), cert_id.to_string());
        self.commit(vec![crate::records::Op::DelCert { region, id }])?;
        Ok(true)
    }

    /// Runs `body` (template `name`, for messages) for certificate `cert_id` with the device's
    /// `parameters`; `pseudo` adds the certificate's subject fields for JITP.
    pub fn provision(
        &mut self,
        region: &str,
        (name, body): (&str, &str),
        parameters: &BTreeMap<String, String>,
        cert_id: &str,
        mut pseudo: BTreeMap<String, String>,
    ) -> IotResult<Provisioned> {
        let template = Template::parse(body).map_err(|e| failed(name, e))?;
        pseudo.insert("AWS::IoT::Certificate::Id".into(), cert_id.to_string());
        let plan = template
            .evaluate(parameters, &pseudo)
            .map_err(|e| failed(name, e))?;
        self.check_plan(region, name, &plan, cert_id)?;
        self.apply_plan(region, plan, cert_id)
    }

    /// Everything the plan names exists, or may be created, before anything changes.
    fn check_plan(&self, region: &str, name: &str, plan: &Plan, cert_id: &str) -> IotResult<()> {
        self.describe_certificate(region, cert_id)?;
        if let Some(c) = &plan.certificate
            && c.id.as_deref().is_some_and(|id| id != cert_id)
        {
            return Err(failed(
                name,
                "the certificate resource's CertificateId is not the requesting certificate",
            ));
        }
        if let Some(t) = &plan.thing {
            self.check_thing(region, name, t)?;
        }
        for p in &plan.policies {
            if p.document.is_none() && self.get_policy(region, &policy_name(p)).is_err() {
                return Err(failed(
                    name,
                    format!("the policy {} does not exist", policy_name(p)),
                ));
            }
        }
        Ok(())
    }

    fn check_thing(&self, region: &str, name: &str, t: &ThingPlan) -> IotResult<()> {
        crate::validate::thing_name("ThingName", &t.name).map_err(|e| failed(name, e.message))?;
        if let Some(ty) = &t.type_name {
            self.usable_type(region, ty)
                .map_err(|e| failed(name, e.message))?;
        }
        for g in &t.groups {
            self.describe_thing_group(region, g)
                .map_err(|_| failed(name, format!("the thing group {g} does not exist")))?;
        }
        if self.describe_thing(region, &t.name).is_ok()
            && let Some((prop, _)) = t.overrides.iter().find(|(_, o)| **o == Override::Fail)
        {
            return Err(IotError::new(
                ErrorCode::ResourceRegistrationFailure,
                format!(
                    "Provisioning with template {name} failed: ResourceConflictsException: the thing {} exists and OverrideSettings.{prop} is FAIL",
                    t.name
                ),
            ));
        }
        Ok(())
    }

    fn apply_plan(&mut self, region: &str, plan: Plan, cert_id: &str) -> IotResult<Provisioned> {
        let cert_arn = self.arn(region).cert(cert_id);
        let mut out = Provisioned {
            device_configuration: plan.device_configuration,
            ..Provisioned::default()
        };
        out.resource_arns
            .insert("certificate".into(), cert_arn.clone());
        for p in &plan.policies {
            let policy = policy_name(p);
            if self.get_policy(region, &policy).is_err() {
                self.create_policy(region, &policy, p.document.as_deref())?;
            }
            self.attach_policy(region, &policy, &cert_arn)?;
            out.resource_arns.insert(
                "policy".into(),
                self.arn(region).resource("policy", &policy),
            );
        }
        if let Some(t) = plan.thing {
            self.put_thing(region, &t)?;
            self.attach_thing_principal(region, &t.name, &cert_arn, None)?;
            out.resource_arns
                .insert("thing".into(), self.arn(region).resource("thing", &t.name));
            out.thing_name = Some(t.name);
        }
        let status = plan
            .certificate
            .map_or_else(|| "ACTIVE".to_string(), |c| c.status);
        self.update_certificate(region, cert_id, Some(&status))?;
        Ok(out)
    }

    /// Creates the thing, or updates it as its OverrideSettings say (DO_NOTHING by default).
    fn put_thing(&mut self, region: &str, t: &ThingPlan) -> IotResult<()> {
        let how = |prop: &str| {
            t.overrides
                .get(prop)
                .copied()
                .unwrap_or(Override::DoNothing)
        };
        if self.describe_thing(region, &t.name).is_err() {
            let create = CreateThing {
                type_name: t.type_name.clone(),
                attributes: Some(t.attributes.clone()),
                billing_group: t.billing_group.clone(),
            };
            self.create_thing(region, &t.name, create)?;
            for g in &t.groups {
                self.add_thing_to_group(region, g, &t.name)?;
            }
            return Ok(());
        }
        let attributes = how("AttributePayload");
        if matches!(attributes, Override::Replace | Override::Merge) {
            let update = UpdateThing {
                attributes: Some(t.attributes.clone()),
                merge: attributes == Override::Merge,
                type_name: (how("ThingTypeName") == Override::Replace)
                    .then(|| t.type_name.clone())
                    .flatten(),
                ..UpdateThing::default()
            };
            self.update_thing(region, &t.name, update)?;
        }
        if matches!(how("ThingGroups"), Override::Replace | Override::Merge) {
            if how("ThingGroups") == Override::Replace {
                for g in self.groups_of_thing(region, &t.name)? {
                    self.remove_thing_from_group(region, &g, &t.name)?;
                }
            }
            for g in &t.groups {
                self.add_thing_to_group(region, g, &t.name)?;
            }
        }
        Ok(())
    }
}
