//! HTTP batching (`enableBatching`, `batchConfig`), as AWS documents it: messages of one
//! account, rule, URL and (unless `batchAcrossTopics`) topic wait up to `maxBatchOpenMs`
//! (default 20) for others; a batch goes out as one POST whose body is a JSON array of the
//! messages (`Content-Type: application/json`) when it holds `maxBatchSize` messages (default
//! 10), when the next message would pass `maxBatchSizeBytes` (default 5120), or when its time is
//! up. The request carries the headers of the last message added. Each message's action has
//! the batch's outcome, so a failed batch runs each message's error action.

use iotmock_rules::engine::Invocation;
use iotmock_rules::later::{Done, Job};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A batch's limits (AWS's defaults when `batchConfig` leaves them out).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub open: Duration,
    pub size: usize,
    pub bytes: usize,
    pub across_topics: bool,
}

impl Limits {
    /// The limits of an `http` action with `enableBatching: true`, else `None`.
    pub fn of(inv: &Invocation) -> Option<Self> {
        let on = inv.params.get("enableBatching").and_then(Value::as_bool);
        if inv.kind.member != "http" || on != Some(true) {
            return None;
        }
        let config = inv.params.get("batchConfig");
        let num = |k: &str, default: u64| {
            config
                .and_then(|c| c.get(k))
                .and_then(Value::as_u64)
                .unwrap_or(default)
        };
        Some(Self {
            open: Duration::from_millis(num("maxBatchOpenMs", 20)),
            size: usize::try_from(num("maxBatchSize", 10)).unwrap_or(10),
            bytes: usize::try_from(num("maxBatchSizeBytes", 5120)).unwrap_or(5120),
            across_topics: config
                .and_then(|c| c.get("batchAcrossTopics"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }
}

/// Messages waiting to go out together.
pub struct Batch {
    /// The invocation of the last message added (its URL and headers are the request's).
    pub last: Invocation,
    /// Each message's body and its action's outcome callback.
    pub parts: Vec<(Vec<u8>, Done)>,
    bytes: usize,
    /// Tells the open batch's timer which batch it was started for.
    generation: u64,
}

impl Batch {
    /// The request body: a JSON array of the messages (a message that is not JSON goes in as
    /// a JSON string).
    pub fn body(&self) -> Vec<u8> {
        let mut out = b"[".to_vec();
        for (i, (payload, _)) in self.parts.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            if serde_json::from_slice::<serde::de::IgnoredAny>(payload).is_ok() {
                out.extend_from_slice(payload);
            } else {
                let text = String::from_utf8_lossy(payload);
                out.extend(Value::String(text.into_owned()).to_string().into_bytes());
            }
        }
        out.push(b']');
        out
    }
}

/// The open batches, by account, rule, URL and topic.
#[derive(Clone, Default)]
pub struct Batches {
    open: Arc<Mutex<HashMap<String, Batch>>>,
    next: Arc<AtomicU64>,
}

/// What adding a message asks of the caller, besides sending any batch it closed.
pub enum Added {
    /// A batch was opened: after its time, [`Batches::expire`] it with this key and generation.
    Opened(String, u64),
    /// The message joined an open batch.
    Joined,
}

impl Batches {
    fn key(job: &Job, account: &str, limits: &Limits) -> String {
        let url = job.invocation.params.get("url").and_then(Value::as_str);
        let topic = if limits.across_topics { "" } else { &job.topic };
        format!(
            "{account}\n{}\n{}\n{topic}",
            job.rule,
            url.unwrap_or_default()
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Batch>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a message. Returns the batches to send now (the open one when this message would
    /// pass the byte limit; this one when it is full) and whether a timer must start.
    pub fn add(&self, account: &str, job: Job, limits: &Limits) -> (Vec<Batch>, Added) {
        let key = Self::key(&job, account, limits);
        let mut open = self.lock();
        let len = job.invocation.payload.len();
        let mut send = Vec::new();
        if open
            .get(&key)
            .is_some_and(|b| b.bytes + len + 1 > limits.bytes)
        {
            send.extend(open.remove(&key));
        }
        let part = (job.invocation.payload.clone(), job.done);
        let added = match open.get_mut(&key) {
            Some(batch) => {
                batch.parts.push(part);
                batch.bytes += len + 1;
                batch.last = job.invocation;
                Added::Joined
            }
            None => {
                let generation = self.next.fetch_add(1, Ordering::Relaxed);
                let batch = Batch {
                    last: job.invocation,
                    parts: vec![part],
                    bytes: len + 2,
                    generation,
                };
                open.insert(key.clone(), batch);
                Added::Opened(key.clone(), generation)
            }
        };
        if open.get(&key).is_some_and(|b| b.parts.len() >= limits.size) {
            send.extend(open.remove(&key));
        }
        (send, added)
    }

    /// The batch a timer was started for, if it is still open.
    pub fn expire(&self, key: &str, generation: u64) -> Option<Batch> {
        let mut open = self.lock();
        if open.get(key).is_some_and(|b| b.generation == generation) {
            return open.remove(key);
        }
        None
    }
}
