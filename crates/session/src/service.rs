//! The seam for in-process services on reserved topics (Device Shadow, Jobs, fleet
//! provisioning, and whatever comes next). A service:
//! - names the request topics it answers ([`Service::filters`]) and answers each authorized
//!   PUBLISH to them ([`Service::handle`]), off the MQTT I/O threads, on a worker of its own
//!   that takes its requests in order;
//! - publishes on its own through the [`Outbox`] it is handed once, when it is registered
//!   ([`Service::attach`]): `notify`, `delta` and `documents` messages whatever started the
//!   change (MQTT, HTTP, a timer or a registry event);
//! - runs what is due on the injected clock ([`Service::tick`]);
//! - hears the registry's typed change events ([`Service::registry_changed`]).
//!
//! This crate only defines the seam; the broker runs it.

use bytes::Bytes;
use iotmock_mqtt::Publish;
use iotmock_registry::RegistryEvent;
use std::sync::{Arc, OnceLock};

/// One request to a service.
#[derive(Debug, Clone)]
pub struct ServiceRequest<'a> {
    /// The publishing client; `None` for an HTTP publish (iot-data).
    pub client_id: Option<&'a str>,
    /// The region whose registry admitted the client (`None`: the default region).
    pub region: Option<&'a str>,
    pub topic: &'a str,
    pub payload: &'a Bytes,
    pub now_ms: i64,
    /// The publisher's certificate id (`None` over HTTP).
    pub principal: Option<&'a str>,
    /// The message's MQTT 5 properties, as published.
    pub properties: Option<&'a iotmock_mqtt::PublishProperties>,
    /// The publisher's address (`None` for the iot-data API and the services' own messages).
    pub source_ip: Option<std::net::IpAddr>,
}

/// A service's answer to a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Published to every subscriber allowed to receive it.
    ToSubscribers(Publish),
    /// Delivered only to the requesting client, subscribed or not (at the QoS of its matching
    /// subscription, else 0).
    ToRequester(Publish),
}

/// Where a service's own messages go: an in-process link into the broker's hub.
pub trait Outbox: Send + Sync {
    /// Routes `message` as an iot-data publish does: to every subscriber, and to the services
    /// whose filters it matches.
    fn publish(&self, message: Publish);
    /// Delivers `message` to one client alone (as a [`Reply::ToRequester`] is).
    fn to_client(&self, client_id: &str, message: Publish);
    /// Routes `message` as [`Outbox::publish`] does, as a message of `region` (the services
    /// it reaches act in that region).
    fn publish_in(&self, _region: &str, message: Publish) {
        self.publish(message);
    }
    /// Reads the filters of the service named `service` again (its [`Service::filters`]
    /// changed, e.g. a rule was created).
    fn refresh_filters(&self, _service: &str) {}
}

/// A service that devices reach over MQTT.
pub trait Service: Send + Sync {
    /// A short name, for the worker's thread and logs (`shadow`, `jobs`, `fleet`).
    fn name(&self) -> &'static str;
    /// The topic filters of the requests it answers (e.g. `$aws/things/+/shadow/#`).
    fn filters(&self) -> Vec<String>;
    /// Takes the publisher the service uses for everything it publishes on its own; called
    /// once, when the service is registered.
    fn attach(&self, _outbox: Arc<dyn Outbox>) {}
    /// Whether the service only hears its requests (it answers none and nobody waits on it,
    /// e.g. the fleet index hearing lifecycle events): they are then queued without waking its
    /// worker, which takes them before whatever wakes it next (a request, a tick each second,
    /// a barrier, or a batch of them waiting). Asked for each request, so a service may hear
    /// lazily only while nobody watches it.
    fn hears_lazily(&self) -> bool {
        false
    }
    /// Requests one client may have waiting for this service (AWS's "in flight" bound, e.g.
    /// 10 for Device Shadow); past it a request gets [`Service::throttled`]'s answer at once.
    fn in_flight_limit(&self) -> Option<usize> {
        None
    }
    /// Answers one request (requests are also delivered to ordinary subscribers).
    fn handle(&self, request: &ServiceRequest<'_>) -> Vec<Reply>;
    /// The answer to a request refused because the service's queue is full (AWS's throttle).
    /// Runs on the publishing connection's thread: it must be cheap and take no lock the
    /// service holds while publishing.
    fn throttled(&self, _request: &ServiceRequest<'_>) -> Vec<Reply> {
        Vec::new()
    }
    /// Runs what is due by `now_ms` (timeouts, expiries).
    fn tick(&self, _now_ms: i64) {}
    /// Whether the service wants [`Service::registry_changed`] calls.
    fn hears_registry(&self) -> bool {
        false
    }
    /// Changes the registry committed, in commit order; `now_ms` is when they were committed
    /// (on the broker's clock).
    fn registry_changed(&self, _events: &[RegistryEvent], _now_ms: i64) {}
}

/// A service's slot for its [`Outbox`]: empty until the service is registered, after which
/// every message published through it reaches the hub.
#[derive(Default)]
pub struct Outlet(OnceLock<Arc<dyn Outbox>>);

impl Outlet {
    /// Takes the outbox (a second call keeps the first).
    pub fn attach(&self, outbox: Arc<dyn Outbox>) {
        if self.0.set(outbox).is_err() {
            tracing::warn!("a service was registered twice; its first outbox stays");
        }
    }

    /// Publishes to subscribers; dropped (and logged at debug) before the service is
    /// registered, as a service used on its own has nobody to publish to.
    pub fn publish(&self, message: Publish) {
        match self.0.get() {
            Some(o) => o.publish(message),
            None => tracing::debug!(topic = %message.topic, "no broker attached; not published"),
        }
    }

    /// Publishes as a message of `region`.
    pub fn publish_in(&self, region: &str, message: Publish) {
        match self.0.get() {
            Some(o) => o.publish_in(region, message),
            None => tracing::debug!(topic = %message.topic, "no broker attached; not published"),
        }
    }

    /// Asks the broker to read the service's filters again.
    pub fn refresh_filters(&self, service: &str) {
        if let Some(o) = self.0.get() {
            o.refresh_filters(service);
        }
    }

    /// Delivers to one client.
    pub fn to_client(&self, client_id: &str, message: Publish) {
        match self.0.get() {
            Some(o) => o.to_client(client_id, message),
            None => tracing::debug!(topic = %message.topic, "no broker attached; not delivered"),
        }
    }
}

impl std::fmt::Debug for Outlet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Outlet(attached)"
        } else {
            "Outlet(detached)"
        })
    }
}
