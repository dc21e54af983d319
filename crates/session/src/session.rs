//! One admitted connection's state: identity and rights, keep-alive, the QoS 1 in-flight
//! window, topic aliases and the publish throttle. Inbound packets are in `packets.rs`.

use crate::admit::{Admission, authorize, will_refusal};
use crate::authz::{Action as Right, Authz};
use crate::events::{self, Presence};
use crate::refusal::{CloseReason, End, disconnect_code};
use crate::{Action, MAX_INFLIGHT, MAX_PENDING, Rules, Stored};
use iotmock_mqtt::{Delivery, Packet, Publish, Version, Will, reason};
use iotmock_registry::Principal;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// What registering the connection found, and what the adapter knows of it.
#[derive(Debug, Clone, Default)]
pub struct Start {
    pub session_present: bool,
    /// The resumed session's subscriptions (filter, granted QoS).
    pub subscriptions: Vec<(String, u8)>,
    /// Messages kept for the resumed session.
    pub stored: Vec<Stored>,
    /// The lifecycle `sessionIdentifier` and `versionNumber`.
    pub session_uuid: String,
    pub version_number: u64,
}

pub struct Session {
    pub(crate) client_id: String,
    pub(crate) version: Version,
    pub(crate) keep_alive: u16,
    pub(crate) authz: Authz,
    pub(crate) attributes: Vec<&'static str>,
    pub(crate) will: Option<Will>,
    pub(crate) keep_secs: Option<u64>,
    pub(crate) presence: Presence,
    pub(crate) rules: Rules,
    pub(crate) peer_ip: Option<std::net::IpAddr>,
    pub(crate) last_packet_ms: i64,
    pub(crate) subscriptions: HashMap<String, u8>,
    /// Sent and not yet acknowledged, in sending order (PUBACKs mostly come in order).
    pub(crate) inflight: VecDeque<(u16, Arc<Publish>)>,
    pub(crate) pending: VecDeque<Arc<Publish>>,
    /// The bytes of `pending` (as [`queued_size`] counts them).
    pub(crate) pending_bytes: usize,
    /// Deliveries discarded because the queue was over its bound; logged once per episode.
    pub(crate) discarded: u64,
    /// MQTT 5 Maximum Packet Size the client asked for.
    pub(crate) max_packet: Option<u32>,
    /// Messages not sent for being over it.
    pub(crate) oversized: u64,
    pub(crate) aliases: HashMap<u16, String>,
    /// Publishes in the current one-second window: (window start, count).
    pub(crate) window: (i64, u32),
    next_pkid: u16,
    ended: bool,
}

impl Session {
    /// The session of an admitted CONNECT: CONNACK, the `connected` event, the resumed
    /// subscriptions re-checked against the (possibly different) certificate's rights, and
    /// the kept messages (in-flight ones again, with DUP).
    pub fn start(a: Admission, start: Start, rules: &Rules, now_ms: i64) -> (Self, Vec<Action>) {
        let presence = Presence {
            client_id: a.client_id.clone(),
            session: start.session_uuid,
            principal: a
                .authz
                .principal
                .event_id
                .clone()
                .unwrap_or_else(|| a.authz.principal.cert_id.clone()),
            version: start.version_number,
            thing: exclusive_thing(&a.authz.principal.things),
        };
        let mut s = Session {
            client_id: a.client_id,
            version: a.version,
            keep_alive: a.keep_alive,
            authz: a.authz,
            attributes: a.attributes,
            will: a.will,
            keep_secs: a.keep_secs,
            presence,
            rules: rules.clone(),
            peer_ip: a.peer_ip,
            last_packet_ms: now_ms,
            subscriptions: HashMap::new(),
            inflight: VecDeque::new(),
            pending: VecDeque::new(),
            pending_bytes: 0,
            discarded: 0,
            max_packet: a.max_packet,
            oversized: 0,
            aliases: HashMap::new(),
            window: (now_ms, 0),
            next_pkid: 0,
            ended: false,
        };
        let accepted = match s.version {
            Version::V5 => reason::V5::Success.code(),
            Version::V311 => reason::V311::Accepted.code(),
        };
        let mut out = vec![Action::Send(Packet::ConnAck {
            session_present: start.session_present,
            code: accepted,
            props: a.props,
        })];
        let ip = s.peer_ip.map(|ip| ip.to_string()).unwrap_or_default();
        s.route_event(events::connected(&s.presence, &ip, now_ms), &mut out);
        s.resume(start.subscriptions, start.stored, now_ms, &mut out);
        (s, out)
    }

    fn resume(
        &mut self,
        subs: Vec<(String, u8)>,
        stored: Vec<Stored>,
        now: i64,
        out: &mut Vec<Action>,
    ) {
        for (filter, qos) in subs {
            let checked = self.authz.check(Right::Subscribe, &filter);
            if checked.decision.allowed() {
                self.subscriptions.insert(filter, qos);
            } else {
                self.authz
                    .log_refusal(Right::Subscribe, &checked, &self.client_id);
                out.push(Action::Unsubscribe { filter });
            }
        }
        for kept in stored {
            match kept.pkid {
                // Written while a connection was live (packet id unknown then): again, with DUP.
                Some(0) if kept.qos == 1 && self.inflight.len() < MAX_INFLIGHT => {
                    let pkid = self.pkid();
                    self.send_message(kept.message, 1, pkid, true, now, out);
                }
                Some(pkid) if kept.qos == 1 && pkid != 0 => {
                    self.redeliver(kept.message, pkid, now, out)
                }
                _ => self.deliver(kept.message, kept.qos, now, out),
            }
        }
    }

    pub(crate) fn ended_flag(&self) -> bool {
        self.ended
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub fn version(&self) -> Version {
        self.version
    }

    pub fn cert_id(&self) -> &str {
        &self.authz.principal.cert_id
    }

    /// The thing names the certificate is attached to (services key on them).
    pub fn principal(&self) -> &Arc<Principal> {
        &self.authz.principal
    }

    /// How long the session outlives this connection (persistent sessions).
    pub fn keep_secs(&self) -> Option<u64> {
        self.keep_secs
    }

    /// The clock reading at which [`Session::tick`] must next run: keep-alive expiry
    /// (1.5 x keep-alive after the last packet) or the certificate's expiry.
    pub fn deadline(&self) -> i64 {
        let per_second = self.rules.keep_alive_ms_per_second;
        let keep = self.last_packet_ms + i64::from(self.keep_alive) * per_second;
        let cert = self
            .authz
            .principal
            .cert
            .not_after
            .saturating_add(1)
            .saturating_mul(1000);
        keep.min(cert)
    }

    /// Time passed: closes the connection when keep-alive or the certificate has expired.
    pub fn tick(&mut self, now_ms: i64) -> Vec<Action> {
        let mut out = Vec::new();
        if self.ended || now_ms < self.deadline() {
            return out;
        }
        if !self
            .authz
            .principal
            .cert
            .is_valid_at(now_ms.div_euclid(1000))
        {
            self.log_close("the certificate expired while connected");
            self.end(End::Closed(CloseReason::NotAuthorized), now_ms, &mut out);
        } else {
            self.log_close("keep-alive expired (1.5 x keep-alive without a packet)");
            self.end(End::Closed(CloseReason::KeepAliveTimeout), now_ms, &mut out);
        }
        out
    }

    /// The registry changed: re-reads the principal (`None`: no longer registered) and ends
    /// the connection when it may no longer connect.
    pub fn principal_changed(
        &mut self,
        principal: Option<Arc<Principal>>,
        now_ms: i64,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        if self.ended {
            return out;
        }
        let cert_id = self.cert_id().to_string();
        let ctx = (
            &self.rules,
            self.peer_ip,
            self.attributes.as_slice(),
            now_ms,
        );
        match authorize(principal, &cert_id, &self.client_id, ctx) {
            Ok(fresh) => self.authz = fresh,
            Err(reason) => {
                self.log_close(&reason.to_string());
                self.end(End::Closed(CloseReason::NotAuthorized), now_ms, &mut out);
            }
        }
        out
    }

    /// Another connection took this client id over.
    pub fn taken_over(&mut self, now_ms: i64) -> Vec<Action> {
        self.log_close("another connection took over this client id");
        self.close(CloseReason::SessionTakenOver, now_ms)
    }

    /// DeleteConnection: MQTT 5 DISCONNECT 0x98, lifecycle API_INITIATED_DISCONNECT; the will
    /// unless `prevent_will`; with `clean_session` the stored session ends too.
    pub fn disconnect_by_api(
        &mut self,
        clean_session: bool,
        prevent_will: bool,
        now_ms: i64,
    ) -> Vec<Action> {
        if prevent_will {
            self.will = None;
        }
        if clean_session {
            self.keep_secs = None;
        }
        self.log_close("disconnected through the DeleteConnection API");
        self.close(CloseReason::Administrative, now_ms)
    }

    /// The broker is shutting down (MQTT 5 DISCONNECT 0x8B).
    pub fn shutdown(&mut self, now_ms: i64) -> Vec<Action> {
        self.close(CloseReason::ShuttingDown, now_ms)
    }

    /// The broker closes the connection for `reason`.
    pub fn close(&mut self, reason: CloseReason, now_ms: i64) -> Vec<Action> {
        let mut out = Vec::new();
        self.end(End::Closed(reason), now_ms, &mut out);
        out
    }

    /// The socket closed or failed without DISCONNECT.
    pub fn lost(&mut self, now_ms: i64) -> Vec<Action> {
        let mut out = Vec::new();
        self.end(End::Lost, now_ms, &mut out);
        out
    }

    /// The broker closes a client over a throttling limit (it stayed over its delivery queue
    /// bound past the grace period): `disconnectReason` THROTTLED, the will as on any close.
    pub fn throttled_close(&mut self, now_ms: i64) -> Vec<Action> {
        let mut out = Vec::new();
        self.end(End::Closed(CloseReason::Throttled), now_ms, &mut out);
        out
    }

    /// Ends the session once: MQTT 5 DISCONNECT when the broker closes, the `disconnected`
    /// event, the will (re-checked against the rights of now), then `Close`.
    pub(crate) fn end(&mut self, end: End, now_ms: i64, out: &mut Vec<Action>) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        if let (End::Closed(r), Version::V5) = (end, self.version) {
            out.push(Action::Send(Packet::Disconnect {
                reason: disconnect_code(r).code(),
                session_expiry: None,
            }));
        }
        let reason = end.aws_reason();
        self.route_event(events::disconnected(&self.presence, reason, now_ms), out);
        if end.publishes_will() {
            self.publish_will(out);
        }
        out.push(Action::Close(end));
    }

    fn publish_will(&mut self, out: &mut Vec<Action>) {
        let Some(will) = self.will.take() else {
            return;
        };
        if let Some(why) = will_refusal(&mut self.authz, &will) {
            tracing::info!(client_id = %self.client_id, topic = %will.topic, reason = %why, "will not published: the policy no longer allows it");
            return;
        }
        tracing::debug!(client_id = %self.client_id, topic = %will.topic, "publishing the will");
        let msg = Publish::new(will.topic, will.payload, will.qos, will.retain);
        out.push(Action::Will(Arc::new(msg)));
    }

    /// What the session keeps when its connection ends: in-flight messages (redelivered with
    /// DUP) then those still waiting for room.
    pub fn take_stored(&mut self) -> Vec<Stored> {
        let inflight = std::mem::take(&mut self.inflight).into_iter();
        let mut kept: Vec<Stored> = inflight
            .map(|(pkid, message)| Stored {
                message,
                qos: 1,
                pkid: Some(pkid),
            })
            .collect();
        self.pending_bytes = 0;
        kept.extend(self.pending.drain(..).map(|message| Stored {
            message,
            qos: 1,
            pkid: None,
        }));
        kept
    }

    pub(crate) fn route_event(&self, event: Option<events::Event>, out: &mut Vec<Action>) {
        if let Some(e) = event {
            out.push(Action::Event(e));
        }
    }

    pub fn log_close(&self, reason: &str) {
        tracing::info!(client_id = %self.client_id, certificate = %self.cert_id(), %reason, "connection closed");
    }

    fn in_flight(&self, pkid: u16) -> bool {
        self.inflight.iter().any(|(id, _)| *id == pkid)
    }

    fn pkid(&mut self) -> u16 {
        loop {
            self.next_pkid = self.next_pkid.checked_add(1).unwrap_or(1);
            if !self.in_flight(self.next_pkid) {
                return self.next_pkid;
            }
        }
    }

    /// A message for this client at the granted QoS: checked for iot:Receive, dropped when
    /// expired (its remaining lifetime forwarded otherwise), QoS 1 held in flight until
    /// PUBACK, or queued while the window of 100 is full.
    pub fn deliver(&mut self, msg: Arc<Publish>, qos: u8, now_ms: i64, out: &mut Vec<Action>) {
        if self.ended {
            return;
        }
        if !self.authz.allows(Right::Receive, &msg.topic) {
            let checked = self.authz.check(Right::Receive, &msg.topic);
            self.authz
                .log_refusal(Right::Receive, &checked, &self.client_id);
            return;
        }
        if self.too_large(&msg, qos) {
            return;
        }
        if qos == 1 && self.inflight.len() >= MAX_INFLIGHT {
            let size = queued_size(&msg);
            let over = self.pending_bytes.saturating_add(size) > self.rules.queue_bytes;
            if self.pending.len() < MAX_PENDING && !over {
                self.pending_bytes += size;
                self.pending.push_back(msg);
            } else {
                self.discard(&msg);
            }
            return;
        }
        let pkid = if qos == 1 { self.pkid() } else { 0 };
        self.send_message(msg, qos, pkid, false, now_ms, out);
    }

    fn redeliver(&mut self, msg: Arc<Publish>, pkid: u16, now_ms: i64, out: &mut Vec<Action>) {
        if self.in_flight(pkid) {
            return self.deliver(msg, 1, now_ms, out);
        }
        self.send_message(msg, 1, pkid, true, now_ms, out);
    }

    fn send_message(
        &mut self,
        msg: Arc<Publish>,
        qos: u8,
        pkid: u16,
        dup: bool,
        now: i64,
        out: &mut Vec<Action>,
    ) {
        let Some(expiry) = remaining_life(&msg, now) else {
            tracing::debug!(client_id = %self.client_id, topic = %msg.topic, "message expired before delivery");
            return;
        };
        if qos == 1 {
            self.inflight.push_back((pkid, msg.clone()));
        }
        let message = msg;
        out.push(Action::Deliver(Delivery {
            message,
            qos,
            pkid,
            dup,
            expiry,
        }));
    }

    /// The client acknowledged `pkid`: frees its slot for a waiting delivery.
    pub(crate) fn acked(&mut self, pkid: u16, now_ms: i64, out: &mut Vec<Action>) {
        let Some(at) = self.inflight.iter().position(|(id, _)| *id == pkid) else {
            return;
        };
        self.inflight.remove(at);
        if let Some(next) = self.pending.pop_front() {
            self.pending_bytes = self.pending_bytes.saturating_sub(queued_size(&next));
            if self.pending.is_empty() {
                self.discarded = 0;
            }
            let pkid = self.pkid();
            self.send_message(next, 1, pkid, false, now_ms, out);
        }
    }

    /// A QoS 1 delivery the client's queue has no room for: discarded and counted, as AWS
    /// discards what a client cannot take; the first of an episode is logged.
    /// MQTT 5 §3.1.2.11.4: a message larger than the client's Maximum Packet Size is not sent
    /// to it (counted, and logged the first time).
    fn too_large(&mut self, msg: &Publish, qos: u8) -> bool {
        let Some(max) = self.max_packet else {
            return false;
        };
        let size = publish_size(msg, qos);
        if size <= max as usize {
            return false;
        }
        self.oversized += 1;
        if self.oversized == 1 {
            tracing::info!(client_id = %self.client_id, topic = %msg.topic, size, max,
                "a message larger than the client's Maximum Packet Size is not sent to it (MQTT 5 3.1.2.11.4; logged once per connection)");
        }
        true
    }

    /// Messages not sent because they exceeded the client's Maximum Packet Size.
    pub fn oversized(&self) -> u64 {
        self.oversized
    }

    fn discard(&mut self, msg: &Publish) {
        self.discarded += 1;
        if self.discarded == 1 {
            tracing::warn!(client_id = %self.client_id, topic = %msg.topic,
                limit_bytes = self.rules.queue_bytes, "QoS 1 deliveries discarded: the client acknowledges too slowly and its queue is full (logged once until it drains)");
        }
    }

    /// The bytes of QoS 1 deliveries waiting for room in the window.
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// QoS 1 deliveries not yet acknowledged: in flight or waiting for room.
    pub fn unacked(&self) -> usize {
        self.inflight.len() + self.pending.len()
    }

    /// Deliveries discarded since the client's queue last drained.
    pub fn discarded(&self) -> u64 {
        self.discarded
    }
}

/// The remaining Message Expiry Interval to forward, in seconds (`Some(None)`: the message
/// has none). `None` when the message has expired.
fn remaining_life(msg: &Publish, now_ms: i64) -> Option<Option<u32>> {
    let Some(expires) = msg.expires_ms else {
        return Some(None);
    };
    let left = expires - now_ms;
    if left <= 0 {
        return None;
    }
    Some(Some(u32::try_from((left + 999) / 1000).unwrap_or(u32::MAX)))
}

/// What a queued message counts against a client's byte bound: its payload and topic, and a
/// fixed allowance for the packet and its bookkeeping.
pub fn queued_size(msg: &Publish) -> usize {
    msg.payload.len() + msg.topic.len() + 64
}

/// The size of `msg` as an MQTT 5 PUBLISH: fixed header, topic, packet id, properties (their
/// bytes as sent: user properties, content type, response topic, correlation data, and room
/// for the fixed-size ones) and payload.
pub fn publish_size(msg: &Publish, qos: u8) -> usize {
    let props = msg.properties.as_ref().map_or(0, |p| {
        let text = |s: &Option<String>| s.as_ref().map_or(0, |s| 3 + s.len());
        let user: usize = p
            .user_properties
            .iter()
            .map(|(k, v)| 5 + k.len() + v.len())
            .sum();
        let corr = p.correlation_data.as_ref().map_or(0, |c| 3 + c.len());
        user + corr + text(&p.content_type) + text(&p.response_topic) + 16
    });
    let variable = 2 + msg.topic.len() + if qos > 0 { 2 } else { 0 } + 4 + props;
    let remaining = variable + msg.payload.len();
    let length_bytes = match remaining {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    };
    1 + length_bytes + remaining
}

/// The thing a certificate is exclusively attached to, if it is.
fn exclusive_thing(things: &[iotmock_registry::AttachedThing]) -> Option<String> {
    match things {
        [only] if only.exclusive => Some(only.name.clone()),
        _ => None,
    }
}
