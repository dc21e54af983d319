//! What connections share: who is connected under which client id, persistent sessions of
//! clients that are offline, who is subscribed to what, retained messages, the services on
//! reserved topics, and delivery of a published message to each subscriber's connection
//! task. Locks are held only to copy out what a step needs, never across an await.

use iotmock_mqtt::Publish;
use iotmock_mqtt::subscriptions::Subscriptions;
use iotmock_mqtt::topic::{matches, shared};
use iotmock_registry::Clock;
use iotmock_session::{Reply, Service, ServiceRequest, Stored};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use tokio::sync::mpsc;

/// Messages queued for one connection before further deliveries to it are discarded.
pub const QUEUE_DEPTH: usize = 65_536;

/// What a connection task is asked to do by others.
#[derive(Debug)]
pub enum Outbound {
    /// Deliver a message at the granted QoS (the session checks iot:Receive first).
    Deliver(Arc<Publish>, u8),
    /// A message the client's session kept (in flight on a connection that ended).
    Redeliver(Stored),
    /// Another connection took this client id over.
    TakenOver,
}

/// QoS 1 messages kept for an offline persistent session.
pub const MAX_QUEUED: usize = 1000;

/// A connection, or (`tx` None) the persistent session of a client that is offline.
struct Client {
    conn_id: u64,
    tx: Option<mpsc::Sender<Outbound>>,
    /// The connection resumed a stored session (it inherits what its predecessor held).
    resumed: bool,
    expires_ms: i64,
    queue: VecDeque<Stored>,
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

type Services = Vec<(Vec<String>, Arc<dyn Service>)>;

pub struct Hub {
    clock: Arc<dyn Clock>,
    clients: Mutex<HashMap<String, Client>>,
    subs: Mutex<Subscriptions<String>>,
    retained: Mutex<BTreeMap<String, Retained>>,
    versions: Mutex<HashMap<String, u64>>,
    last_connect: Mutex<HashMap<String, i64>>,
    services: RwLock<Services>,
    next_id: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Hub {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            clients: Mutex::default(),
            subs: Mutex::default(),
            retained: Mutex::default(),
            versions: Mutex::default(),
            last_connect: Mutex::default(),
            services: RwLock::default(),
            next_id: AtomicU64::new(0),
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_millis()
    }

    /// Registers a connection under `client_id`, taking over (and telling) any previous one.
    /// With `clean_start` false an unexpired stored session is resumed: its subscriptions
    /// and kept messages are returned.
    pub fn register(
        &self,
        client_id: &str,
        tx: mpsc::Sender<Outbound>,
        clean_start: bool,
    ) -> Registered {
        let conn_id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let mut clients = lock(&self.clients);
        let old = clients.remove(client_id);
        let mut out = Registered {
            conn_id,
            session_present: false,
            subscriptions: Vec::new(),
            stored: Vec::new(),
        };
        if let Some(old) = old {
            let live = old.tx.is_some() || old.expires_ms > self.now_ms();
            if let Some(tx) = &old.tx {
                let _ = tx.try_send(Outbound::TakenOver);
            }
            let key = client_id.to_string();
            if !clean_start && live {
                out.session_present = true;
                out.stored = old.queue.into_iter().collect();
                let subs = lock(&self.subs);
                out.subscriptions = subs
                    .of(&key)
                    .map(|m| m.iter().map(|(f, q)| (f.clone(), *q)).collect())
                    .unwrap_or_default();
            } else {
                lock(&self.subs).remove_client(&key);
            }
        }
        let resumed = out.session_present;
        let client = Client {
            conn_id,
            tx: Some(tx),
            resumed,
            expires_ms: 0,
            queue: VecDeque::new(),
        };
        clients.insert(client_id.to_string(), client);
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
        let mut clients = lock(&self.clients);
        let Some(client) = clients.get_mut(client_id) else {
            return;
        };
        if client.conn_id != conn_id {
            if let (true, Some(tx)) = (client.resumed, &client.tx) {
                for k in kept {
                    let _ = tx.try_send(Outbound::Redeliver(k));
                }
            }
            return;
        }
        match keep_ms {
            Some(ms) => {
                client.tx = None;
                client.expires_ms = now.saturating_add(ms);
                client.queue = kept.into_iter().collect();
            }
            None => {
                clients.remove(client_id);
                drop(clients);
                lock(&self.subs).remove_client(&client_id.to_string());
            }
        }
    }

    pub fn connected(&self) -> usize {
        lock(&self.clients)
            .values()
            .filter(|c| c.tx.is_some())
            .count()
    }

    pub fn subscribe(&self, client_id: &str, filter: &str, qos: u8) {
        lock(&self.subs).add(&client_id.to_string(), filter, qos);
    }

    pub fn unsubscribe(&self, client_id: &str, filter: &str) -> bool {
        lock(&self.subs).remove(&client_id.to_string(), filter)
    }

    /// Records a CONNECT for `client_id`; false when the previous one was under a second ago.
    pub fn connect_allowed(&self, client_id: &str) -> bool {
        let now = self.now_ms();
        let mut last = lock(&self.last_connect);
        if last.len() > 100_000 {
            last.retain(|_, t| now - *t < 1000);
        }
        let previous = last.insert(client_id.to_string(), now);
        previous.is_none_or(|t| now - t >= 1000)
    }

    /// The lifecycle `versionNumber` of a new connection under `client_id`.
    pub fn next_version(&self, client_id: &str) -> u64 {
        let mut v = lock(&self.versions);
        if v.len() >= 100_000 {
            // AWS resets version numbers after about an hour; bounding the map keeps a churn of
            // unique client ids from growing memory without end.
            v.clear();
        }
        let n = v.entry(client_id.to_string()).or_insert(0);
        let current = *n;
        *n += 1;
        current
    }

    /// Stores or clears (empty payload) a retained message.
    fn retain(&self, msg: &Publish) {
        let mut retained = lock(&self.retained);
        if msg.payload.is_empty() {
            retained.remove(&msg.topic);
        } else {
            let message = Arc::new(Publish {
                retain: true,
                pkid: 0,
                dup: false,
                ..msg.clone()
            });
            let updated_ms = self.now_ms();
            retained.insert(
                msg.topic.clone(),
                Retained {
                    message,
                    updated_ms,
                },
            );
        }
    }

    /// The retained message a new subscription to `filter` receives: AWS sends it only when
    /// the filter names the topic exactly (no wildcards, not shared).
    pub fn retained_for(&self, filter: &str) -> Option<Arc<Publish>> {
        if filter.contains(['+', '#']) || filter.starts_with("$share/") {
            return None;
        }
        lock(&self.retained).get(filter).map(|r| r.message.clone())
    }

    pub fn get_retained(&self, topic: &str) -> Option<Retained> {
        lock(&self.retained).get(topic).cloned()
    }

    pub fn list_retained(&self) -> Vec<Retained> {
        lock(&self.retained).values().cloned().collect()
    }

    /// Queues `msg` for one client (a retained copy on subscribe); false when it is gone.
    pub fn send_to(&self, client_id: &str, msg: Arc<Publish>, qos: u8) -> bool {
        let tx = lock(&self.clients)
            .get(client_id)
            .and_then(|c| c.tx.clone());
        tx.is_some_and(|tx| tx.try_send(Outbound::Deliver(msg, qos)).is_ok())
    }

    /// Plugs a service in: every routed message on one of its filters becomes a request.
    pub fn register_service(&self, service: Arc<dyn Service>) {
        let filters = service.filters();
        self.services
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push((filters, service));
    }

    /// Routes a message: retains it when asked, queues it for every subscriber (live copies
    /// carry RETAIN=0), then hands it to the services whose filters it matches, publishing
    /// their answers. `from` is the publishing client (`None`: the iot-data API).
    pub fn publish(&self, msg: Arc<Publish>, from: Option<&str>) -> usize {
        let queued = self.route(msg.clone());
        self.dispatch(&msg, from);
        queued
    }

    fn dispatch(&self, msg: &Publish, from: Option<&str>) {
        let services: Vec<Arc<dyn Service>> = {
            let all = self.services.read().unwrap_or_else(|p| p.into_inner());
            let matching = all
                .iter()
                .filter(|(fs, _)| fs.iter().any(|f| matches(f, &msg.topic)));
            matching.map(|(_, s)| s.clone()).collect()
        };
        for service in services {
            let request = ServiceRequest {
                client_id: from,
                topic: &msg.topic,
                payload: &msg.payload,
                now_ms: self.now_ms(),
            };
            for reply in service.handle(&request) {
                match (reply, from) {
                    (Reply::ToSubscribers(p), _) => {
                        self.route(Arc::new(p));
                    }
                    (Reply::ToRequester(p), Some(client)) => self.to_requester(client, Arc::new(p)),
                    (Reply::ToRequester(_), None) => {}
                }
            }
        }
    }

    /// Delivers a service's answer to the requesting client when it subscribes to the topic.
    fn to_requester(&self, client_id: &str, msg: Arc<Publish>) {
        let qos = {
            let subs = lock(&self.subs);
            let Some(filters) = subs.of(&client_id.to_string()) else {
                return;
            };
            let inner = |f: &str| shared(f).map_or(f.to_string(), |(_, i)| i.to_string());
            filters
                .iter()
                .filter(|(f, _)| matches(&inner(f), &msg.topic))
                .map(|(_, q)| *q)
                .max()
        };
        if let Some(qos) = qos {
            self.send_to(client_id, msg.clone(), qos.min(msg.qos));
        }
    }

    fn route(&self, msg: Arc<Publish>) -> usize {
        let msg = if msg.retain {
            self.retain(&msg);
            Arc::new(Publish {
                retain: false,
                ..(*msg).clone()
            })
        } else {
            msg
        };
        let targets = lock(&self.subs).route(&msg.topic);
        if targets.is_empty() {
            return 0;
        }
        let senders = self.senders(&msg, &targets);
        let mut queued = 0;
        for (tx, sub_qos) in senders {
            let qos = sub_qos.min(msg.qos);
            match tx.try_send(Outbound::Deliver(msg.clone(), qos)) {
                Ok(()) => queued += 1,
                Err(_) => {
                    tracing::debug!(topic = %msg.topic, "subscriber queue full; message discarded as AWS discards excess")
                }
            }
        }
        queued
    }

    /// The live subscribers' queues; offline persistent sessions keep QoS 1 messages and
    /// expired ones are removed.
    fn senders(
        &self,
        msg: &Arc<Publish>,
        targets: &[(String, u8)],
    ) -> Vec<(mpsc::Sender<Outbound>, u8)> {
        let now = self.now_ms();
        let mut expired = Vec::new();
        let mut out = Vec::new();
        {
            let mut clients = lock(&self.clients);
            for (id, sub_qos) in targets {
                let Some(c) = clients.get_mut(id) else {
                    continue;
                };
                match &c.tx {
                    Some(tx) => out.push((tx.clone(), *sub_qos)),
                    None if c.expires_ms <= now => expired.push(id.clone()),
                    None if (*sub_qos).min(msg.qos) == 1 && c.queue.len() < MAX_QUEUED => {
                        c.queue.push_back(Stored {
                            message: msg.clone(),
                            qos: 1,
                            pkid: None,
                        });
                    }
                    None => {}
                }
            }
            for id in &expired {
                clients.remove(id);
            }
        }
        for id in &expired {
            lock(&self.subs).remove_client(id);
        }
        out
    }
}
