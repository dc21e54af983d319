//! What the broker asks of the registry: who a presented certificate is (region, status,
//! validity), which policies apply to it (parsed, default versions), and which things it is
//! attached to. Answered from the live registry on every CONNECT and after every change.

use crate::Registry;
use iotmock_model::{Arn, CertStatus, IotError, IotResult};
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
    /// The thing groups it is in (their policies apply to the certificate too).
    pub groups: Vec<String>,
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
    /// DEFAULT or SNI_ONLY (an SNI_ONLY certificate connects only with TLS SNI).
    pub mode: iotmock_model::CertificateMode,
    pub cert: CertInfo,
    pub policies: Vec<NamedPolicy>,
    pub things: Vec<AttachedThing>,
    /// A Cognito identity's attached IoT policies: they must allow too (AWS evaluates both
    /// the identity's IAM policy and these). `None` for every other principal.
    pub identity_policies: Option<Vec<NamedPolicy>>,
    /// What lifecycle events name as `principalIdentifier` when it is not `cert_id` (a custom
    /// authorizer's connections).
    pub event_id: Option<String>,
}

/// The IAM policy a SigV4 caller has when none was set for its access key: every IoT action.
pub const IAM_ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#;

impl Principal {
    /// A SigV4 caller (MQTT over WebSocket, HTTPS publish) as the data plane sees it: no
    /// certificate (an empty placeholder that is valid at every time and reads as no variable),
    /// ACTIVE, with `policies` (IAM policies of its access key, plus IoT policies attached to
    /// its Cognito identity) deciding what it may do. `id` is what lifecycle events and
    /// `principal()` report: the access key id, or the Cognito identity id.
    pub fn iam(region: &str, account: &str, id: &str, policies: Vec<NamedPolicy>) -> Self {
        let cert = CertInfo {
            der: Vec::new(),
            id: id.to_string(),
            subject_raw: Vec::new(),
            issuer_raw: Vec::new(),
            subject: String::new(),
            issuer: String::new(),
            common_name: None,
            not_before: i64::MIN,
            not_after: i64::MAX,
            is_ca: false,
            version: 2,
            serial_hex: String::new(),
            spki_raw: Vec::new(),
            subject_attrs: Vec::new(),
            issuer_attrs: Vec::new(),
            key: iotmock_pki::KeyKind::Other("none".into()),
        };
        Self {
            region: region.to_string(),
            account: account.to_string(),
            cert_id: id.to_string(),
            cert_arn: format!("arn:aws:iam::{account}:user/{id}"),
            status: CertStatus::Active,
            ca_id: None,
            mode: iotmock_model::CertificateMode::Default,
            cert,
            policies,
            things: Vec::new(),
            identity_policies: None,
            event_id: None,
        }
    }

    /// The allow-all IAM policy ([`IAM_ALLOW_ALL`]) as a named policy.
    pub fn iam_allow_all() -> NamedPolicy {
        NamedPolicy {
            name: "iotmock-iam-allow-all".into(),
            version: "1".into(),
            document: PolicyDocument::parse(IAM_ALLOW_ALL).unwrap_or(PolicyDocument {
                version: None,
                statements: Vec::new(),
            }),
        }
    }

    /// `arn:aws:iot:{region}:{account}:{kind}/{name}`, the form policies are matched against.
    pub fn resource(&self, kind: &str, name: &str) -> String {
        Arn::new(&self.region, &self.account).resource(kind, name)
    }
}

impl Registry {
    /// The registered certificate with this id, in whichever region holds it.
    pub fn principal(&self, cert_id: &str) -> Option<Principal> {
        let (region, _) = self
            .regions
            .iter()
            .find(|(_, s)| s.certs.contains_key(cert_id))?;
        self.principal_in(region, cert_id)
    }

    /// The registered certificate with this id as `region` knows it (each region of an
    /// account registers certificates on its own, as in AWS).
    pub fn principal_in(&self, region: &str, cert_id: &str) -> Option<Principal> {
        let state = self.regions.get(region)?;
        let record = state.certs.get(cert_id)?;
        let arn = self.arn(region).cert(cert_id);
        let cert = iotmock_pki::parse_certificate_pem(&record.pem, "certificate").ok()?;
        let mut policies = self.named_policies_of(region, &arn);
        if let Some(template) = &record.claim_template {
            policies.push(crate::claims::claim_policy(template));
        }
        let things: Vec<AttachedThing> = state
            .things_of(&arn)
            .into_iter()
            .filter_map(|(name, exclusive)| {
                let t = state.things.get(&name)?;
                let groups = state
                    .members
                    .iter()
                    .filter(|(_, member)| *member == name)
                    .map(|(g, _)| g.clone())
                    .collect();
                Some(AttachedThing {
                    name,
                    type_name: t.type_name.clone(),
                    attributes: t.attributes.clone(),
                    exclusive,
                    groups,
                })
            })
            .collect();
        // As AWS evaluates them: the policies of the thing groups its things are in, too.
        for group in things.iter().flat_map(|t| &t.groups) {
            let group_arn = self.arn(region).resource("thinggroup", group);
            for p in self.named_policies_of(region, &group_arn) {
                if !policies.iter().any(|have| have.name == p.name) {
                    policies.push(p);
                }
            }
        }
        Some(Principal {
            region: region.to_string(),
            account: self.account.clone(),
            cert_id: cert_id.to_string(),
            cert_arn: arn,
            status: record.status,
            ca_id: record.ca_id.clone(),
            mode: record.mode,
            cert,
            policies,
            things,
            identity_policies: None,
            event_id: None,
        })
    }

    /// Runs `hook` after every committed change (the broker re-checks live connections).
    pub fn on_change(&mut self, hook: crate::ChangeHook) {
        self.hooks.push(hook);
    }
}

/// What just-in-time registration did with an unknown certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoRegistered {
    pub region: String,
    pub cert_id: String,
    pub ca_id: String,
    /// JITP: what the CA's template did (`None` without a registration config).
    pub provisioned: Option<Result<crate::Provisioned, String>>,
}

impl Registry {
    /// JITR: registers an unknown certificate as PENDING_ACTIVATION when an ACTIVE CA with
    /// auto-registration enabled (in DEFAULT mode, unless SNI_ONLY CAs are allowed) issued it (name and signature), in `region` or (`None`) in
    /// the first region holding such a CA. `None` when no such CA exists.
    pub fn auto_register(
        &mut self,
        region: Option<&str>,
        leaf_der: &[u8],
    ) -> Option<AutoRegistered> {
        let cert = iotmock_pki::CertInfo::from_der(leaf_der, "client certificate").ok()?;
        let issuer = hex::encode(&cert.issuer_raw);
        let now = self.now_secs();
        let sni_only = self.jitr_sni_only;
        let in_region = self
            .regions
            .iter()
            .filter(|(r, _)| region.is_none_or(|want| r.as_str() == want));
        let (region, ca) = in_region.into_iter().find_map(|(region, state)| {
            state.cas.values().find_map(|ca| {
                let usable = ca.status == iotmock_model::CaStatus::Active
                    && ca.auto_registration == iotmock_model::AutoRegistrationStatus::Enable
                    && (sni_only || ca.mode == iotmock_model::CertificateMode::Default)
                    && ca.subject_hex == issuer;
                let info = usable
                    .then(|| iotmock_pki::parse_certificate_pem(&ca.pem, "ca").ok())
                    .flatten()?;
                cert.is_signed_by(&info)
                    .then(|| (region.clone(), ca.clone()))
            })
        })?;
        if !cert.is_valid_at(now) {
            return None;
        }
        let mut record = self.cert_record(&region, &cert, CertStatus::PendingActivation, Some(&ca));
        record.mode = ca.mode;
        self.commit(vec![crate::records::Op::PutCert(record)])
            .ok()?;
        let provisioned = self.run_jitp(&region, &ca, &cert);
        Some(AutoRegistered {
            region,
            cert_id: cert.id,
            ca_id: ca.id,
            provisioned,
        })
    }
}

impl Registry {
    /// Status and issuing CA of a registered certificate, in whichever region holds it.
    pub fn certificate_status(&self, cert_id: &str) -> Option<(CertStatus, Option<String>)> {
        self.regions
            .values()
            .find_map(|s| s.certs.get(cert_id))
            .map(|c| (c.status, c.ca_id.clone()))
    }

    /// The region a connection that named none is admitted by: `default` when it holds the
    /// certificate, else the one region that does. `None` when none or several do.
    pub fn region_for(&self, cert_id: &str, default: &str) -> Option<String> {
        let holding: Vec<&String> = self
            .regions
            .iter()
            .filter(|(_, s)| s.certs.contains_key(cert_id))
            .map(|(r, _)| r)
            .collect();
        if holding.iter().any(|r| r.as_str() == default) {
            return Some(default.to_string());
        }
        match holding.as_slice() {
            [only] => Some(only.to_string()),
            _ => None,
        }
    }

    /// Status and issuing CA of a certificate registered in `region`.
    pub fn certificate_status_in(
        &self,
        region: &str,
        cert_id: &str,
    ) -> Option<(CertStatus, Option<String>)> {
        let cert = self.regions.get(region)?.certs.get(cert_id)?;
        Some((cert.status, cert.ca_id.clone()))
    }
}

impl Registry {
    /// A policy's default version, parsed, as the broker evaluates it.
    /// The policies attached to `target` in `region`, parsed (one that no longer parses is
    /// left out, with a warning).
    pub fn named_policies_of(&self, region: &str, target: &str) -> Vec<NamedPolicy> {
        let state = self.state(region);
        state
            .policies_of(target)
            .into_iter()
            .filter_map(|name| {
                let p = state.policies.get(&name)?;
                match PolicyDocument::parse(p.default_document()) {
                    Ok(document) => Some(NamedPolicy {
                        name,
                        version: p.default_version.to_string(),
                        document,
                    }),
                    Err(e) => {
                        tracing::warn!(policy = %name, error = %e, "stored policy no longer parses; ignored");
                        None
                    }
                }
            })
            .collect()
    }

    pub fn named_policy(&self, region: &str, name: &str) -> IotResult<NamedPolicy> {
        let p = self.get_policy(region, name)?;
        let document = PolicyDocument::parse(p.default_document())
            .map_err(|e| IotError::invalid(format!("policy {name} does not parse: {e}")))?;
        Ok(NamedPolicy {
            name: name.to_string(),
            version: p.default_version.to_string(),
            document,
        })
    }
}
