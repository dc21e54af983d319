//! The shadow service: answers the request topics devices publish to (through the broker's
//! service seam) and the iot-data HTTP operations, from one [`Shadows`], writing every
//! accepted change to the store before any answer goes out.

use crate::shadows::{Entry, Shadows};
use crate::topic::parse_topic;
use crate::{Op, ShadowError, ShadowKey, ShadowSettings};
use bytes::Bytes;
use iotmock_mqtt::Publish;
use iotmock_session::{Outbox, Outlet, Reply, Service, ServiceRequest};
use iotmock_store::{Change, Read, Store, StoreError, load_with};
use serde_json::Value;
use std::sync::{Mutex, MutexGuard};

/// The store kind of shadow records.
pub const KIND: &str = "shadow";

/// What one request did: the answer, and the messages it publishes to subscribers.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub result: Result<Value, ShadowError>,
    /// (topic, document) for every subscriber: update/accepted, update/delta,
    /// update/documents, delete/accepted.
    pub published: Vec<(String, Value)>,
}

impl Outcome {
    /// An answer that publishes nothing.
    fn answer(result: Result<Value, ShadowError>) -> Self {
        Self {
            result,
            published: Vec::new(),
        }
    }
}

pub struct ShadowService {
    shadows: Mutex<Shadows>,
    store: Mutex<Box<dyn Store>>,
    /// The region of requests that name none.
    default_region: String,
    /// Where `update/accepted`, `update/delta`, `update/documents` and `delete/accepted` go,
    /// whoever asked (MQTT, HTTP, the in-process handle).
    outlet: Outlet,
    /// AWS's throttles on (`ShadowSettings::throttle`): 20 requests a second per shadow, and
    /// at most 10 in flight per connection.
    throttle: bool,
}

/// Shadow requests one connection may have in flight under AWS's throttles.
pub const IN_FLIGHT_LIMIT: usize = 10;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ShadowService {
    /// Deletes every shadow, in the store and in memory (iotmock's reset).
    pub fn reset(&self) -> Result<(), StoreError> {
        let mut shadows = lock(&self.shadows);
        lock(&self.store).clear()?;
        shadows.clear();
        Ok(())
    }

    /// The service over `store`, holding every shadow the store kept.
    pub fn open(
        mut store: Box<dyn Store>,
        settings: ShadowSettings,
        default_region: &str,
    ) -> Result<Self, StoreError> {
        let throttle = settings.throttle;
        let mut shadows = Shadows::new(settings);
        let read = |r: &iotmock_store::Row| match r.kind.as_str() {
            KIND => serde_json::from_str::<Entry>(&r.value)
                .map(Read::Record)
                .map_err(|e| e.to_string()),
            _ => Ok(Read::Skip),
        };
        for entry in load_with(&mut *store, "shadows", read)? {
            shadows.restore(entry);
        }
        Ok(Self {
            shadows: Mutex::new(shadows),
            store: Mutex::new(store),
            default_region: default_region.to_string(),
            outlet: Outlet::default(),
            throttle,
        })
    }

    /// Writes `entry`; on failure the caller's change is undone and a 500 answered.
    fn persist(
        &self,
        shadows: &mut Shadows,
        entry: &Entry,
        before: Option<Entry>,
    ) -> Result<(), ShadowError> {
        let value =
            serde_json::to_string(entry).map_err(|e| ShadowError::new(500, e.to_string()))?;
        let change = Change::Put {
            kind: KIND,
            key: entry.key.store_key(&entry.region),
            value,
        };
        match lock(&self.store).commit(&[change]) {
            Ok(()) => Ok(()),
            Err(e) => {
                tracing::error!(error = %e, thing = %entry.key.thing, "shadow change not stored");
                shadows.forget(&entry.region, &entry.key);
                if let Some(b) = before {
                    shadows.restore(b);
                }
                Err(ShadowError::new(500, "Internal service failure"))
            }
        }
    }

    /// One request, over MQTT or HTTP: what it changed is stored, then published to the
    /// subscribers of `update/accepted`, `update/delta`, `update/documents` or
    /// `delete/accepted` (in that order) before this returns.
    pub fn request(
        &self,
        region: Option<&str>,
        key: &ShadowKey,
        op: Op,
        payload: &[u8],
        now_ms: i64,
    ) -> Outcome {
        let outcome = self.decide(region, key, op, payload, now_ms);
        let region = region.unwrap_or(&self.default_region);
        for (topic, doc) in &outcome.published {
            self.outlet.publish_in(region, message(topic.clone(), doc));
        }
        outcome
    }

    /// The outcome of one request, stored; nothing published yet (the shadows' lock is
    /// released before anything is).
    fn decide(
        &self,
        region: Option<&str>,
        key: &ShadowKey,
        op: Op,
        payload: &[u8],
        now_ms: i64,
    ) -> Outcome {
        let region = region.unwrap_or(&self.default_region);
        let mut shadows = lock(&self.shadows);
        if let Err(e) = shadows.admit_request(region, key, now_ms) {
            let token = crate::request::read_token(payload).ok().flatten();
            return Outcome::answer(Err(e.with_token(token.as_deref())));
        }
        let before = shadows.entry(region, key).cloned();
        let prefix = key.prefix();
        let change = match op {
            Op::Get => return Outcome::answer(shadows.get(region, key, payload, now_ms)),
            Op::Update => shadows.update(region, key, payload, now_ms).map(|u| {
                let mut published = vec![(format!("{prefix}/update/accepted"), u.accepted.clone())];
                if let Some(d) = u.delta {
                    published.push((format!("{prefix}/update/delta"), d));
                }
                published.push((format!("{prefix}/update/documents"), u.documents));
                (u.entry, u.accepted, published)
            }),
            Op::Delete => shadows.delete(region, key, payload, now_ms).map(|d| {
                let published = vec![(format!("{prefix}/delete/accepted"), d.accepted.clone())];
                (d.entry, d.accepted, published)
            }),
        };
        match change {
            Ok((entry, accepted, published)) => match self.persist(&mut shadows, &entry, before) {
                Ok(()) => Outcome {
                    result: Ok(accepted),
                    published,
                },
                Err(e) => Outcome::answer(Err(e)),
            },
            Err(e) => Outcome::answer(Err(e)),
        }
    }

    /// Every live shadow of `region` (classic and named): its key, document and delta, as
    /// fleet indexing reads them.
    pub fn live(&self, region: Option<&str>) -> Vec<(ShadowKey, crate::Document, Option<Value>)> {
        let region = region.unwrap_or(&self.default_region);
        lock(&self.shadows).all_live(region)
    }

    /// ListNamedShadowsForThing.
    pub fn list_named(&self, region: Option<&str>, thing: &str) -> Vec<String> {
        let region = region.unwrap_or(&self.default_region);
        lock(&self.shadows).list_named(region, thing)
    }
}

fn message(topic: String, doc: &Value) -> Publish {
    Publish::new(topic, Bytes::from(doc.to_string()), 1, false)
}

impl Service for ShadowService {
    fn name(&self) -> &'static str {
        "shadow"
    }

    fn attach(&self, outbox: std::sync::Arc<dyn Outbox>) {
        self.outlet.attach(outbox);
    }

    /// "More than 10 in-flight requests on a single connection" are answered 429, under
    /// AWS's throttles.
    fn in_flight_limit(&self) -> Option<usize> {
        self.throttle.then_some(IN_FLIGHT_LIMIT)
    }

    fn filters(&self) -> Vec<String> {
        let ops = ["get", "update", "delete"];
        let classic = ops.iter().map(|op| format!("$aws/things/+/shadow/{op}"));
        let named = ops
            .iter()
            .map(|op| format!("$aws/things/+/shadow/name/+/{op}"));
        classic.chain(named).collect()
    }

    /// A device's request: every answer goes to all subscribers of its topic (AWS publishes
    /// shadow answers to subscribers, not to the requester alone); errors only to `…/rejected`.
    fn handle(&self, request: &ServiceRequest<'_>) -> Vec<Reply> {
        let Some((key, op)) = parse_topic(request.topic) else {
            return Vec::new();
        };
        let outcome = self.request(request.region, &key, op, request.payload, request.now_ms);
        let prefix = format!("{}/{}", key.prefix(), op.name());
        let mut replies = Vec::new();
        match outcome.result {
            Ok(doc) if op == Op::Get => replies.push(Reply::ToSubscribers(message(
                format!("{prefix}/accepted"),
                &doc,
            ))),
            Ok(_) => {}
            Err(e) => {
                let doc = e.document(request.now_ms.div_euclid(1000));
                replies.push(Reply::ToSubscribers(message(
                    format!("{prefix}/rejected"),
                    &doc,
                )));
            }
        }
        replies
    }

    /// AWS's answer to a device over its shadow request rate: 429 on `.../rejected`.
    fn throttled(&self, request: &ServiceRequest<'_>) -> Vec<Reply> {
        let Some((key, op)) = parse_topic(request.topic) else {
            return Vec::new();
        };
        let token = crate::request::read_token(request.payload).ok().flatten();
        let e = ShadowError::new(429, "Too Many Requests").with_token(token.as_deref());
        let topic = format!("{}/{}/rejected", key.prefix(), op.name());
        let doc = e.document(request.now_ms.div_euclid(1000));
        vec![Reply::ToSubscribers(message(topic, &doc))]
    }
}
