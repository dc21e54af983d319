//! One client connection after TLS, as an adapter around the session core: read CONNECT
//! within a deadline, ask the core to admit it, then feed the core the client's packets,
//! deliveries queued by the hub, registry changes, clock readings and shutdown, and carry out
//! the actions it returns (through the client's fault plan, if one is set).

use crate::Shared;
use crate::custom::AuthClock;

mod act;
mod grant;
mod quota;
use crate::env::Env;
use crate::hub::{Origin, Outbound};
use crate::link::Link;
use crate::mailbox::{Mailbox, Notices};
use crate::observe::{PacketSeen, Seen, Tap};
use bytes::BytesMut;
use iotmock_mqtt::{Connect, Packet, Version, decode};
use iotmock_session::{Action, ConnectInfo, End, Session, Start, admit};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

/// Who is on the other end of a TLS connection, and which endpoint it addressed.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    /// The client certificate (empty for a SigV4 caller).
    pub leaf: Vec<u8>,
    /// A SigV4 caller (MQTT over WebSocket): who it is, decided at the door.
    pub iam: Option<Arc<iotmock_registry::Principal>>,
    /// A custom authorizer, which decides at CONNECT.
    pub custom: Option<Arc<dyn crate::Authenticate>>,
    /// How it came in (the console shows it).
    pub transport: crate::Transport,
    pub addr: SocketAddr,
    /// The region SNI named (`None`: no SNI, or a name without a region).
    pub region: Option<String>,
    /// Whether the client sent SNI naming this endpoint.
    pub sni: bool,
    /// Where this connection's timeline goes, when observed.
    pub tap: Option<Tap>,
}

/// A connection whose CONNECT was admitted, ready for [`drive`]. Small on purpose: the
/// connection's state is boxed, so the task that drives it holds little more than that.
pub(crate) struct Admitted<S> {
    conn: Box<Conn<S>>,
    actions: Vec<Action>,
    rx: mpsc::Receiver<Outbound>,
}

/// Reads the CONNECT and admits it; `None` (logged) when the connection closes here.
pub(crate) async fn admit_connection<S: AsyncRead + AsyncWrite + Send + 'static>(
    stream: S,
    peer: Peer,
    shared: Arc<Shared>,
) -> Option<Admitted<S>> {
    let (rd, wr) = tokio::io::split(stream);
    let buf = BytesMut::new();
    let out = BytesMut::new();
    let mut link = Link {
        rd,
        wr,
        buf,
        out,
        version: Version::V311,
        plan: None,
        packets_in: 0,
        tap: peer.tap.clone(),
        write_deadline: None,
    };
    let connect = match link.read_connect(shared.settings.connect_timeout).await {
        Ok(c) => c,
        Err(reason) => {
            tracing::info!(peer = %peer.addr, %reason, "connection closed before admission");
            link.closed("NOT_ADMITTED");
            return None;
        }
    };
    link.plan = shared.faults.get(&connect.client_id);
    if let Some(t) = &link.tap {
        let (client_id, clean_start) = (connect.client_id.clone(), connect.clean_start);
        t.record(Seen::Connect {
            client_id,
            clean_start,
            keep_alive: connect.keep_alive,
        });
    }
    let (iam, clock) = grant::admit(&mut link, &connect, &peer, &shared).await?;
    let Some(started) = start(&mut link, connect, &peer, iam.as_ref(), &shared).await else {
        let _ = link.flush().await;
        let _ = link.wr.shutdown().await;
        link.closed("NOT_ADMITTED");
        return None;
    };
    let (session, actions, (conn_id, details), (tx, rx)) = started;
    let region = session.principal().region.clone();
    // A custom authorizer's grant is not in the registry: it is renewed on the clock instead.
    match &clock {
        Some(c) => shared.timed.add(conn_id, &tx.control, &c.nudge),
        None => shared
            .watchers
            .watch(conn_id, session.principal(), &tx.control),
    }
    let conn = Box::new(Conn {
        link,
        session,
        shared,
        conn_id,
        region,
        peer_ip: peer.addr.ip(),
        tx,
        acks: 0,
        pending_counted: 0,
        clock,
        details,
    });
    Some(Admitted { conn, actions, rx })
}

/// Serves an admitted connection to its end.
pub(crate) async fn drive<S: AsyncRead + AsyncWrite + Send + 'static>(
    admitted: Admitted<S>,
    stopped: watch::Receiver<bool>,
) {
    let Admitted {
        mut conn,
        actions,
        rx,
    } = admitted;
    let control = conn.tx.control.clone();
    let end = match conn.perform(actions).await {
        Some(end) => Some(end),
        None if conn.link.after_packet().await => Some(conn.lost().await),
        // A client over its queue bound past the grace period is closed even while its
        // connection waits on a socket it does not drain.
        None => tokio::select! {
            end = conn.run(rx, stopped) => Some(end),
            () = control.killed() => Some(conn.too_slow()),
        },
    };
    let end = match end {
        Some(end) => end,
        None => conn.lost().await,
    };
    conn.finish(end).await;
}

type Queue = (Mailbox, mpsc::Receiver<Outbound>);

/// How long a closing connection waits for its last answers and close_notify to go out.
const GOODBYE: Duration = Duration::from_secs(2);

/// PUBACKs between two trims of a persistent session's messages kept on disk.
const TRIM_EVERY: usize = 1024;
type Started = (Session, Vec<Action>, (u64, Arc<crate::ConnDetails>), Queue);

/// Admission and the session's start; `None` when the connection must close.
async fn start<S: AsyncRead + AsyncWrite>(
    link: &mut Link<S>,
    connect: Connect,
    peer: &Peer,
    iam: Option<&Arc<iotmock_registry::Principal>>,
    shared: &Arc<Shared>,
) -> Option<Started> {
    let cert_id = match iam {
        Some(p) => p.cert_id.clone(),
        None => iotmock_model::certificate_id(&peer.leaf),
    };
    let clean_start = connect.clean_start;
    let raw_id = connect.client_id.clone();
    let version = link.version;
    let peer_ip = Some(peer.addr.ip());
    let info = ConnectInfo {
        connect,
        version,
        cert_id: cert_id.clone(),
        peer_ip,
        sni: peer.sni,
    };
    let mut env = Env {
        shared,
        leaf: &peer.leaf,
        iam,
        cert_id: &cert_id,
        region: peer.region.as_deref(),
    };
    let now = shared.hub.now_ms();
    let admission = match admit(info, &shared.rules, &mut env, now) {
        Ok(a) => a,
        Err(refused) => {
            tracing::info!(peer = %peer.addr, client_id = %raw_id, certificate = %cert_id, reason = %refused.reason, "CONNECT refused");
            if let Some(ack) = refused.connack {
                let _ = link.send(&ack).await;
            }
            return None;
        }
    };
    let (tx, rx) = Mailbox::new(crate::hub::QUEUE_DEPTH, shared.hub.queued_total.clone());
    let client_id = admission.client_id.clone();
    let keep_ms = admission.keep_secs.map(millis);
    let details = crate::ConnDetails {
        transport: peer.transport.clone(),
        mqtt_version: match version {
            Version::V311 => "3.1.1",
            Version::V5 => "5",
        },
        messages_in: Default::default(),
        messages_out: Default::default(),
    };
    let details = Arc::new(details);
    let registered = shared.hub.register(
        &client_id,
        tx.clone(),
        clean_start,
        (keep_ms, details.clone()),
    );
    let begin = Start {
        session_present: registered.session_present,
        subscriptions: registered.subscriptions,
        stored: registered.stored,
        session_uuid: iotmock_registry::random_uuid(),
        version_number: shared.hub.next_version(&client_id),
    };
    tracing::debug!(peer = %peer.addr, %client_id, certificate = %cert_id, ?version, session_present = begin.session_present, "connected");
    let (session, actions) = Session::start(admission, begin, &shared.rules, now);
    Some((session, actions, (registered.conn_id, details), (tx, rx)))
}

struct Conn<S> {
    link: Link<S>,
    session: Session,
    shared: Arc<Shared>,
    conn_id: u64,
    region: String,
    /// The client's address.
    peer_ip: std::net::IpAddr,
    /// This connection's own mailbox (the registry watchers and the hub post to it).
    tx: Mailbox,
    /// PUBACKs since the session's messages kept on disk were last trimmed.
    acks: usize,
    /// The session's waiting QoS 1 bytes as last counted into the hub's total.
    pending_counted: usize,
    /// A custom authorizer's refresh and disconnect times.
    clock: Option<AuthClock>,
    /// What the console shows of the connection (its message counts).
    details: Arc<crate::ConnDetails>,
}

impl<S: AsyncRead + AsyncWrite> Conn<S> {
    fn now(&self) -> i64 {
        self.shared.hub.now_ms()
    }

    fn origin(&self) -> Origin<'_> {
        Origin {
            client_id: self.session.client_id(),
            region: &self.region,
            principal: &self.session.principal().cert_id,
            source_ip: Some(self.peer_ip),
        }
    }

    /// Records a granted subscription and queues the retained message of an exact filter.
    fn subscribed(&self, filter: &str, qos: u8) {
        let hub = &self.shared.hub;
        let client = self.session.client_id();
        hub.subscribe(client, filter, qos);
        if let Some(msg) = hub.retained_for(filter) {
            let qos = qos.min(msg.qos);
            hub.send_to(client, msg, qos);
        }
    }

    /// The socket failed: the core ends the session (will, event) and its actions run.
    /// Writes the batch once it passes 64 KiB; `Some` when the connection ends.
    async fn flush_if_full(&mut self) -> Option<End> {
        if self.link.out.len() <= 64 * 1024 {
            return None;
        }
        match self.link.flush().await {
            Ok(()) => None,
            Err(e) => Some(self.write_failed(&e).await),
        }
    }

    /// A write failed. One stuck past the keep-alive deadline ends the session as AWS ends
    /// it (keep-alive timeout, with its will and lifecycle event); otherwise the connection
    /// was lost.
    async fn write_failed(&mut self, e: &std::io::Error) -> End {
        if e.kind() == std::io::ErrorKind::TimedOut {
            let mut closed = None;
            for action in self.session.tick(self.now()) {
                match action {
                    Action::Close(end) => closed = Some(end),
                    other => self.route(other),
                }
            }
            if let Some(end) = closed {
                return end;
            }
        }
        self.lost().await
    }

    /// Closed as over its queue bound past the grace period: the session ends THROTTLED
    /// (nothing more is written to a socket the client does not drain).
    fn too_slow(&mut self) -> End {
        let now = self.now();
        let actions = self.session.throttled_close(now);
        for action in actions {
            self.route(action);
        }
        End::Closed(iotmock_session::refusal::CloseReason::Throttled)
    }

    async fn lost(&mut self) -> End {
        let now = self.now();
        let actions = self.session.lost(now);
        for action in actions {
            self.route(action);
        }
        End::Lost
    }

    /// Publishes what the core asked to route: a message, a lifecycle event or a will (other
    /// actions are not this one's to carry out).
    fn route(&self, action: Action) {
        match action {
            Action::Route(msg) => {
                self.shared.hub.publish(msg, Some(self.origin()));
            }
            Action::Event(e) => self.shared.hub.publish_event(&e, Some(self.origin())),
            Action::Will(msg) => {
                self.shared.hub.publish_unserviced(msg);
            }
            _ => {}
        }
    }

    async fn run(
        &mut self,
        mut rx: mpsc::Receiver<Outbound>,
        mut stopped: watch::Receiver<bool>,
    ) -> End {
        // One timer for the session's deadline, armed lazily: packets move the keep-alive
        // deadline later, so the timer is re-armed only when it fires early or the deadline
        // comes sooner, not on every packet.
        let control = self.tx.control.clone();
        // One wait for control notices, kept across iterations and renewed when it fires.
        let notices = control.next();
        tokio::pin!(notices);
        let timer = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(timer);
        let mut armed_for = None;
        loop {
            if let Some(end) = self.drain_input().await {
                return end;
            }
            if let Some(end) = self.check_grant().await {
                return end;
            }
            let deadline = match &self.clock {
                Some(c) => self.session.deadline().min(c.next()),
                None => self.session.deadline(),
            };
            let wait = u64::try_from(deadline - self.now()).unwrap_or(0);
            let at = tokio::time::Instant::now() + Duration::from_millis(wait);
            self.link.write_deadline = Some(at);
            if let Err(e) = self.link.flush().await {
                return self.write_failed(&e).await;
            }
            self.trim_kept(rx.len());
            self.count_pending();
            self.link.release_read_buffer();
            if armed_for.is_none_or(|at| deadline < at) {
                timer.as_mut().reset(at);
                armed_for = Some(deadline);
            }
            let actions = tokio::select! {
                read = self.link.rd.read_buf(&mut self.link.buf) => match read {
                    Ok(0) => { tracing::debug!(client_id = %self.session.client_id(), "closed by the client without DISCONNECT"); return self.lost().await; }
                    Ok(_) => {
                        self.link.read_ready().await;
                        continue;
                    }
                    Err(e) => { tracing::debug!(client_id = %self.session.client_id(), error = %e, "read failed"); return self.lost().await; }
                },
                Some(out) = rx.recv() => self.outbound(out, &mut rx),
                got = &mut notices => {
                    notices.set(control.next());
                    self.notices(got)
                }
                _ = stopped.changed() => self.session.shutdown(self.now()),
                () = &mut timer => {
                    armed_for = None;
                    self.session.tick(self.now())
                }
            };
            if let Some(end) = self.perform(actions).await {
                return end;
            }
        }
    }

    /// Decodes and handles every complete packet buffered.
    async fn drain_input(&mut self) -> Option<End> {
        // One action buffer for every packet of this wake-up, dropped when idle again.
        let mut actions = Vec::new();
        // One clock reading for every packet of this wake-up (they arrived together).
        let now = self.now();
        loop {
            match decode(&mut self.link.buf, self.link.version) {
                Ok(Some(packet)) => {
                    self.link.packets_in = self.link.packets_in.saturating_add(1);
                    if matches!(packet, Packet::Publish(_)) {
                        self.details.messages_in.fetch_add(1, Ordering::Relaxed);
                    }
                    match &packet {
                        Packet::Publish(p) if p.qos == 0 => crate::coalesce::streamed(),
                        Packet::PubAck { .. } => self.acks += 1,
                        _ => {}
                    }
                    if let Some(t) = &self.link.tap {
                        t.record(Seen::In(PacketSeen::of(&packet)));
                    }
                    let over = match &packet {
                        Packet::Publish(p) => quota::refused(
                            &self.shared,
                            p,
                            self.link.version,
                            self.session.client_id(),
                        ),
                        _ => None,
                    };
                    match over {
                        Some(answer) => actions.extend(answer.map(Action::Send)),
                        None => self.session.handle_into(packet, now, &mut actions),
                    }
                }
                Ok(None) => return None,
                Err(e) => {
                    let too_large = matches!(e, iotmock_mqtt::CodecError::TooLarge(_));
                    let why = e.to_string();
                    actions = self.session.malformed(too_large, &why, now);
                }
            }
            if let Some(end) = self.perform_all(&mut actions).await {
                return Some(end);
            }
            if self.link.after_packet().await {
                tracing::info!(client_id = %self.session.client_id(), "connection dropped by its fault plan");
                return Some(self.lost().await);
            }
        }
    }

    /// One queued item and whatever else is already waiting, as one batch of actions.
    fn outbound(&mut self, first: Outbound, rx: &mut mpsc::Receiver<Outbound>) -> Vec<Action> {
        let mut actions = Vec::with_capacity(rx.len().min(255) + 1);
        let mut next = Some(first);
        let now = self.now();
        while let Some(item) = next.take() {
            self.tx.taken(crate::mailbox::size_of(&item));
            match item {
                Outbound::Deliver(msg, qos) => self.session.deliver(msg, qos, now, &mut actions),
                Outbound::Redeliver(kept) => {
                    self.session
                        .deliver(kept.message, kept.qos, now, &mut actions)
                }
            }
            if actions.len() >= 256 {
                break;
            }
            next = rx.try_recv().ok();
        }
        actions
    }

    /// Every [`TRIM_EVERY`] PUBACKs, a persistent session's messages written to disk while it
    /// is live are trimmed to what may still be unacknowledged: the session's own, those
    /// `waiting` in the mailbox, and a margin for deliveries racing the trim. After a crash,
    /// at most that margin of acknowledged messages goes out again (with DUP: at least once).
    fn trim_kept(&mut self, waiting: usize) {
        if self.acks < TRIM_EVERY || self.session.keep_secs().is_none() {
            return;
        }
        self.acks = 0;
        let keep = self.session.unacked() + waiting + TRIM_EVERY;
        self.shared.hub.trim_live(self.session.client_id(), keep);
    }

    /// Counts the session's waiting QoS 1 messages into the hub's total of queued bytes, so
    /// what clients that acknowledge slowly hold is bounded with the rest.
    fn count_pending(&mut self) {
        let now = self.session.pending_bytes();
        let total = &self.tx.total;
        match now.cmp(&self.pending_counted) {
            std::cmp::Ordering::Greater => {
                total.fetch_add(
                    now - self.pending_counted,
                    std::sync::atomic::Ordering::AcqRel,
                );
            }
            std::cmp::Ordering::Less => {
                total.fetch_sub(
                    self.pending_counted - now,
                    std::sync::atomic::Ordering::AcqRel,
                );
            }
            std::cmp::Ordering::Equal => return,
        }
        self.pending_counted = now;
    }

    /// Control notices: a takeover or DeleteConnection ends the connection (the takeover
    /// first); otherwise a re-check.
    fn notices(&mut self, n: Notices) -> Vec<Action> {
        let now = self.now();
        if n.taken_over {
            return self.session.taken_over(now);
        }
        if let Some((clean_session, prevent_will)) = n.disconnect {
            let s = &mut self.session;
            return s.disconnect_by_api(clean_session, prevent_will, now);
        }
        if n.recheck {
            return self.recheck(now);
        }
        Vec::new()
    }

    /// A registry change concerns this connection: re-read the principal, let the core
    /// decide, and watch what the principal now depends on.
    fn recheck(&mut self, now: i64) -> Vec<Action> {
        if self.clock.is_some() {
            // A custom authorizer's grant is not in the registry: the notice is the clock's
            // (see `check_grant`).
            return Vec::new();
        }
        let principal = self
            .shared
            .principal(Some(&self.region), self.session.cert_id());
        let principal = principal.unwrap_or_else(|e| {
            tracing::error!(error = %e, "registry unreadable during a re-check");
            None
        });
        let before = self.session.principal().clone();
        let actions = self.session.principal_changed(principal, now);
        if !Arc::ptr_eq(&before, self.session.principal()) {
            let watchers = &self.shared.watchers;
            watchers.unwatch(self.conn_id, &before);
            watchers.watch(self.conn_id, self.session.principal(), &self.tx.control);
        }
        actions
    }

    /// Keeps or drops the session in the hub, then closes the socket.
    async fn finish(&mut self, end: End) {
        let counted = std::mem::take(&mut self.pending_counted);
        self.tx
            .total
            .fetch_sub(counted, std::sync::atomic::Ordering::AcqRel);
        self.link.closed(end.aws_reason());
        let principal = self.session.principal();
        match self.clock {
            Some(_) => self.shared.timed.remove(self.conn_id),
            None => self.shared.watchers.unwatch(self.conn_id, principal),
        }
        let keep_ms = self.session.keep_secs().map(millis);
        let kept = if keep_ms.is_some() {
            self.session.take_stored()
        } else {
            Vec::new()
        };
        self.shared
            .hub
            .unregister(self.session.client_id(), self.conn_id, keep_ms, kept);
        let stuck = matches!(
            end,
            End::Lost | End::Closed(iotmock_session::refusal::CloseReason::Throttled)
        );
        let goodbye = async {
            if !stuck {
                let _ = self.link.flush().await;
            }
            let _ = self.link.wr.shutdown().await;
        };
        // A client that does not drain its socket gets this long to take the goodbye; then
        // the socket is closed anyway (its task, buffers and descriptor go with it).
        let _ = tokio::time::timeout(GOODBYE, goodbye).await;
    }
}

fn millis(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}
