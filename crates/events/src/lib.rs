//! Registry events, with no I/O: which event types each region enabled
//! (UpdateEventConfigurations, all off by default, kept in the state dir's store), and the
//! publishing of the registry's announcements ([`RegistryEvent::Announced`]) of the enabled
//! types through the service seam. Lifecycle events (`$aws/events/presence/...`) are always on
//! and are not governed here.

use bytes::Bytes;
use iotmock_model::{ErrorCode, IotError, IotResult};
use iotmock_mqtt::Publish;
use iotmock_registry::RegistryEvent;
use iotmock_session::{Outbox, Outlet, Reply, Service, ServiceRequest};
use iotmock_store::{Change, Read, Store, StoreError, load_with};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// The event types of UpdateEventConfigurations.
pub const EVENT_TYPES: [&str; 11] = [
    "THING",
    "THING_GROUP",
    "THING_TYPE",
    "THING_GROUP_MEMBERSHIP",
    "THING_GROUP_HIERARCHY",
    "THING_TYPE_ASSOCIATION",
    "JOB",
    "JOB_EXECUTION",
    "POLICY",
    "CERTIFICATE",
    "CA_CERTIFICATE",
];

const KIND: &str = "event-configurations";

/// One region's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Configuration {
    pub enabled: BTreeMap<String, bool>,
    pub created_ms: i64,
    pub modified_ms: i64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The registry events of one mock.
pub struct EventsService {
    configs: Mutex<BTreeMap<String, Configuration>>,
    store: Mutex<Box<dyn Store>>,
    outlet: Outlet,
}

impl EventsService {
    /// Deletes every event configuration (iotmock's reset).
    pub fn reset(&self) -> Result<(), StoreError> {
        iotmock_store::clear_shared(&self.store)?;
        self.configs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        Ok(())
    }

    /// The configurations `store` kept.
    pub fn open(mut store: Box<dyn Store>) -> Result<Self, StoreError> {
        let read = |row: &iotmock_store::Row| match row.kind.as_str() {
            KIND => serde_json::from_str::<Configuration>(&row.value)
                .map(|c| Read::Record((row.key.clone(), c)))
                .map_err(|e| e.to_string()),
            _ => Ok(Read::Skip),
        };
        let configs = load_with(&mut *store, "events", read)?
            .into_iter()
            .collect();
        Ok(Self {
            configs: Mutex::new(configs),
            store: Mutex::new(store),
            outlet: Outlet::default(),
        })
    }

    /// DescribeEventConfigurations.
    pub fn describe(&self, region: &str) -> Value {
        let config = lock(&self.configs).get(region).cloned().unwrap_or_default();
        let types: Map<String, Value> = EVENT_TYPES
            .iter()
            .map(|t| {
                let on = config.enabled.get(*t).copied().unwrap_or(false);
                ((*t).to_string(), json!({ "Enabled": on }))
            })
            .collect();
        let secs = |ms: i64| json!(ms as f64 / 1000.0);
        json!({ "eventConfigurations": types, "creationDate": secs(config.created_ms),
                "lastModifiedDate": secs(config.modified_ms) })
    }

    /// UpdateEventConfigurations: only the listed types change.
    pub fn update(&self, region: &str, body: &Value, now_ms: i64) -> IotResult<()> {
        let bad = |m: String| IotError::new(ErrorCode::InvalidRequest, m);
        let mut next = lock(&self.configs).get(region).cloned().unwrap_or_default();
        if let Some(given) = body.get("eventConfigurations") {
            let given = given
                .as_object()
                .ok_or_else(|| bad("eventConfigurations must be a map".into()))?;
            for (kind, setting) in given {
                if !EVENT_TYPES.contains(&kind.as_str()) {
                    return Err(bad(format!(
                        "{kind} is not an event type (one of {})",
                        EVENT_TYPES.join(", ")
                    )));
                }
                let on = setting
                    .get("Enabled")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                next.enabled.insert(kind.clone(), on);
            }
        }
        if next.created_ms == 0 {
            next.created_ms = now_ms;
        }
        next.modified_ms = now_ms;
        let value = serde_json::to_string(&next).map_err(|e| IotError::internal(e.to_string()))?;
        lock(&self.store)
            .commit(&[Change::Put {
                kind: KIND,
                key: region.to_string(),
                value,
            }])
            .map_err(|e| {
                IotError::internal(format!(
                    "the event configurations could not be written: {e}"
                ))
            })?;
        lock(&self.configs).insert(region.to_string(), next);
        Ok(())
    }

    fn enabled(&self, region: &str, kind: &str) -> bool {
        lock(&self.configs)
            .get(region)
            .is_some_and(|c| c.enabled.get(kind).copied().unwrap_or(false))
    }

    /// Publishes `payload` on `topic` when `region` enabled `kind` (other services' events,
    /// such as Jobs', come this way too).
    pub fn announce(&self, region: &str, kind: &str, topic: &str, payload: &str) {
        if self.enabled(region, kind) {
            let message = Publish::new(
                topic.to_string(),
                Bytes::from(payload.to_string()),
                1,
                false,
            );
            self.outlet.publish_in(region, message);
        }
    }
}

impl Service for EventsService {
    fn name(&self) -> &'static str {
        "events"
    }

    fn filters(&self) -> Vec<String> {
        Vec::new()
    }

    fn attach(&self, outbox: Arc<dyn Outbox>) {
        self.outlet.attach(outbox);
    }

    fn handle(&self, _request: &ServiceRequest<'_>) -> Vec<Reply> {
        Vec::new()
    }

    fn hears_registry(&self) -> bool {
        true
    }

    fn registry_changed(&self, events: &[RegistryEvent], _now_ms: i64) {
        for e in events {
            if let RegistryEvent::Announced {
                region,
                kind,
                topic,
                payload,
            } = e
            {
                self.announce(region, kind, topic, payload);
            }
        }
    }
}
