//! JITP: a CA's `registrationConfig` names a provisioning template (inline `templateBody`, or
//! `templateName` of a template of type JITP); a device certificate it issued, registered at
//! first connect, is provisioned by that template with parameters from its subject.

use crate::Registry;
use crate::provision::Provisioned;
use crate::records::CaRecord;
use iotmock_model::{IotError, IotResult};
use iotmock_pki::CertInfo;
use serde_json::Value;
use std::collections::BTreeMap;

/// The certificate-subject fields JITP templates may use, by AWS's parameter names.
fn pseudo_parameters(cert: &CertInfo) -> BTreeMap<String, String> {
    cert.subject_attrs
        .iter()
        .filter_map(|(k, v)| {
            let name = match k.as_str() {
                "State" => "StateName",
                "Country"
                | "Organization"
                | "OrganizationalUnit"
                | "CommonName"
                | "SerialNumber"
                | "DistinguishedNameQualifier" => k.as_str(),
                _ => return None,
            };
            Some((format!("AWS::IoT::Certificate::{name}"), v.clone()))
        })
        .collect()
}

impl Registry {
    /// The template a registration config names: (name for messages, body).
    fn jitp_template(&self, region: &str, config: &Value) -> IotResult<(String, String)> {
        if let Some(body) = config.get("templateBody").and_then(Value::as_str) {
            return Ok(("(registrationConfig.templateBody)".into(), body.to_string()));
        }
        let Some(name) = config.get("templateName").and_then(Value::as_str) else {
            return Err(IotError::invalid(
                "Invalid registration config: it needs a templateBody or a templateName",
            ));
        };
        let t = self.describe_template(region, name)?;
        if t.kind != "JITP" {
            return Err(IotError::invalid(format!(
                "The provisioning template {name} is of type {}; a CA's registration config needs one of type JITP",
                t.kind
            )));
        }
        Ok((name.to_string(), t.body().to_string()))
    }

    /// RegisterCACertificate / UpdateCACertificate: a registration config must name a template
    /// that exists (of type JITP) or carry a valid body.
    pub fn check_registration_config(&self, region: &str, config: Option<&Value>) -> IotResult<()> {
        let Some(config) = config else {
            return Ok(());
        };
        let (_, body) = self.jitp_template(region, config)?;
        crate::check_body(Some(&body))?;
        let template = iotmock_provisioning::Template::parse(&body)
            .map_err(|e| IotError::invalid(e.to_string()))?;
        if !template.has_policy() {
            return Err(IotError::invalid(
                "Invalid registration template. Neither policyName nor policyDocument is present in the Template.",
            ));
        }
        Ok(())
    }

    /// Runs the CA's JITP template for a certificate just registered; `None` when the CA has
    /// no registration config. A failure leaves the certificate PENDING_ACTIVATION.
    pub(crate) fn run_jitp(
        &mut self,
        region: &str,
        ca: &CaRecord,
        cert: &CertInfo,
    ) -> Option<Result<Provisioned, String>> {
        let config = ca.registration_config.as_ref()?;
        let run = self.jitp_template(region, config).and_then(|(name, body)| {
            let pseudo = pseudo_parameters(cert);
            self.provision(region, (&name, &body), &BTreeMap::new(), &cert.id, pseudo)
        });
        Some(run.map_err(|e| {
            tracing::warn!(cert = %cert.id, ca = %ca.id, "JITP failed: {}", e.message);
            e.message
        }))
    }
}
