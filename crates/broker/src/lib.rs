//! The mutual-TLS MQTT broker: accepts on a bound listener, completes TLS within a deadline
//! (a client certificate is mandatory), and hands each connection to its own task, which
//! admits or refuses it at CONNECT against the live registry as AWS IoT Core does. Registry
//! changes reach every live connection, so a deactivated certificate is disconnected at once.

mod admission;
mod authz;
mod connection;
mod events;
mod hub;
mod packets;
mod refusal;
pub mod tls;

pub use authz::{Action, Authz};
pub use refusal::{CloseReason, ConnectRefusal};

use iotmock_registry::Registry;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
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
        }
    }
}

/// AWS's limit on publishes per second per connection.
pub const PUBLISHES_PER_SECOND: u32 = 100;

/// What every connection task shares.
pub(crate) struct Shared {
    pub registry: Arc<RwLock<Registry>>,
    pub hub: hub::Hub,
    pub settings: BrokerSettings,
    pub changes: watch::Receiver<u64>,
    /// Principals as of a registry generation: connections with one certificate share one.
    principals: std::sync::Mutex<
        std::collections::HashMap<String, (u64, Arc<iotmock_registry::Principal>)>,
    >,
}

impl Shared {
    /// The registered certificate `cert_id` as of now (`None`: not registered).
    pub fn principal(
        &self,
        cert_id: &str,
    ) -> Result<Option<Arc<iotmock_registry::Principal>>, String> {
        let registry = self
            .registry
            .read()
            .map_err(|_| "registry unavailable".to_string())?;
        let generation = registry.generation();
        let mut cache = self.principals.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, p)) = cache.get(cert_id).filter(|(g, _)| *g == generation) {
            return Ok(Some(p.clone()));
        }
        let Some(principal) = registry.principal(cert_id).map(Arc::new) else {
            cache.remove(cert_id);
            return Ok(None);
        };
        if cache.len() >= 100_000 {
            cache.clear();
        }
        cache.insert(cert_id.to_string(), (generation, principal.clone()));
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
    /// Creates the core and subscribes it to registry changes.
    pub fn new(registry: Arc<RwLock<Registry>>, settings: BrokerSettings) -> Self {
        let (changed, changes) = watch::channel(0u64);
        if let Ok(mut reg) = registry.write() {
            reg.on_change(Arc::new(move |generation| {
                changed.send_replace(generation);
            }));
        }
        let shared = Arc::new(Shared {
            registry,
            hub: hub::Hub::default(),
            settings,
            changes,
            principals: Default::default(),
        });
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
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(
            listener,
            TlsAcceptor::from(tls),
            self.shared.clone(),
            stopped,
            require_alpn,
        ));
        Ok(Broker { addr, stop, task })
    }

    /// Clients connected now.
    pub fn connected(&self) -> usize {
        self.shared.hub.connected()
    }

    /// Publishes as the iot-data API does (no policy check: the caller holds AWS credentials).
    pub fn publish(&self, topic: &str, payload: bytes::Bytes, qos: u8, retain: bool) {
        let msg = iotmock_mqtt::Publish {
            topic: topic.into(),
            payload,
            qos,
            retain,
            dup: false,
            pkid: 0,
            properties: None,
        };
        self.shared.hub.publish(Arc::new(msg));
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
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Broker {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and waits for the accept loop to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
    require_alpn: bool,
) {
    let limit = Arc::new(Semaphore::new(shared.settings.max_connections));
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
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = handshake_and_serve(tcp, peer, acceptor, shared, require_alpn) => {}
                _ = stopped.changed() => {}
            }
            drop(permit);
        });
    }
}

async fn handshake_and_serve(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    require_alpn: bool,
) {
    let tls =
        match tokio::time::timeout(shared.settings.handshake_timeout, acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                tracing::info!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::info!(%peer, "TLS handshake did not complete in time");
                return;
            }
        };
    let (_, session) = tls.get_ref();
    let leaf = session
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.as_ref().to_vec());
    let alpn_ok = !require_alpn || session.alpn_protocol() == Some(tls::ALPN_MQTT_CA);
    let Some(leaf) = leaf else {
        tracing::info!(%peer, "closed: no client certificate");
        return;
    };
    if !alpn_ok {
        tracing::info!(%peer, "closed: ALPN x-amzn-mqtt-ca is required on this listener");
        return;
    }
    connection::serve(tls, leaf, peer, shared).await;
}
