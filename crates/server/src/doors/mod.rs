//! The mock's doors besides MQTT over mutual TLS on 8883, as AWS IoT opens them:
//! - the port-443 listener, one TLS listener that dispatches on ALPN: `x-amzn-mqtt-ca` is MQTT
//!   with a client certificate, `x-amzn-http-ca` is HTTPS publish with a client certificate,
//!   `mqtt` is MQTT with a custom authorizer, and none (or `http/1.1`) is HTTP, where
//!   `GET /mqtt` with `Upgrade: websocket` is MQTT over WebSocket with a SigV4 presigned URL
//!   and anything else is the HTTPS API (iot-data publish with SigV4);
//! - HTTPS on 8443: publish with a client certificate.
//!
//! A client certificate is optional at the TLS layer on port 443 and required by the routes
//! that need one; SNI selects the region as on 8883. Behind each door the broker applies the
//! rules MQTT over mutual TLS follows, and the API answers as on its own port.

mod http;
mod setup;
pub(crate) mod sigv4;
mod threads;
pub(crate) mod wss;

pub use setup::DoorAddrs;
pub use sigv4::Secrets;

use iotmock_api::ApiState;
use iotmock_broker::tls::{ALPN_HTTP_CA, ALPN_MQTT, ALPN_MQTT_CA, region_of_sni};
use iotmock_broker::{BrokerCore, Credential, Door};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long a client has to finish the TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// Connections served at once by one door (past it, new ones are closed and logged).
const MAX_CONNECTIONS: usize = 10_000;

/// Which door a listener is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// AWS's port 443 (ALPN dispatch, client certificate optional).
    Port443,
    /// AWS's 8443: HTTPS publish with a client certificate.
    Https,
}

/// What every connection of the doors needs.
pub(crate) struct Parts {
    pub core: BrokerCore,
    pub api: ApiState,
    pub default_region: String,
    /// Strict mode: the secrets WebSocket URLs' signatures are checked with (none: unchecked).
    pub secrets: Secrets,
    pub stopped: watch::Receiver<bool>,
}

/// The running doors.
pub(crate) struct Doors {
    pub port_443: Option<SocketAddr>,
    pub https: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    loops: Vec<iotmock_broker::IoLoop>,
}

impl Doors {
    /// Serves each `(listener, TLS configuration, kind)` until [`Doors::shutdown`]: on the
    /// caller's runtime when `io_threads` is 0, else on that many I/O threads per listener.
    pub(crate) fn start(
        listeners: Vec<(TcpListener, Arc<rustls::ServerConfig>, Kind)>,
        io_threads: usize,
        make_parts: impl FnOnce(watch::Receiver<bool>) -> Parts,
    ) -> std::io::Result<Self> {
        let (stop, stopped) = watch::channel(false);
        let parts = Arc::new(make_parts(stopped));
        let (mut port_443, mut https, mut loops) = (None, None, Vec::new());
        for (listener, tls, kind) in listeners {
            let addr = listener.local_addr()?;
            let name = match kind {
                Kind::Port443 => {
                    port_443 = Some(addr);
                    "door-443"
                }
                Kind::Https => {
                    https = Some(addr);
                    "door-https"
                }
            };
            let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
            let parts = parts.clone();
            let serve = move |listener| {
                accept_loop(listener, tls.clone(), kind, parts.clone(), slots.clone())
            };
            loops.extend(threads::start(listener, io_threads, name, serve)?);
        }
        Ok(Self {
            port_443,
            https,
            stop,
            loops,
        })
    }

    /// Stops accepting and ends the connections (MQTT clients get the broker's goodbye).
    pub(crate) async fn shutdown(self) {
        let _ = self.stop.send(true);
        for running in self.loops {
            running.join().await;
        }
    }
}

/// Accepts until stopped, then waits (up to 5 s) for this loop's connections to end. `slots`
/// bounds the door's connections across its loops.
async fn accept_loop(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    kind: Kind,
    parts: Arc<Parts>,
    slots: Arc<tokio::sync::Semaphore>,
) {
    let mut stopped = parts.stopped.clone();
    let mine = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (tcp, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, ?kind, "accept failed");
                    continue;
                }
            },
            _ = stopped.changed() => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(peer = %addr, ?kind, max = MAX_CONNECTIONS, "connection refused: connection limit reached");
            continue;
        };
        let Ok(held) = mine.clone().try_acquire_owned() else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (config, parts) = (config.clone(), parts.clone());
        tokio::spawn(async move {
            serve(tcp, addr, config, kind, parts).await;
            drop((slot, held));
        });
    }
    let all = u32::try_from(MAX_CONNECTIONS).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(Duration::from_secs(5), mine.acquire_many(all)).await;
}

/// What the TLS handshake told about a connection.
#[derive(Debug, Clone)]
pub(crate) struct Hello {
    pub addr: SocketAddr,
    pub alpn: Option<Vec<u8>>,
    pub leaf: Option<Vec<u8>>,
    /// The region SNI named, if any.
    pub region: Option<String>,
    pub sni: bool,
    /// The SNI name, as sent.
    pub server_name: Option<String>,
    pub kind: Kind,
    /// The TLS version and cipher (the door is filled in by the route taken).
    pub tls: iotmock_broker::Transport,
}

impl Hello {
    /// How a connection through `door` came in.
    pub(crate) fn transport(&self, door: &'static str) -> iotmock_broker::Transport {
        iotmock_broker::Transport {
            door,
            ..self.tls.clone()
        }
    }
}

async fn serve(
    tcp: tokio::net::TcpStream,
    addr: SocketAddr,
    config: Arc<rustls::ServerConfig>,
    kind: Kind,
    parts: Arc<Parts>,
) {
    let accepting = iotmock_broker::ServerTls::accept(tcp, config);
    let tls = match tokio::time::timeout(HANDSHAKE, accepting).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            return tracing::info!(peer = %addr, ?kind, error = %e, "TLS handshake failed");
        }
        Err(_) => {
            return tracing::info!(peer = %addr, ?kind, "TLS handshake did not complete in time");
        }
    };
    let hello = {
        let session = tls.state();
        let sni = tls.server_name();
        Hello {
            addr,
            alpn: session.alpn_protocol().map(<[u8]>::to_vec),
            leaf: session
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.as_ref().to_vec()),
            region: sni.and_then(region_of_sni).map(str::to_string),
            sni: sni.is_some(),
            server_name: sni.map(str::to_string),
            kind,
            tls: iotmock_broker::Transport::of_tls("", session),
        }
    };
    match (kind, hello.alpn.as_deref()) {
        (Kind::Port443, Some(ALPN_MQTT_CA)) => mqtt_with_certificate(tls, hello, &parts).await,
        (Kind::Port443, Some(ALPN_MQTT)) => mqtt_with_custom_auth(tls, hello, &parts, None).await,
        (Kind::Port443, Some(ALPN_HTTP_CA)) | (Kind::Https, _) if hello.leaf.is_none() => {
            tracing::info!(peer = %addr, ?kind, "closed: HTTPS with ALPN x-amzn-http-ca (or on 8443) needs a client certificate");
        }
        _ => http::serve(tls, hello, parts).await,
    }
}

/// MQTT whose CONNECT a custom authorizer judges (ALPN `mqtt`, or WebSocket without SigV4):
/// the authorizer named in the username's query string (or `http`'s headers and query), else
/// the default.
pub(super) async fn mqtt_with_custom_auth<S>(
    stream: S,
    hello: Hello,
    parts: &Parts,
    http: Option<iotmock_authorizer::HttpData>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let door_name = if http.is_some() {
        "MQTT over WebSocket (custom authorizer)"
    } else {
        "MQTT with a custom authorizer (port 443)"
    };
    let transport = hello.transport(door_name);
    let Some(auth) = custom_auth(&hello, parts, http) else {
        return tracing::info!(peer = %hello.addr, "closed: custom authorizers are not available here");
    };
    let door = Door {
        transport,
        addr: hello.addr,
        region: Some(auth.0.region.clone()),
        sni: hello.sni,
        credential: Credential::Custom(Arc::new(auth)),
    };
    parts
        .core
        .serve_stream(stream, door, parts.stopped.clone())
        .await;
}

/// The custom authorizer of a connection through `hello`.
pub(super) fn custom_auth(
    hello: &Hello,
    parts: &Parts,
    http: Option<iotmock_authorizer::HttpData>,
) -> Option<crate::custom_auth::CustomAuth> {
    let authorizers = parts.api.authorizers.clone()?;
    let region = hello
        .region
        .clone()
        .unwrap_or_else(|| parts.default_region.clone());
    let account = parts.api.registry.read().ok()?.account().to_string();
    let presented = iotmock_authorizer::Presented {
        server_name: hello.server_name.clone(),
        http,
        mqtt: None,
        connection_id: iotmock_registry::random_uuid(),
    };
    Some(crate::custom_auth::CustomAuth(Arc::new(
        crate::custom_auth::CustomConnection {
            authorizers,
            region,
            account,
            presented: std::sync::Mutex::new(presented),
        },
    )))
}

async fn mqtt_with_certificate<S>(tls: S, hello: Hello, parts: &Parts)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let transport = hello.transport("MQTT over TLS (port 443)");
    let Some(leaf) = hello.leaf else {
        return tracing::info!(peer = %hello.addr, "closed: no client certificate (ALPN x-amzn-mqtt-ca)");
    };
    let door = Door {
        transport,
        addr: hello.addr,
        region: hello.region,
        sni: hello.sni,
        credential: Credential::Certificate(leaf),
    };
    parts
        .core
        .serve_stream(tls, door, parts.stopped.clone())
        .await;
}
