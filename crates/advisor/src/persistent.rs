//! The persistent-session cases. MQTT_Persistent_Session_Happy_Case: the device connects with
//! cleanSession=0 and subscribes; the broker drops the connection keeping the session and
//! queues a QoS 1 message; on reconnect the device must not resubscribe and must acknowledge
//! the stored message. MQTT_Expired_Persistent_Session: the broker drops the connection and the
//! session; on reconnect (CONNACK without a session) the device must subscribe again.

use crate::cases::{Step, done, none};
use crate::{Act, Case, CaseId, Event, Packet, Timed, Verdict};

/// Where a persistent-session case stands.
#[derive(Debug, Clone, Default)]
pub(crate) struct Persist {
    /// The first connection, once it subscribed.
    first: Option<u64>,
    /// The exact topic its subscription covers.
    topic: Option<String>,
    /// The connection after the forced disconnect.
    back: Option<u64>,
    /// Packet id of the stored message delivered on `back`.
    delivered: Option<u16>,
    /// The device acknowledged it.
    acked: bool,
}

impl Case {
    fn expired(&self) -> bool {
        self.id == CaseId::ExpiredPersistentSession
    }

    pub(crate) fn persistent(&mut self, t: &Timed) -> Step {
        match &t.event {
            Event::Connect {
                conn, clean_start, ..
            } => self.session_connect(*conn, *clean_start),
            Event::In { conn, packet } if packet.kind == "SUBSCRIBE" => {
                self.session_subscribe(*conn, packet)
            }
            Event::Closed { conn, .. } if self.persist.first == Some(*conn) && !self.expired() => {
                let topic = self.persist.topic.clone().unwrap_or_default();
                let payload = b"stored while the device was away".to_vec();
                (
                    vec![Act::Publish {
                        topic,
                        payload,
                        qos: 1,
                    }],
                    None,
                )
            }
            Event::Out {
                conn,
                packet,
                withheld: false,
            } if self.persist.back == Some(*conn)
                && packet.kind == "PUBLISH"
                && packet.qos == 1 =>
            {
                self.persist.delivered = packet.pkid;
                none()
            }
            Event::In { conn, packet }
                if self.persist.back == Some(*conn)
                    && packet.kind == "PUBACK"
                    && packet.pkid.is_some()
                    && packet.pkid == self.persist.delivered =>
            {
                self.persist.acked = true;
                none()
            }
            // The device moved on (anything but a SUBSCRIBE) after acknowledging.
            Event::In { conn, .. } if self.persist.back == Some(*conn) && self.persist.acked => {
                done(Self::resumed())
            }
            _ => none(),
        }
    }

    fn session_connect(&mut self, conn: u64, clean: bool) -> Step {
        if self.persist.first.is_none() && clean {
            return done(Verdict::fail(
                "the device connected with a clean session (cleanSession=1)",
            ));
        }
        if self.persist.first.is_some() && self.persist.back.is_none() {
            self.persist.back = Some(conn);
        }
        none()
    }

    fn session_subscribe(&mut self, conn: u64, p: &Packet) -> Step {
        match (self.persist.first, self.persist.back) {
            (None, _) => {
                self.persist.first = Some(conn);
                let exact = p.filters.iter().find(|f| !f.contains(['+', '#']));
                self.persist.topic =
                    Some(exact.cloned().unwrap_or_else(|| self.config.topic.clone()));
                let act = Act::Disconnect {
                    clean_session: self.expired(),
                };
                (vec![act], None)
            }
            (Some(_), Some(back)) if back == conn => done(if self.expired() {
                Verdict::pass("the device subscribed again after CONNACK reported no session")
            } else {
                Verdict::fail("the device resubscribed although its session was kept")
            }),
            _ => none(),
        }
    }

    fn resumed() -> Verdict {
        Verdict::pass(
            "the session was resumed without resubscribing and the stored message acknowledged",
        )
    }

    /// The verdict when time ran out: a device that acknowledged the stored message and
    /// never subscribed again passes.
    pub(crate) fn persistent_timed_out(&self) -> Verdict {
        if self.persist.acked && !self.expired() {
            return Self::resumed();
        }
        let p = &self.persist;
        let what: String = match (p.first, p.back, p.delivered) {
            (None, _, _) => "the device never subscribed".into(),
            (Some(_), None, _) => "the device did not reconnect after the forced disconnect".into(),
            _ if self.expired() => {
                "the device did not subscribe again after CONNACK reported no session".into()
            }
            (_, _, None) => "the stored QoS 1 message was never delivered".into(),
            _ => "the stored QoS 1 message was not acknowledged".into(),
        };
        Verdict::fail(format!("timed out: {what}"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::{Act, Case, CaseId, Config, Event, Outcome, Packet, Timed};

    fn feed(case: &mut Case, event: Event) -> (Vec<Act>, Option<Outcome>) {
        let (acts, v) = case.on(&Timed { at_ms: 0, event });
        (acts, v.map(|v| v.outcome))
    }

    fn connect(conn: u64, clean_start: bool) -> Event {
        Event::Connect {
            conn,
            client_id: "d".into(),
            clean_start,
            keep_alive: 30,
        }
    }

    fn packet(kind: &str, pkid: u16) -> Packet {
        Packet {
            kind: kind.into(),
            pkid: Some(pkid),
            filters: if kind == "SUBSCRIBE" {
                vec!["d/t".into()]
            } else {
                Vec::new()
            },
            qos: 1,
            ..Packet::default()
        }
    }

    fn subscribe(conn: u64) -> Event {
        Event::In {
            conn,
            packet: packet("SUBSCRIBE", 1),
        }
    }

    #[test]
    fn a_resumed_session_passes_when_the_stored_message_is_acknowledged() {
        let mut case = Case::new(CaseId::PersistentSessionHappy, Config::new("d"));
        assert_eq!(feed(&mut case, connect(1, false)), (vec![], None));
        let (acts, _) = feed(&mut case, subscribe(1));
        assert_eq!(
            acts,
            [Act::Disconnect {
                clean_session: false
            }]
        );
        let closed = Event::Closed {
            conn: 1,
            reason: "API_INITIATED_DISCONNECT".into(),
        };
        let (acts, _) = feed(&mut case, closed);
        assert!(matches!(&acts[..], [Act::Publish { topic, qos: 1, .. }] if topic == "d/t"));
        feed(&mut case, connect(2, false));
        assert!(case.timed_out().reason.contains("never delivered"));
        let out = Event::Out {
            conn: 2,
            packet: packet("PUBLISH", 7),
            withheld: false,
        };
        feed(&mut case, out);
        let ack = Event::In {
            conn: 2,
            packet: packet("PUBACK", 7),
        };
        assert_eq!(feed(&mut case, ack).1, None);
        assert_eq!(case.timed_out().outcome, Outcome::Pass);
        let mut resubscribes = case.clone();
        assert_eq!(feed(&mut resubscribes, subscribe(2)).1, Some(Outcome::Fail));
        let ping = Event::In {
            conn: 2,
            packet: packet("PINGREQ", 0),
        };
        assert_eq!(feed(&mut case, ping).1, Some(Outcome::Pass));
    }

    #[test]
    fn resubscribing_or_a_clean_start_fails_the_happy_case() {
        let mut case = Case::new(CaseId::PersistentSessionHappy, Config::new("d"));
        assert_eq!(feed(&mut case, connect(1, true)).1, Some(Outcome::Fail));
        let mut case = Case::new(CaseId::PersistentSessionHappy, Config::new("d"));
        feed(&mut case, connect(1, false));
        feed(&mut case, subscribe(1));
        assert!(case.timed_out().reason.contains("did not reconnect"));
        feed(&mut case, connect(2, false));
        assert_eq!(feed(&mut case, subscribe(2)).1, Some(Outcome::Fail));
    }

    #[test]
    fn an_expired_session_needs_a_new_subscription() {
        let mut case = Case::new(CaseId::ExpiredPersistentSession, Config::new("d"));
        feed(&mut case, connect(1, false));
        let (acts, _) = feed(&mut case, subscribe(1));
        assert_eq!(
            acts,
            [Act::Disconnect {
                clean_session: true
            }]
        );
        feed(&mut case, connect(2, true));
        assert!(case.timed_out().reason.contains("subscribe again"));
        assert_eq!(feed(&mut case, subscribe(2)).1, Some(Outcome::Pass));
    }
}
