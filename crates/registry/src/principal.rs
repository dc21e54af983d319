//! What the broker asks of the registry: who a presented certificate is (region, status,
//! validity), which policies apply to it (parsed, default versions), and which things it is
//! attached to. Answered from the live registry on every CONNECT and after every change.

use crate::Registry;
use iotmock_model::{Arn, CertStatus};
use iotmock_pki::CertInfo;
use iotmock_policy::{NamedPolicy, PolicyDocument};
use std::collections::BTreeMap;

/// A thing attached to the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedThing {
    pub name: String,
    pub type_name: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub exclusive: bool,
}

/// A registered certificate as the data plane sees it.
#[derive(Debug, Clone)]
pub struct Principal {
    pub region: String,
    pub account: String,
    pub cert_id: String,
    pub cert_arn: String,
    pub status: CertStatus,
    pub ca_id: Option<String>,
    pub cert: CertInfo,
    pub policies: Vec<NamedPolicy>,
    pub things: Vec<AttachedThing>,
}

impl Principal {
    /// `arn:aws:iot:{region}:{account}:{kind}/{name}`, the form policies are matched against.
    pub fn resource(&self, kind: &str, name: &str) -> String {
        Arn::new(&self.region, &self.account).resource(kind, name)
    }
}

impl Registry {
    /// The registered certificate with this id, in whichever region holds it.
    pub fn principal(&self, cert_id: &str) -> Option<Principal> {
        let (region, state) = self
            .regions
            .iter()
            .find(|(_, s)| s.certs.contains_key(cert_id))?;
        let record = state.certs.get(cert_id)?;
        let arn = self.arn(region).cert(cert_id);
        let cert = iotmock_pki::parse_certificate_pem(&record.pem, "certificate").ok()?;
        let policies = state
            .policies_of(&arn)
            .into_iter()
            .filter_map(|name| {
                let p = state.policies.get(&name)?;
                match PolicyDocument::parse(p.default_document()) {
                    Ok(document) => Some(NamedPolicy { name, version: p.default_version.to_string(), document }),
                    Err(e) => {
                        tracing::warn!(policy = %name, error = %e, "stored policy no longer parses; ignored");
                        None
                    }
                }
            })
            .collect();
        let things = state
            .things_of(&arn)
            .into_iter()
            .filter_map(|(name, exclusive)| {
                let t = state.things.get(&name)?;
                Some(AttachedThing {
                    name,
                    type_name: t.type_name.clone(),
                    attributes: t.attributes.clone(),
                    exclusive,
                })
            })
            .collect();
        Some(Principal {
            region: region.clone(),
            account: self.account.clone(),
            cert_id: cert_id.to_string(),
            cert_arn: arn,
            status: record.status,
            ca_id: record.ca_id.clone(),
            cert,
            policies,
            things,
        })
    }

    /// Runs `hook` after every committed change (the broker re-checks live connections).
    pub fn on_change(&mut self, hook: std::sync::Arc<dyn Fn(u64) + Send + Sync>) {
        self.hooks.push(hook);
    }
}
