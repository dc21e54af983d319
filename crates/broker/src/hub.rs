//! What connections share: who is connected under which client id, who is subscribed to
//! what, and delivery of a published message to each subscriber's connection task. Locks are
//! held only to copy out what a step needs, never across an await.

use iotmock_mqtt::Publish;
use iotmock_mqtt::subscriptions::Subscriptions;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc;

/// Messages queued for one connection before further deliveries to it are discarded.
pub const QUEUE_DEPTH: usize = 65_536;

/// What a connection task is asked to do by others.
#[derive(Debug)]
pub enum Outbound {
    /// Deliver a message at the granted QoS (the task checks iot:Receive first).
    Deliver(Arc<Publish>, u8),
    /// Another connection took this client id over.
    TakenOver,
}

/// QoS 1 messages kept for an offline persistent session.
pub const MAX_QUEUED: usize = 1000;

/// A connection, or (`tx` None) the persistent session of a client that is offline.
struct Client {
    conn_id: u64,
    tx: Option<mpsc::Sender<Outbound>>,
    expires_ms: i64,
    queue: std::collections::VecDeque<(Arc<Publish>, u8)>,
}

/// What registering a connection found.
pub struct Registered {
    pub conn_id: u64,
    pub session_present: bool,
    pub queued: Vec<(Arc<Publish>, u8)>,
}

/// A retained message and when it was last set.
#[derive(Debug, Clone)]
pub struct Retained {
    pub message: Arc<Publish>,
    pub updated_ms: i64,
}

#[derive(Default)]
pub struct Hub {
    clients: Mutex<HashMap<String, Client>>,
    subs: Mutex<Subscriptions<String>>,
    retained: Mutex<BTreeMap<String, Retained>>,
    versions: Mutex<HashMap<String, u64>>,
    last_connect: Mutex<HashMap<String, i64>>,
    next_id: AtomicU64,
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Hub {
    /// Registers a connection under `client_id`, taking over (and telling) any previous one.
    /// With `clean_start` false an unexpired stored session is resumed: its subscriptions stay
    /// and its queued messages are returned for delivery.
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
            queued: Vec::new(),
        };
        if let Some(old) = old {
            let live = old.tx.is_some() || old.expires_ms > now_ms();
            if let Some(tx) = &old.tx {
                let _ = tx.try_send(Outbound::TakenOver);
            }
            if !clean_start && live {
                out.session_present = true;
                out.queued = old.queue.into_iter().collect();
            } else {
                lock(&self.subs).remove_client(&client_id.to_string());
            }
        }
        let client = Client {
            conn_id,
            tx: Some(tx),
            expires_ms: 0,
            queue: Default::default(),
        };
        clients.insert(client_id.to_string(), client);
        out
    }

    /// Ends a connection unless a newer one owns the client id. With `keep_ms`, its session
    /// (subscriptions, QoS 1 messages) is kept for that long; otherwise it is removed.
    pub fn unregister(&self, client_id: &str, conn_id: u64, keep_ms: Option<i64>) {
        let mut clients = lock(&self.clients);
        let Some(client) = clients.get_mut(client_id).filter(|c| c.conn_id == conn_id) else {
            return;
        };
        match keep_ms {
            Some(ms) => {
                client.tx = None;
                client.expires_ms = now_ms() + ms;
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

    pub fn subscription_count(&self, client_id: &str) -> usize {
        lock(&self.subs).count(&client_id.to_string())
    }

    pub fn subscribe(&self, client_id: &str, filter: &str, qos: u8) {
        lock(&self.subs).add(&client_id.to_string(), filter, qos);
    }

    pub fn unsubscribe(&self, client_id: &str, filter: &str) -> bool {
        lock(&self.subs).remove(&client_id.to_string(), filter)
    }

    /// Records a CONNECT for `client_id`; false when the previous one was under a second ago.
    pub fn connect_allowed(&self, client_id: &str) -> bool {
        let now = now_ms();
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
            retained.insert(
                msg.topic.clone(),
                Retained {
                    message,
                    updated_ms: now_ms(),
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

    /// Retains `msg` when asked, then queues it for every subscriber (live copies carry
    /// RETAIN=0); returns how many were queued.
    pub fn publish(&self, msg: Arc<Publish>) -> usize {
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
        let now = now_ms();
        let mut expired = Vec::new();
        let senders: Vec<(mpsc::Sender<Outbound>, u8)> = {
            let mut clients = lock(&self.clients);
            let mut out = Vec::new();
            for (id, sub_qos) in &targets {
                let Some(c) = clients.get_mut(id) else {
                    continue;
                };
                match &c.tx {
                    Some(tx) => out.push((tx.clone(), *sub_qos)),
                    None if c.expires_ms <= now => expired.push(id.clone()),
                    None if sub_qos.min(&msg.qos) == &1 && c.queue.len() < MAX_QUEUED => {
                        c.queue.push_back((msg.clone(), 1));
                    }
                    None => {}
                }
            }
            for id in &expired {
                clients.remove(id);
            }
            out
        };
        for id in &expired {
            lock(&self.subs).remove_client(id);
        }
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
}
