//! What connections share: who is connected under which client id, who is subscribed to
//! what, and delivery of a published message to each subscriber's connection task. Locks are
//! held only to copy out what a step needs, never across an await.

use iotmock_mqtt::Publish;
use iotmock_mqtt::subscriptions::Subscriptions;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc;

/// Messages queued for one connection before it drops QoS 0 deliveries.
pub const QUEUE_DEPTH: usize = 1024;

/// What a connection task is asked to do by others.
#[derive(Debug)]
pub enum Outbound {
    /// Deliver a message at the granted QoS (the task checks iot:Receive first).
    Deliver(Arc<Publish>, u8),
    /// Another connection took this client id over.
    TakenOver,
}

struct Client {
    conn_id: u64,
    tx: mpsc::Sender<Outbound>,
}

#[derive(Default)]
pub struct Hub {
    clients: Mutex<HashMap<String, Client>>,
    subs: Mutex<Subscriptions<String>>,
    next_id: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Hub {
    /// Registers a connection under `client_id`, taking over (and telling) any previous one.
    pub fn register(&self, client_id: &str, tx: mpsc::Sender<Outbound>) -> u64 {
        let conn_id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let previous = lock(&self.clients).insert(client_id.to_string(), Client { conn_id, tx });
        if let Some(old) = previous {
            lock(&self.subs).remove_client(&client_id.to_string());
            let _ = old.tx.try_send(Outbound::TakenOver);
        }
        conn_id
    }

    /// Removes the connection and its subscriptions, unless a newer one owns the client id.
    pub fn unregister(&self, client_id: &str, conn_id: u64) {
        let mut clients = lock(&self.clients);
        if clients.get(client_id).is_some_and(|c| c.conn_id == conn_id) {
            clients.remove(client_id);
            drop(clients);
            lock(&self.subs).remove_client(&client_id.to_string());
        }
    }

    pub fn connected(&self) -> usize {
        lock(&self.clients).len()
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

    /// Queues `msg` for every subscriber; returns how many were queued.
    pub fn publish(&self, msg: Arc<Publish>) -> usize {
        let targets = lock(&self.subs).route(&msg.topic);
        if targets.is_empty() {
            return 0;
        }
        let senders: Vec<(mpsc::Sender<Outbound>, u8)> = {
            let clients = lock(&self.clients);
            targets
                .iter()
                .filter_map(|(id, q)| clients.get(id).map(|c| (c.tx.clone(), *q)))
                .collect()
        };
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
