//! Policies, their versions, and policy attachments: CreatePolicy, GetPolicy, ListPolicies,
//! DeletePolicy, the five version operations, Attach/Detach(Principal)Policy and the lists.

use crate::paging::{Page, PageRequest, paginate};
use crate::records::{Op, PolicyAttachment, PolicyRecord, PolicyVersion};
use crate::{Registry, random_hex, validate};
use iotmock_model::{Arn, ErrorCode, IotError, IotResult};
use iotmock_policy::PolicyDocument;
use std::collections::BTreeMap;

/// AWS's limits: versions per policy, policies per principal.
pub const MAX_POLICY_VERSIONS: usize = 5;
pub const MAX_POLICIES_PER_TARGET: usize = 10;

/// CreatePolicy's answer.
#[derive(Debug, Clone)]
pub struct CreatedPolicy {
    pub arn: String,
    pub version_id: u64,
}

/// CreatePolicyVersion's answer.
#[derive(Debug, Clone)]
pub struct CreatedVersion {
    pub arn: String,
    pub version_id: u64,
    pub is_default: bool,
}

fn parse_document(text: Option<&str>) -> IotResult<String> {
    let text = validate::required("policyDocument", text)?;
    PolicyDocument::parse(text).map_err(|e| IotError::new(ErrorCode::MalformedPolicy, e.0))?;
    Ok(text.to_string())
}

impl Registry {
    /// The named policy, or ResourceNotFound.
    pub fn get_policy(&self, region: &str, name: &str) -> IotResult<&PolicyRecord> {
        validate::policy_name(name)?;
        self.state(region)
            .policies
            .get(name)
            .ok_or_else(|| IotError::not_found(format!("Policy not found (name={name})")))
    }

    /// CreatePolicy: version "1", default.
    pub fn create_policy(
        &mut self,
        region: &str,
        name: &str,
        document: Option<&str>,
    ) -> IotResult<CreatedPolicy> {
        validate::policy_name(name)?;
        let document = parse_document(document)?;
        let arn = self.arn(region).policy(name);
        if self.state(region).policies.contains_key(name) {
            return Err(IotError::already_exists(
                format!("Policy cannot be created - name already exists (name={name})"),
                name,
                &arn,
            ));
        }
        let now = self.now();
        let record = PolicyRecord {
            region: region.to_string(),
            name: name.to_string(),
            default_version: 1,
            next_version: 2,
            versions: BTreeMap::from([(
                1,
                PolicyVersion {
                    document,
                    created: now,
                },
            )]),
            created: now,
            modified: now,
            generation_id: random_hex(32),
        };
        self.commit(vec![Op::PutPolicy(record)])?;
        Ok(CreatedPolicy { arn, version_id: 1 })
    }

    /// ListPolicies, by name.
    pub fn list_policies(&self, region: &str, req: &PageRequest) -> IotResult<Page<&PolicyRecord>> {
        let items = self
            .state(region)
            .policies
            .values()
            .map(|p| (p.name.clone(), p))
            .collect();
        paginate(items, req, true, "pageSize")
    }

    /// DeletePolicy: not while attached, not while other versions exist.
    pub fn delete_policy(&mut self, region: &str, name: &str) -> IotResult<()> {
        let policy = self.get_policy(region, name)?;
        if !self.state(region).targets_of(name).is_empty() {
            return Err(IotError::delete_conflict(format!(
                "The policy cannot be deleted as the policy is attached to one or more principals (name={name})"
            )));
        }
        if policy.versions.len() > 1 {
            return Err(IotError::delete_conflict(
                "The policy cannot be deleted as versions other than than default version exist",
            ));
        }
        let untag = self.untag_all(region, &self.arn(region).policy(name));
        self.commit(vec![
            Op::DelPolicy {
                region: region.to_string(),
                name: name.to_string(),
            },
            untag,
        ])
    }

    /// CreatePolicyVersion: at most five versions; ids never reused.
    pub fn create_policy_version(
        &mut self,
        region: &str,
        name: &str,
        document: Option<&str>,
        set_as_default: bool,
    ) -> IotResult<CreatedVersion> {
        let mut policy = self.get_policy(region, name)?.clone();
        let document = parse_document(document)?;
        if policy.versions.len() >= MAX_POLICY_VERSIONS {
            return Err(IotError::new(
                ErrorCode::VersionsLimitExceeded,
                format!(
                    "The policy {name} already has the maximum number of versions ({MAX_POLICY_VERSIONS})"
                ),
            ));
        }
        let now = self.now();
        let id = policy.next_version;
        policy.next_version += 1;
        policy.versions.insert(
            id,
            PolicyVersion {
                document,
                created: now,
            },
        );
        if set_as_default {
            policy.default_version = id;
        }
        policy.modified = now;
        policy.generation_id = random_hex(32);
        let arn = self.arn(region).policy(name);
        self.commit(vec![Op::PutPolicy(policy)])?;
        Ok(CreatedVersion {
            arn,
            version_id: id,
            is_default: set_as_default,
        })
    }

    /// GetPolicyVersion.
    pub fn get_policy_version(
        &self,
        region: &str,
        name: &str,
        version: &str,
    ) -> IotResult<(&PolicyRecord, u64, &PolicyVersion)> {
        let policy = self.get_policy(region, name)?;
        let id = validate::version_id(version)?;
        let v = policy.versions.get(&id).ok_or_else(|| {
            IotError::not_found(format!(
                "Policy version not found (name={name}, versionId={version})"
            ))
        })?;
        Ok((policy, id, v))
    }

    /// SetDefaultPolicyVersion.
    pub fn set_default_policy_version(
        &mut self,
        region: &str,
        name: &str,
        version: &str,
    ) -> IotResult<()> {
        let (policy, id, _) = self.get_policy_version(region, name, version)?;
        let mut policy = policy.clone();
        policy.default_version = id;
        policy.modified = self.now();
        policy.generation_id = random_hex(32);
        self.commit(vec![Op::PutPolicy(policy)])
    }

    /// DeletePolicyVersion: never the default version.
    pub fn delete_policy_version(
        &mut self,
        region: &str,
        name: &str,
        version: &str,
    ) -> IotResult<()> {
        let (policy, id, _) = self.get_policy_version(region, name, version)?;
        if id == policy.default_version {
            return Err(IotError::delete_conflict(format!(
                "Cannot delete the default version of a policy; use DeletePolicy (name={name}, versionId={id})"
            )));
        }
        let mut policy = policy.clone();
        policy.versions.remove(&id);
        self.commit(vec![Op::PutPolicy(policy)])
    }

    /// Refuses a target that names nothing in this region.
    fn check_target(&self, region: &str, target: &str) -> IotResult<()> {
        let target = validate::required("target", Some(target))?;
        if let Some((arn_region, id)) = Arn::parse_cert(target) {
            let account = target.split(':').nth(4).unwrap_or_default();
            let mine = account == self.account && arn_region == region;
            if mine && self.state(region).certs.contains_key(id) {
                return Ok(());
            }
            return Err(IotError::not_found(format!(
                "The certificate {target} does not exist"
            )));
        }
        if let Some((prefix, group)) = target.split_once(":thinggroup/") {
            let here = prefix == format!("arn:aws:iot:{region}:{}", self.account);
            if here && self.state(region).groups.contains_key(group) {
                return Ok(());
            }
            return Err(IotError::not_found(format!(
                "The thing group {target} does not exist"
            )));
        }
        if is_cognito_identity(target) {
            return Ok(());
        }
        Err(IotError::invalid(format!(
            "The target {target} is not a certificate ARN, thing group ARN or Cognito identity id"
        )))
    }

    /// AttachPolicy / AttachPrincipalPolicy: idempotent, at most ten per target.
    pub fn attach_policy(&mut self, region: &str, name: &str, target: &str) -> IotResult<()> {
        self.get_policy(region, name)?;
        self.check_target(region, target)?;
        let state = self.state(region);
        if state
            .attachments
            .contains(&(name.to_string(), target.to_string()))
        {
            return Ok(());
        }
        if state.policies_of(target).len() >= MAX_POLICIES_PER_TARGET {
            return Err(IotError::new(
                ErrorCode::LimitExceeded,
                format!(
                    "A principal can have at most {MAX_POLICIES_PER_TARGET} policies attached ({target})"
                ),
            ));
        }
        self.commit(vec![Op::Attach(attachment(region, name, target))])
    }

    /// DetachPolicy / DetachPrincipalPolicy: detaching what is not attached succeeds.
    /// `require_policy` is DetachPrincipalPolicy's ResourceNotFound for an unknown policy.
    pub fn detach_policy(
        &mut self,
        region: &str,
        name: &str,
        target: &str,
        require_policy: bool,
    ) -> IotResult<()> {
        validate::required("target", Some(target))?;
        if require_policy {
            self.get_policy(region, name)?;
        } else {
            validate::policy_name(name)?;
        }
        if !self
            .state(region)
            .attachments
            .contains(&(name.to_string(), target.to_string()))
        {
            return Ok(());
        }
        self.commit(vec![Op::Detach(attachment(region, name, target))])
    }

    /// ListAttachedPolicies / ListPrincipalPolicies.
    pub fn list_attached_policies(
        &self,
        region: &str,
        target: &str,
        req: &PageRequest,
    ) -> IotResult<Page<(String, String)>> {
        self.check_target(region, target)?;
        let items = self
            .state(region)
            .policies_of(target)
            .into_iter()
            .map(|p| (p.clone(), (p.clone(), self.arn(region).policy(&p))))
            .collect();
        paginate(items, req, true, "pageSize")
    }

    /// ListTargetsForPolicy / ListPolicyPrincipals.
    pub fn list_targets_for_policy(
        &self,
        region: &str,
        name: &str,
        req: &PageRequest,
    ) -> IotResult<Page<String>> {
        self.get_policy(region, name)?;
        let items = self
            .state(region)
            .targets_of(name)
            .into_iter()
            .map(|t| (t.clone(), t))
            .collect();
        paginate(items, req, true, "pageSize")
    }
}

fn attachment(region: &str, policy: &str, target: &str) -> PolicyAttachment {
    PolicyAttachment {
        region: region.to_string(),
        policy: policy.to_string(),
        target: target.to_string(),
    }
}

/// Whether `target` has the form of a Cognito identity id (`region:uuid`).
pub(crate) fn is_cognito_identity(target: &str) -> bool {
    target
        .split_once(':')
        .is_some_and(|(r, id)| !r.is_empty() && id.len() == 36)
}
