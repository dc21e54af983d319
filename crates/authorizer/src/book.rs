//! The account's custom authorizers and each region's default authorizer (the default domain
//! configuration's `authorizerConfig`), kept in a [`Store`] (the state dir's
//! `authorizers.db`): every change is on disk before it is answered.

use crate::record::{AuthorizerRecord, Fields, Status};
use iotmock_model::{ErrorCode, IotError, IotResult};
use iotmock_store::{Change, Read, Store, StoreError, load_with};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Mutex;

const KIND_AUTHORIZER: &str = "authorizer";
const KIND_DOMAIN: &str = "authorizer-config";

/// The default domain configuration's `authorizerConfig` in one region.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainAuth {
    pub region: String,
    pub default_authorizer: Option<String>,
    /// Whether a client may name another authorizer than the default (AWS's default: yes).
    #[serde(default = "yes")]
    pub allow_override: bool,
}

fn yes() -> bool {
    true
}

enum Loaded {
    Authorizer(AuthorizerRecord),
    Domain(DomainAuth),
}

/// Custom authorizers by (region, name), and each region's default.
pub struct AuthorizerBook {
    authorizers: BTreeMap<(String, String), AuthorizerRecord>,
    domains: BTreeMap<String, DomainAuth>,
    /// Behind a mutex so the book can be shared between threads (a store is `Send` only).
    store: Mutex<Box<dyn Store>>,
    /// Whether DeleteAuthorizer takes an ACTIVE authorizer (AWS asks for INACTIVE first).
    pub delete_active: bool,
    /// What lifecycle events name a custom-auth connection by (AWS does not document it).
    pub event_principal: EventPrincipal,
}

/// A custom-auth connection's `principalIdentifier` in lifecycle events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventPrincipal {
    /// `{authorizerName}:{principalId}`.
    #[default]
    AuthorizerAndPrincipal,
    /// The function's `principalId` alone.
    Principal,
}

impl EventPrincipal {
    pub fn of(self, authorizer: &str, principal_id: &str) -> String {
        match self {
            EventPrincipal::AuthorizerAndPrincipal => format!("{authorizer}:{principal_id}"),
            EventPrincipal::Principal => principal_id.to_string(),
        }
    }
}

fn key(region: &str, name: &str) -> (String, String) {
    (region.to_string(), name.to_string())
}

fn store_error(e: StoreError) -> IotError {
    IotError::internal(format!("the authorizers could not be written: {e}"))
}

impl AuthorizerBook {
    /// Deletes every authorizer and domain setting, in the store and in memory (iotmock's
    /// reset).
    pub fn reset(&mut self) -> Result<(), iotmock_store::StoreError> {
        iotmock_store::clear_shared(&self.store)?;
        self.authorizers.clear();
        self.domains.clear();
        Ok(())
    }

    /// The authorizers `store` kept.
    pub fn open(mut store: Box<dyn Store>) -> Result<Self, StoreError> {
        let read = |row: &iotmock_store::Row| match row.kind.as_str() {
            KIND_AUTHORIZER => serde_json::from_str(&row.value)
                .map(|r| Read::Record(Loaded::Authorizer(r)))
                .map_err(|e| e.to_string()),
            KIND_DOMAIN => serde_json::from_str(&row.value)
                .map(|d| Read::Record(Loaded::Domain(d)))
                .map_err(|e| e.to_string()),
            _ => Ok(Read::Skip),
        };
        let (mut authorizers, mut domains) = (BTreeMap::new(), BTreeMap::new());
        for loaded in load_with(&mut *store, "authorizers", read)? {
            match loaded {
                Loaded::Authorizer(a) => {
                    authorizers.insert(key(&a.region, &a.name), a);
                }
                Loaded::Domain(d) => {
                    domains.insert(d.region.clone(), d);
                }
            }
        }
        Ok(Self {
            authorizers,
            domains,
            store: Mutex::new(store),
            delete_active: false,
            event_principal: EventPrincipal::default(),
        })
    }

    fn put(&mut self, record: AuthorizerRecord) -> IotResult<&AuthorizerRecord> {
        let value =
            serde_json::to_string(&record).map_err(|e| IotError::internal(e.to_string()))?;
        let k = key(&record.region, &record.name);
        self.store
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .commit(&[Change::Put {
                kind: KIND_AUTHORIZER,
                key: format!("{}\n{}", k.0, k.1),
                value,
            }])
            .map_err(store_error)?;
        Ok(self.authorizers.entry(k).insert_entry(record).into_mut())
    }

    fn put_domain(&mut self, d: DomainAuth) -> IotResult<()> {
        let value = serde_json::to_string(&d).map_err(|e| IotError::internal(e.to_string()))?;
        self.store
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .commit(&[Change::Put {
                kind: KIND_DOMAIN,
                key: d.region.clone(),
                value,
            }])
            .map_err(store_error)?;
        self.domains.insert(d.region.clone(), d);
        Ok(())
    }

    /// The authorizer `name` of `region`.
    pub fn get(&self, region: &str, name: &str) -> IotResult<&AuthorizerRecord> {
        self.authorizers
            .get(&key(region, name))
            .ok_or_else(|| IotError::not_found(format!("Authorizer {name} does not exist")))
    }

    /// CreateAuthorizer.
    pub fn create(
        &mut self,
        region: &str,
        name: &str,
        arn: String,
        fields: Fields,
        now: i64,
    ) -> IotResult<&AuthorizerRecord> {
        crate::record::check_name(name)?;
        if let Some(found) = self.authorizers.get(&key(region, name)) {
            return Err(IotError::already_exists(
                format!("Authorizer {name} already exists"),
                name,
                &found.arn,
            ));
        }
        let record = AuthorizerRecord::create(region, name, arn, fields, now)?;
        self.put(record)
    }

    /// UpdateAuthorizer.
    pub fn update(
        &mut self,
        region: &str,
        name: &str,
        fields: Fields,
        now: i64,
    ) -> IotResult<&AuthorizerRecord> {
        let next = self.get(region, name)?.update(fields, now)?;
        self.put(next)
    }

    /// DeleteAuthorizer: refused while it is a default, or ACTIVE (unless allowed).
    pub fn delete(&mut self, region: &str, name: &str) -> IotResult<()> {
        let record = self.get(region, name)?;
        if self.default_name(region) == Some(name) {
            return Err(IotError::new(
                ErrorCode::DeleteConflict,
                format!(
                    "Authorizer {name} is attached to one or more resources: it is the default authorizer of the domain configuration iot:Data-ATS"
                ),
            ));
        }
        if record.status == Status::Active && !self.delete_active {
            return Err(IotError::new(
                ErrorCode::DeleteConflict,
                format!(
                    "Authorizer {name} is ACTIVE; set its status to INACTIVE before deleting it"
                ),
            ));
        }
        self.store
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .commit(&[Change::Delete {
                kind: KIND_AUTHORIZER,
                key: format!("{region}\n{name}"),
            }])
            .map_err(store_error)?;
        self.authorizers.remove(&key(region, name));
        Ok(())
    }

    /// The authorizers of `region`, by name.
    pub fn list(&self, region: &str) -> impl Iterator<Item = &AuthorizerRecord> {
        self.authorizers
            .values()
            .filter(move |a| a.region == region)
    }

    /// The default domain configuration's `authorizerConfig` in `region`.
    pub fn domain(&self, region: &str) -> DomainAuth {
        self.domains.get(region).cloned().unwrap_or(DomainAuth {
            region: region.to_string(),
            default_authorizer: None,
            allow_override: true,
        })
    }

    pub fn default_name(&self, region: &str) -> Option<&str> {
        self.domains
            .get(region)
            .and_then(|d| d.default_authorizer.as_deref())
    }

    /// SetDefaultAuthorizer: the authorizer must exist and not be the default already.
    pub fn set_default(&mut self, region: &str, name: &str) -> IotResult<&AuthorizerRecord> {
        let arn = self.get(region, name)?.arn.clone();
        if self.default_name(region) == Some(name) {
            return Err(IotError::already_exists(
                format!("Authorizer {name} is already the default authorizer"),
                name,
                &arn,
            ));
        }
        let mut domain = self.domain(region);
        domain.default_authorizer = Some(name.to_string());
        self.put_domain(domain)?;
        self.get(region, name)
    }

    /// UpdateDomainConfiguration's `authorizerConfig` (each member optional).
    pub fn set_domain_auth(
        &mut self,
        region: &str,
        default_authorizer: Option<Option<String>>,
        allow_override: Option<bool>,
    ) -> IotResult<()> {
        let mut domain = self.domain(region);
        if let Some(name) = default_authorizer {
            if let Some(n) = &name {
                self.get(region, n)?;
            }
            domain.default_authorizer = name;
        }
        if let Some(allow) = allow_override {
            domain.allow_override = allow;
        }
        self.put_domain(domain)
    }

    /// Whether an HTTP request carries custom-auth credentials: it names an authorizer, signs
    /// a token, or carries the default authorizer's token.
    pub fn claims(&self, region: &str, presented: &crate::Presented) -> bool {
        if presented.authorizer_name().is_some()
            || presented.value(crate::presented::SIGNATURE_KEY).is_some()
        {
            return true;
        }
        let default = self
            .default_name(region)
            .and_then(|n| self.get(region, n).ok());
        default
            .and_then(|d| d.token_key_name.as_deref())
            .is_some_and(|k| presented.value(k).is_some())
    }

    /// The authorizer a connection uses: the one it names (when the domain lets a client
    /// override the default) or else the default. `Err` says why there is none to use.
    pub fn pick(&self, region: &str, named: Option<&str>) -> Result<&AuthorizerRecord, String> {
        let domain = self.domain(region);
        let name = match (named, domain.allow_override) {
            (Some(n), true) => n.to_string(),
            (_, _) => domain.default_authorizer.ok_or_else(|| match named {
                Some(n) => format!("the connection names authorizer {n}, but the domain configuration does not allow overriding its default and has none"),
                None => "the connection names no authorizer (x-amz-customauthorizer-name) and no default authorizer is set".to_string(),
            })?,
        };
        let record = self
            .get(region, &name)
            .map_err(|_| format!("authorizer {name} does not exist"))?;
        if record.status == Status::Inactive {
            return Err(format!("authorizer {name} is INACTIVE"));
        }
        Ok(record)
    }
}
