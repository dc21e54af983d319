//! One client connection after TLS: read CONNECT within a deadline, admit or refuse it against
//! the live registry, then serve PUBLISH, SUBSCRIBE, UNSUBSCRIBE, PINGREQ and DISCONNECT, the
//! deliveries queued by the hub, keep-alive, and registry changes that may revoke the client.

use crate::Shared;
use crate::admission::{Admitted, admit};
use crate::authz::Action;
use crate::events;
use crate::hub::Outbound;
use crate::refusal::{CloseReason, End, disconnect_code};
use bytes::BytesMut;
use iotmock_mqtt::{Packet, Publish, Version, decode, detect_version, encode};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What handling a packet decided.
pub(crate) enum Flow {
    Continue,
    /// The connection ends (the broker sends a v5 DISCONNECT first when it closes it).
    End(End),
}

pub(crate) struct Conn<S> {
    pub rd: ReadHalf<S>,
    pub wr: WriteHalf<S>,
    pub buf: BytesMut,
    /// Encoded packets not yet written: answers and deliveries are written in batches.
    pub out: BytesMut,
    pub version: Version,
    pub peer: std::net::SocketAddr,
}

impl<S: AsyncRead + AsyncWrite> Conn<S> {
    /// Queues `packet` for the next [`Conn::flush`].
    pub async fn send(&mut self, packet: &Packet) -> std::io::Result<()> {
        encode(packet, self.version, &mut self.out).map_err(std::io::Error::other)
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let result = self.wr.write_all(&self.out).await;
        self.out.clear();
        if self.out.capacity() > 64 * 1024 {
            self.out = BytesMut::new();
        }
        result
    }

    /// Reads until CONNECT has arrived and fixes the protocol version from it.
    async fn read_connect(&mut self, deadline: Duration) -> Result<iotmock_mqtt::Connect, String> {
        let read = async {
            loop {
                if let Some(v) = detect_version(&self.buf).map_err(|e| e.to_string())? {
                    self.version = v;
                    return match decode(&mut self.buf, v).map_err(|e| e.to_string())? {
                        Some(Packet::Connect(c)) => Ok(c),
                        _ => Err("first packet is not a complete CONNECT".to_string()),
                    };
                }
                match self.rd.read_buf(&mut self.buf).await {
                    Ok(0) => return Err("closed before CONNECT".to_string()),
                    Ok(_) => {}
                    Err(e) => return Err(format!("read failed before CONNECT: {e}")),
                }
            }
        };
        tokio::time::timeout(deadline, read)
            .await
            .unwrap_or_else(|_| Err(format!("no CONNECT within {deadline:?}")))
    }
}

/// Serves one TLS connection to its end.
pub(crate) async fn serve<S: AsyncRead + AsyncWrite + Send + 'static>(
    stream: S,
    leaf: Vec<u8>,
    peer: std::net::SocketAddr,
    shared: Arc<Shared>,
) {
    let (rd, wr) = tokio::io::split(stream);
    let mut conn = Conn {
        rd,
        wr,
        buf: BytesMut::new(),
        out: BytesMut::new(),
        version: Version::V311,
        peer,
    };
    let connect = match conn.read_connect(shared.settings.connect_timeout).await {
        Ok(c) => c,
        Err(reason) => {
            tracing::info!(%peer, %reason, "connection closed before admission");
            return;
        }
    };
    let Some(mut admitted) = admit(&mut conn, connect, &leaf, &shared).await else {
        let _ = conn.wr.shutdown().await;
        return;
    };
    let client_id = admitted.client_id.clone();
    let (conn_id, keep_ms) = (admitted.conn_id, admitted.keep_ms);
    let rx = std::mem::replace(&mut admitted.rx, mpsc::channel(1).1);
    events::connected(&shared.hub, &admitted.presence, &peer.ip().to_string());
    let mut session = Session {
        conn,
        admitted,
        shared: shared.clone(),
        next_pkid: 0,
        window: (Instant::now(), 0),
    };
    let end = session.run(rx).await;
    shared.hub.unregister(&client_id, conn_id, keep_ms);
    session.close(end).await;
    events::disconnected(&shared.hub, &session.admitted.presence, end.aws_reason());
    if end.publishes_will() {
        session.publish_will();
    }
}

pub(crate) struct Session<S> {
    pub conn: Conn<S>,
    pub admitted: Admitted,
    pub shared: Arc<Shared>,
    next_pkid: u16,
    /// Publishes received in the current one-second window (throttling).
    pub window: (Instant, u32),
}

impl<S: AsyncRead + AsyncWrite> Session<S> {
    fn keep_alive(&self) -> Duration {
        Duration::from_millis(u64::from(self.admitted.keep_alive) * 1500)
    }

    async fn run(&mut self, mut rx: mpsc::Receiver<Outbound>) -> End {
        let mut changes = self.shared.changes.clone();
        let mut deadline = Instant::now() + self.keep_alive();
        loop {
            loop {
                match decode(&mut self.conn.buf, self.conn.version) {
                    Ok(Some(packet)) => {
                        deadline = Instant::now() + self.keep_alive();
                        if let Flow::End(end) = self.handle(packet).await {
                            return end;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        self.log_close(&format!("malformed input: {e}"));
                        let too_large = matches!(e, iotmock_mqtt::CodecError::TooLarge(_));
                        return End::Closed(if too_large {
                            CloseReason::PacketTooLarge
                        } else {
                            CloseReason::Malformed
                        });
                    }
                }
            }
            if self.conn.flush().await.is_err() {
                return End::Lost;
            }
            tokio::select! {
                read = self.conn.rd.read_buf(&mut self.conn.buf) => match read {
                    Ok(0) => { tracing::debug!(client_id = %self.admitted.client_id, "closed by the client without DISCONNECT"); return End::Lost; }
                    Ok(_) => {}
                    Err(e) => { tracing::debug!(client_id = %self.admitted.client_id, error = %e, "read failed"); return End::Lost; }
                },
                Some(out) = rx.recv() => {
                    if let Some(end) = self.outbound(out, &mut rx).await {
                        return end;
                    }
                },
                Ok(()) = changes.changed() => {
                    if let Err(reason) = self.recheck() {
                        self.log_close(&reason);
                        return End::Closed(CloseReason::NotAuthorized);
                    }
                },
                _ = tokio::time::sleep_until(deadline) => {
                    self.log_close("keep-alive expired (1.5 x keep-alive without a packet)");
                    return End::Closed(CloseReason::KeepAliveTimeout);
                }
            }
        }
    }

    /// Handles one queued item and whatever else is already waiting, batching the writes.
    async fn outbound(
        &mut self,
        first: Outbound,
        rx: &mut mpsc::Receiver<Outbound>,
    ) -> Option<End> {
        let mut next = Some(first);
        while let Some(item) = next.take() {
            match item {
                Outbound::Deliver(msg, qos) => self.deliver(&msg, qos).await,
                Outbound::TakenOver => {
                    self.log_close("another connection took over this client id");
                    return Some(End::Closed(CloseReason::SessionTakenOver));
                }
            }
            if self.conn.out.len() > 64 * 1024 && self.conn.flush().await.is_err() {
                return Some(End::Lost);
            }
            next = rx.try_recv().ok();
        }
        None
    }

    pub(crate) fn log_close(&self, reason: &str) {
        tracing::info!(client_id = %self.admitted.client_id, certificate = %self.admitted.authz.principal.cert_id, peer = %self.conn.peer, %reason, "connection closed");
    }

    /// Re-reads the principal after a registry change; Err when it may no longer connect.
    fn recheck(&mut self) -> Result<(), String> {
        let fresh = crate::admission::authorize(
            &self.shared,
            &self.admitted.authz.principal.cert_id,
            &self.admitted.client_id,
            self.conn.peer,
            &self.admitted.attributes,
        )?;
        self.admitted.authz = fresh;
        Ok(())
    }

    async fn close(&mut self, end: End) {
        if let (End::Closed(r), Version::V5) = (end, self.conn.version) {
            let _ = self
                .conn
                .send(&Packet::Disconnect {
                    reason: disconnect_code(r),
                    session_expiry: None,
                })
                .await;
        }
        let _ = self.conn.flush().await;
        let _ = self.conn.wr.shutdown().await;
    }

    /// Publishes the will (checked for iot:Publish at CONNECT), keeping its retain flag.
    fn publish_will(&self) {
        let Some(will) = &self.admitted.will else {
            return;
        };
        let msg = Publish {
            topic: will.topic.clone(),
            payload: will.payload.clone(),
            qos: will.qos,
            retain: will.retain,
            dup: false,
            pkid: 0,
            properties: None,
        };
        tracing::debug!(client_id = %self.admitted.client_id, topic = %will.topic, "publishing the will");
        self.shared.hub.publish(Arc::new(msg));
    }

    /// AWS's per-connection publish limit, when throttling is on: true when over it.
    pub(crate) fn throttled(&mut self) -> bool {
        let Some(limit) = self
            .shared
            .settings
            .throttle
            .then_some(crate::PUBLISHES_PER_SECOND)
        else {
            return false;
        };
        let now = Instant::now();
        if now.duration_since(self.window.0) >= Duration::from_secs(1) {
            self.window = (now, 0);
        }
        self.window.1 += 1;
        self.window.1 > limit
    }

    fn pkid(&mut self) -> u16 {
        self.next_pkid = self.next_pkid.checked_add(1).unwrap_or(1);
        self.next_pkid
    }

    /// Queues a message for the client if iot:Receive allows it on its topic.
    async fn deliver(&mut self, msg: &Publish, qos: u8) {
        let checked = self.admitted.authz.check(Action::Receive, &msg.topic);
        if !checked.decision.allowed() {
            self.admitted
                .authz
                .log_refusal(Action::Receive, &checked, &self.admitted.client_id);
            return;
        }
        let pkid = if qos > 0 { self.pkid() } else { 0 };
        let out = Publish {
            qos,
            pkid,
            dup: false,
            ..msg.clone()
        };
        let _ = self.conn.send(&Packet::Publish(out)).await;
    }
}
