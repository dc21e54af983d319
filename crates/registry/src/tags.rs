//! Tags: TagResource, UntagResource, ListTagsForResource, and `tags` on the create operations,
//! for the resources AWS lets you tag that the mock has (policies, thing groups, thing types,
//! CA certificates, provisioning templates and jobs; things have attributes instead). AWS's
//! limits: 50 tags, keys of 1-128 characters, values of up to 256, `aws:` reserved.

use crate::Registry;
use crate::records::Op;
use iotmock_model::{IotError, IotResult};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The most tags a resource carries.
pub const MAX_TAGS: usize = 50;

/// One resource's tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagRecord {
    pub region: String,
    pub arn: String,
    pub tags: BTreeMap<String, String>,
}

/// Tags given on a create operation, checked before anything is created.
pub fn check_tags(tags: &[(String, String)]) -> IotResult<()> {
    if tags.len() > MAX_TAGS {
        return Err(IotError::invalid(format!(
            "A resource has at most {MAX_TAGS} tags; {} were given",
            tags.len()
        )));
    }
    tags.iter().try_for_each(|(k, v)| check_tag(k, v))
}

fn check_tag(key: &str, value: &str) -> IotResult<()> {
    if key.is_empty() || key.chars().count() > 128 {
        return Err(IotError::invalid(format!(
            "Tag key '{key}' must be 1 to 128 characters"
        )));
    }
    if value.chars().count() > 256 {
        return Err(IotError::invalid(format!(
            "The value of tag '{key}' must be at most 256 characters"
        )));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(IotError::invalid(format!(
            "Tag key '{key}' uses the reserved prefix aws:"
        )));
    }
    Ok(())
}

impl Registry {
    /// The resource a taggable ARN of this account and region names: `(kind, name)`, after
    /// checking it exists. Jobs are checked by the caller (the jobs service holds them).
    fn taggable(&self, region: &str, arn: &str) -> IotResult<(String, String)> {
        let prefix = format!("arn:aws:iot:{region}:{}:", self.account());
        let Some((kind, name)) = arn.strip_prefix(&prefix).and_then(|r| r.split_once('/')) else {
            return Err(IotError::invalid(format!(
                "{arn} is not the ARN of a resource of this account and region"
            )));
        };
        let state = self.state(region);
        let exists = match kind {
            "policy" => state.policies.contains_key(name),
            "thinggroup" => state.groups.contains_key(name),
            "thingtype" => state.types.contains_key(name),
            "cacert" => state.cas.contains_key(name),
            "provisioningtemplate" => state.templates.contains_key(name),
            "job" | "authorizer" => true,
            _ => {
                return Err(IotError::invalid(format!(
                    "Resources of type {kind} cannot be tagged"
                )));
            }
        };
        if !exists {
            return Err(IotError::not_found(format!(
                "The resource {arn} does not exist"
            )));
        }
        Ok((kind.to_string(), name.to_string()))
    }

    /// TagResource: adds or replaces these tags.
    pub fn tag_resource(
        &mut self,
        region: &str,
        arn: &str,
        tags: &[(String, String)],
    ) -> IotResult<()> {
        self.taggable(region, arn)?;
        let mut all = self.tags_of(region, arn);
        for (k, v) in tags {
            check_tag(k, v)?;
            all.insert(k.clone(), v.clone());
        }
        if all.len() > MAX_TAGS {
            return Err(IotError::invalid(format!(
                "A resource has at most {MAX_TAGS} tags; this would make {}",
                all.len()
            )));
        }
        let record = TagRecord {
            region: region.to_string(),
            arn: arn.to_string(),
            tags: all,
        };
        self.commit(vec![Op::PutTags(record)])
    }

    /// UntagResource.
    pub fn untag_resource(&mut self, region: &str, arn: &str, keys: &[String]) -> IotResult<()> {
        self.taggable(region, arn)?;
        let mut all = self.tags_of(region, arn);
        all.retain(|k, _| !keys.contains(k));
        let record = TagRecord {
            region: region.to_string(),
            arn: arn.to_string(),
            tags: all,
        };
        self.commit(vec![Op::PutTags(record)])
    }

    /// ListTagsForResource.
    pub fn list_tags(&self, region: &str, arn: &str) -> IotResult<BTreeMap<String, String>> {
        self.taggable(region, arn)?;
        Ok(self.tags_of(region, arn))
    }

    pub(crate) fn tags_of(&self, region: &str, arn: &str) -> BTreeMap<String, String> {
        self.state(region)
            .tags
            .get(arn)
            .cloned()
            .unwrap_or_default()
    }

    /// The op that forgets a deleted resource's tags.
    pub(crate) fn untag_all(&self, region: &str, arn: &str) -> Op {
        Op::DelTags {
            region: region.to_string(),
            arn: arn.to_string(),
        }
    }
}
