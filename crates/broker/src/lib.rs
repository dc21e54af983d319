//! The mutual-TLS MQTT broker: accepts on a bound listener, completes TLS within a deadline
//! (a client certificate is mandatory), and hands each connection to its own task, which
//! admits or refuses it at CONNECT against the live registry as AWS IoT Core does. Registry
//! changes reach every live connection, so a deactivated certificate is disconnected at once.

mod accept;
mod coalesce;
mod connection;
mod custom;
mod door;
mod env;
pub mod faults;
mod hub;
mod link;
mod mailbox;
mod observe;
mod rates;
mod reset;
mod routing;
mod services;
mod sharded;
pub mod store;
pub mod tls;
mod unbuffered;
mod watch;

pub use accept::{Loop as IoLoop, reuse_port_group, spawn_io_thread};
pub use coalesce::Coalescing;
pub use door::{
    Authenticate, ConnDetails, ConnectCredentials, Credential, Door, Grant, Granted, HttpPublish,
    PublishRefused, Transport,
};
pub use faults::{Answer, FaultPlan};
pub use iotmock_session::{
    CloseReason, ConnectRefusal, Outbox, Outlet, Reply, Service, ServiceRequest,
};
pub use observe::{Observed, PacketSeen, Seen, TlsEnd};
pub use services::SERVICE_QUEUE_DEPTH;
pub use unbuffered::Tls as ServerTls;
/// The packet id a stored message carries when it was written for a live connection: it was
/// (or was about to be) in flight, and goes out again with DUP after a restart.
pub(crate) const IN_FLIGHT: u16 = 0;

/// The default of [`BrokerSettings::queue_bytes`]: a burst of tens of thousands of small
/// messages to a healthy subscriber is absorbed.
pub const DEFAULT_QUEUE_BYTES: usize = 16 * 1024 * 1024;
/// The default of [`BrokerSettings::queue_bytes_total`] (the sessions' waiting QoS 1 messages
/// count in it too): with the 64 KiB every client may always queue, 1,000 clients that stopped
/// reading hold under 1 GiB.
pub const DEFAULT_QUEUE_BYTES_TOTAL: usize = 384 * 1024 * 1024;

use iotmock_registry::{Clock, Principal, Registry, SystemClock};
use iotmock_session::Rules;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch as signal};

/// Broker behaviour that AWS does not pin down, and the guards of this process.
#[derive(Debug, Clone)]
pub struct BrokerSettings {
    /// MQTT 3.1.1 refusals close without CONNACK (AWS); off sends CONNACK 5 / 2 instead.
    pub strict_mqtt3_refusal: bool,
    /// Time allowed for the TLS handshake.
    pub handshake_timeout: Duration,
    /// Time allowed between TLS completing and CONNECT arriving.
    pub connect_timeout: Duration,
    /// Connections beyond this are closed at accept.
    pub max_connections: usize,
    /// AWS's throttles: 100 publishes per second per connection (excess discarded; MQTT 5
    /// QoS 1 gets PUBACK 0x97) and one CONNECT per second per client id (refused as
    /// unauthorized; MQTT 5 CONNACK 0x97). Off by default so tests and load runs are not limited.
    pub throttle: bool,
    /// AWS's documented default for `iot:ConnectAttributes` (unconfirmed in practice): a
    /// persistent-session or last-will CONNECT must be allowed by a statement that tests
    /// `iot:ConnectAttributes`. Off: such connects need only iot:Connect.
    pub require_connect_attributes: bool,
    /// How long a persistent session outlives its connection (AWS: 1 hour by default; the
    /// MQTT 5 Session Expiry Interval is capped at it).
    pub session_expiry: Duration,
    /// The region whose registry admits a client whose TLS SNI names no region (no SNI, an
    /// IP address, `localhost`).
    pub default_region: String,
    /// AWS's documented rule that every client sends SNI (unconfirmed for DEFAULT-mode
    /// certificates, which AWS still admits without it): on, a handshake without SNI is
    /// closed. SNI_ONLY certificates need SNI either way.
    pub require_sni: bool,
    /// Silence allowed per second of keep-alive (AWS: 1.5 s, so 1.5 x keep-alive). Only
    /// tests shorten it, to see keep-alive expiry without waiting 45 seconds.
    pub keep_alive_grace: Duration,
    /// Threads that serve MQTT connections, each a single-threaded runtime with its own
    /// SO_REUSEPORT listener on the listener's address (Linux spreads connections among them).
    /// 0 serves on the caller's runtime, as in-process tests do.
    pub io_threads: usize,
    /// How the I/O threads batch a busy stream's input (only with `io_threads` > 0).
    pub coalescing: Coalescing,
    /// Bytes of deliveries that may wait in the broker for one client (default 16 MiB), and
    /// again in its session for room in the QoS 1 window. Past it, deliveries to that client
    /// are discarded and counted, as AWS discards what a client cannot take.
    pub queue_bytes: usize,
    /// Bytes that may wait for all clients together (default 384 MiB); a client with less than
    /// 64 KiB queued is always served, so a client that keeps up is never slowed by others.
    pub queue_bytes_total: usize,
    /// How long a client may stay over `queue_bytes` before it is disconnected.
    pub slow_client_grace: Duration,
    /// Retained messages the account may hold (AWS: 500,000, a figure only third parties
    /// publish); past it a retained publish with a payload, to a topic that holds none, gets
    /// AWS's throttled answer (MQTT 5 PUBACK 0x97, HTTP 429) and goes nowhere.
    pub max_retained: usize,
    /// The account's publishes per second under `throttle`, inbound and outbound each (AWS:
    /// 20,000, adjustable by a quota request). Past it in one second, an inbound PUBLISH is
    /// discarded as the per-connection throttle discards it, and a delivery is not made
    /// (counted per delivery, as AWS counts outbound publishes), logged once per second.
    pub account_publishes_per_second: u32,
    /// A CONNECT a custom authorizer refused is answered with a not-authorized CONNACK
    /// before the close (true, the default) or just closed.
    pub custom_auth_connack: bool,
}

impl Default for BrokerSettings {
    fn default() -> Self {
        Self {
            strict_mqtt3_refusal: true,
            handshake_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            max_connections: 100_000,
            session_expiry: Duration::from_secs(3600),
            throttle: false,
            require_connect_attributes: false,
            default_region: "us-east-1".into(),
            require_sni: false,
            keep_alive_grace: Duration::from_millis(1500),
            io_threads: 0,
            coalescing: Coalescing::default(),
            queue_bytes: DEFAULT_QUEUE_BYTES,
            queue_bytes_total: DEFAULT_QUEUE_BYTES_TOTAL,
            slow_client_grace: Duration::from_secs(30),
            max_retained: 500_000,
            account_publishes_per_second: rates::ACCOUNT_PUBLISHES_PER_SECOND,
            custom_auth_connack: true,
        }
    }
}

impl BrokerSettings {
    fn rules(&self) -> Rules {
        Rules {
            strict_mqtt3_refusal: self.strict_mqtt3_refusal,
            throttle: self.throttle,
            require_connect_attributes: self.require_connect_attributes,
            session_expiry_secs: self.session_expiry.as_secs(),
            keep_alive_ms_per_second: i64::try_from(self.keep_alive_grace.as_millis())
                .unwrap_or(1500),
            queue_bytes: self.queue_bytes,
        }
    }

    fn bound(&self) -> mailbox::Bound {
        mailbox::Bound {
            bytes: self.queue_bytes,
            total: self.queue_bytes_total,
            grace_ms: i64::try_from(self.slow_client_grace.as_millis()).unwrap_or(i64::MAX),
        }
    }

    /// The account's publishes per second the hub counts against (none: not throttled).
    fn account_rate(&self) -> Option<u32> {
        self.throttle.then_some(self.account_publishes_per_second)
    }
}

type PrincipalCache = sharded::Sharded<(String, String), (u64, Arc<Principal>)>;

/// What every connection task shares.
pub(crate) struct Shared {
    pub registry: Arc<RwLock<Registry>>,
    pub hub: hub::Hub,
    pub settings: BrokerSettings,
    pub rules: Rules,
    /// Which connections each registry change concerns.
    pub watchers: watch::Watchers,
    pub faults: faults::Faults,
    pub observers: observe::Observers,
    /// Principals as of a registry generation: connections with one certificate share one.
    principals: PrincipalCache,
    /// Waits the I/O threads took to coalesce input.
    pub coalesced: Arc<std::sync::atomic::AtomicU64>,
    /// Connections whose rights lapse on the clock (custom authorizers), woken when a test
    /// moves the clock.
    pub timed: custom::Timed,
}

impl Shared {
    /// The certificate `cert_id` as the region SNI named holds it now (`None`: not registered
    /// there). Without a named region: the default region's, else the one region holding it.
    pub fn principal(
        &self,
        named: Option<&str>,
        cert_id: &str,
    ) -> Result<Option<Arc<Principal>>, iotmock_session::RegistryUnavailable> {
        let registry = self
            .registry
            .read()
            .map_err(|_| iotmock_session::RegistryUnavailable)?;
        let default = &self.settings.default_region;
        let Some(region) = named
            .map(str::to_string)
            .or_else(|| registry.region_for(cert_id, default))
        else {
            return Ok(None);
        };
        let generation = registry.generation();
        let key = (region.clone(), cert_id.to_string());
        let mut cache = self.principals.lock(&key);
        if let Some((_, p)) = cache.get(&key).filter(|(g, _)| *g == generation) {
            return Ok(Some(p.clone()));
        }
        let Some(principal) = registry.principal_in(&region, cert_id).map(Arc::new) else {
            cache.remove(&key);
            return Ok(None);
        };
        if cache.len() >= 4096 {
            cache.clear();
        }
        cache.insert(key, (generation, principal.clone()));
        Ok(Some(principal))
    }
}

/// The broker's shared state (sessions, subscriptions, retained messages) behind any number
/// of listeners, and the data-plane entry points the iot-data API uses.
#[derive(Clone)]
pub struct BrokerCore {
    shared: Arc<Shared>,
}

/// A retained message as iot-data reports it.
#[derive(Debug, Clone)]
pub struct RetainedMessage {
    pub topic: String,
    pub payload: bytes::Bytes,
    pub qos: u8,
    pub last_modified_ms: i64,
}

impl BrokerCore {
    /// Creates the core on the system clock, keeping sessions and retained messages in memory,
    /// and subscribes it to registry changes.
    pub fn new(registry: Arc<RwLock<Registry>>, settings: BrokerSettings) -> Self {
        let hub = hub::Hub::new(
            Arc::new(SystemClock),
            Arc::new(store::NoStore),
            settings.bound(),
            settings.account_rate(),
        );
        Self::with_hub(registry, settings, hub)
    }

    /// Creates the core reading time from `clock` and keeping what AWS keeps in `store`
    /// (loaded now).
    pub fn open(
        registry: Arc<RwLock<Registry>>,
        settings: BrokerSettings,
        clock: Arc<dyn Clock>,
        store: Arc<dyn store::BrokerStore>,
    ) -> Result<Self, store::StoreError> {
        let hub = hub::Hub::open(clock, store, settings.bound(), settings.account_rate())?;
        Ok(Self::with_hub(registry, settings, hub))
    }

    fn with_hub(registry: Arc<RwLock<Registry>>, settings: BrokerSettings, hub: hub::Hub) -> Self {
        let shared = Arc::new(Shared {
            registry: registry.clone(),
            hub,
            rules: settings.rules(),
            settings,
            watchers: watch::Watchers::default(),
            faults: faults::Faults::default(),
            observers: observe::Observers::default(),
            principals: Default::default(),
            coalesced: Default::default(),
            timed: Default::default(),
        });
        let weak = Arc::downgrade(&shared);
        if let Ok(mut reg) = registry.write() {
            reg.on_change(Arc::new(move |_, events| {
                if let Some(shared) = weak.upgrade() {
                    shared.watchers.notify(events);
                    shared.hub.registry_changed(events);
                }
            }));
        }
        Self { shared }
    }

    /// Serves MQTT over TLS on `listener` until the returned handle is shut down or dropped,
    /// on the caller's runtime or on `io_threads` threads of its own.
    pub fn listen(
        &self,
        listener: TcpListener,
        tls: Arc<rustls::ServerConfig>,
        require_alpn: bool,
    ) -> std::io::Result<Broker> {
        let addr = listener.local_addr()?;
        let (stop, stopped) = signal::channel(false);
        let parts = accept::LoopParts {
            config: tls,
            shared: self.shared.clone(),
            stopped,
            limit: Arc::new(Semaphore::new(self.shared.settings.max_connections)),
            require_alpn,
        };
        let loops = accept::start(listener, &parts, self.shared.settings.io_threads)?;
        Ok(Broker { addr, stop, loops })
    }

    /// Clients connected now.
    pub fn connected(&self) -> usize {
        self.shared.hub.connected()
    }

    /// How `client_id`'s live connection came in (`None`: not connected).
    pub fn connection_details(&self, client_id: &str) -> Option<Arc<ConnDetails>> {
        self.shared.hub.details_of(client_id)
    }

    /// The topic filters `client_id`'s session is subscribed to, with their QoS, sorted.
    pub fn subscriptions_of(&self, client_id: &str) -> Vec<(String, u8)> {
        let mut all = self.shared.hub.subscriptions_of(client_id);
        all.sort();
        all
    }

    /// What waits for a connected client: `(bytes queued, deliveries discarded)` in the
    /// broker's queue for it; `None` when it is not connected.
    pub fn client_queue(&self, client_id: &str) -> Option<(usize, u64)> {
        self.shared.hub.client_queue(client_id)
    }

    /// How many times an MQTT I/O thread has waited to read a stream of QoS 0 publishes in
    /// batches ([`Coalescing`]).
    pub fn coalesced_waits(&self) -> u64 {
        self.shared
            .coalesced
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Publishes as the iot-data API does (no policy check: the caller holds AWS credentials).
    pub fn publish(&self, topic: &str, payload: bytes::Bytes, qos: u8, retain: bool) {
        let msg = iotmock_mqtt::Publish::new(topic, payload, qos, retain);
        self.shared.hub.publish(Arc::new(msg), None);
    }

    /// DeleteConnection: closes `client_id`'s live connection (MQTT 5 DISCONNECT 0x98,
    /// lifecycle API_INITIATED_DISCONNECT); false when it is not connected.
    pub fn disconnect(&self, client_id: &str, clean_session: bool, prevent_will: bool) -> bool {
        self.shared
            .hub
            .disconnect(client_id, clean_session, prevent_will)
    }

    /// iotmock's reset: closes every connection (sessions dropped, no will) and forgets every
    /// persistent session and retained message. Returns the connections asked to close.
    pub fn reset(&self) -> usize {
        self.shared.hub.reset()
    }

    /// Whether `client_id` holds a subscription that receives `topic`.
    pub fn receives(&self, client_id: &str, topic: &str) -> bool {
        self.shared.hub.receives(client_id, topic)
    }

    /// Starts recording every connection's timeline (accept, TLS, CONNECT, packets, end) for
    /// the returned receiver; a later call replaces the observer.
    pub fn observe(&self) -> tokio::sync::mpsc::UnboundedReceiver<Observed> {
        self.shared.observers.register()
    }

    /// Plugs a service in: it answers the reserved topics it names on a worker of its own,
    /// publishes through the outbox it is handed now, ticks with [`BrokerCore::tick_services`]
    /// and hears the registry's changes if it asks to.
    pub fn register_service(&self, service: Arc<dyn Service>) {
        let link = Arc::new(services::HubLink(Arc::downgrade(&self.shared)));
        self.shared.hub.register_service(service, link);
    }

    /// Asks every service to run what is due by `now_ms` (on its worker, in its order).
    pub fn tick_services(&self, now_ms: i64) {
        self.shared.hub.tick_services(now_ms);
    }

    /// Wakes every connection whose rights lapse on the clock (custom authorizers' refresh
    /// and disconnect windows), so a test that moved a manual clock sees them act.
    pub fn wake_timed(&self) {
        self.shared.timed.wake_all();
    }

    /// Makes every custom-auth connection renew its grant now (`lapse` false: the function is
    /// invoked again) or end it now (`lapse` true: closed as at `disconnectAfterInSeconds`).
    pub fn nudge_grants(&self, lapse: bool) {
        self.shared.timed.nudge_all(lapse);
    }

    /// Waits until every service has done what was queued before this call: requests, ticks
    /// and registry events (a control-plane change is then seen by the services' reactions).
    pub fn settle_services(&self) {
        self.shared.hub.settle_services(|_| true);
    }

    /// Waits until the service named `name` has done what was queued before this call: an
    /// HTTP read of a shadow sees every update a device had acknowledged before it.
    /// Stalls the service `name` until the returned sender is dropped: its requests wait
    /// meanwhile, as behind a slow service (fault injection for tests).
    pub fn hold_service(&self, name: &str) -> Option<std::sync::mpsc::Sender<()>> {
        self.shared.hub.hold_service(name)
    }

    pub fn settle_service(&self, name: &str) {
        self.shared.hub.settle_services(|s| s.name() == name);
    }

    /// Waits until the services that hear the registry have reacted to every change committed
    /// so far (the control plane calls this before it answers a write, so a caller reads its
    /// own write's consequences: a thing added to a group has that group's continuous jobs).
    pub fn settle_registry_listeners(&self) {
        self.shared.hub.settle_services(|s| s.hears_registry());
    }

    /// Makes the broker misbehave on purpose for `client_id` from its next CONNECT on.
    pub fn set_fault_plan(&self, client_id: &str, plan: FaultPlan) {
        self.shared.faults.set(client_id, plan);
    }

    pub fn clear_fault_plan(&self, client_id: &str) {
        self.shared.faults.clear(client_id);
    }

    fn view(r: hub::Retained) -> RetainedMessage {
        RetainedMessage {
            topic: r.message.topic.clone(),
            payload: r.message.payload.clone(),
            qos: r.message.qos,
            last_modified_ms: r.updated_ms,
        }
    }

    pub fn retained(&self, topic: &str) -> Option<RetainedMessage> {
        self.shared.hub.get_retained(topic).map(Self::view)
    }

    pub fn list_retained(&self) -> Vec<RetainedMessage> {
        self.shared
            .hub
            .list_retained()
            .into_iter()
            .map(Self::view)
            .collect()
    }
}

/// A running listener.
pub struct Broker {
    addr: SocketAddr,
    stop: signal::Sender<bool>,
    loops: Vec<accept::Loop>,
}

impl Broker {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, ends every connection (MQTT 5 DISCONNECT 0x8B, the `disconnected`
    /// events with SERVER_INITIATED_DISCONNECT, wills) and waits for them to flush.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for l in self.loops {
            l.join().await;
        }
    }
}
