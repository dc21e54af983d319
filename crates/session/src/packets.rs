//! Packets from an admitted client: PUBLISH (QoS 0/1, topic aliases, message expiry, AWS's
//! limits and policy checks), SUBSCRIBE (8 filters per packet, 50 per connection, per-filter
//! policy), UNSUBSCRIBE, PUBACK, PINGREQ and DISCONNECT. QoS 2 and out-of-place packets close
//! the connection.

use crate::authz::Action as Right;
use crate::events;
use crate::refusal::{CloseReason, End};
use crate::session::Session;
use crate::{
    Action, MESSAGE_EXPIRY_MAX, MESSAGE_EXPIRY_MIN, PUBLISHES_PER_SECOND, TOPIC_ALIAS_MAX,
};
use iotmock_mqtt::reason::{V5, V311};
use iotmock_mqtt::rules::{MAX_FILTERS_PER_SUBSCRIBE, MAX_SUBSCRIPTIONS};
use iotmock_mqtt::topic::{validate_filter, validate_topic};
use iotmock_mqtt::{MAX_PAYLOAD, Packet, Publish, Version};
use std::sync::Arc;

impl Session {
    /// One packet from the client.
    pub fn handle(&mut self, packet: Packet, now_ms: i64) -> Vec<Action> {
        let mut out = Vec::new();
        self.handle_into(packet, now_ms, &mut out);
        out
    }

    /// [`Session::handle`] appending to `out` (the adapter reuses one buffer).
    pub fn handle_into(&mut self, packet: Packet, now_ms: i64, out: &mut Vec<Action>) {
        if self.is_ended() {
            return;
        }
        self.last_packet_ms = now_ms;
        match packet {
            Packet::Publish(p) => self.publish(p, now_ms, out),
            Packet::Subscribe {
                pkid,
                filters,
                subscription_id,
            } => self.subscribe(pkid, filters, subscription_id, now_ms, out),
            Packet::Unsubscribe { pkid, filters } => self.unsubscribe(pkid, filters, now_ms, out),
            Packet::PingReq => out.push(Action::Send(Packet::PingResp)),
            Packet::PubAck { pkid, .. } => self.acked(pkid, now_ms, out),
            Packet::Disconnect {
                reason,
                session_expiry,
            } => self.disconnect(reason, session_expiry, now_ms, out),
            Packet::PubRec { .. } | Packet::PubRel { .. } | Packet::PubComp { .. } => {
                self.log_close("QoS 2 flow packets are not supported");
                self.end(End::Closed(CloseReason::QosNotSupported), now_ms, out);
            }
            other => {
                self.log_close(&format!("unexpected packet from a client: {other:?}"));
                self.end(End::Closed(CloseReason::ProtocolError), now_ms, out);
            }
        }
    }

    /// Malformed or oversized input: the connection closes.
    pub fn malformed(&mut self, too_large: bool, why: &str, now_ms: i64) -> Vec<Action> {
        self.log_close(&format!("malformed input: {why}"));
        let reason = if too_large {
            CloseReason::PacketTooLarge
        } else {
            CloseReason::Malformed
        };
        self.close(reason, now_ms)
    }

    fn is_ended(&self) -> bool {
        // `end` pushes Close last; a session that has ended takes no more packets.
        self.ended_flag()
    }

    fn disconnect(&mut self, reason: u8, expiry: Option<u32>, now: i64, out: &mut Vec<Action>) {
        tracing::debug!(client_id = %self.client_id, "client disconnected");
        if let Some(asked) = expiry {
            if self.keep_secs.is_none() && asked > 0 {
                // MQTT 5: a session expiry of 0 at CONNECT cannot be raised at DISCONNECT.
                self.log_close("DISCONNECT raised a session expiry interval of 0");
                return self.end(End::Closed(CloseReason::ProtocolError), now, out);
            }
            let max = self.rules.session_expiry_secs;
            self.keep_secs = (asked > 0).then(|| u64::from(asked).min(max));
        }
        let send_will = reason == V5::DisconnectWithWill.code();
        self.end(End::Client { send_will }, now, out);
    }

    /// A refused PUBLISH: MQTT 5 QoS 1 gets a PUBACK code, QoS 0 is dropped; 3.1.1 is closed.
    fn refuse_publish(
        &mut self,
        p: &Publish,
        code: V5,
        why: &str,
        close: CloseReason,
        now: i64,
        out: &mut Vec<Action>,
    ) {
        match (self.version, p.qos) {
            (Version::V5, 1) => {
                tracing::info!(client_id = %self.client_id, topic = %p.topic, reason = why, "PUBLISH refused");
                out.push(Action::Send(Packet::PubAck {
                    pkid: p.pkid,
                    reason: code.code(),
                }));
            }
            (Version::V5, _) => {
                tracing::info!(client_id = %self.client_id, topic = %p.topic, reason = why, "QoS 0 PUBLISH dropped");
            }
            (Version::V311, _) => {
                self.log_close(&format!("PUBLISH to '{}' refused: {why}", p.topic));
                self.end(End::Closed(close), now, out);
            }
        }
    }

    /// AWS's per-connection publish limit, when throttling is on: true when over it.
    fn throttled(&mut self, now_ms: i64) -> bool {
        if !self.rules.throttle {
            return false;
        }
        if now_ms - self.window.0 >= 1000 {
            self.window = (now_ms, 0);
        }
        self.window.1 += 1;
        self.window.1 > PUBLISHES_PER_SECOND
    }

    /// Resolves an MQTT 5 topic alias: records it, or fills the empty topic from it.
    fn resolve_alias(&mut self, p: &mut Publish) -> Result<(), (CloseReason, String)> {
        let Some(alias) = p.properties.as_mut().and_then(|pr| pr.topic_alias.take()) else {
            return Ok(());
        };
        if alias == 0 || alias > TOPIC_ALIAS_MAX {
            let why = format!("topic alias {alias} is outside 1..={TOPIC_ALIAS_MAX}");
            return Err((CloseReason::TopicAliasInvalid, why));
        }
        if !p.topic.is_empty() {
            self.aliases.insert(alias, p.topic.clone());
            return Ok(());
        }
        match self.aliases.get(&alias) {
            Some(topic) => {
                p.topic = topic.clone();
                Ok(())
            }
            None => Err((
                CloseReason::ProtocolError,
                format!("topic alias {alias} was never set"),
            )),
        }
    }

    /// The refusal of a publish the policy or AWS's topic rules do not allow.
    fn publish_refusal(&mut self, p: &Publish) -> Option<(V5, String, CloseReason)> {
        if let Err(e) = validate_topic(&p.topic) {
            return Some((
                V5::TopicNameInvalid,
                e.to_string(),
                CloseReason::TopicNameInvalid,
            ));
        }
        if p.retain && p.topic.starts_with('$') {
            let why = "retained messages cannot be published to reserved topics".to_string();
            return Some((V5::TopicNameInvalid, why, CloseReason::TopicNameInvalid));
        }
        let rights = if p.retain {
            &[Right::Publish, Right::RetainPublish][..]
        } else {
            &[Right::Publish][..]
        };
        rights.iter().copied().find_map(|right| {
            if self.authz.allows(right, &p.topic) {
                return None;
            }
            let checked = self.authz.check(right, &p.topic);
            self.authz.log_refusal(right, &checked, &self.client_id);
            let why = format!(
                "{} on {} {}",
                right.name(),
                checked.resource,
                checked.decision
            );
            Some((V5::NotAuthorized, why, CloseReason::Forbidden))
        })
    }

    fn publish(&mut self, mut p: Publish, now: i64, out: &mut Vec<Action>) {
        if p.qos > 1 {
            self.log_close("PUBLISH with QoS 2 is not supported");
            return self.end(End::Closed(CloseReason::QosNotSupported), now, out);
        }
        if p.payload.len() > MAX_PAYLOAD {
            self.log_close(&format!(
                "payload of {} bytes exceeds {MAX_PAYLOAD}",
                p.payload.len()
            ));
            return self.end(End::Closed(CloseReason::PacketTooLarge), now, out);
        }
        if let Err((reason, why)) = self.resolve_alias(&mut p) {
            self.log_close(&why);
            return self.end(End::Closed(reason), now, out);
        }
        if self.throttled(now) {
            tracing::info!(client_id = %self.client_id, topic = %p.topic, "PUBLISH discarded: over 100 publishes per second on this connection");
            if p.qos == 1 && self.version == Version::V5 {
                out.push(Action::Send(Packet::PubAck {
                    pkid: p.pkid,
                    reason: V5::QuotaExceeded.code(),
                }));
            }
            return;
        }
        if let Some((code, why, close)) = self.publish_refusal(&p) {
            return self.refuse_publish(&p, code, &why, close, now, out);
        }
        let (pkid, qos) = (p.pkid, p.qos);
        let expiry = p
            .properties
            .as_ref()
            .and_then(|pr| pr.message_expiry_interval);
        let expires_ms = expiry.map(|secs| {
            let secs = secs.clamp(MESSAGE_EXPIRY_MIN, MESSAGE_EXPIRY_MAX);
            now + i64::from(secs) * 1000
        });
        let message = Publish {
            pkid: 0,
            dup: false,
            expires_ms,
            ..p
        };
        out.push(Action::Route(Arc::new(message)));
        if qos == 1 {
            out.push(Action::Send(Packet::PubAck {
                pkid,
                reason: V5::Success.code(),
            }));
        }
    }

    fn failure(&self, v5: V5) -> u8 {
        match self.version {
            Version::V5 => v5.code(),
            Version::V311 => V311::SubscribeFailure.code(),
        }
    }

    fn subscribe(
        &mut self,
        pkid: u16,
        filters: Vec<(String, u8)>,
        sub_id: bool,
        now: i64,
        out: &mut Vec<Action>,
    ) {
        if sub_id {
            self.log_close("subscription identifiers are not supported");
            return self.end(
                End::Closed(CloseReason::SubscriptionIdsNotSupported),
                now,
                out,
            );
        }
        if filters.iter().any(|(_, q)| *q > 1) && self.version == Version::V311 {
            self.log_close("SUBSCRIBE requesting QoS 2 is not supported");
            return self.end(End::Closed(CloseReason::QosNotSupported), now, out);
        }
        if self.version == Version::V311
            && let Some((f, _)) = filters
                .iter()
                .find(|(f, _)| f.starts_with('$') && validate_filter(f).is_err())
        {
            self.log_close(&format!(
                "SUBSCRIBE to the unsupported reserved filter '{f}'"
            ));
            return self.end(End::Closed(CloseReason::TopicFilterInvalid), now, out);
        }
        let codes: Vec<u8> = if filters.len() > MAX_FILTERS_PER_SUBSCRIBE {
            tracing::info!(client_id = %self.client_id, count = filters.len(), "SUBSCRIBE with more than 8 topic filters refused");
            vec![self.failure(V5::QuotaExceeded); filters.len()]
        } else {
            filters
                .iter()
                .map(|(f, q)| self.subscribe_one(f, *q))
                .collect()
        };
        out.push(Action::Send(Packet::SubAck {
            pkid,
            codes: codes.clone(),
        }));
        let mut granted = Vec::new();
        for ((filter, _), code) in filters.into_iter().zip(codes) {
            if !V5::is_failure(code) {
                granted.push(filter.clone());
                out.push(Action::Subscribe { filter, qos: code });
            }
        }
        self.route_event(
            events::subscriptions(&self.presence, "subscribed", &granted, now),
            out,
        );
    }

    /// One filter: valid, allowed, within the per-connection limit; returns its SUBACK code.
    fn subscribe_one(&mut self, filter: &str, qos: u8) -> u8 {
        if let Err(e) = validate_filter(filter) {
            tracing::info!(client_id = %self.client_id, filter, reason = %e, "subscription refused");
            return self.failure(V5::TopicFilterInvalid);
        }
        let checked = self.authz.check(Right::Subscribe, filter);
        if !checked.decision.allowed() {
            self.authz
                .log_refusal(Right::Subscribe, &checked, &self.client_id);
            return self.failure(V5::NotAuthorized);
        }
        let known = self.subscriptions.contains_key(filter);
        if !known && self.subscriptions.len() >= MAX_SUBSCRIPTIONS {
            tracing::info!(client_id = %self.client_id, filter, "subscription refused: 50 subscriptions per connection");
            return self.failure(V5::QuotaExceeded);
        }
        let granted = qos.min(1);
        self.subscriptions.insert(filter.to_string(), granted);
        granted
    }

    fn unsubscribe(&mut self, pkid: u16, filters: Vec<String>, now: i64, out: &mut Vec<Action>) {
        let codes: Vec<u8> = filters
            .iter()
            .map(|f| match self.subscriptions.remove(f) {
                Some(_) => V5::Success.code(),
                None => V5::NoSubscriptionExisted.code(),
            })
            .collect();
        out.push(Action::Send(Packet::UnsubAck { pkid, codes }));
        for filter in &filters {
            out.push(Action::Unsubscribe {
                filter: filter.clone(),
            });
        }
        self.route_event(
            events::subscriptions(&self.presence, "unsubscribed", &filters, now),
            out,
        );
    }
}
