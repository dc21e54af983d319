//! What the registry stores: one record type per resource, the [`Op`]s that change them, and
//! how an op is applied to memory and encoded for the store. Every mutation is a list of ops,
//! committed to the store first and applied to memory only once the store has accepted it.

use crate::tags::TagRecord;
use crate::templates::TemplateRecord;
use iotmock_model::{AutoRegistrationStatus, CaStatus, CertStatus, CertificateMode, EpochMillis};
use iotmock_store::Change;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaRecord {
    pub region: String,
    pub id: String,
    pub pem: String,
    pub status: CaStatus,
    pub auto_registration: AutoRegistrationStatus,
    pub mode: CertificateMode,
    pub registration_config: Option<serde_json::Value>,
    pub created: EpochMillis,
    pub modified: EpochMillis,
    pub customer_version: i64,
    pub generation_id: String,
    pub not_before: i64,
    pub not_after: i64,
    /// Subject DN (hex DER) and SPKI (hex DER): find a device's CA by issuer without re-parsing.
    pub subject_hex: String,
    pub spki_hex: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertRecord {
    pub region: String,
    pub id: String,
    pub pem: String,
    pub status: CertStatus,
    pub ca_id: Option<String>,
    pub mode: CertificateMode,
    pub created: EpochMillis,
    pub modified: EpochMillis,
    pub customer_version: i64,
    pub generation_id: String,
    pub not_before: i64,
    pub not_after: i64,
    /// The account the certificate came from, once a transfer to this account was accepted.
    #[serde(default)]
    pub previous_owner: Option<String>,
    /// The last transfer offered, accepted, rejected or cancelled.
    #[serde(default)]
    pub transfer: Option<TransferRecord>,
    /// A CreateProvisioningClaim certificate: the template it may provision with. Hidden from
    /// ListCertificates; its only rights are that template's fleet provisioning topics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_template: Option<String>,
}

impl CertRecord {
    /// Where ListCertificates places this certificate: by creation time, then id.
    pub fn list_key(&self) -> String {
        format!("{:016}:{}", self.created, self.id)
    }

    /// Whether this certificate is PENDING_TRANSFER to `account`.
    pub fn is_offered_to(&self, account: &str) -> bool {
        let to = self.transfer.as_ref().is_some_and(|t| t.target == account);
        self.status == iotmock_model::CertStatus::PendingTransfer && to
    }
}

/// DescribeCertificate's `transferData`, plus the account the certificate was offered to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TransferRecord {
    pub target: String,
    pub message: Option<String>,
    pub reject_reason: Option<String>,
    pub transfer_date: Option<EpochMillis>,
    pub accept_date: Option<EpochMillis>,
    pub reject_date: Option<EpochMillis>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyVersion {
    pub document: String,
    pub created: EpochMillis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyRecord {
    pub region: String,
    pub name: String,
    pub default_version: u64,
    pub next_version: u64,
    pub versions: BTreeMap<u64, PolicyVersion>,
    pub created: EpochMillis,
    pub modified: EpochMillis,
    pub generation_id: String,
}

impl PolicyRecord {
    /// The default version's document (always present by construction).
    pub fn default_document(&self) -> &str {
        self.versions
            .get(&self.default_version)
            .map(|v| v.document.as_str())
            .unwrap_or("")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThingRecord {
    pub region: String,
    pub name: String,
    pub id: String,
    pub type_name: Option<String>,
    pub billing_group: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub version: i64,
    pub created: EpochMillis,
}

/// A policy attached to a target (certificate ARN, thing-group ARN or Cognito identity).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PolicyAttachment {
    pub region: String,
    pub policy: String,
    pub target: String,
}

/// A principal (certificate ARN) attached to a thing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ThingPrincipal {
    pub region: String,
    pub thing: String,
    pub principal: String,
    pub exclusive: bool,
}

/// A static thing group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThingGroupRecord {
    pub region: String,
    pub name: String,
    pub id: String,
    pub description: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub version: i64,
    pub created: EpochMillis,
}

/// A thing type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThingTypeRecord {
    pub region: String,
    pub name: String,
    pub id: String,
    pub description: Option<String>,
    pub searchable_attributes: Vec<String>,
    pub deprecated_ms: Option<EpochMillis>,
    pub created: EpochMillis,
}

/// A thing in a thing group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GroupMember {
    pub region: String,
    pub group: String,
    pub thing: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationCode {
    pub region: String,
    pub code: String,
}

/// One region of the one account: every resource AWS scopes to account and region.
#[derive(Debug, Default, Clone)]
pub struct RegionState {
    pub cas: BTreeMap<String, CaRecord>,
    pub certs: BTreeMap<String, CertRecord>,
    pub policies: BTreeMap<String, PolicyRecord>,
    pub things: BTreeMap<String, ThingRecord>,
    pub attachments: BTreeSet<(String, String)>,
    pub thing_principals: BTreeMap<(String, String), bool>,
    pub registration_code: Option<String>,
    pub groups: BTreeMap<String, ThingGroupRecord>,
    pub types: BTreeMap<String, ThingTypeRecord>,
    /// (group, thing)
    pub members: BTreeSet<(String, String)>,
    pub templates: BTreeMap<String, TemplateRecord>,
    /// Tags by resource ARN.
    pub tags: BTreeMap<String, BTreeMap<String, String>>,
    /// IAM by access key (only in the `IAM_SCOPE` entry).
    pub iam: BTreeMap<String, crate::iam::IamKeyRecord>,
}

impl RegionState {
    pub fn policies_of(&self, target: &str) -> Vec<String> {
        self.attachments
            .iter()
            .filter(|(_, t)| t == target)
            .map(|(p, _)| p.clone())
            .collect()
    }

    pub fn targets_of(&self, policy: &str) -> Vec<String> {
        self.attachments
            .range((policy.to_string(), String::new())..)
            .take_while(|(p, _)| p == policy)
            .map(|(_, t)| t.clone())
            .collect()
    }

    pub fn things_of(&self, principal: &str) -> Vec<(String, bool)> {
        self.thing_principals
            .iter()
            .filter(|((_, p), _)| p == principal)
            .map(|((t, _), ex)| (t.clone(), *ex))
            .collect()
    }

    pub fn principals_of(&self, thing: &str) -> Vec<String> {
        self.thing_principals
            .keys()
            .filter(|(t, _)| t == thing)
            .map(|(_, p)| p.clone())
            .collect()
    }
}

/// One change to the registry.
#[derive(Debug, Clone)]
pub enum Op {
    PutCa(CaRecord),
    DelCa {
        region: String,
        id: String,
    },
    PutCert(CertRecord),
    DelCert {
        region: String,
        id: String,
    },
    PutPolicy(PolicyRecord),
    DelPolicy {
        region: String,
        name: String,
    },
    PutThing(ThingRecord),
    DelThing {
        region: String,
        name: String,
    },
    Attach(PolicyAttachment),
    Detach(PolicyAttachment),
    AttachThing(ThingPrincipal),
    DetachThing(ThingPrincipal),
    PutCode(RegistrationCode),
    DelCode {
        region: String,
    },
    PutType(ThingTypeRecord),
    DelType {
        region: String,
        name: String,
    },
    PutGroup(ThingGroupRecord),
    DelGroup {
        region: String,
        name: String,
    },
    AddMember(GroupMember),
    RemoveMember(GroupMember),
    PutTemplate(TemplateRecord),
    DelTemplate {
        region: String,
        name: String,
    },
    PutTags(TagRecord),
    DelTags {
        region: String,
        arn: String,
    },
    /// An access key's IAM policies and Cognito identity (kept under `IAM_SCOPE`).
    PutIam(crate::iam::IamKeyRecord),
}

pub const KIND_CA: &str = "ca";
pub const KIND_CERT: &str = "cert";
pub const KIND_POLICY: &str = "policy";
pub const KIND_THING: &str = "thing";
pub const KIND_ATTACHMENT: &str = "attachment";
pub const KIND_THING_PRINCIPAL: &str = "thing-principal";
pub const KIND_CODE: &str = "registration-code";
pub const KIND_GROUP: &str = "thing-group";
pub const KIND_TYPE: &str = "thing-type";
pub const KIND_MEMBER: &str = "group-member";
pub const KIND_TEMPLATE: &str = "provisioning-template";
pub const KIND_TAGS: &str = "tags";
pub const KIND_IAM: &str = "iam-key";

fn key(parts: &[&str]) -> String {
    parts.join("\n")
}

fn put<T: Serialize>(kind: &'static str, key: String, value: &T) -> Change {
    Change::Put {
        kind,
        key,
        value: serde_json::to_string(value).unwrap_or_default(),
    }
}

impl Op {
    /// How this op is written to the store.
    pub fn to_change(&self) -> Change {
        let del = |kind, key| Change::Delete { kind, key };
        match self {
            Op::PutCa(r) => put(KIND_CA, key(&[&r.region, &r.id]), r),
            Op::DelCa { region, id } => del(KIND_CA, key(&[region, id])),
            Op::PutCert(r) => put(KIND_CERT, key(&[&r.region, &r.id]), r),
            Op::DelCert { region, id } => del(KIND_CERT, key(&[region, id])),
            Op::PutPolicy(r) => put(KIND_POLICY, key(&[&r.region, &r.name]), r),
            Op::DelPolicy { region, name } => del(KIND_POLICY, key(&[region, name])),
            Op::PutThing(r) => put(KIND_THING, key(&[&r.region, &r.name]), r),
            Op::DelThing { region, name } => del(KIND_THING, key(&[region, name])),
            Op::Attach(a) => put(KIND_ATTACHMENT, key(&[&a.region, &a.policy, &a.target]), a),
            Op::Detach(a) => del(KIND_ATTACHMENT, key(&[&a.region, &a.policy, &a.target])),
            Op::AttachThing(t) => put(
                KIND_THING_PRINCIPAL,
                key(&[&t.region, &t.thing, &t.principal]),
                t,
            ),
            Op::DetachThing(t) => del(
                KIND_THING_PRINCIPAL,
                key(&[&t.region, &t.thing, &t.principal]),
            ),
            Op::PutCode(c) => put(KIND_CODE, c.region.clone(), c),
            Op::DelCode { region } => del(KIND_CODE, region.clone()),
            Op::PutType(t) => put(KIND_TYPE, key(&[&t.region, &t.name]), t),
            Op::DelType { region, name } => del(KIND_TYPE, key(&[region, name])),
            Op::PutGroup(g) => put(KIND_GROUP, key(&[&g.region, &g.name]), g),
            Op::DelGroup { region, name } => del(KIND_GROUP, key(&[region, name])),
            Op::AddMember(m) => put(KIND_MEMBER, key(&[&m.region, &m.group, &m.thing]), m),
            Op::RemoveMember(m) => del(KIND_MEMBER, key(&[&m.region, &m.group, &m.thing])),
            Op::PutTemplate(t) => put(KIND_TEMPLATE, key(&[&t.region, &t.name]), t),
            Op::DelTemplate { region, name } => del(KIND_TEMPLATE, key(&[region, name])),
            Op::PutTags(t) => put(KIND_TAGS, key(&[&t.region, &t.arn]), t),
            Op::DelTags { region, arn } => del(KIND_TAGS, key(&[region, arn])),
            Op::PutIam(k) => put(KIND_IAM, k.access_key.clone(), k),
        }
    }

    /// Decodes a stored record back into the op that re-creates it.
    pub fn from_stored(kind: &str, value: &str) -> Result<Op, serde_json::Error> {
        Ok(match kind {
            KIND_CA => Op::PutCa(serde_json::from_str(value)?),
            KIND_CERT => Op::PutCert(serde_json::from_str(value)?),
            KIND_POLICY => Op::PutPolicy(serde_json::from_str(value)?),
            KIND_THING => Op::PutThing(serde_json::from_str(value)?),
            KIND_ATTACHMENT => Op::Attach(serde_json::from_str(value)?),
            KIND_THING_PRINCIPAL => Op::AttachThing(serde_json::from_str(value)?),
            KIND_GROUP => Op::PutGroup(serde_json::from_str(value)?),
            KIND_TYPE => Op::PutType(serde_json::from_str(value)?),
            KIND_MEMBER => Op::AddMember(serde_json::from_str(value)?),
            KIND_TEMPLATE => Op::PutTemplate(serde_json::from_str(value)?),
            KIND_TAGS => Op::PutTags(serde_json::from_str(value)?),
            KIND_IAM => Op::PutIam(serde_json::from_str(value)?),
            _ => Op::PutCode(serde_json::from_str(value)?),
        })
    }

    /// Applies this op to the in-memory state.
    pub fn apply(self, regions: &mut BTreeMap<String, RegionState>) {
        fn at<'a>(regions: &'a mut BTreeMap<String, RegionState>, r: &str) -> &'a mut RegionState {
            regions.entry(r.to_string()).or_default()
        }
        match self {
            Op::PutCa(r) => {
                at(regions, &r.region.clone()).cas.insert(r.id.clone(), r);
            }
            Op::DelCa { region, id } => {
                at(regions, &region).cas.remove(&id);
            }
            Op::PutCert(r) => {
                at(regions, &r.region.clone()).certs.insert(r.id.clone(), r);
            }
            Op::DelCert { region, id } => {
                at(regions, &region).certs.remove(&id);
            }
            Op::PutPolicy(r) => {
                at(regions, &r.region.clone())
                    .policies
                    .insert(r.name.clone(), r);
            }
            Op::DelPolicy { region, name } => {
                at(regions, &region).policies.remove(&name);
            }
            Op::PutThing(r) => {
                at(regions, &r.region.clone())
                    .things
                    .insert(r.name.clone(), r);
            }
            Op::DelThing { region, name } => {
                at(regions, &region).things.remove(&name);
            }
            Op::Attach(a) => {
                at(regions, &a.region)
                    .attachments
                    .insert((a.policy, a.target));
            }
            Op::Detach(a) => {
                at(regions, &a.region)
                    .attachments
                    .remove(&(a.policy, a.target));
            }
            Op::AttachThing(t) => {
                at(regions, &t.region)
                    .thing_principals
                    .insert((t.thing, t.principal), t.exclusive);
            }
            Op::DetachThing(t) => {
                at(regions, &t.region)
                    .thing_principals
                    .remove(&(t.thing, t.principal));
            }
            Op::PutCode(c) => at(regions, &c.region).registration_code = Some(c.code),
            Op::DelCode { region } => at(regions, &region).registration_code = None,
            Op::PutType(t) => {
                at(regions, &t.region.clone())
                    .types
                    .insert(t.name.clone(), t);
            }
            Op::DelType { region, name } => {
                at(regions, &region).types.remove(&name);
            }
            Op::PutGroup(g) => {
                at(regions, &g.region.clone())
                    .groups
                    .insert(g.name.clone(), g);
            }
            Op::DelGroup { region, name } => {
                let state = at(regions, &region);
                state.groups.remove(&name);
                state.members.retain(|(g, _)| *g != name);
            }
            Op::AddMember(m) => {
                at(regions, &m.region).members.insert((m.group, m.thing));
            }
            Op::RemoveMember(m) => {
                at(regions, &m.region).members.remove(&(m.group, m.thing));
            }
            Op::PutTemplate(t) => {
                at(regions, &t.region.clone())
                    .templates
                    .insert(t.name.clone(), t);
            }
            Op::DelTemplate { region, name } => {
                at(regions, &region).templates.remove(&name);
            }
            Op::PutTags(t) => {
                at(regions, &t.region.clone())
                    .tags
                    .insert(t.arn.clone(), t.tags);
            }
            Op::DelTags { region, arn } => {
                at(regions, &region).tags.remove(&arn);
            }
            Op::PutIam(k) => {
                at(regions, crate::iam::IAM_SCOPE)
                    .iam
                    .insert(k.access_key.clone(), k);
            }
        }
    }
}
