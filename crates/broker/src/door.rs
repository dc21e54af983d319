//! Connections and publishes that arrive through the mock's other doors (the port-443
//! listener, HTTPS on 8443, MQTT over WebSocket): the server's adapters terminate TLS, HTTP
//! and WebSocket, decide who the caller is, and hand the broker a byte stream or a message.
//! From there the rules are the ones MQTT over mutual TLS follows.

use crate::BrokerCore;
use crate::connection::{self, Peer};
use crate::hub::Origin;
use iotmock_registry::Principal;
use iotmock_session::Denial;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

/// Who the caller is, as the door established it.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A client certificate (DER), judged against the registry as on 8883.
    Certificate(Vec<u8>),
    /// A SigV4 caller, whose principal (IAM policies, Cognito identity) the door built.
    Iam(Arc<Principal>),
    /// A custom authorizer decides at CONNECT, with what the door saw and the CONNECT's
    /// username and password; its grant lapses and is renewed on the broker's clock.
    Custom(Arc<dyn Authenticate>),
}

/// What a connection authenticated by a custom authorizer may do, and for how long.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The function's principal id and policies.
    pub principal: Arc<Principal>,
    /// The function is invoked again after this long (`refreshAfterInSeconds`).
    pub refresh_secs: u64,
    /// The connection is closed after this long (`disconnectAfterInSeconds`).
    pub disconnect_secs: u64,
}

/// A grant, or why there is none (logged once by the broker with the connection).
pub type Granted = Pin<Box<dyn Future<Output = Result<Grant, String>> + Send>>;

/// The CONNECT's credentials.
#[derive(Debug, Clone)]
pub struct ConnectCredentials {
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
}

/// A custom authorizer for one connection (the adapter's: it invokes the function).
pub trait Authenticate: Send + Sync + std::fmt::Debug {
    /// Decides the connection at CONNECT.
    fn connect(&self, credentials: ConnectCredentials) -> Granted;
    /// Invokes the function again with the same connection data.
    fn refresh(&self) -> Granted;
}

/// A connection through another door.
#[derive(Debug, Clone)]
pub struct Door {
    pub addr: SocketAddr,
    /// How the client came in (the console shows it).
    pub transport: Transport,
    /// The region SNI (or the SigV4 scope) named.
    pub region: Option<String>,
    /// Whether the client sent SNI naming this endpoint.
    pub sni: bool,
    pub credential: Credential,
}

/// How a connection reached the broker, as the console shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transport {
    /// The door: `MQTT over TLS`, `MQTT over WebSocket`, `MQTT with a custom authorizer`.
    pub door: &'static str,
    /// The TLS version and cipher suite negotiated (rustls's names).
    pub tls_version: Option<&'static str>,
    pub cipher: Option<&'static str>,
}

impl Transport {
    /// `door` over the TLS connection `tls`.
    pub fn of_tls(door: &'static str, tls: &rustls::CommonState) -> Self {
        Self {
            door,
            tls_version: tls.protocol_version().and_then(|v| v.as_str()),
            cipher: tls
                .negotiated_cipher_suite()
                .and_then(|s| s.suite().as_str()),
        }
    }
}

/// What the broker knows of a connected client besides its session.
#[derive(Debug)]
pub struct ConnDetails {
    pub transport: Transport,
    /// `3.1.1` or `5`.
    pub mqtt_version: &'static str,
    /// PUBLISHes received from the client, and messages delivered to it.
    pub messages_in: std::sync::atomic::AtomicU64,
    pub messages_out: std::sync::atomic::AtomicU64,
}

/// A message published over HTTPS.
#[derive(Debug, Clone)]
pub struct HttpPublish {
    pub topic: String,
    pub payload: bytes::Bytes,
    pub qos: u8,
    pub retain: bool,
    /// MQTT 5 properties from the request's headers and query.
    pub properties: Option<iotmock_mqtt::PublishProperties>,
    /// The iot-data request's region, where a publish with no door acts (the default region
    /// when `None`).
    pub region: Option<String>,
}

/// Why an HTTPS publish was not taken.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PublishRefused {
    /// The sender may not publish it (unknown or inactive certificate, or a policy).
    #[error("{0}")]
    Denied(Denial),
    /// A retained message that could not be stored.
    #[error("{0}")]
    NotStored(String),
    /// Over a quota (the account's retained messages).
    #[error("{0}")]
    Throttled(String),
}

impl BrokerCore {
    /// Now, on the broker's clock (ms since the epoch).
    pub fn now_millis(&self) -> i64 {
        self.shared.hub.now_ms()
    }

    /// Serves MQTT on `stream`, which came through `door`, to its end or until `stopped`:
    /// CONNECT within the deadline, admission, then the session, as on 8883.
    pub async fn serve_stream<S>(&self, stream: S, door: Door, stopped: watch::Receiver<bool>)
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (leaf, iam, custom) = match door.credential {
            Credential::Certificate(leaf) => (leaf, None, None),
            Credential::Iam(principal) => (Vec::new(), Some(principal), None),
            Credential::Custom(auth) => (Vec::new(), None, Some(auth)),
        };
        let shared = self.shared.clone();
        // Observed (the advisor's timeline) from here: the door did the TLS handshake.
        let tap = shared.observers.tap(&shared.hub.clock);
        if let Some(t) = &tap {
            t.record(crate::Seen::Accepted);
            t.record(crate::Seen::Handshake(crate::TlsEnd::Completed));
        }
        let peer = Peer {
            leaf,
            iam,
            custom,
            transport: door.transport,
            addr: door.addr,
            region: door.region,
            sni: door.sni,
            tap,
        };
        if let Some(admitted) = connection::admit_connection(stream, peer, shared).await {
            connection::drive(admitted, stopped).await;
        }
    }

    /// An HTTPS publish. From `door`'s caller: a usable principal with iot:Publish (and
    /// iot:RetainPublish) on the topic, then routed as any message, the topic rules seeing the
    /// sender as `principal()` and `clientid()` as `n/a`. Without a door: as the iot-data API
    /// (the caller holds AWS credentials), unchecked.
    pub fn publish_http(
        &self,
        door: Option<&Door>,
        message: HttpPublish,
    ) -> Result<(), PublishRefused> {
        let Some(door) = door else {
            let region = message.region.clone();
            let origin = region.as_deref().map(|region| Origin {
                client_id: "",
                region,
                principal: "",
                source_ip: None,
            });
            return self.route_http(message, origin);
        };
        let shared = &self.shared;
        let (principal, id) = match &door.credential {
            Credential::Iam(p) => (Some(p.clone()), p.cert_id.clone()),
            Credential::Custom(_) => {
                let why = "an HTTPS publish is authorized before it reaches the broker".to_string();
                return Err(PublishRefused::NotStored(why));
            }
            Credential::Certificate(leaf) => {
                let id = iotmock_model::certificate_id(leaf);
                let found = shared.principal(door.region.as_deref(), &id);
                let found = found.map_err(|e| PublishRefused::Denied(e.into()))?;
                (found, id)
            }
        };
        let now = shared.hub.now_ms();
        let what = (message.topic.as_str(), message.retain);
        let ip = Some(door.addr.ip());
        let region = principal.as_ref().map(|p| p.region.clone());
        iotmock_session::authorize_publish(principal, &id, what, ip, now).map_err(|denial| {
            tracing::info!(peer = %door.addr, certificate = %id, topic = %message.topic, reason = %denial, "HTTPS publish refused");
            PublishRefused::Denied(denial)
        })?;
        let region = region.unwrap_or_else(|| shared.settings.default_region.clone());
        let origin = Origin {
            client_id: "n/a",
            region: &region,
            principal: &id,
            source_ip: Some(door.addr.ip()),
        };
        self.route_http(message, Some(origin))
    }

    fn route_http(
        &self,
        message: HttpPublish,
        origin: Option<Origin<'_>>,
    ) -> Result<(), PublishRefused> {
        let max = self.shared.settings.max_retained;
        if message.retain
            && !message.payload.is_empty()
            && self.shared.hub.retained_full(&message.topic, max)
        {
            tracing::info!(topic = %message.topic, max_retained = max, "HTTPS publish refused: over the account's retained-message quota");
            return Err(PublishRefused::Throttled(format!(
                "Rate exceeded: the account holds {max} retained messages (its quota)"
            )));
        }
        let mut msg =
            iotmock_mqtt::Publish::new(message.topic, message.payload, message.qos, message.retain);
        msg.properties = message.properties;
        match self.shared.hub.publish_stored(Arc::new(msg), origin) {
            (_, true) => Ok(()),
            (_, false) => Err(PublishRefused::NotStored(format!(
                "The retained message could not be stored in {} (it is delivered, and kept until the mock stops); see the mock's log",
                crate::store::DATABASE
            ))),
        }
    }
}
