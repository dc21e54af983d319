//! Packets from an admitted client: PUBLISH (QoS 0/1, AWS's limits and policy checks),
//! SUBSCRIBE (8 filters per packet, 50 per connection, per-filter policy), UNSUBSCRIBE,
//! PINGREQ and DISCONNECT. QoS 2 and out-of-place packets close the connection.

use crate::authz::Action;
use crate::connection::{Flow, Session};
use crate::events;
use crate::refusal::{CloseReason, End};
use iotmock_mqtt::rules::{MAX_FILTERS_PER_SUBSCRIBE, MAX_SUBSCRIPTIONS};
use iotmock_mqtt::topic::{validate_filter, validate_topic};
use iotmock_mqtt::{MAX_PAYLOAD, Packet, Publish, Version};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};

fn close(reason: CloseReason) -> Flow {
    Flow::End(End::Closed(reason))
}

fn lost() -> Flow {
    Flow::End(End::Lost)
}

impl<S: AsyncRead + AsyncWrite> Session<S> {
    pub(crate) async fn handle(&mut self, packet: Packet) -> Flow {
        let sent = match packet {
            Packet::Publish(p) => return self.publish(p).await,
            Packet::Subscribe {
                pkid,
                filters,
                subscription_id,
            } => return self.subscribe(pkid, filters, subscription_id).await,
            Packet::Unsubscribe { pkid, filters } => return self.unsubscribe(pkid, filters).await,
            Packet::PingReq => self.conn.send(&Packet::PingResp).await,
            Packet::PubAck { .. } => Ok(()),
            Packet::Disconnect { reason, .. } => {
                tracing::debug!(client_id = %self.admitted.client_id, "client disconnected");
                return Flow::End(End::Client {
                    send_will: reason == 0x04,
                });
            }
            Packet::PubRec { .. } | Packet::PubRel { .. } | Packet::PubComp { .. } => {
                self.log_close("QoS 2 flow packets are not supported");
                return close(CloseReason::QosNotSupported);
            }
            other => {
                self.log_close(&format!("unexpected packet from a client: {other:?}"));
                return close(CloseReason::ProtocolError);
            }
        };
        match sent {
            Ok(()) => Flow::Continue,
            Err(_) => lost(),
        }
    }

    /// A refused PUBLISH: MQTT 5 QoS 1 gets a PUBACK code, QoS 0 is dropped; 3.1.1 is closed.
    async fn refuse_publish(
        &mut self,
        p: &Publish,
        code: u8,
        why: &str,
        close_reason: CloseReason,
    ) -> Flow {
        match (self.conn.version, p.qos) {
            (Version::V5, 1) => {
                tracing::info!(client_id = %self.admitted.client_id, topic = %p.topic, reason = why, "PUBLISH refused");
                match self
                    .conn
                    .send(&Packet::PubAck {
                        pkid: p.pkid,
                        reason: code,
                    })
                    .await
                {
                    Ok(()) => Flow::Continue,
                    Err(_) => lost(),
                }
            }
            (Version::V5, _) => {
                tracing::info!(client_id = %self.admitted.client_id, topic = %p.topic, reason = why, "QoS 0 PUBLISH dropped");
                Flow::Continue
            }
            (Version::V311, _) => {
                self.log_close(&format!("PUBLISH to '{}' refused: {why}", p.topic));
                close(close_reason)
            }
        }
    }

    async fn publish(&mut self, p: Publish) -> Flow {
        if p.qos > 1 {
            self.log_close("PUBLISH with QoS 2 is not supported");
            return close(CloseReason::QosNotSupported);
        }
        if p.payload.len() > MAX_PAYLOAD {
            self.log_close(&format!(
                "payload of {} bytes exceeds {MAX_PAYLOAD}",
                p.payload.len()
            ));
            return close(CloseReason::PacketTooLarge);
        }
        if self.throttled() {
            tracing::info!(client_id = %self.admitted.client_id, topic = %p.topic, "PUBLISH discarded: over 100 publishes per second on this connection");
            if p.qos == 1 && self.conn.version == Version::V5 {
                let _ = self
                    .conn
                    .send(&Packet::PubAck {
                        pkid: p.pkid,
                        reason: 0x97,
                    })
                    .await;
            }
            return Flow::Continue;
        }
        if let Err(e) = validate_topic(&p.topic) {
            return self
                .refuse_publish(&p, 0x90, &e.to_string(), CloseReason::TopicNameInvalid)
                .await;
        }
        let mut actions = vec![Action::Publish];
        if p.retain {
            actions.push(Action::RetainPublish);
        }
        for action in actions {
            let checked = self.admitted.authz.check(action, &p.topic);
            if !checked.decision.allowed() {
                self.admitted
                    .authz
                    .log_refusal(action, &checked, &self.admitted.client_id);
                let why = format!(
                    "{} on {} {}",
                    action.name(),
                    checked.resource,
                    checked.decision
                );
                return self
                    .refuse_publish(&p, 0x87, &why, CloseReason::Forbidden)
                    .await;
            }
        }
        let pkid = p.pkid;
        let qos = p.qos;
        let message = Arc::new(Publish {
            pkid: 0,
            dup: false,
            ..p
        });
        self.shared.hub.publish(message);
        if qos == 1
            && self
                .conn
                .send(&Packet::PubAck { pkid, reason: 0 })
                .await
                .is_err()
        {
            return lost();
        }
        Flow::Continue
    }

    fn failure(&self, v5_code: u8) -> u8 {
        match self.conn.version {
            Version::V5 => v5_code,
            Version::V311 => 0x80,
        }
    }

    async fn subscribe(
        &mut self,
        pkid: u16,
        filters: Vec<(String, u8)>,
        subscription_id: bool,
    ) -> Flow {
        if subscription_id {
            self.log_close("subscription identifiers are not supported");
            return close(CloseReason::SubscriptionIdsNotSupported);
        }
        if filters.iter().any(|(_, q)| *q > 1) && self.conn.version == Version::V311 {
            self.log_close("SUBSCRIBE requesting QoS 2 is not supported");
            return close(CloseReason::QosNotSupported);
        }
        let codes: Vec<u8> = if filters.len() > MAX_FILTERS_PER_SUBSCRIBE {
            tracing::info!(client_id = %self.admitted.client_id, count = filters.len(), "SUBSCRIBE with more than 8 topic filters refused");
            vec![self.failure(0x97); filters.len()]
        } else {
            filters
                .iter()
                .map(|(f, q)| self.subscribe_one(f, *q))
                .collect()
        };
        let ack = Packet::SubAck {
            pkid,
            codes: codes.clone(),
        };
        if self.conn.send(&ack).await.is_err() {
            return lost();
        }
        let granted: Vec<&String> = filters
            .iter()
            .zip(&codes)
            .filter(|(_, c)| **c < 0x80)
            .map(|((f, _), _)| f)
            .collect();
        let topics: Vec<String> = granted.iter().map(|f| f.to_string()).collect();
        events::subscriptions(
            &self.shared.hub,
            &self.admitted.presence,
            "subscribed",
            &topics,
        );
        for (filter, code) in filters
            .iter()
            .map(|(f, _)| f)
            .zip(&codes)
            .filter(|(_, c)| **c < 0x80)
        {
            if let Some(msg) = self.shared.hub.retained_for(filter) {
                self.shared
                    .hub
                    .send_to(&self.admitted.client_id, msg, *code);
            }
        }
        Flow::Continue
    }

    async fn unsubscribe(&mut self, pkid: u16, filters: Vec<String>) -> Flow {
        let hub = &self.shared.hub;
        let codes: Vec<u8> = filters
            .iter()
            .map(|f| {
                if hub.unsubscribe(&self.admitted.client_id, f) {
                    0
                } else {
                    0x11
                }
            })
            .collect();
        if self
            .conn
            .send(&Packet::UnsubAck { pkid, codes })
            .await
            .is_err()
        {
            return lost();
        }
        events::subscriptions(hub, &self.admitted.presence, "unsubscribed", &filters);
        Flow::Continue
    }

    /// One filter: valid, allowed, within the per-connection limit; returns its SUBACK code.
    fn subscribe_one(&mut self, filter: &str, qos: u8) -> u8 {
        let client = self.admitted.client_id.clone();
        if let Err(e) = validate_filter(filter) {
            tracing::info!(client_id = %client, filter, reason = %e, "subscription refused");
            return self.failure(0x8F);
        }
        let checked = self.admitted.authz.check(Action::Subscribe, filter);
        if !checked.decision.allowed() {
            self.admitted
                .authz
                .log_refusal(Action::Subscribe, &checked, &client);
            return self.failure(0x87);
        }
        let hub = &self.shared.hub;
        if hub.subscription_count(&client) >= MAX_SUBSCRIPTIONS {
            tracing::info!(client_id = %client, filter, "subscription refused: 50 subscriptions per connection");
            return self.failure(0x97);
        }
        let granted = qos.min(1);
        hub.subscribe(&client, filter, granted);
        granted
    }
}
