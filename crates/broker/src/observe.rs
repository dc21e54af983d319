//! Observation: a timeline of what each connection did (accepted, TLS, CONNECT, every packet
//! each way, withheld answers, the end), for the device-conformance runner. Nothing is recorded
//! unless an observer is registered.

use iotmock_mqtt::Packet;
use iotmock_registry::Clock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// One thing a connection did.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    /// The TCP connection was accepted.
    Accepted,
    /// The client's ClientHello: the cipher suites it offers (IANA numbers, in its order)
    /// and the host name it sent in SNI.
    Hello {
        suites: Vec<u16>,
        sni: Option<String>,
    },
    /// The TLS handshake ended.
    Handshake(TlsEnd),
    Connect {
        client_id: String,
        clean_start: bool,
        keep_alive: u16,
    },
    /// A packet from the client.
    In(PacketSeen),
    /// A packet to the client (`withheld` when a fault plan held it back).
    Out { packet: PacketSeen, withheld: bool },
    /// The connection ended, with AWS's `disconnectReason` (`NOT_ADMITTED` when it never got
    /// past CONNECT).
    Closed { reason: &'static str },
}

/// How a TLS handshake ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsEnd {
    Completed,
    /// The client aborted with this alert (rustls's name for it, e.g. `BadCertificate`).
    Alert(String),
    /// The client closed the connection without an alert.
    Closed,
    /// Anything else (the reason).
    Failed(String),
    TimedOut,
}

impl TlsEnd {
    /// Classifies a failed accept.
    pub fn of_error(e: &std::io::Error) -> Self {
        let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
        match (inner, e.kind()) {
            (Some(rustls::Error::AlertReceived(alert)), _) => TlsEnd::Alert(format!("{alert:?}")),
            (_, std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset) => {
                TlsEnd::Closed
            }
            _ => TlsEnd::Failed(e.to_string()),
        }
    }
}

/// The parts of a packet a verdict looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketSeen {
    pub kind: &'static str,
    pub pkid: Option<u16>,
    pub topic: Option<String>,
    pub qos: u8,
    pub dup: bool,
    pub payload: Option<bytes::Bytes>,
    /// SUBSCRIBE filters.
    pub filters: Vec<String>,
}

impl PacketSeen {
    pub fn of(p: &Packet) -> Self {
        let bare = |kind, pkid: Option<u16>| PacketSeen {
            kind,
            pkid,
            topic: None,
            qos: 0,
            dup: false,
            payload: None,
            filters: Vec::new(),
        };
        match p {
            Packet::Connect(_) => bare("CONNECT", None),
            Packet::ConnAck { .. } => bare("CONNACK", None),
            Packet::Publish(m) => PacketSeen {
                kind: "PUBLISH",
                pkid: (m.qos > 0).then_some(m.pkid),
                topic: Some(m.topic.clone()),
                qos: m.qos,
                dup: m.dup,
                payload: Some(m.payload.clone()),
                filters: Vec::new(),
            },
            Packet::PubAck { pkid, .. } => bare("PUBACK", Some(*pkid)),
            Packet::PubRec { pkid } | Packet::PubRel { pkid } | Packet::PubComp { pkid } => {
                bare("QOS2", Some(*pkid))
            }
            Packet::Subscribe { pkid, filters, .. } => PacketSeen {
                filters: filters.iter().map(|(f, _)| f.clone()).collect(),
                ..bare("SUBSCRIBE", Some(*pkid))
            },
            Packet::SubAck { pkid, .. } => bare("SUBACK", Some(*pkid)),
            Packet::Unsubscribe { pkid, .. } => bare("UNSUBSCRIBE", Some(*pkid)),
            Packet::UnsubAck { pkid, .. } => bare("UNSUBACK", Some(*pkid)),
            Packet::PingReq => bare("PINGREQ", None),
            Packet::PingResp => bare("PINGRESP", None),
            Packet::Disconnect { .. } => bare("DISCONNECT", None),
        }
    }
}

/// One entry of the timeline: which socket (numbered from 1 in accept order), when (the
/// injected clock, ms), what.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub conn: u64,
    pub at_ms: i64,
    pub seen: Seen,
}

/// Where a connection's observations go.
#[derive(Clone)]
pub(crate) struct Tap {
    tx: mpsc::UnboundedSender<Observed>,
    conn: u64,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Tap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tap")
            .field("conn", &self.conn)
            .finish_non_exhaustive()
    }
}

impl Tap {
    pub fn record(&self, seen: Seen) {
        let at_ms = self.clock.now_millis();
        let _ = self.tx.send(Observed {
            conn: self.conn,
            at_ms,
            seen,
        });
    }
}

/// The registered observer, if any.
#[derive(Default)]
pub(crate) struct Observers {
    tx: Mutex<Option<mpsc::UnboundedSender<Observed>>>,
    next: AtomicU64,
}

impl Observers {
    pub fn register(&self) -> mpsc::UnboundedReceiver<Observed> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.tx.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        rx
    }

    /// A tap for a new connection, when someone is watching.
    pub fn tap(&self, clock: &Arc<dyn Clock>) -> Option<Tap> {
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner()).clone()?;
        let conn = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        Some(Tap {
            tx,
            conn,
            clock: clock.clone(),
        })
    }
}
