//! What connections share: who is connected under which client id, persistent sessions of
//! clients that are offline, who is subscribed to what, retained messages and the services on
//! reserved topics. Sessions and retained messages are written to the broker store before the
//! broker answers the packet that changed them. Locks are held only to copy out what a step
//! needs, never across an await. Routing is in `routing.rs`.

use crate::mailbox::{Bound, Mailbox};
use crate::rates::Rates;
use crate::services::{HubLink, SERVICE_QUEUE_DEPTH, Worker, Workers};
use crate::sharded::Sharded;
use crate::store::{BrokerStore, SessionRecord, StoreError};
use iotmock_mqtt::Publish;
use iotmock_mqtt::subscriptions::Subscriptions;
use iotmock_registry::Clock;
use iotmock_registry::RegistryEvent;
use iotmock_session::{Service, Stored};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Messages queued for one connection before further deliveries to it are discarded.
pub const QUEUE_DEPTH: usize = 65_536;

/// What a connection task is given to deliver by others (control notices travel beside it,
/// in the [`Mailbox`]).
#[derive(Debug)]
pub enum Outbound {
    /// Deliver a message at the granted QoS (the session checks iot:Receive first).
    Deliver(Arc<Publish>, u8),
    /// A message the client's session kept (in flight on a connection that ended).
    Redeliver(Stored),
}

/// Who published a message: the client and the region whose registry admitted it.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub client_id: &'a str,
    pub region: &'a str,
    /// The publisher's certificate id.
    pub principal: &'a str,
    /// The publisher's address (`sourceip()` in the rules).
    pub source_ip: Option<std::net::IpAddr>,
    // A service's own message names its region only: the client id and principal are empty.
}

/// A client id unseen this long gets lifecycle `versionNumber` 0 again (AWS: about an hour).
const VERSION_RESET_MS: i64 = 3_600_000;

/// QoS 1 messages kept for an offline persistent session.
pub const MAX_QUEUED: usize = 1000;

/// A connection, or (`tx` None) the persistent session of a client that is offline.
pub(crate) struct Client {
    pub conn_id: u64,
    pub tx: Option<Mailbox>,
    /// The connection resumed a stored session (it inherits what its predecessor held).
    pub resumed: bool,
    /// How long the session outlives its connection (persistent sessions only).
    pub keep_ms: Option<i64>,
    pub expires_ms: i64,
    pub queue: VecDeque<Stored>,
    /// How the live connection came in (`None` while offline).
    pub details: Option<Arc<crate::ConnDetails>>,
}

/// What registering a connection found.
pub struct Registered {
    pub conn_id: u64,
    pub session_present: bool,
    pub subscriptions: Vec<(String, u8)>,
    pub stored: Vec<Stored>,
}

/// A retained message and when it was last set.
#[derive(Debug, Clone)]
pub struct Retained {
    pub message: Arc<Publish>,
    pub updated_ms: i64,
}

/// The plugged-in services' workers, and their request filters in a trie (by index of the
/// service).
#[derive(Default)]
pub(crate) struct Services {
    pub workers: Workers,
    pub filters: Subscriptions<usize>,
}

pub struct Hub {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) store: Arc<dyn BrokerStore>,
    pub(crate) clients: Sharded<String, Client>,
    /// Keyed by client id, shared: routing a message hands out its targets' ids without
    /// copying them.
    pub(crate) subs: RwLock<Subscriptions<Arc<str>>>,
    pub(crate) retained: Mutex<BTreeMap<String, Retained>>,
    /// Per client id: the next lifecycle `versionNumber` and when it was last handed out.
    versions: Sharded<String, (u64, i64)>,
    /// AWS's rate quotas: what the throttles count.
    pub(crate) rates: Rates,
    pub(crate) services: RwLock<Services>,
    /// What may wait for one connection, and for all.
    pub(crate) bound: Bound,
    /// Bytes queued for all connections now.
    pub(crate) queued_total: Arc<AtomicUsize>,
    /// The last write to the store failed (its failures are logged once per episode).
    store_failing: AtomicBool,
    next_id: AtomicU64,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Entries a per-client-id map keeps per shard before it starts over (bounded memory under a
/// churn of unique client ids).
pub(crate) const SHARD_LIMIT: usize = 4096;

fn offline(s: SessionRecord, now: i64) -> Client {
    Client {
        conn_id: 0,
        tx: None,
        resumed: false,
        keep_ms: Some(s.keep_ms),
        expires_ms: s.expires_ms.unwrap_or(now.saturating_add(s.keep_ms)),
        queue: s.queue.into_iter().collect(),
        details: None,
    }
}

impl Hub {
    /// A hub holding what `store` kept: retained messages, and persistent sessions (offline
    /// now; a session that was live at the last stop expires counting from this start).
    pub fn open(
        clock: Arc<dyn Clock>,
        store: Arc<dyn BrokerStore>,
        bound: Bound,
        account_rate: Option<u32>,
    ) -> Result<Self, StoreError> {
        let (retained, sessions) = store.load()?;
        let hub = Self::new(clock, store, bound, account_rate);
        let now = hub.now_ms();
        {
            let mut subs = write(&hub.subs);
            for s in &sessions {
                for (filter, qos) in &s.subscriptions {
                    subs.add(&Arc::from(s.client_id.as_str()), filter, *qos);
                }
            }
            let offline = sessions
                .into_iter()
                .map(|s| (s.client_id.clone(), offline(s, now)));
            hub.clients.extend(offline);
            let mut kept = lock(&hub.retained);
            for r in retained {
                let (message, updated_ms) = (r.message, r.updated_ms);
                kept.insert(
                    message.topic.clone(),
                    Retained {
                        message,
                        updated_ms,
                    },
                );
            }
        }
        Ok(hub)
    }

    /// An empty hub writing to `store`, counting the account's publishes against
    /// `account_rate` a second (none: not throttled).
    pub fn new(
        clock: Arc<dyn Clock>,
        store: Arc<dyn BrokerStore>,
        bound: Bound,
        account_rate: Option<u32>,
    ) -> Self {
        Self {
            bound,
            queued_total: Arc::default(),
            store_failing: AtomicBool::new(false),
            clock,
            store,
            clients: Sharded::default(),
            subs: RwLock::default(),
            retained: Mutex::default(),
            versions: Sharded::default(),
            rates: Rates::new(account_rate),
            services: RwLock::default(),
            next_id: AtomicU64::new(0),
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_millis()
    }

    /// Logs a failed write to the broker store, naming what is now kept in memory only.
    /// Logs a failed write to the broker store once per episode (a full disk fails every
    /// write until it has room again), and the recovery; returns whether it was stored.
    pub(crate) fn stored(&self, what: &str, result: Result<(), StoreError>) -> bool {
        match result {
            Ok(()) => {
                if self.store_failing.swap(false, Ordering::AcqRel) {
                    tracing::warn!("broker store writes succeed again");
                }
                true
            }
            Err(e) => {
                if !self.store_failing.swap(true, Ordering::AcqRel) {
                    tracing::error!(error = %e, what, "broker store write failed; kept in memory only until writes succeed again (logged once)");
                }
                false
            }
        }
    }

    pub(crate) fn subscriptions_of(&self, client_id: &str) -> Vec<(String, u8)> {
        let subs = read(&self.subs);
        let of = subs.of(client_id);
        of.map(|m| m.iter().map(|(f, q)| (f.clone(), *q)).collect())
            .unwrap_or_default()
    }

    /// Writes a persistent session's row: its subscriptions and expiry (`None`: live).
    fn save_session(&self, client_id: &str, keep_ms: i64, expires_ms: Option<i64>) {
        let record = SessionRecord {
            client_id: client_id.to_string(),
            keep_ms,
            expires_ms,
            subscriptions: self.subscriptions_of(client_id),
            queue: Vec::new(),
        };
        self.stored("session", self.store.put_session(&record));
    }

    /// Registers a connection under `client_id`, taking over (and telling) any previous one.
    /// With `clean_start` false an unexpired stored session is resumed: its subscriptions
    /// and kept messages are returned. `keep_ms` marks the new session persistent.
    pub fn register(
        &self,
        client_id: &str,
        tx: Mailbox,
        clean_start: bool,
        (keep_ms, details): (Option<i64>, Arc<crate::ConnDetails>),
    ) -> Registered {
        let conn_id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let mut clients = self.clients.lock(client_id);
        let old = clients.remove(client_id);
        let was_persistent = old.as_ref().is_some_and(|o| o.keep_ms.is_some());
        let mut out = Registered {
            conn_id,
            session_present: false,
            subscriptions: Vec::new(),
            stored: Vec::new(),
        };
        if let Some(old) = old {
            let live = old.tx.is_some() || old.expires_ms > self.now_ms();
            if let Some(tx) = &old.tx {
                tx.control.take_over();
            }
            if !clean_start && live {
                out.session_present = true;
                out.stored = old.queue.into_iter().collect();
            } else {
                write(&self.subs).remove_client(client_id);
            }
        }
        let resumed = out.session_present;
        let queue = VecDeque::new();
        let client = Client {
            conn_id,
            tx: Some(tx),
            resumed,
            keep_ms,
            expires_ms: 0,
            queue,
            details: Some(details),
        };
        clients.insert(client_id.to_string(), client);
        drop(clients);
        if resumed {
            out.subscriptions = self.subscriptions_of(client_id);
        }
        match keep_ms {
            Some(ms) => {
                self.save_session(client_id, ms, None);
                // A resumed session's kept messages stay on disk while they are redelivered
                // (trimmed as PUBACKs come, replaced at disconnect); a fresh one starts empty.
                if !resumed {
                    self.stored("session queue", self.store.clear_queue(client_id));
                }
            }
            None if was_persistent => {
                self.stored("session", self.store.delete_session(client_id));
            }
            None => {}
        }
        out
    }

    /// Ends a connection. With `keep_ms`, its session (subscriptions, `kept` messages) stays
    /// for that long; otherwise it is removed. When a newer connection already owns the client
    /// id and resumed the session, the kept messages go to it.
    pub fn unregister(
        &self,
        client_id: &str,
        conn_id: u64,
        keep_ms: Option<i64>,
        kept: Vec<Stored>,
    ) {
        let now = self.now_ms();
        let mut clients = self.clients.lock(client_id);
        let Some(client) = clients.get_mut(client_id) else {
            return;
        };
        if client.conn_id != conn_id {
            if let (true, Some(tx)) = (client.resumed, &client.tx) {
                let now = self.now_ms();
                for k in kept {
                    tx.offer(Outbound::Redeliver(k), self.bound, now, client_id);
                }
            }
            return;
        }
        let was_persistent = client.keep_ms.is_some();
        let Some(ms) = keep_ms else {
            clients.remove(client_id);
            drop(clients);
            write(&self.subs).remove_client(client_id);
            if was_persistent {
                self.stored("session", self.store.delete_session(client_id));
            }
            return;
        };
        client.tx = None;
        client.details = None;
        client.keep_ms = Some(ms);
        client.expires_ms = now.saturating_add(ms);
        client.queue = kept.iter().cloned().collect();
        let expires = client.expires_ms;
        drop(clients);
        self.save_session(client_id, ms, Some(expires));
        // What the connection held replaces what was written while it was live.
        self.stored("session queue", self.store.replace_queue(client_id, &kept));
    }

    /// How the live connection of `client_id` came in.
    pub fn details_of(&self, client_id: &str) -> Option<Arc<crate::ConnDetails>> {
        let clients = self.clients.lock(client_id);
        clients.get(client_id)?.details.clone()
    }

    /// A live client's keep time when its session is persistent.
    fn keep_of(&self, client_id: &str) -> Option<i64> {
        let clients = self.clients.lock(client_id);
        let client = clients.get(client_id)?;
        client.keep_ms.filter(|_| client.tx.is_some())
    }

    pub fn connected(&self) -> usize {
        let live = |n: usize, _: &String, c: &Client| n + usize::from(c.tx.is_some());
        self.clients.fold(0, live)
    }

    /// Records a subscription (on disk first for a persistent session, before its SUBACK).
    pub fn subscribe(&self, client_id: &str, filter: &str, qos: u8) {
        write(&self.subs).add(&Arc::from(client_id), filter, qos);
        if let Some(ms) = self.keep_of(client_id) {
            self.save_session(client_id, ms, None);
        }
    }

    pub fn unsubscribe(&self, client_id: &str, filter: &str) -> bool {
        let removed = write(&self.subs).remove(client_id, filter);
        if let (true, Some(ms)) = (removed, self.keep_of(client_id)) {
            self.save_session(client_id, ms, None);
        }
        removed
    }

    /// Whether a retained message for `topic` would pass `max` retained messages (a topic
    /// that holds one already only replaces it).
    pub fn retained_full(&self, topic: &str, max: usize) -> bool {
        let retained = lock(&self.retained);
        retained.len() >= max && !retained.contains_key(topic)
    }

    /// The lifecycle `versionNumber` of a new connection under `client_id`.
    pub fn next_version(&self, client_id: &str) -> u64 {
        let mut v = self.versions.lock(client_id);
        if v.len() >= SHARD_LIMIT {
            // AWS resets version numbers after about an hour; bounding the map keeps a churn of
            // unique client ids from growing memory without end.
            v.clear();
        }
        let now = self.now_ms();
        let (n, last) = v.entry(client_id.to_string()).or_insert((0, now));
        // AWS starts again from 0 after about an hour without a connection.
        if now - *last > VERSION_RESET_MS {
            *n = 0;
        }
        *last = now;
        let current = *n;
        *n += 1;
        current
    }

    /// Forgets what a live persistent session's connection no longer needs kept: all but the
    /// newest `keep` of the messages written for it while it was connected.
    pub(crate) fn trim_live(&self, client_id: &str, keep: usize) {
        self.stored("session queue", self.store.trim_queue(client_id, keep));
    }

    /// `(bytes queued, deliveries discarded)` for a live client.
    pub fn client_queue(&self, client_id: &str) -> Option<(usize, u64)> {
        let clients = self.clients.lock(client_id);
        let load = &clients.get(client_id)?.tx.as_ref()?.load;
        Some((load.bytes(), load.discarded()))
    }

    /// Asks a live client's connection to close (DeleteConnection); false when none is live.
    pub fn disconnect(&self, client_id: &str, clean_session: bool, prevent_will: bool) -> bool {
        let tx = self
            .clients
            .lock(client_id)
            .get(client_id)
            .and_then(|c| c.tx.clone());
        tx.map(|tx| tx.control.disconnect(clean_session, prevent_will))
            .is_some()
    }

    /// Queues `msg` for one client (a retained copy on subscribe); false when it is gone.
    pub fn send_to(&self, client_id: &str, msg: Arc<Publish>, qos: u8) -> bool {
        let tx = self
            .clients
            .lock(client_id)
            .get(client_id)
            .and_then(|c| c.tx.clone());
        let now = self.now_ms();
        tx.is_some_and(|tx| self.offer_counted(&tx, Outbound::Deliver(msg, qos), now, client_id))
    }

    /// Plugs a service in: it takes `link` as its outbox, gets a worker, and every routed
    /// message on one of its filters becomes a request queued to that worker.
    pub(crate) fn register_service(&self, service: Arc<dyn Service>, link: Arc<HubLink>) {
        service.attach(link.clone());
        let filters = service.filters();
        let worker = Worker::start(service, link, SERVICE_QUEUE_DEPTH);
        let mut services = write(&self.services);
        let index = services.workers.0.len();
        for filter in filters {
            services.filters.add(&index, &filter, 0);
        }
        services.workers.0.push(worker);
    }

    /// Reads the filters of the service named `name` again.
    pub(crate) fn refresh_service_filters(&self, name: &str) {
        let mut services = write(&self.services);
        let Some(index) = services
            .workers
            .0
            .iter()
            .position(|w| w.service.name() == name)
        else {
            return;
        };
        let filters = services.workers.0[index].service.filters();
        services.filters.remove_client(&index);
        for filter in filters {
            services.filters.add(&index, &filter, 0);
        }
    }

    /// Asks every service to run what is due by `now_ms`, on its worker.
    pub fn tick_services(&self, now_ms: i64) {
        for w in &read(&self.services).workers.0 {
            w.tick(now_ms);
        }
    }

    /// Hands committed registry changes to the services that hear them.
    pub fn registry_changed(&self, events: &[RegistryEvent]) {
        let services = read(&self.services);
        if services.workers.0.is_empty() || events.is_empty() {
            return;
        }
        let events: Arc<[RegistryEvent]> = events.into();
        let now = self.now_ms();
        for w in &services.workers.0 {
            w.hear(&events, now);
        }
    }

    /// Waits until the services `which` picks have done what was queued before this call.
    /// Stalls the worker of the service `name` until the returned sender is dropped (requests
    /// pile up meanwhile, as behind a slow service: fault injection for tests).
    pub fn hold_service(&self, name: &str) -> Option<std::sync::mpsc::Sender<()>> {
        read(&self.services)
            .workers
            .0
            .iter()
            .find(|w| w.service.name() == name)
            .and_then(|w| w.hold())
    }

    pub fn settle_services(&self, which: impl Fn(&dyn Service) -> bool) {
        let barriers = read(&self.services).workers.barriers(which);
        Workers::settle(barriers);
    }
}
