//! Things and their principals: CreateThing (idempotent), DescribeThing, ListThings,
//! UpdateThing, DeleteThing, Attach/DetachThingPrincipal, ListThingPrincipals,
//! ListPrincipalThings; and DescribeEndpoint.

use crate::paging::{Page, PageRequest, paginate};
use crate::records::{Op, ThingPrincipal, ThingRecord};
use crate::{Registry, random_uuid, validate};
use iotmock_model::{Arn, ErrorCode, IotError, IotResult};
use std::collections::BTreeMap;

/// Attributes a thing without a thing type may carry.
const MAX_UNTYPED_ATTRIBUTES: usize = 3;

#[derive(Debug, Clone, Default)]
pub struct CreateThing {
    pub type_name: Option<String>,
    pub attributes: Option<BTreeMap<String, String>>,
    pub billing_group: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct UpdateThing {
    pub type_name: Option<String>,
    pub attributes: Option<BTreeMap<String, String>>,
    pub merge: bool,
    pub expected_version: Option<i64>,
    pub remove_thing_type: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ThingQuery {
    pub attribute_name: Option<String>,
    pub attribute_value: Option<String>,
    pub type_name: Option<String>,
    pub use_prefix_attribute_value: bool,
}

impl ThingQuery {
    fn matches(&self, t: &ThingRecord) -> bool {
        let type_ok = self.type_name.is_none() || t.type_name == self.type_name;
        let attr_ok = match (&self.attribute_name, &self.attribute_value) {
            (Some(k), Some(v)) => t.attributes.get(k).is_some_and(|have| {
                if self.use_prefix_attribute_value {
                    have.starts_with(v.as_str())
                } else {
                    have == v
                }
            }),
            (Some(k), None) => t.attributes.contains_key(k),
            _ => true,
        };
        type_ok && attr_ok
    }
}

fn check_attributes(attrs: &BTreeMap<String, String>, typed: bool) -> IotResult<()> {
    for (k, v) in attrs {
        validate::attribute(k, v)?;
    }
    if !typed && attrs.len() > MAX_UNTYPED_ATTRIBUTES {
        return Err(IotError::invalid(format!(
            "A thing without a thing type can have at most {MAX_UNTYPED_ATTRIBUTES} attributes ({} given)",
            attrs.len()
        )));
    }
    Ok(())
}

impl Registry {
    /// DescribeThing.
    pub fn describe_thing(&self, region: &str, name: &str) -> IotResult<&ThingRecord> {
        validate::thing_name("thingName", name)?;
        self.state(region)
            .things
            .get(name)
            .ok_or_else(|| IotError::not_found(format!("Thing {name} cannot be found")))
    }

    /// CreateThing: same name and configuration returns the existing thing.
    pub fn create_thing(
        &mut self,
        region: &str,
        name: &str,
        req: CreateThing,
    ) -> IotResult<ThingRecord> {
        validate::thing_name("thingName", name)?;
        if let Some(t) = &req.type_name {
            self.usable_type(region, t)?;
        }
        if let Some(b) = &req.billing_group {
            validate::thing_name("billingGroupName", b)?;
            return Err(IotError::not_found(format!(
                "Billing group {b} does not exist"
            )));
        }
        let attributes = req.attributes.unwrap_or_default();
        check_attributes(&attributes, req.type_name.is_some())?;
        if let Some(existing) = self.state(region).things.get(name) {
            if existing.attributes == attributes
                && existing.type_name == req.type_name
                && existing.billing_group.is_none()
            {
                return Ok(existing.clone());
            }
            return Err(IotError::already_exists(
                format!("Thing {name} already exists in account with different attributes"),
                &existing.id,
                &self.arn(region).thing(name),
            ));
        }
        let record = ThingRecord {
            region: region.to_string(),
            name: name.to_string(),
            id: random_uuid(),
            type_name: req.type_name.clone(),
            billing_group: None,
            attributes,
            version: 1,
            created: self.now(),
        };
        self.commit(vec![Op::PutThing(record.clone())])?;
        Ok(record)
    }

    /// ListThings, by name, with the attribute and type filters.
    pub fn list_things(
        &self,
        region: &str,
        query: &ThingQuery,
        req: &PageRequest,
    ) -> IotResult<Page<&ThingRecord>> {
        let items = self
            .state(region)
            .things
            .values()
            .filter(|t| query.matches(t))
            .map(|t| (t.name.clone(), t))
            .collect();
        paginate(items, req, true, "maxResults")
    }

    /// UpdateThing: merge or replace attributes ("" removes one), optimistic version check.
    pub fn update_thing(&mut self, region: &str, name: &str, req: UpdateThing) -> IotResult<()> {
        let mut thing = self.describe_thing(region, name)?.clone();
        check_version(&thing, req.expected_version)?;
        if let Some(t) = &req.type_name {
            self.usable_type(region, t)?;
            thing.type_name = Some(t.clone());
        }
        if req.remove_thing_type {
            thing.type_name = None;
        }
        if let Some(attrs) = req.attributes {
            if !req.merge {
                thing.attributes.clear();
            }
            for (k, v) in attrs {
                if v.is_empty() {
                    thing.attributes.remove(&k);
                } else {
                    thing.attributes.insert(k, v);
                }
            }
            check_attributes(&thing.attributes, thing.type_name.is_some())?;
        }
        thing.version += 1;
        self.commit(vec![Op::PutThing(thing)])
    }

    /// DeleteThing: a missing thing is a success; attached principals are not.
    pub fn delete_thing(
        &mut self,
        region: &str,
        name: &str,
        expected_version: Option<i64>,
    ) -> IotResult<()> {
        validate::thing_name("thingName", name)?;
        let Some(thing) = self.state(region).things.get(name) else {
            return Ok(());
        };
        check_version(thing, expected_version)?;
        if !self.state(region).principals_of(name).is_empty() {
            return Err(IotError::invalid(format!(
                "Cannot delete. Thing {name} is still attached to one or more principals"
            )));
        }
        self.commit(vec![Op::DelThing {
            region: region.to_string(),
            name: name.to_string(),
        }])
    }

    fn check_principal(&self, region: &str, principal: &str) -> IotResult<()> {
        let principal = validate::required("principal", Some(principal))?;
        match Arn::parse_cert(principal) {
            Some((r, id)) if r == region && self.state(region).certs.contains_key(id) => Ok(()),
            Some(_) => Err(IotError::not_found(format!(
                "The principal {principal} does not exist"
            ))),
            None => Err(IotError::invalid(format!(
                "The principal {principal} is not a certificate ARN"
            ))),
        }
    }

    /// AttachThingPrincipal; EXCLUSIVE_THING binds the principal to this thing only.
    pub fn attach_thing_principal(
        &mut self,
        region: &str,
        thing: &str,
        principal: &str,
        kind: Option<&str>,
    ) -> IotResult<()> {
        let exclusive = match kind {
            None | Some("") | Some("NON_EXCLUSIVE_THING") => false,
            Some("EXCLUSIVE_THING") => true,
            Some(other) => {
                return Err(IotError::invalid(format!(
                    "Value '{other}' is not a valid ThingPrincipalType; valid values: EXCLUSIVE_THING NON_EXCLUSIVE_THING"
                )));
            }
        };
        self.describe_thing(region, thing)?;
        self.check_principal(region, principal)?;
        let others: Vec<_> = self
            .state(region)
            .things_of(principal)
            .into_iter()
            .filter(|(t, _)| t != thing)
            .collect();
        if others.iter().any(|(_, ex)| *ex) || (exclusive && !others.is_empty()) {
            return Err(IotError::invalid(format!(
                "Principal {principal} is exclusively attached to another thing or cannot be attached exclusively"
            )));
        }
        self.commit(vec![Op::AttachThing(ThingPrincipal {
            region: region.to_string(),
            thing: thing.to_string(),
            principal: principal.to_string(),
            exclusive,
        })])
    }

    /// DetachThingPrincipal (synchronous here; AWS takes seconds).
    pub fn detach_thing_principal(
        &mut self,
        region: &str,
        thing: &str,
        principal: &str,
    ) -> IotResult<()> {
        self.describe_thing(region, thing)?;
        validate::required("principal", Some(principal))?;
        let key = (thing.to_string(), principal.to_string());
        let Some(exclusive) = self.state(region).thing_principals.get(&key).copied() else {
            return Ok(());
        };
        self.commit(vec![Op::DetachThing(ThingPrincipal {
            region: region.to_string(),
            thing: key.0,
            principal: key.1,
            exclusive,
        })])
    }

    /// ListThingPrincipals.
    pub fn list_thing_principals(
        &self,
        region: &str,
        thing: &str,
        req: &PageRequest,
    ) -> IotResult<Page<String>> {
        validate::thing_name("thingName", thing)?;
        if !self.state(region).things.contains_key(thing) {
            return Err(IotError::not_found(format!(
                "Failed to list principals for thing {thing} because the thing does not exist in your account"
            )));
        }
        let items = self
            .state(region)
            .principals_of(thing)
            .into_iter()
            .map(|p| (p.clone(), p))
            .collect();
        paginate(items, req, true, "maxResults")
    }

    /// ListThingPrincipalsV2: each principal with whether it is attached exclusively, of one
    /// attachment type when `exclusive` is given.
    pub fn list_thing_principals_v2(
        &self,
        region: &str,
        thing: &str,
        exclusive: Option<bool>,
        req: &PageRequest,
    ) -> IotResult<Page<(String, bool)>> {
        self.list_thing_principals(region, thing, &PageRequest::default())?;
        let state = self.state(region);
        let items = state
            .thing_principals
            .iter()
            .filter(|((t, _), e)| t == thing && exclusive.is_none_or(|want| want == **e))
            .map(|((_, p), e)| (p.clone(), (p.clone(), *e)))
            .collect();
        paginate(items, req, true, "maxResults")
    }

    /// ListPrincipalThingsV2: each thing with whether the principal is attached to it
    /// exclusively, of one attachment type when `exclusive` is given.
    pub fn list_principal_things_v2(
        &self,
        region: &str,
        principal: &str,
        exclusive: Option<bool>,
        req: &PageRequest,
    ) -> IotResult<Page<(String, bool)>> {
        self.check_principal(region, principal)?;
        let items = self
            .state(region)
            .things_of(principal)
            .into_iter()
            .filter(|(_, e)| exclusive.is_none_or(|want| want == *e))
            .map(|(t, e)| (t.clone(), (t, e)))
            .collect();
        paginate(items, req, true, "maxResults")
    }

    /// ListPrincipalThings.
    pub fn list_principal_things(
        &self,
        region: &str,
        principal: &str,
        req: &PageRequest,
    ) -> IotResult<Page<String>> {
        self.check_principal(region, principal)?;
        let items = self
            .state(region)
            .things_of(principal)
            .into_iter()
            .map(|(t, _)| (t.clone(), t))
            .collect();
        paginate(items, req, true, "maxResults")
    }

    /// DescribeEndpoint: a stable address per endpoint type.
    pub fn describe_endpoint(
        &self,
        region: &str,
        endpoint_type: Option<&str>,
    ) -> IotResult<String> {
        let kind = endpoint_type
            .filter(|t| !t.is_empty())
            .unwrap_or("iot:Data");
        let suffix = match kind {
            "iot:Data-ATS" => "-ats.iot",
            "iot:Data" if self.endpoint.legacy_data_endpoint => ".iot",
            "iot:CredentialProvider" => ".credentials.iot",
            "iot:Jobs" => ".jobs.iot",
            "iot:Data" => {
                return Err(IotError::invalid(
                    "The legacy iot:Data endpoint is not available for this account; use iot:Data-ATS",
                ));
            }
            other => {
                return Err(IotError::invalid(format!(
                    "Endpoint type {other} not recognized."
                )));
            }
        };
        Ok(match &self.endpoint.domain {
            Some(domain) => format!("{}{suffix}.{region}.{domain}", self.endpoint_prefix()),
            None => self.endpoint.host.clone(),
        })
    }

    /// 14 lowercase alphanumerics derived from the account id: the same on every run.
    pub fn endpoint_prefix(&self) -> String {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, self.account.as_bytes());
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        digest.as_ref()[..14]
            .iter()
            .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
            .collect()
    }
}

fn check_version(thing: &ThingRecord, expected: Option<i64>) -> IotResult<()> {
    match expected {
        Some(v) if v != thing.version => Err(IotError::new(
            ErrorCode::VersionConflict,
            format!(
                "The version for thing {} does not match the expected version (expected {v}, current {})",
                thing.name, thing.version
            ),
        )),
        _ => Ok(()),
    }
}
