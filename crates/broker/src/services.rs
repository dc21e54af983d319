//! The services' side of the hub: each registered [`Service`] gets a worker thread of its own,
//! fed by a channel, so a service's work (a shadow write, an RSA key) never runs on an MQTT
//! I/O thread and a service takes its requests, ticks and registry events in the order they
//! came. The hub only enqueues. Requests are bounded per service (`pending` counts them): a
//! request beyond the bound gets the service's throttle answer at once, on the publishing
//! connection's thread, and the connection never waits. Ticks, registry events and barriers
//! are never refused: they are few, and losing one would lose data. A service that only
//! hears (no reply, no hurry: the fleet index hearing lifecycle events) has its requests
//! queued without waking its worker, which takes them, in order, before whatever wakes it
//! next (a request, a tick, a barrier, or [`LAZY_BATCH`] of them waiting): a connection
//! costs the I/O thread no wake-up of another thread.

use crate::hub::Hub;
use bytes::Bytes;
use iotmock_mqtt::Publish;
use iotmock_registry::RegistryEvent;
use iotmock_session::{Outbox, Reply, Service, ServiceRequest};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Requests a service may have waiting before further ones are throttled.
pub const SERVICE_QUEUE_DEPTH: usize = 4096;
/// Bytes of request payloads a service may have waiting before further ones are throttled.
pub const SERVICE_QUEUE_BYTES: usize = 16 * 1024 * 1024;

/// Requests of a lazily hearing service that wait before its worker is woken for them.
pub const LAZY_BATCH: usize = 64;

/// How long [`Workers::settle`] waits for a worker before it gives up (and logs).
const SETTLE_WAIT: Duration = Duration::from_secs(30);

/// A request, owned so it can cross to the worker.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub client_id: Option<String>,
    pub region: Option<String>,
    pub topic: String,
    pub payload: Bytes,
    pub now_ms: i64,
    pub principal: Option<String>,
    pub properties: Option<Box<iotmock_mqtt::PublishProperties>>,
    pub source_ip: Option<std::net::IpAddr>,
}

impl Request {
    fn view(&self) -> ServiceRequest<'_> {
        ServiceRequest {
            client_id: self.client_id.as_deref(),
            region: self.region.as_deref(),
            topic: &self.topic,
            payload: &self.payload,
            now_ms: self.now_ms,
            principal: self.principal.as_deref(),
            properties: self.properties.as_deref(),
            source_ip: self.source_ip,
        }
    }
}

/// What a worker is asked to do.
enum Work {
    Request(Request),
    Tick(i64),
    Events(Arc<[RegistryEvent]>, i64),
    /// Answered once everything queued before it is done.
    Barrier(mpsc::SyncSender<()>),
    /// Take the lazily queued requests.
    Drain,
    /// Hold here until the sender is dropped ([`Hub::hold_service`]: a test's stalled service).
    Hold(mpsc::Receiver<()>),
}

/// The requests of a lazily hearing service, queued without waking its worker.
type Lazy = Arc<std::sync::Mutex<Vec<Request>>>;

/// The hub as a service's outbox: routes what the service publishes as an iot-data publish
/// (subscribers, then services), or hands it to one client. Holds the hub weakly, so a
/// service outliving its broker publishes to nobody.
pub(crate) struct HubLink(pub Weak<crate::Shared>);

impl Outbox for HubLink {
    fn publish(&self, message: Publish) {
        if let Some(shared) = self.0.upgrade() {
            Outbox::publish(&shared.hub, message);
        }
    }

    fn to_client(&self, client_id: &str, message: Publish) {
        if let Some(shared) = self.0.upgrade() {
            shared.hub.to_client(client_id, message);
        }
    }

    fn publish_in(&self, region: &str, message: Publish) {
        if let Some(shared) = self.0.upgrade() {
            let from = crate::hub::Origin {
                client_id: "",
                region,
                principal: "",
                source_ip: None,
            };
            shared.hub.publish(Arc::new(message), Some(from));
        }
    }

    fn refresh_filters(&self, service: &str) {
        if let Some(shared) = self.0.upgrade() {
            shared.hub.refresh_service_filters(service);
        }
    }
}

/// One service and the queue into its worker.
pub(crate) struct Worker {
    pub service: Arc<dyn Service>,
    tx: mpsc::Sender<Work>,
    pending: Arc<AtomicUsize>,
    /// Payload bytes of the requests waiting.
    pending_bytes: Arc<AtomicUsize>,
    bound: usize,
    /// Set at the first refusal, cleared when the queue has drained: a burst of throttles is
    /// logged once.
    throttling: Arc<AtomicBool>,
    lazy: Lazy,
    /// Requests each client has waiting, for a service with a per-client bound.
    in_flight: Option<InFlight>,
}

/// A per-client bound on waiting requests and the counts against it.
#[derive(Clone)]
struct InFlight {
    limit: usize,
    by_client: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
}

impl InFlight {
    /// Counts `client` in; false when it already has `limit` waiting.
    fn enter(&self, client: &str) -> bool {
        let mut by = self.by_client.lock().unwrap_or_else(|p| p.into_inner());
        let n = by.entry(client.to_string()).or_default();
        if *n >= self.limit {
            return false;
        }
        *n += 1;
        true
    }

    fn leave(&self, client: &str) {
        let mut by = self.by_client.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = by.get_mut(client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                by.remove(client);
            }
        }
    }
}

impl Worker {
    /// Starts the worker thread `svc-<name>`, which ends when the hub drops the queue.
    pub fn start(service: Arc<dyn Service>, link: Arc<HubLink>, bound: usize) -> Self {
        let (tx, rx) = mpsc::channel();
        let pending = Arc::new(AtomicUsize::new(0));
        let pending_bytes = Arc::new(AtomicUsize::new(0));
        let throttling = Arc::new(AtomicBool::new(false));
        let lazy = Lazy::default();
        let in_flight = service.in_flight_limit().map(|limit| InFlight {
            limit,
            by_client: Default::default(),
        });
        let running = Running {
            service: service.clone(),
            link,
            pending: pending.clone(),
            pending_bytes: pending_bytes.clone(),
            throttling: throttling.clone(),
            lazy: lazy.clone(),
            in_flight: in_flight.clone(),
        };
        let name = format!("svc-{}", service.name());
        let spawned = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || running.run(rx));
        if let Err(e) = spawned {
            tracing::error!(error = %e, worker = %name, "a service worker could not start; its requests go unanswered");
        }
        Self {
            service,
            tx,
            pending,
            pending_bytes,
            bound,
            throttling,
            lazy,
            in_flight,
        }
    }

    /// Queues a request; gives it back when the service's queue is full (the caller
    /// throttles it; the first refusal of a burst is logged here).
    pub fn offer(&self, request: Request) -> Result<(), Box<Request>> {
        if let (Some(bound), Some(client)) = (&self.in_flight, request.client_id.as_deref())
            && !bound.enter(client)
        {
            tracing::info!(service = self.service.name(), client, topic = %request.topic, limit = bound.limit,
                "request refused: too many requests in flight on this connection");
            return Err(Box::new(request));
        }
        let size = request.payload.len();
        let bytes = self.pending_bytes.fetch_add(size, Ordering::AcqRel);
        let full = bytes > 0 && bytes.saturating_add(size) > SERVICE_QUEUE_BYTES;
        if self.pending.fetch_add(1, Ordering::AcqRel) >= self.bound || full {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            self.pending_bytes.fetch_sub(size, Ordering::AcqRel);
            if !self.throttling.swap(true, Ordering::AcqRel) {
                tracing::warn!(
                    service = self.service.name(),
                    topic = %request.topic,
                    client = request.client_id.as_deref().unwrap_or("-"),
                    waiting = self.bound,
                    "service queue full: requests are throttled until it drains (logged once per burst)"
                );
            }
            self.left(&request);
            return Err(Box::new(request));
        }
        if self.service.hears_lazily() {
            let waiting = {
                let mut queue = self.lazy.lock().unwrap_or_else(|p| p.into_inner());
                queue.push(request);
                queue.len()
            };
            if waiting >= LAZY_BATCH {
                let _ = self.tx.send(Work::Drain);
            }
            return Ok(());
        }
        match self.tx.send(Work::Request(request)) {
            Ok(()) => Ok(()),
            Err(mpsc::SendError(work)) => {
                self.pending.fetch_sub(1, Ordering::AcqRel);
                self.pending_bytes.fetch_sub(size, Ordering::AcqRel);
                match work {
                    Work::Request(r) => {
                        self.left(&r);
                        Err(Box::new(r))
                    }
                    _ => Ok(()),
                }
            }
        }
    }

    /// `request` no longer waits (refused after it was counted in).
    fn left(&self, request: &Request) {
        if let (Some(bound), Some(client)) = (&self.in_flight, request.client_id.as_deref()) {
            bound.leave(client);
        }
    }

    /// Stalls the worker until the returned sender is dropped.
    pub fn hold(&self) -> Option<mpsc::Sender<()>> {
        let (release, held) = mpsc::channel();
        self.tx.send(Work::Hold(held)).ok().map(|()| release)
    }

    pub fn tick(&self, now_ms: i64) {
        let _ = self.tx.send(Work::Tick(now_ms));
    }

    pub fn hear(&self, events: &Arc<[RegistryEvent]>, now_ms: i64) {
        if self.service.hears_registry() {
            let _ = self.tx.send(Work::Events(events.clone(), now_ms));
        }
    }

    /// A barrier to wait on: it answers once everything queued before it is done.
    fn barrier(&self) -> Option<mpsc::Receiver<()>> {
        let (done, wait) = mpsc::sync_channel(1);
        self.tx.send(Work::Barrier(done)).ok().map(|()| wait)
    }
}

/// The worker thread's side.
struct Running {
    service: Arc<dyn Service>,
    link: Arc<HubLink>,
    pending: Arc<AtomicUsize>,
    pending_bytes: Arc<AtomicUsize>,
    throttling: Arc<AtomicBool>,
    lazy: Lazy,
    in_flight: Option<InFlight>,
}

impl Running {
    fn run(self, rx: mpsc::Receiver<Work>) {
        for work in rx {
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                self.drain();
                self.work(work);
            }));
            if outcome.is_err() {
                tracing::error!(
                    service = self.service.name(),
                    "a service panicked on one item; the worker goes on with the next"
                );
            }
        }
    }

    /// Takes the lazily queued requests, in the order they came.
    fn drain(&self) {
        let queued = std::mem::take(&mut *self.lazy.lock().unwrap_or_else(|p| p.into_inner()));
        for request in queued {
            self.work(Work::Request(request));
        }
    }

    fn work(&self, work: Work) {
        match work {
            Work::Request(r) => {
                if let (Some(bound), Some(client)) = (&self.in_flight, r.client_id.as_deref()) {
                    bound.leave(client);
                }
                self.pending_bytes
                    .fetch_sub(r.payload.len(), Ordering::AcqRel);
                if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
                    self.throttling.store(false, Ordering::Release);
                }
                let replies = self.service.handle(&r.view());
                send_replies(&*self.link, r.client_id.as_deref(), replies);
            }
            Work::Tick(now) => self.service.tick(now),
            Work::Events(events, now) => self.service.registry_changed(&events, now),
            Work::Barrier(done) => {
                let _ = done.send(());
            }
            Work::Drain => {}
            Work::Hold(held) => {
                let _ = held.recv();
            }
        }
    }
}

/// Sends a service's replies: to subscribers, or to the requester alone (an HTTP request has
/// no requester to answer).
pub(crate) fn send_replies(out: &dyn Outbox, requester: Option<&str>, replies: Vec<Reply>) {
    for reply in replies {
        match (reply, requester) {
            (Reply::ToSubscribers(p), _) => out.publish(p),
            (Reply::ToRequester(p), Some(client)) => out.to_client(client, p),
            (Reply::ToRequester(_), None) => {}
        }
    }
}

/// Every registered service's worker, in registration order.
#[derive(Default)]
pub(crate) struct Workers(pub Vec<Worker>);

impl Workers {
    /// Waits until every worker has done what was queued before this call (so a change the
    /// caller made is seen by the services' reactions). Bounded: a worker that does not answer
    /// within the wait is logged and left.
    pub fn settle(barriers: Vec<(&'static str, mpsc::Receiver<()>)>) {
        for (name, wait) in barriers {
            if let Err(e) = wait.recv_timeout(SETTLE_WAIT) {
                tracing::warn!(service = name, error = %e, "a service did not settle in time");
            }
        }
    }

    /// Barriers queued to the workers `which` picks.
    pub fn barriers(
        &self,
        which: impl Fn(&dyn Service) -> bool,
    ) -> Vec<(&'static str, mpsc::Receiver<()>)> {
        self.0
            .iter()
            .filter(|w| which(&*w.service))
            .filter_map(|w| w.barrier().map(|b| (w.service.name(), b)))
            .collect()
    }
}

impl Outbox for Hub {
    fn publish(&self, message: Publish) {
        Hub::publish(self, Arc::new(message), None);
    }

    fn to_client(&self, client_id: &str, message: Publish) {
        self.to_requester(client_id, Arc::new(message));
    }
}

impl Hub {
    /// Throttles a request a full queue refused: the service's own throttle answer, routed now.
    pub(crate) fn throttle(&self, service: &dyn Service, request: &Request) {
        tracing::debug!(service = service.name(), topic = %request.topic, "request throttled");
        let replies = service.throttled(&request.view());
        send_replies(self, request.client_id.as_deref(), replies);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A service whose `handle` says it started, then waits to be let go.
    struct Gate {
        started: Mutex<mpsc::Sender<()>>,
        go: Mutex<mpsc::Receiver<()>>,
    }

    impl Service for Gate {
        fn name(&self) -> &'static str {
            "gate"
        }
        fn filters(&self) -> Vec<String> {
            vec!["gate".into()]
        }
        fn handle(&self, _request: &ServiceRequest<'_>) -> Vec<Reply> {
            let _ = self.started.lock().map(|s| s.send(()));
            let _ = self.go.lock().map(|g| g.recv());
            Vec::new()
        }
    }

    fn request() -> Request {
        sized(0)
    }

    fn sized(bytes: usize) -> Request {
        Request {
            client_id: Some("c".into()),
            region: None,
            topic: "gate".into(),
            payload: Bytes::from(vec![0u8; bytes]),
            now_ms: 0,
            principal: None,
            properties: None,
            source_ip: None,
        }
    }

    #[test]
    fn waiting_requests_are_bounded_in_bytes_too() {
        let (started_tx, started) = mpsc::channel();
        let (go, go_rx) = mpsc::channel();
        let gate = Arc::new(Gate {
            started: Mutex::new(started_tx),
            go: Mutex::new(go_rx),
        });
        let worker = Worker::start(gate, Arc::new(HubLink(Weak::new())), 1000);
        assert!(worker.offer(request()).is_ok());
        started.recv().expect("the worker took the first request");
        let ten_mib = 10 * 1024 * 1024;
        assert!(worker.offer(sized(ten_mib)).is_ok(), "10 MiB may wait");
        assert!(worker.offer(sized(ten_mib)).is_err(), "20 MiB may not");
        assert!(worker.offer(sized(1024)).is_ok(), "a small one still fits");
        for _ in 0..3 {
            go.send(()).expect("let one go");
        }
        drop(go);
    }

    #[test]
    fn a_full_queue_refuses_without_waiting_and_a_barrier_waits_for_the_work() {
        let (started_tx, started) = mpsc::channel();
        let (go, go_rx) = mpsc::channel();
        let gate = Arc::new(Gate {
            started: Mutex::new(started_tx),
            go: Mutex::new(go_rx),
        });
        let worker = Worker::start(gate, Arc::new(HubLink(Weak::new())), 1);
        assert!(worker.offer(request()).is_ok());
        started.recv().expect("the worker took the first request");
        assert!(worker.offer(request()).is_ok(), "one may wait");
        assert!(
            worker.offer(request()).is_err(),
            "the second waiting is refused"
        );
        let barrier = worker.barrier().expect("queued");
        assert!(
            barrier.try_recv().is_err(),
            "the work before it is not done"
        );
        go.send(()).expect("let the first go");
        started.recv().expect("the worker took the second request");
        go.send(()).expect("let the second go");
        barrier
            .recv()
            .expect("the barrier answers once both are done");
        assert!(worker.offer(request()).is_ok(), "drained: taken again");
        started.recv().expect("taken");
        go.send(()).expect("let it go");
    }
}
