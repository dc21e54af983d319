//! Routing a message through the hub: the retained store, every subscriber's queue (offline
//! persistent sessions keep QoS 1 messages, on disk before the publisher's PUBACK), and the
//! services whose request topics it matches.

use crate::hub::{Hub, MAX_QUEUED, Origin, Outbound, Retained, lock, read, write};
use crate::services::Request;
use crate::store::RetainedRecord;
use iotmock_mqtt::Publish;
use iotmock_mqtt::topic::{matches, shared};
use iotmock_session::Stored;
use iotmock_session::events::Event;
use std::sync::Arc;

impl Hub {
    /// Routes a message: retains it when asked, queues it for every subscriber (live copies
    /// carry RETAIN=0), then hands it to the services whose filters it matches, publishing
    /// their answers. `from` is the publishing client (`None`: the iot-data API).
    pub fn publish(&self, msg: Arc<Publish>, from: Option<Origin<'_>>) -> usize {
        let queued = self.route(msg.clone());
        self.dispatch(&msg, from);
        queued
    }

    /// Publishes as iot-data does, saying whether a retained message reached the store: when
    /// it did not (a full disk), it is kept in memory and delivered all the same, and the
    /// caller answers an error, since it would not survive a restart.
    pub fn publish_stored(&self, msg: Arc<Publish>, from: Option<Origin<'_>>) -> (usize, bool) {
        if !msg.retain {
            return (self.publish(msg, from), true);
        }
        let stored = self.retain(&msg);
        let live = Arc::new(Publish {
            retain: false,
            ..(*msg).clone()
        });
        (self.publish(live, from), stored)
    }

    /// Routes a message the services must not see (a will).
    pub fn publish_unserviced(&self, msg: Arc<Publish>) -> usize {
        self.route(msg)
    }

    /// Stores or clears (empty payload) a retained message; false when the store refused.
    fn retain(&self, msg: &Publish) -> bool {
        let mut retained = lock(&self.retained);
        if msg.payload.is_empty() {
            if retained.remove(&msg.topic).is_some() {
                return self.stored("retained message", self.store.delete_retained(&msg.topic));
            }
            return true;
        }
        let message = Arc::new(Publish {
            retain: true,
            pkid: 0,
            dup: false,
            ..msg.clone()
        });
        let updated_ms = self.now_ms();
        let record = RetainedRecord {
            message: message.clone(),
            updated_ms,
        };
        let stored = self.stored("retained message", self.store.put_retained(&record));
        retained.insert(
            msg.topic.clone(),
            Retained {
                message,
                updated_ms,
            },
        );
        stored
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

    /// Publishes a lifecycle event when its topic has a receiver, a subscriber or a service
    /// (its JSON is built only then).
    pub fn publish_event(&self, event: &Event, from: Option<Origin<'_>>) {
        let wanted = read(&self.subs).any(&event.topic) || {
            read(&self.services).filters.any(&event.topic)
        };
        if wanted {
            self.publish(Arc::new(event.message()), from);
        }
    }

    /// Queues `msg` as a request to every service whose filters it matches, in the order they
    /// were plugged in; a service whose queue is full answers its throttle at once.
    fn dispatch(&self, msg: &Publish, from: Option<Origin<'_>>) {
        let services = read(&self.services);
        if services.workers.0.is_empty() {
            return;
        }
        let mut hits: Vec<usize> = services
            .filters
            .route(&msg.topic)
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        hits.sort_unstable();
        let mut refused = Vec::new();
        for (i, worker) in hits
            .iter()
            .filter_map(|i| Some((*i, services.workers.0.get(*i)?)))
        {
            let request = Request {
                client_id: from
                    .map(|o| o.client_id.to_string())
                    .filter(|c| !c.is_empty()),
                region: from.map(|o| o.region.to_string()),
                topic: msg.topic.clone(),
                payload: msg.payload.clone(),
                now_ms: self.now_ms(),
                principal: from
                    .map(|o| o.principal.to_string())
                    .filter(|p| !p.is_empty()),
                properties: msg.properties.clone().map(Box::new),
                source_ip: from.and_then(|o| o.source_ip),
            };
            if let Err(request) = worker.offer(request) {
                refused.push((i, request));
            }
        }
        // Throttle answers are routed after the services' lock is released: routing them
        // takes it again.
        let refused: Vec<_> = refused
            .into_iter()
            .filter_map(|(i, r)| Some((services.workers.0.get(i)?.service.clone(), r)))
            .collect();
        drop(services);
        for (service, request) in refused {
            self.throttle(&*service, &request);
        }
    }

    /// Delivers a service's answer to the requesting client alone, subscribed or not (as AWS
    /// sends Jobs answers), at the QoS of its matching subscription or else 0.
    pub(crate) fn to_requester(&self, client_id: &str, msg: Arc<Publish>) {
        // The subscription lock is released before the client's queue is touched (the hub
        // always takes a client's lock before the subscription lock, never the reverse).
        let qos = {
            let subs = read(&self.subs);
            let inner = |f: &str| shared(f).map_or(f.to_string(), |(_, i)| i.to_string());
            let filters = subs.of(client_id);
            let matching = filters
                .into_iter()
                .flatten()
                .filter(|(f, _)| matches(&inner(f), &msg.topic));
            matching.map(|(_, q)| *q).max()
        };
        let qos = qos.unwrap_or(0).min(msg.qos);
        self.send_to(client_id, msg, qos);
    }

    /// Whether `client_id` has a subscription matching `topic`.
    pub fn receives(&self, client_id: &str, topic: &str) -> bool {
        read(&self.subs)
            .route(topic)
            .iter()
            .any(|(k, _)| &**k == client_id)
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
        let targets = read(&self.subs).route(&msg.topic);
        if targets.is_empty() {
            return 0;
        }
        self.deliver(&msg, &targets)
    }

    /// Queues `msg` for each target: a live subscriber's queue takes it (a full queue
    /// discards it, as AWS discards excess), an offline persistent session keeps it at QoS 1
    /// (on disk), an expired session is removed. Returns how many live queues took it.
    fn deliver(&self, msg: &Arc<Publish>, targets: &[(Arc<str>, u8)]) -> usize {
        let now = self.now_ms();
        let (mut expired, mut kept, mut queued) = (Vec::new(), Vec::new(), 0);
        for (id, sub_qos) in targets {
            let qos = (*sub_qos).min(msg.qos);
            let key: &str = id;
            let mut clients = self.clients.lock(key);
            let Some(c) = clients.get_mut(key) else {
                continue;
            };
            match &c.tx {
                // Sending never runs the receiving task, so the client's lock may be held.
                Some(tx)
                    if self.offer_counted(tx, Outbound::Deliver(msg.clone(), qos), now, key) =>
                {
                    queued += 1;
                    // A live persistent session's QoS 1 message is on disk before the
                    // publisher's PUBACK, so a crash does not lose it (pkid 0: it was being
                    // delivered; after a restart it goes out again with DUP).
                    if qos == 1 && c.keep_ms.is_some() {
                        let k = Stored {
                            message: msg.clone(),
                            qos: 1,
                            pkid: Some(crate::IN_FLIGHT),
                        };
                        kept.push((id.clone(), k));
                    }
                }
                Some(_) => {}
                None if c.expires_ms <= now => expired.push(id.clone()),
                None if qos == 1 && c.queue.len() < MAX_QUEUED => {
                    let k = Stored {
                        message: msg.clone(),
                        qos: 1,
                        pkid: None,
                    };
                    c.queue.push_back(k.clone());
                    kept.push((id.clone(), k));
                }
                None => {}
            }
            if c.tx.is_none() && c.expires_ms <= now {
                clients.remove(key);
            }
        }
        for (id, k) in kept {
            self.stored("queued message", self.store.enqueue(&id, &[k]));
        }
        for id in &expired {
            write(&self.subs).remove_client(id);
            self.stored("session", self.store.delete_session(id));
        }
        queued
    }
}
