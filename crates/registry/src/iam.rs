//! IAM as AWS IoT's data plane sees a SigV4 caller (MQTT over WebSocket): the IAM policies of
//! its access key (allow-all while none is set), and the Cognito identity a key may stand
//! for, whose attached IoT policies must allow too, as AWS requires of authenticated Cognito
//! identities. IAM is global: one set per account, kept under [`IAM_SCOPE`].

use crate::Registry;
use crate::principal::Principal;
use crate::records::Op;
use iotmock_model::{ErrorCode, IotError, IotResult};
use iotmock_policy::{NamedPolicy, PolicyDocument};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The region key IAM records are kept under (IAM is not regional).
pub const IAM_SCOPE: &str = "";
/// AWS's cap on inline policies is by size; the mock caps their number.
pub const MAX_IAM_POLICIES: usize = 10;

/// What the mock knows of one access key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IamKeyRecord {
    pub access_key: String,
    /// Policy name -> document (JSON text).
    #[serde(default)]
    pub policies: BTreeMap<String, String>,
    /// The Cognito identity id these credentials were issued for.
    #[serde(default)]
    pub identity_id: Option<String>,
}

fn check_key(access_key: &str) -> IotResult<()> {
    let ok = (1..=128).contains(&access_key.len())
        && access_key.bytes().all(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(IotError::invalid(format!(
            "'{access_key}' is not an access key id (1-128 letters and digits)"
        )))
    }
}

impl Registry {
    /// The record of `access_key`, if anything was set for it.
    pub fn iam_key(&self, access_key: &str) -> Option<&IamKeyRecord> {
        self.state(IAM_SCOPE).iam.get(access_key)
    }

    fn iam_record(&self, access_key: &str) -> IamKeyRecord {
        self.iam_key(access_key).cloned().unwrap_or(IamKeyRecord {
            access_key: access_key.to_string(),
            ..IamKeyRecord::default()
        })
    }

    /// Sets (or replaces) the IAM policy `name` of `access_key` (PutUserPolicy's role).
    pub fn put_iam_policy(
        &mut self,
        access_key: &str,
        name: &str,
        document: &str,
    ) -> IotResult<()> {
        check_key(access_key)?;
        crate::validate::policy_name(name)?;
        PolicyDocument::parse(document)
            .map_err(|e| IotError::new(ErrorCode::MalformedPolicy, e.to_string()))?;
        let mut record = self.iam_record(access_key);
        if !record.policies.contains_key(name) && record.policies.len() >= MAX_IAM_POLICIES {
            return Err(IotError::new(
                ErrorCode::LimitExceeded,
                format!("An access key has at most {MAX_IAM_POLICIES} IAM policies"),
            ));
        }
        record
            .policies
            .insert(name.to_string(), document.to_string());
        self.commit(vec![Op::PutIam(record)])
    }

    /// Removes the IAM policy `name` of `access_key`.
    pub fn delete_iam_policy(&mut self, access_key: &str, name: &str) -> IotResult<()> {
        let mut record = self.iam_record(access_key);
        if record.policies.remove(name).is_none() {
            return Err(IotError::not_found(format!(
                "Access key {access_key} has no IAM policy named {name}"
            )));
        }
        self.commit(vec![Op::PutIam(record)])
    }

    /// Says the credentials of `access_key` were issued for the Cognito identity
    /// `identity_id` (`None`: for an IAM user or role).
    pub fn bind_identity(&mut self, access_key: &str, identity_id: Option<&str>) -> IotResult<()> {
        check_key(access_key)?;
        if let Some(id) = identity_id
            && !crate::policies::is_cognito_identity(id)
        {
            return Err(IotError::invalid(format!(
                "'{id}' is not a Cognito identity id (region:uuid)"
            )));
        }
        let mut record = self.iam_record(access_key);
        record.identity_id = identity_id.map(str::to_string);
        self.commit(vec![Op::PutIam(record)])
    }

    /// The principal a SigV4 caller with `access_key` is in `region`: its IAM policies (or
    /// allow-all), and for a Cognito identity the IoT policies attached to the identity id,
    /// which must allow as well (none attached: nothing is allowed).
    pub fn iam_principal(&self, region: &str, access_key: &str) -> Principal {
        let record = self.iam_record(access_key);
        let mut policies: Vec<NamedPolicy> = record
            .policies
            .iter()
            .filter_map(|(name, text)| {
                let document = PolicyDocument::parse(text).ok()?;
                Some(NamedPolicy {
                    name: name.clone(),
                    version: "1".into(),
                    document,
                })
            })
            .collect();
        if record.policies.is_empty() {
            policies.push(Principal::iam_allow_all());
        }
        let id = record.identity_id.as_deref().unwrap_or(access_key);
        let mut principal = Principal::iam(region, &self.account, id, policies);
        principal.identity_policies = record
            .identity_id
            .as_deref()
            .map(|identity| self.named_policies_of(region, identity));
        principal
    }
}
