//! The console: a local AWS IoT console served on the API port at `/console`. Its live data
//! comes from the broker's service seam, never from polling the stores:
//! - connections from the lifecycle events, heard lazily (queued without waking anyone) while
//!   no browser watches, so a mock without an open console pays nothing but a queue push per
//!   connection; subscription events are asked for only while one watches;
//! - the MQTT test client as a service whose topic filters are those the open pages
//!   subscribed to (none while no page is open);
//! - refusals from the mock's log, where every refusal is logged once with its rule
//!   ([`refusals`]).
//!
//! Registry, shadow and job pages read the API itself, as the account chosen at the top.
//! Everything is kept in bounded ring buffers ([`ConsoleSettings::ring`]).

mod feed;
mod pages;
pub mod refusals;
mod reports;

use iotmock_broker::BrokerCore;
use iotmock_session::{Outbox, Outlet, Reply, Service, ServiceRequest};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

pub use refusals::RefusalLog;

/// Connections the console keeps track of at most (oldest forgotten first).
const MAX_TRACKED: usize = 100_000;

/// How the console is set up.
#[derive(Clone)]
pub struct ConsoleSettings {
    /// Entries each ring buffer keeps (recent disconnects, refusals, messages per page).
    pub ring: usize,
    /// Where the refusals come from (the log's tap; empty when no tap is installed).
    pub refusals: Arc<RefusalLog>,
}

impl std::fmt::Debug for ConsoleSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleSettings")
            .field("ring", &self.ring)
            .finish_non_exhaustive()
    }
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self {
            ring: 1000,
            refusals: Arc::new(RefusalLog::new(1000)),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The connections heard from lifecycle events.
#[derive(Default)]
struct Conns {
    live: BTreeMap<String, Value>,
    gone: VecDeque<Value>,
}

/// The console's state, shared by its pages and its two services.
pub(crate) struct Console {
    pub account: String,
    pub region: String,
    ring: usize,
    conns: Mutex<Conns>,
    pub refusals: Arc<RefusalLog>,
    /// What every open page hears (connections, messages); refusals come from `refusals`.
    pub live: broadcast::Sender<Arc<Value>>,
    watchers: AtomicUsize,
    /// The test client's filters, by page.
    filters: Mutex<BTreeMap<u64, Vec<String>>>,
    next_page: AtomicU64,
    pub core: BrokerCore,
    pub api: iotmock_api::ApiState,
    outlet: Outlet,
    /// The state dir's `reports/` folder, when there is a state dir.
    pub reports: Option<std::path::PathBuf>,
}

impl Console {
    pub(crate) fn new(
        settings: &ConsoleSettings,
        core: BrokerCore,
        api: iotmock_api::ApiState,
        (region, reports): (&str, Option<std::path::PathBuf>),
    ) -> Arc<Self> {
        let account = api.accounts.default_id().to_string();
        Arc::new(Self {
            account,
            region: region.to_string(),
            ring: settings.ring.max(1),
            conns: Mutex::new(Conns::default()),
            refusals: settings.refusals.clone(),
            live: broadcast::channel(settings.ring.max(16)).0,
            watchers: AtomicUsize::new(0),
            filters: Mutex::new(BTreeMap::new()),
            next_page: AtomicU64::new(1),
            core,
            api,
            outlet: Outlet::default(),
            reports,
        })
    }

    fn watched(&self) -> bool {
        self.watchers.load(Ordering::Acquire) > 0
    }

    /// A page opened: its id; the lifecycle service turns eager.
    pub(crate) fn open_page(&self) -> u64 {
        if self.watchers.fetch_add(1, Ordering::AcqRel) == 0 {
            self.outlet.refresh_filters(LIFECYCLE);
        }
        self.next_page.fetch_add(1, Ordering::Relaxed)
    }

    /// A page closed: its test-client filters go with it.
    pub(crate) fn close_page(&self, page: u64) {
        if lock(&self.filters).remove(&page).is_some() {
            self.outlet.refresh_filters(TEST_CLIENT);
        }
        if self.watchers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.outlet.refresh_filters(LIFECYCLE);
        }
    }

    /// The test client of `page` subscribes to `filter` (or unsubscribes).
    pub(crate) fn set_filter(&self, page: u64, filter: &str, on: bool) {
        {
            let mut filters = lock(&self.filters);
            let mine = filters.entry(page).or_default();
            mine.retain(|f| f != filter);
            if on {
                mine.push(filter.to_string());
            }
        }
        self.outlet.refresh_filters(TEST_CLIENT);
    }

    pub(crate) fn filters_of(&self, page: u64) -> Vec<String> {
        lock(&self.filters).get(&page).cloned().unwrap_or_default()
    }

    /// [`Console::connections`] once the lifecycle events heard lazily so far are taken.
    pub(crate) async fn connections_now(self: &Arc<Self>) -> (Vec<Value>, Vec<Value>) {
        let console = self.clone();
        tokio::task::spawn_blocking(move || {
            if let Some(data) = &console.api.data {
                data.settle_service(LIFECYCLE);
            }
            console.connections()
        })
        .await
        .unwrap_or_default()
    }

    /// Connections now, recent disconnects (newest first), each with its subscriptions.
    pub(crate) fn connections(&self) -> (Vec<Value>, Vec<Value>) {
        let conns = lock(&self.conns);
        let live: Vec<Value> = conns.live.values().cloned().collect();
        let gone: Vec<Value> = conns.gone.iter().rev().cloned().collect();
        drop(conns);
        let detailed = live.into_iter().map(|c| self.detailed(c)).collect();
        (detailed, gone)
    }

    /// A connected event with what the broker knows besides: its subscriptions, the door it
    /// came through, TLS version and cipher, MQTT version.
    fn detailed(&self, mut c: Value) -> Value {
        let id = c["clientId"].as_str().unwrap_or_default().to_string();
        let subs: Vec<Value> = self
            .core
            .subscriptions_of(&id)
            .into_iter()
            .map(|(f, q)| json!({"filter": f, "qos": q}))
            .collect();
        c["subscriptions"] = Value::Array(subs);
        if let Some(d) = self.core.connection_details(&id) {
            c["door"] = json!(d.transport.door);
            c["tlsVersion"] = json!(d.transport.tls_version);
            c["cipher"] = json!(d.transport.cipher);
            c["mqttVersion"] = json!(d.mqtt_version);
            let count =
                |n: &std::sync::atomic::AtomicU64| n.load(std::sync::atomic::Ordering::Relaxed);
            c["messagesIn"] = json!(count(&d.messages_in));
            c["messagesOut"] = json!(count(&d.messages_out));
        }
        c
    }

    /// A lifecycle event: the connection table changes, and open pages hear it.
    fn heard(&self, topic: &str, payload: &[u8]) {
        let Ok(event) = serde_json::from_slice::<Value>(payload) else {
            return;
        };
        let Some(client) = event["clientId"].as_str().map(str::to_string) else {
            return;
        };
        let kind = topic.split('/').nth(3).unwrap_or_default();
        let mut conns = lock(&self.conns);
        match kind {
            "connected" => {
                if conns.live.len() >= MAX_TRACKED
                    && let Some(oldest) = conns.live.keys().next().cloned()
                {
                    conns.live.remove(&oldest);
                }
                conns.live.insert(client, event.clone());
            }
            "disconnected" => {
                let same = conns
                    .live
                    .get(&client)
                    .is_some_and(|c| c["sessionIdentifier"] == event["sessionIdentifier"]);
                if same {
                    conns.live.remove(&client);
                }
                conns.gone.push_back(event.clone());
                while conns.gone.len() > self.ring {
                    conns.gone.pop_front();
                }
            }
            _ => {}
        }
        drop(conns);
        if self.watched() {
            let event = if kind == "connected" {
                self.detailed(event)
            } else {
                event
            };
            let _ = self
                .live
                .send(Arc::new(json!({"kind": kind, "event": event})));
        }
    }

    /// A message one of the open pages subscribed to.
    fn message(&self, request: &ServiceRequest<'_>) {
        let mut json = feed::message(request.topic, request.now_ms, request.payload);
        json["clientId"] = json!(request.client_id);
        json["properties"] = json!(request.properties.map(feed::properties));
        let _ = self.live.send(Arc::new(json));
    }
}

const LIFECYCLE: &str = "console";
const TEST_CLIENT: &str = "console-client";

/// The console hearing lifecycle events.
pub(crate) struct Lifecycle(pub Arc<Console>);

impl Service for Lifecycle {
    fn name(&self) -> &'static str {
        LIFECYCLE
    }

    fn filters(&self) -> Vec<String> {
        let mut filters = vec![
            "$aws/events/presence/connected/+".to_string(),
            "$aws/events/presence/disconnected/+".to_string(),
        ];
        if self.0.watched() {
            filters.push("$aws/events/subscriptions/+/+".to_string());
        }
        filters
    }

    fn attach(&self, outbox: Arc<dyn Outbox>) {
        self.0.outlet.attach(outbox);
    }

    fn hears_lazily(&self) -> bool {
        !self.0.watched()
    }

    fn handle(&self, request: &ServiceRequest<'_>) -> Vec<Reply> {
        self.0.heard(request.topic, request.payload);
        Vec::new()
    }

    fn hears_registry(&self) -> bool {
        true
    }

    /// Open pages hear that the registry changed (they read it again when it is on screen).
    fn registry_changed(&self, events: &[iotmock_registry::RegistryEvent], _now_ms: i64) {
        if self.0.watched() && !events.is_empty() {
            let _ = self.0.live.send(Arc::new(
                json!({"kind": "registry", "changes": events.len()}),
            ));
        }
    }
}

/// The console's MQTT test client: what the open pages subscribed to.
pub(crate) struct TestClient(pub Arc<Console>);

impl Service for TestClient {
    fn name(&self) -> &'static str {
        TEST_CLIENT
    }

    fn filters(&self) -> Vec<String> {
        let mut all: Vec<String> = lock(&self.0.filters).values().flatten().cloned().collect();
        all.sort();
        all.dedup();
        all
    }

    fn handle(&self, request: &ServiceRequest<'_>) -> Vec<Reply> {
        self.0.message(request);
        Vec::new()
    }
}

pub(crate) use pages::ConsolePages;

impl crate::core::Builder {
    /// Serves the console on the API port at `/console` (`None`: off, the default in
    /// process; `iotmock serve` turns it on unless `--console false`).
    pub fn console(mut self, settings: Option<ConsoleSettings>) -> Self {
        self.console = settings;
        self
    }

    /// The console's pages, its two services plugged in, when it is on.
    pub(crate) fn open_console(
        &self,
        core: &BrokerCore,
        api: &iotmock_api::ApiState,
    ) -> Option<Arc<dyn iotmock_api::Pages>> {
        let settings = self.console.as_ref()?;
        let clock = core.clone();
        settings
            .refusals
            .set_clock(Box::new(move || clock.now_millis()));
        let reports = self.state_dir.as_ref().map(|d| d.join("reports"));
        let console = Console::new(settings, core.clone(), api.clone(), (&self.region, reports));
        core.register_service(Arc::new(Lifecycle(console.clone())));
        core.register_service(Arc::new(TestClient(console.clone())));
        Some(Arc::new(ConsolePages(console)))
    }
}
