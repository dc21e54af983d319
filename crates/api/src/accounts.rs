//! The AWS accounts one mock serves. The default account is the one the broker admits devices
//! of; other accounts hold registry resources only (certificates, policies, things...) and exist
//! once configured or once named as a certificate transfer's target. A request signed with an
//! access key id equal to an existing account's id acts as that account; every other request
//! acts as the default account.

use iotmock_model::{IotError, IotResult};
use iotmock_registry::Registry;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

pub type SharedRegistry = Arc<RwLock<Registry>>;

/// Opens (or creates) the registry of another account.
pub type Opener = Arc<dyn Fn(&str) -> IotResult<Registry> + Send + Sync>;

pub struct Accounts {
    default_id: String,
    default: SharedRegistry,
    others: Mutex<BTreeMap<String, SharedRegistry>>,
    opener: Option<Opener>,
}

impl Accounts {
    /// Only the default account: transfers to other accounts are refused.
    pub fn single(default: SharedRegistry) -> Self {
        let default_id = default.read().map_or_else(
            |poisoned| poisoned.into_inner().account().to_string(),
            |r| r.account().to_string(),
        );
        Self {
            default_id,
            default,
            others: Mutex::new(BTreeMap::new()),
            opener: None,
        }
    }

    /// The default account, plus others opened through `opener` when first named.
    pub fn with_opener(default: SharedRegistry, opener: Opener) -> Self {
        Self {
            opener: Some(opener),
            ..Self::single(default)
        }
    }

    pub fn default_id(&self) -> &str {
        &self.default_id
    }

    pub fn default_registry(&self) -> &SharedRegistry {
        &self.default
    }

    fn others(&self) -> IotResult<std::sync::MutexGuard<'_, BTreeMap<String, SharedRegistry>>> {
        self.others
            .lock()
            .map_err(|_| IotError::internal("account table lock poisoned"))
    }

    /// The registry of `id` if that account exists on this mock.
    pub fn existing(&self, id: &str) -> Option<SharedRegistry> {
        if id == self.default_id {
            return Some(self.default.clone());
        }
        self.others().ok()?.get(id).cloned()
    }

    /// The registry of `id`, creating the account if it does not exist yet.
    pub fn open(&self, id: &str) -> IotResult<SharedRegistry> {
        if let Some(found) = self.existing(id) {
            return Ok(found);
        }
        let opener = self.opener.as_ref().ok_or_else(|| {
            IotError::invalid(format!(
                "This mock serves only account {}; account {id} is not available",
                self.default_id
            ))
        })?;
        let registry = Arc::new(RwLock::new(opener(id)?));
        let mut others = self.others()?;
        Ok(others.entry(id.to_string()).or_insert(registry).clone())
    }

    /// Every account, the default first.
    pub fn all(&self) -> Vec<(String, SharedRegistry)> {
        let mut out = vec![(self.default_id.clone(), self.default.clone())];
        if let Ok(others) = self.others() {
            out.extend(others.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        out
    }
}
