//! The mutual-TLS MQTT broker: accepts on a bound listener, completes TLS within a deadline
//! (a client certificate is mandatory), and hands each connection to its own task, which
//! admits or refuses it at CONNECT against the live registry as AWS IoT Core does. Registry
//! changes reach every live connection, so a deactivated certificate is disconnected at once.

mod connection;
mod env;
pub mod faults;
mod hub;
mod link;
mod observe;
mod routing;
mod sharded;
pub mod store;
pub mod tls;
mod watch;

pub use faults::{Answer, FaultPlan};
pub use iotmock_session::{CloseReason, ConnectRefusal, Reply, Service, ServiceRequest};
pub use observe::{Observed, PacketSeen, Seen, TlsEnd};

use iotmock_registry::{Clock, Principal, Registry, SystemClock};
use iotmock_session::Rules;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch as signal};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

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
        }
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
        let hub = hub::Hub::new(Arc::new(SystemClock), Arc::new(store::NoStore));
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
        let hub = hub::Hub::open(clock, store)?;
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
        });
        let weak = Arc::downgrade(&shared);
        if let Ok(mut reg) = registry.write() {
            reg.on_change(Arc::new(move |_, events| {
                if let Some(shared) = weak.upgrade() {
                    shared.watchers.notify(events);
                }
            }));
        }
        Self { shared }
    }

    /// Serves MQTT over TLS on `listener` until the returned handle is shut down or dropped.
    pub fn listen(
        &self,
        listener: TcpListener,
        tls: Arc<rustls::ServerConfig>,
        require_alpn: bool,
    ) -> std::io::Result<Broker> {
        let addr = listener.local_addr()?;
        let (stop, stopped) = signal::channel(false);
        let limit = Arc::new(Semaphore::new(self.shared.settings.max_connections));
        let task = tokio::spawn(accept_loop(
            listener,
            TlsAcceptor::from(tls),
            self.shared.clone(),
            (stopped, limit.clone()),
            require_alpn,
        ));
        Ok(Broker {
            addr,
            stop,
            task,
            limit,
            max: self.shared.settings.max_connections,
        })
    }

    /// Clients connected now.
    pub fn connected(&self) -> usize {
        self.shared.hub.connected()
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

    /// Whether `client_id` holds a subscription that receives `topic`.
    pub fn receives(&self, client_id: &str, topic: &str) -> bool {
        self.shared.hub.receives(client_id, topic)
    }

    /// Starts recording every connection's timeline (accept, TLS, CONNECT, packets, end) for
    /// the returned receiver; a later call replaces the observer.
    pub fn observe(&self) -> tokio::sync::mpsc::UnboundedReceiver<Observed> {
        self.shared.observers.register()
    }

    /// Plugs a service into the reserved topics it names.
    pub fn register_service(&self, service: Arc<dyn Service>) {
        self.shared.hub.register_service(service);
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
    task: JoinHandle<()>,
    limit: Arc<Semaphore>,
    max: usize,
}

/// How long shutdown waits for connections to say goodbye.
const DRAIN: Duration = Duration::from_secs(5);

impl Broker {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, ends every connection (MQTT 5 DISCONNECT 0x8B, the `disconnected`
    /// events with SERVER_INITIATED_DISCONNECT, wills) and waits for them to flush.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        let all = u32::try_from(self.max).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(DRAIN, self.limit.acquire_many(all)).await;
    }
}

type Stop = (signal::Receiver<bool>, Arc<Semaphore>);

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    (mut stopped, limit): Stop,
    require_alpn: bool,
) {
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "mqtt accept failed");
                    continue;
                }
            },
            _ = stopped.changed() => return,
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            tracing::warn!(%peer, max = shared.settings.max_connections, "connection refused: connection limit reached");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, shared) = (acceptor.clone(), shared.clone());
        let stopped = stopped.clone();
        let tap = shared.observers.tap(&shared.hub.clock);
        if let Some(t) = &tap {
            t.record(Seen::Accepted);
        }
        tokio::spawn(async move {
            let incoming = (tcp, peer, tap);
            let handshake = handshake(incoming, acceptor, &shared, require_alpn, stopped.clone());
            let Some((tls, peer)) = handshake.await else {
                return;
            };
            let Some(admitted) = connection::admit_connection(tls, peer, shared).await else {
                return;
            };
            // The admitted connection gets a task of its own, sized for serving alone: the
            // handshake's and admission's larger state goes with this task, so an idle
            // connection holds only what serving needs.
            tokio::spawn(async move {
                connection::drive(admitted, stopped).await;
                drop(permit);
            });
        });
    }
}

type Incoming = (tokio::net::TcpStream, SocketAddr, Option<observe::Tap>);
type Tls = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;

/// The TLS handshake and the checks on its outcome; the stream and peer to serve, or `None`
/// (logged) when the connection ends here.
async fn handshake(
    (tcp, addr, tap): Incoming,
    acceptor: TlsAcceptor,
    shared: &Shared,
    require_alpn: bool,
    mut stopped: signal::Receiver<bool>,
) -> Option<(Tls, connection::Peer)> {
    let handshake = tokio::time::timeout(
        shared.settings.handshake_timeout,
        accept_tls(tcp, acceptor, tap.as_ref()),
    );
    let tls = tokio::select! {
        done = handshake => match done {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                tracing::info!(peer = %addr, error = %e, "TLS handshake failed");
                if let Some(t) = &tap {
                    t.record(Seen::Handshake(observe::TlsEnd::of_error(&e)));
                }
                return None;
            }
            Err(_) => {
                tracing::info!(peer = %addr, "TLS handshake did not complete in time");
                if let Some(t) = &tap {
                    t.record(Seen::Handshake(observe::TlsEnd::TimedOut));
                }
                return None;
            }
        },
        _ = stopped.changed() => return None,
    };
    if let Some(t) = &tap {
        t.record(Seen::Handshake(observe::TlsEnd::Completed));
    }
    let Some(mut peer) = identify(&tls, addr, shared, require_alpn) else {
        if let Some(t) = &tap {
            t.record(Seen::Closed {
                reason: "NOT_ADMITTED",
            });
        }
        return None;
    };
    peer.tap = tap;
    Some((tls, peer))
}

/// The TLS handshake; when someone observes, the ClientHello is read first and recorded.
async fn accept_tls(
    tcp: tokio::net::TcpStream,
    acceptor: TlsAcceptor,
    tap: Option<&observe::Tap>,
) -> std::io::Result<tokio_rustls::server::TlsStream<tokio::net::TcpStream>> {
    let Some(t) = tap else {
        return acceptor.accept(tcp).await;
    };
    let lazy = tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp);
    let start = lazy.await?;
    let hello = start.client_hello();
    t.record(Seen::Hello {
        suites: hello
            .cipher_suites()
            .iter()
            .map(|s| u16::from(*s))
            .collect(),
        sni: hello.server_name().map(str::to_string),
    });
    start.into_stream(acceptor.config().clone()).await
}

/// The client certificate, ALPN and SNI of a completed handshake; `None` (logged) when the
/// connection must close.
fn identify<S>(
    tls: &tokio_rustls::server::TlsStream<S>,
    addr: SocketAddr,
    shared: &Shared,
    require_alpn: bool,
) -> Option<connection::Peer> {
    let (_, session) = tls.get_ref();
    let leaf = session
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.as_ref().to_vec());
    let Some(leaf) = leaf else {
        tracing::info!(peer = %addr, "closed: no client certificate");
        return None;
    };
    if require_alpn && session.alpn_protocol() != Some(tls::ALPN_MQTT_CA) {
        tracing::info!(peer = %addr, "closed: ALPN x-amzn-mqtt-ca is required on this listener");
        return None;
    }
    let sni = session.server_name();
    if sni.is_none() && shared.settings.require_sni {
        tracing::info!(peer = %addr, "closed: the client sent no TLS SNI (require_sni is on)");
        return None;
    }
    let region = sni.and_then(tls::region_of_sni).map(str::to_string);
    let sni = sni.is_some();
    Some(connection::Peer {
        leaf,
        addr,
        region,
        sni,
        tap: None,
    })
}
