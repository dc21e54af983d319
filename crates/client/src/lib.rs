//! A device client under test: connects to AWS IoT Core (or iotmock) over mutual TLS, speaks
//! MQTT 3.1.1 or 5 with the broker's own codec, and reports refusals precisely: a TLS alert,
//! a close before CONNACK, a CONNACK code, a SUBACK or PUBACK code.

mod api;
pub mod cli;
pub mod iam_cli;
mod lenient;
pub mod load;
pub mod presign;
pub mod reference;
pub mod shadow_cli;
mod tls;
pub mod ws;

pub use api::{ApiError, get_text};
pub use iotmock_mqtt::{Connect, Packet, Publish, Version, Will};
pub use lenient::SkipChecks;
pub use tls::{TlsOptions, client_config};

use bytes::{Bytes, BytesMut};
use iotmock_mqtt::{ConnAckProps, decode, encode};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Why a connection or an operation failed, in one line.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("TCP connect to {0} failed: {1}")]
    Tcp(String, std::io::Error),
    #[error("TLS handshake failed: {0}")]
    Tls(std::io::Error),
    #[error("connection closed before CONNACK")]
    ClosedBeforeConnack,
    #[error("CONNACK refused the connection with code {0:#04x}")]
    Refused(u8),
    #[error("connection closed by the server{}", reason.map(|r| format!(" (DISCONNECT {r:#04x})")).unwrap_or_default())]
    Closed { reason: Option<u8> },
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("bad TLS configuration: {0}")]
    Config(String),
    #[error("the WebSocket upgrade was refused with HTTP {0}")]
    Upgrade(u16),
}

/// How to connect: where, as whom, and which MQTT session to ask for.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub addr: String,
    /// TLS server name (SNI and certificate check), e.g. `localhost`.
    pub server_name: String,
    pub client_id: String,
    pub version: Version,
    pub keep_alive: u16,
    pub clean_start: bool,
    pub session_expiry: Option<u32>,
    pub will: Option<Will>,
    pub timeout: Duration,
    /// MQTT over WebSocket: the upgrade request's path and query (`/mqtt?X-Amz-...`), sent
    /// after TLS with the `mqtt` subprotocol. `None`: MQTT straight over TLS.
    pub websocket: Option<String>,
    /// Extra headers on the WebSocket upgrade (custom authorizers' credentials).
    pub websocket_headers: Vec<(String, String)>,
    /// CONNECT username and password (custom authorizers).
    pub username: Option<String>,
    pub password: Option<String>,
    /// MQTT 5 Maximum Packet Size to ask for.
    pub max_packet_size: Option<u32>,
    /// The local address to connect from (a load run spreads its connections over loopback
    /// addresses 127.0.0.x to pass the ephemeral-port limit of one source address).
    pub bind: Option<std::net::IpAddr>,
}

impl ConnectOptions {
    pub fn new(addr: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            addr: addr.into(),
            server_name: "localhost".into(),
            client_id: client_id.into(),
            version: Version::V311,
            keep_alive: 60,
            clean_start: true,
            session_expiry: None,
            will: None,
            timeout: Duration::from_secs(10),
            websocket: None,
            websocket_headers: Vec::new(),
            username: None,
            password: None,
            max_packet_size: None,
            bind: None,
        }
    }

    pub fn version(mut self, v: Version) -> Self {
        self.version = v;
        self
    }
}

/// What the broker answered to CONNECT.
#[derive(Debug, Clone)]
pub struct ConnAck {
    pub session_present: bool,
    pub props: ConnAckProps,
}

/// What a device client talks MQTT over: TLS, or a WebSocket inside TLS.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Io for T {}

/// A connected device.
pub struct DeviceClient {
    stream: Box<dyn Io>,
    buf: BytesMut,
    version: Version,
    next_pkid: u16,
    pending: VecDeque<Packet>,
    timeout: Duration,
}

/// The WebSocket upgrade on `tls` for `path`, asking for the `mqtt` subprotocol (a server
/// that does not echo it is refused, as the AWS SDKs refuse it).
async fn upgrade(
    tls: TlsStream<TcpStream>,
    opts: &ConnectOptions,
    path: &str,
) -> Result<ws::WsIo<TlsStream<TcpStream>>, ClientError> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    // The Host header names the port, as a signed URL's canonical `host` does (443 omitted).
    let port = opts.addr.rsplit(':').next().unwrap_or("443");
    let url = format!("wss://{}{path}", presign::host(&opts.server_name, port));
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| ClientError::Config(format!("WebSocket URL {url}: {e}")))?;
    let protocol = ws::SUBPROTOCOL
        .parse()
        .map_err(|_| ClientError::Config("subprotocol".into()))?;
    let headers = request.headers_mut();
    headers.insert("sec-websocket-protocol", protocol);
    for (name, value) in &opts.websocket_headers {
        let name = tokio_tungstenite::tungstenite::http::HeaderName::try_from(name.as_str())
            .map_err(|e| ClientError::Config(format!("header {name}: {e}")))?;
        let value = tokio_tungstenite::tungstenite::http::HeaderValue::try_from(value.as_str())
            .map_err(|e| ClientError::Config(format!("header value: {e}")))?;
        headers.insert(name, value);
    }
    let handshake = tokio_tungstenite::client_async_with_config(request, tls, Some(ws::config()));
    let (socket, response) = tokio::time::timeout(opts.timeout, handshake)
        .await
        .map_err(|_| ClientError::Timeout(opts.timeout))?
        .map_err(|e| match e {
            tokio_tungstenite::tungstenite::Error::Http(r) => {
                ClientError::Upgrade(r.status().as_u16())
            }
            other => ClientError::Protocol(format!("WebSocket upgrade: {other}")),
        })?;
    let echoed = response
        .headers()
        .get("sec-websocket-protocol")
        .is_some_and(|v| v.as_bytes() == ws::SUBPROTOCOL.as_bytes());
    if !echoed {
        return Err(ClientError::Protocol(
            "the server did not echo the mqtt WebSocket subprotocol".into(),
        ));
    }
    Ok(ws::WsIo::new(socket))
}

/// A TCP connection to `addr`, from `bind` when given.
async fn tcp_connect(addr: &str, bind: Option<std::net::IpAddr>) -> std::io::Result<TcpStream> {
    let Some(local) = bind else {
        return TcpStream::connect(addr).await;
    };
    let mut last = None;
    for remote in tokio::net::lookup_host(addr).await? {
        let socket = match remote {
            std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        socket.bind(std::net::SocketAddr::new(local, 0))?;
        match socket.connect(remote).await {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other(format!("{addr} resolves to no address"))))
}

impl DeviceClient {
    /// TLS handshake, CONNECT, and CONNACK.
    pub async fn connect(
        tls: Arc<rustls::ClientConfig>,
        opts: &ConnectOptions,
    ) -> Result<(Self, ConnAck), ClientError> {
        let tcp = tokio::time::timeout(opts.timeout, tcp_connect(&opts.addr, opts.bind))
            .await
            .map_err(|_| ClientError::Timeout(opts.timeout))?
            .map_err(|e| ClientError::Tcp(opts.addr.clone(), e))?;
        let _ = tcp.set_nodelay(true);
        let name = rustls::pki_types::ServerName::try_from(opts.server_name.clone())
            .map_err(|e| ClientError::Config(e.to_string()))?;
        let stream = tokio::time::timeout(opts.timeout, TlsConnector::from(tls).connect(name, tcp))
            .await
            .map_err(|_| ClientError::Timeout(opts.timeout))?
            .map_err(ClientError::Tls)?;
        let stream: Box<dyn Io> = match &opts.websocket {
            None => Box::new(stream),
            Some(path) => Box::new(upgrade(stream, opts, path).await?),
        };
        let mut client = Self {
            stream,
            buf: BytesMut::with_capacity(4096),
            version: opts.version,
            next_pkid: 0,
            pending: VecDeque::new(),
            timeout: opts.timeout,
        };
        let connect = Connect {
            client_id: opts.client_id.clone(),
            keep_alive: opts.keep_alive,
            clean_start: opts.clean_start,
            will: opts.will.clone(),
            username: opts.username.clone(),
            password: opts.password.clone().map(String::into_bytes),
            max_packet_size: opts.max_packet_size,
            session_expiry: opts.session_expiry,
        };
        client
            .send(&Packet::Connect(connect))
            .await
            .map_err(|_| ClientError::ClosedBeforeConnack)?;
        match client.next_packet().await {
            Ok(Some(Packet::ConnAck {
                code: 0,
                session_present,
                props,
            })) => Ok((
                client,
                ConnAck {
                    session_present,
                    props,
                },
            )),
            Ok(Some(Packet::ConnAck { code, .. })) => Err(ClientError::Refused(code)),
            Ok(Some(other)) => Err(ClientError::Protocol(format!(
                "expected CONNACK, got {other:?}"
            ))),
            Ok(None) | Err(ClientError::Io(_)) | Err(ClientError::Closed { .. }) => {
                Err(ClientError::ClosedBeforeConnack)
            }
            Err(e) => Err(e),
        }
    }

    pub fn version(&self) -> Version {
        self.version
    }

    pub async fn send(&mut self, packet: &Packet) -> Result<(), ClientError> {
        let mut out = BytesMut::with_capacity(64);
        encode(packet, self.version, &mut out).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.stream.write_all(&out).await?;
        // TLS may keep records back when the socket (or tokio's budget) says "not now"; only a
        // flush is sure to put them on the wire before the caller waits for an answer.
        self.stream.flush().await?;
        Ok(())
    }

    /// Reads the next packet from the wire (`None`: closed), within the timeout.
    async fn next_packet(&mut self) -> Result<Option<Packet>, ClientError> {
        let timeout = self.timeout;
        tokio::time::timeout(timeout, async {
            loop {
                if let Some(p) = decode(&mut self.buf, self.version)
                    .map_err(|e| ClientError::Protocol(e.to_string()))?
                {
                    return Ok(Some(p));
                }
                if self.stream.read_buf(&mut self.buf).await? == 0 {
                    return Ok(None);
                }
            }
        })
        .await
        .map_err(|_| ClientError::Timeout(timeout))?
    }

    /// The next packet the broker sent: a queued one first. `Err(Closed)` when it hung up.
    pub async fn recv(&mut self) -> Result<Packet, ClientError> {
        if let Some(p) = self.pending.pop_front() {
            return Ok(p);
        }
        match self.next_packet().await? {
            Some(Packet::Disconnect { reason, .. }) => Err(ClientError::Closed {
                reason: Some(reason),
            }),
            Some(p) => Ok(p),
            None => Err(ClientError::Closed { reason: None }),
        }
    }

    /// Waits until the server closes the connection, failing if it sends anything else.
    pub async fn expect_closed(&mut self) -> Result<Option<u8>, ClientError> {
        match self.recv().await {
            Err(ClientError::Closed { reason }) => Ok(reason),
            Err(ClientError::Io(_)) => Ok(None),
            Err(e) => Err(e),
            Ok(p) => Err(ClientError::Protocol(format!(
                "expected the connection to close, got {p:?}"
            ))),
        }
    }

    /// Reads until `pick` accepts a packet; others are kept for [`DeviceClient::recv`].
    async fn wait_for<T>(
        &mut self,
        mut pick: impl FnMut(&Packet) -> Option<T>,
    ) -> Result<T, ClientError> {
        loop {
            let p = match self.next_packet().await? {
                Some(Packet::Disconnect { reason, .. }) => {
                    return Err(ClientError::Closed {
                        reason: Some(reason),
                    });
                }
                Some(p) => p,
                None => return Err(ClientError::Closed { reason: None }),
            };
            match pick(&p) {
                Some(v) => return Ok(v),
                None => self.pending.push_back(p),
            }
        }
    }

    fn pkid(&mut self) -> u16 {
        self.next_pkid = self.next_pkid.checked_add(1).unwrap_or(1);
        self.next_pkid
    }

    /// Publishes; QoS 1 waits for the PUBACK and returns its reason code (0 = success).
    pub async fn publish(
        &mut self,
        topic: &str,
        payload: impl Into<Bytes>,
        qos: u8,
        retain: bool,
    ) -> Result<Option<u8>, ClientError> {
        let pkid = if qos > 0 { self.pkid() } else { 0 };
        let p = Publish {
            pkid,
            ..Publish::new(topic, payload.into(), qos, retain)
        };
        self.send(&Packet::Publish(p)).await?;
        if qos == 0 {
            return Ok(None);
        }
        let reason = self
            .wait_for(|p| match p {
                Packet::PubAck { pkid: id, reason } if *id == pkid => Some(*reason),
                _ => None,
            })
            .await?;
        Ok(Some(reason))
    }

    /// Sends a PUBLISH without waiting for its PUBACK; returns the packet id (0 for QoS 0).
    pub async fn send_publish(
        &mut self,
        topic: &str,
        payload: impl Into<Bytes>,
        qos: u8,
    ) -> Result<u16, ClientError> {
        let pkid = if qos > 0 { self.pkid() } else { 0 };
        let p = Publish {
            pkid,
            ..Publish::new(topic, payload.into(), qos, false)
        };
        self.send(&Packet::Publish(p)).await?;
        Ok(pkid)
    }

    /// Subscribes and returns the SUBACK codes, one per filter.
    pub async fn subscribe(&mut self, filters: &[(&str, u8)]) -> Result<Vec<u8>, ClientError> {
        let pkid = self.pkid();
        let filters = filters.iter().map(|(f, q)| (f.to_string(), *q)).collect();
        self.send(&Packet::Subscribe {
            pkid,
            filters,
            subscription_id: false,
        })
        .await?;
        self.wait_for(|p| match p {
            Packet::SubAck { pkid: id, codes } if *id == pkid => Some(codes.clone()),
            _ => None,
        })
        .await
    }

    pub async fn unsubscribe(&mut self, filters: &[&str]) -> Result<Vec<u8>, ClientError> {
        let pkid = self.pkid();
        self.send(&Packet::Unsubscribe {
            pkid,
            filters: filters.iter().map(|f| f.to_string()).collect(),
        })
        .await?;
        self.wait_for(|p| match p {
            Packet::UnsubAck { pkid: id, codes } if *id == pkid => Some(codes.clone()),
            _ => None,
        })
        .await
    }

    /// The next PUBLISH delivered to this client (acknowledging QoS 1).
    pub async fn next_message(&mut self) -> Result<Publish, ClientError> {
        loop {
            if let Packet::Publish(p) = self.recv().await? {
                if p.qos == 1 {
                    self.send(&Packet::PubAck {
                        pkid: p.pkid,
                        reason: 0,
                    })
                    .await?;
                }
                return Ok(p);
            }
        }
    }

    pub async fn ping(&mut self) -> Result<(), ClientError> {
        self.send(&Packet::PingReq).await?;
        self.wait_for(|p| matches!(p, Packet::PingResp).then_some(()))
            .await
    }

    /// Sends DISCONNECT and closes.
    pub async fn disconnect(mut self) -> Result<(), ClientError> {
        self.send(&Packet::Disconnect {
            reason: 0,
            session_expiry: None,
        })
        .await?;
        self.stream.shutdown().await?;
        Ok(())
    }
}
