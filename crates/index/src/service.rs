//! The fleet index's state: each region's indexing configuration (durable, in the state
//! dir's store), each client's connectivity, heard from the broker's lifecycle events
//! (`$aws/events/presence/connected|disconnected/{clientId}`), and the live indexes
//! ([`crate::live`]), which hear the registry's events and the shadows' messages on the
//! service seam.

use crate::config::Config;
use crate::doc::Connectivity;
use iotmock_model::{IotError, IotResult};
use iotmock_session::{Reply, Service, ServiceRequest};
use iotmock_store::{Change, Read, Store, StoreError, load_with};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

const KIND_CONFIG: &str = "indexing";

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The fleet index of one mock.
pub struct IndexService {
    default_region: String,
    configs: Mutex<BTreeMap<String, Config>>,
    /// By (region, client id).
    connectivity: Mutex<BTreeMap<(String, String), Connectivity>>,
    store: Mutex<Box<dyn Store>>,
    pub(crate) live: Mutex<crate::live::Regions>,
    pub(crate) sources: std::sync::OnceLock<crate::live::Sources>,
}

impl IndexService {
    /// Deletes every indexing configuration and forgets the live indexes and connectivity
    /// (iotmock's reset).
    pub fn reset(&self) -> Result<(), StoreError> {
        iotmock_store::clear_shared(&self.store)?;
        self.configs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.connectivity
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.live.lock().unwrap_or_else(|p| p.into_inner()).clear();
        Ok(())
    }

    /// The configurations `store` kept; every index starts OFF otherwise.
    pub fn open(mut store: Box<dyn Store>, default_region: &str) -> Result<Self, StoreError> {
        let read = |row: &iotmock_store::Row| match row.kind.as_str() {
            KIND_CONFIG => serde_json::from_str::<Config>(&row.value)
                .map(|c| Read::Record((row.key.clone(), c)))
                .map_err(|e| e.to_string()),
            _ => Ok(Read::Skip),
        };
        let configs = load_with(&mut *store, "indexing", read)?
            .into_iter()
            .collect();
        Ok(Self {
            default_region: default_region.to_string(),
            configs: Mutex::new(configs),
            connectivity: Mutex::new(BTreeMap::new()),
            store: Mutex::new(store),
            live: Mutex::new(BTreeMap::new()),
            sources: std::sync::OnceLock::new(),
        })
    }

    /// The configuration of `region`.
    pub fn config(&self, region: &str) -> Config {
        lock(&self.configs).get(region).cloned().unwrap_or_default()
    }

    /// UpdateIndexingConfiguration: validated, stored, then in force.
    pub fn update(&self, region: &str, body: &Value) -> IotResult<Config> {
        let next = self
            .config(region)
            .updated(body)
            .map_err(|m| IotError::new(iotmock_model::ErrorCode::InvalidRequest, m))?;
        let value = serde_json::to_string(&next).map_err(|e| IotError::internal(e.to_string()))?;
        lock(&self.store)
            .commit(&[Change::Put {
                kind: KIND_CONFIG,
                key: region.to_string(),
                value,
            }])
            .map_err(|e| {
                IotError::internal(format!(
                    "the indexing configuration could not be written: {e}"
                ))
            })?;
        lock(&self.configs).insert(region.to_string(), next.clone());
        self.forget(region);
        Ok(next)
    }

    /// The connectivity of every client of `region` that connected since the mock started.
    pub fn connectivity(&self, region: &str) -> BTreeMap<String, Connectivity> {
        lock(&self.connectivity)
            .iter()
            .filter(|((r, _), _)| r == region)
            .map(|((_, c), v)| (c.clone(), v.clone()))
            .collect()
    }

    /// `client`'s connectivity in `region`, if it connected since the mock started.
    pub fn connectivity_of(&self, region: &str, client: &str) -> Option<Connectivity> {
        let key = (region.to_string(), client.to_string());
        lock(&self.connectivity).get(&key).cloned()
    }

    /// One lifecycle event: `connected` or `disconnected` with its reason.
    pub(crate) fn heard(&self, region: &str, topic: &str, payload: &[u8]) {
        let Ok(event) = serde_json::from_slice::<Value>(payload) else {
            return;
        };
        let Some(client) = event.get("clientId").and_then(Value::as_str) else {
            return;
        };
        let timestamp = event.get("timestamp").and_then(Value::as_i64).unwrap_or(0);
        let connected = topic.starts_with("$aws/events/presence/connected/");
        let reason = event.get("disconnectReason").and_then(Value::as_str);
        let key = (region.to_string(), client.to_string());
        let mut book = lock(&self.connectivity);
        let stale = book.get(&key).is_some_and(|c| {
            // The connection a takeover ended says so after its successor connected.
            c.timestamp > timestamp || (c.connected && reason == Some("DUPLICATE_CLIENTID"))
        });
        if stale {
            return;
        }
        book.insert(
            key,
            Connectivity {
                connected,
                timestamp,
                disconnect_reason: (!connected).then(|| reason.unwrap_or_default().to_string()),
            },
        );
        drop(book);
        self.connectivity_changed(region, client);
    }
}

impl Service for IndexService {
    fn name(&self) -> &'static str {
        "index"
    }

    fn filters(&self) -> Vec<String> {
        [
            "$aws/events/presence/connected/+",
            "$aws/events/presence/disconnected/+",
            "$aws/things/+/shadow/update/documents",
            "$aws/things/+/shadow/delete/accepted",
            "$aws/things/+/shadow/name/+/update/documents",
            "$aws/things/+/shadow/name/+/delete/accepted",
        ]
        .iter()
        .map(|f| (*f).to_string())
        .collect()
    }

    fn handle(&self, request: &ServiceRequest<'_>) -> Vec<Reply> {
        let region = request.region.unwrap_or(&self.default_region);
        match crate::sources::shadow_topic(request.topic) {
            Some(which) => self.shadow_changed(region, which, request.payload),
            None => self.heard(region, request.topic, request.payload),
        }
        Vec::new()
    }

    fn hears_registry(&self) -> bool {
        true
    }

    /// Lifecycle events and shadow documents are only heard: a search first waits for the
    /// index to take what it heard (a barrier), so no connection wakes the index's worker.
    fn hears_lazily(&self) -> bool {
        true
    }

    fn registry_changed(&self, events: &[iotmock_registry::RegistryEvent], _now_ms: i64) {
        self.registry_events(events);
    }
}
