//! The AWS IoT registry core: CA certificates, device certificates, policies and their
//! versions, things, and the attachments between them, with the rules AWS enforces on each.
//! No sockets and no async: the API and broker adapters call in, the clock is injected, and
//! records are written through a [`Store`] before memory changes, so a call that returns Ok has
//! been committed.

mod announce;
mod cas;
mod certs;
pub mod claims;
mod events;
mod groups;
mod iam;
mod jitp;
mod paging;
mod policies;
mod principal;
mod provision;
mod records;
mod reset;
mod tags;
mod templates;
mod things;
mod transfer;
mod types;
mod validate;

pub use cas::RegisterCa;
pub use certs::{CreatedKeys, Registered, mint_keys};
pub use events::RegistryEvent;
pub use iam::{IAM_SCOPE, IamKeyRecord};
pub use iotmock_model::{Clock, ManualClock, SystemClock};
pub use iotmock_store::{Change, MemoryStore, Row, Store, StoreError};
pub use paging::{Page, PageRequest, paginate};
pub use policies::{CreatedPolicy, CreatedVersion};
pub use principal::{AttachedThing, AutoRegistered, IAM_ALLOW_ALL, Principal};
pub use provision::{Provisioned, issue_for_provisioning};
pub use records::{
    CaRecord, CertRecord, PolicyRecord, PolicyVersion, RegionState, ThingGroupRecord, ThingRecord,
    ThingTypeRecord, TransferRecord,
};
pub use tags::{MAX_TAGS, TagRecord, check_tags};
pub use templates::{
    MAX_TEMPLATE_VERSIONS, NewTemplate, TemplateRecord, TemplateUpdate, TemplateVersion, check_body,
};
pub use things::{CreateThing, ThingQuery, UpdateThing};
pub use transfer::{check_cert_id, is_account_id, transfer_completed};

use iotmock_model::{Arn, EpochMillis, IotError, IotResult};
use iotmock_pki::MockCa;
use records::Op;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// How DescribeEndpoint names the data endpoints.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// Returned for every endpoint type when `domain` is unset (default `localhost`).
    pub host: String,
    /// When set, AWS-shaped names under this domain: `{prefix}-ats.iot.{region}.{domain}`.
    pub domain: Option<String>,
    /// Whether the legacy `iot:Data` type (the default without `endpointType`) is answered.
    pub legacy_data_endpoint: bool,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            host: "localhost".into(),
            domain: None,
            legacy_data_endpoint: true,
        }
    }
}

/// Called after every commit with the new generation and what the commit touched.
pub type ChangeHook = Arc<dyn Fn(u64, &[RegistryEvent]) + Send + Sync>;

/// The registry of one account across regions.
pub struct Registry {
    account: String,
    endpoint: EndpointConfig,
    regions: BTreeMap<String, RegionState>,
    store: Mutex<Box<dyn Store>>,
    clock: Arc<dyn Clock>,
    ca: Arc<MockCa>,
    generation: u64,
    hooks: Vec<ChangeHook>,
    /// Whether JITR registers certificates of SNI_ONLY CAs (AWS does not say; off).
    jitr_sni_only: bool,
}

impl Registry {
    /// Opens the registry over `store`, loading every record it holds.
    pub fn open(
        account: &str,
        endpoint: EndpointConfig,
        mut store: Box<dyn Store>,
        clock: Arc<dyn Clock>,
        ca: Arc<MockCa>,
    ) -> Result<Self, StoreError> {
        let mut regions = BTreeMap::new();
        let read = |r: &Row| {
            let op = Op::from_stored(&r.kind, &r.value).map_err(|e| e.to_string())?;
            Ok(iotmock_store::Read::Record(op))
        };
        for op in iotmock_store::load_with(&mut *store, "registry", read)? {
            op.apply(&mut regions);
        }
        Ok(Self {
            account: account.to_string(),
            endpoint,
            regions,
            store: Mutex::new(store),
            clock,
            ca,
            generation: 0,
            jitr_sni_only: false,
            hooks: Vec::new(),
        })
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    /// The mock root CA that signs AWS-issued certificates.
    pub fn mock_ca(&self) -> &MockCa {
        &self.ca
    }

    /// The clock reading now, in milliseconds.
    pub fn now_millis(&self) -> EpochMillis {
        self.clock.now_millis()
    }

    /// The mock root and the time now, to mint keys without holding the registry.
    pub fn issuer(&self) -> (Arc<MockCa>, i64) {
        (self.ca.clone(), self.now_secs())
    }

    /// Bumped by every committed change; lets readers notice that trust may have changed.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Read access to one region (empty if nothing was ever created there).
    pub fn region(&self, region: &str) -> Option<&RegionState> {
        self.regions.get(region)
    }

    pub fn regions(&self) -> impl Iterator<Item = (&String, &RegionState)> {
        self.regions.iter()
    }

    fn state(&self, region: &str) -> &RegionState {
        static EMPTY: std::sync::OnceLock<RegionState> = std::sync::OnceLock::new();
        self.regions
            .get(region)
            .unwrap_or_else(|| EMPTY.get_or_init(RegionState::default))
    }

    fn arn<'a>(&'a self, region: &'a str) -> Arn<'a> {
        Arn::new(region, &self.account)
    }

    /// Whether JITR (and so JITP) registers certificates issued by SNI_ONLY CAs. AWS documents
    /// JITR for CAs in DEFAULT mode only; off unless set.
    pub fn set_jitr_sni_only(&mut self, on: bool) {
        self.jitr_sni_only = on;
    }

    fn now(&self) -> EpochMillis {
        self.clock.now_millis()
    }

    fn now_secs(&self) -> i64 {
        self.now().div_euclid(1000)
    }

    /// Writes `ops` to the store, then to memory. Nothing changes if the store refuses.
    fn commit(&mut self, ops: Vec<Op>) -> IotResult<()> {
        let changes: Vec<_> = ops.iter().map(Op::to_change).collect();
        let mut store = self
            .store
            .lock()
            .map_err(|_| IotError::internal("registry store lock poisoned"))?;
        store.commit(&changes).map_err(|e| {
            tracing::error!(error = %e, "registry change not committed");
            stored_error(&e)
        })?;
        drop(store);
        let mut events: Vec<RegistryEvent> =
            ops.iter().flat_map(|op| op.events(&self.account)).collect();
        let before = announce::Before {
            account: &self.account,
            now_ms: self.now(),
            regions: &self.regions,
        };
        events.extend(ops.iter().flat_map(|op| before.of(op)));
        for op in ops {
            op.apply(&mut self.regions);
        }
        self.generation += 1;
        for hook in &self.hooks {
            hook(self.generation, &events);
        }
        Ok(())
    }
}

/// A certificate that cannot be read, as AWS refuses it: CertificateValidationException.
pub(crate) fn invalid_cert(e: iotmock_pki::PkiError) -> IotError {
    IotError::cert_validation(e.to_string())
}

/// Lowercase hex of `n` random bytes.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    // aws-lc's system RNG does not fail on supported platforms; zeros would still be unique enough
    // to keep the registry consistent, so a failure is not propagated.
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    hex::encode(bytes)
}

/// A random (version 4) UUID string (request ids, generation ids, session identifiers).
pub fn random_uuid() -> String {
    let mut bytes = [0u8; 16];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

#[cfg(test)]
mod tests;

/// A change the store refused, as AWS-style errors: a read-only state dir is a 503 (the
/// service cannot take writes now), anything else (a full disk) a 500.
pub fn stored_error(e: &iotmock_store::StoreError) -> IotError {
    match e.fault {
        iotmock_store::Fault::ReadOnly => IotError::new(
            iotmock_model::ErrorCode::ServiceUnavailable,
            format!(
                "The state dir is read-only; the change was not stored ({})",
                e.message
            ),
        ),
        _ => IotError::internal(format!("The change could not be stored: {e}")),
    }
}
