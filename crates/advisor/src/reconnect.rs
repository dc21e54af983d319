//! The reconnect-backoff cases. MQTT_Reconnect_Backoff_Retries_On_Server_Disconnect: every time
//! the device is connected (CONNACK sent), the broker disconnects it.
//! MQTT_Reconnect_Backoff_Retries_On_Unstable_Connection: the connection drops (no DISCONNECT)
//! after the device's first packet following CONNACK. Either way, after RECONNECTION_ATTEMPTS
//! reconnects the waits between losing a connection and opening the next are classified:
//! jittered backoff passes, plain exponential warns, linear or constant fails.

use crate::cases::{Step, none};
use crate::{Act, Backoff, Case, CaseId, Event, Timed, Verdict, classify};

/// Where a reconnect case stands.
#[derive(Debug, Clone, Default)]
pub(crate) struct Recon {
    /// Connections that got their CONNACK.
    connected: Vec<u64>,
    /// When the last of them closed, until the next connection opens.
    lost_at: Option<i64>,
    /// Milliseconds from each lost connection to the next one.
    pub(crate) waits: Vec<f64>,
}

impl Recon {
    /// Connect backoff: the wait from the device closing an attempt to its next one (the time
    /// it spends waiting for CONNACK is not part of its backoff).
    pub(crate) fn note_gap(&mut self, t: &Timed) {
        match &t.event {
            Event::Closed { .. } => self.lost_at = Some(t.at_ms),
            Event::Accepted { .. } => {
                if let Some(lost) = self.lost_at.take() {
                    self.waits.push((t.at_ms - lost) as f64);
                }
            }
            _ => {}
        }
    }
}

impl Case {
    pub(crate) fn reconnect(&mut self, t: &Timed) -> Step {
        match &t.event {
            Event::Out {
                conn,
                packet,
                withheld: false,
            } if packet.kind == "CONNACK" => {
                self.recon.connected.push(*conn);
                match self.id {
                    CaseId::ReconnectServerDisconnect => (
                        vec![Act::Disconnect {
                            clean_session: false,
                        }],
                        None,
                    ),
                    _ => none(),
                }
            }
            Event::Closed { conn, .. } if self.recon.connected.contains(conn) => {
                self.recon.lost_at = Some(t.at_ms);
                none()
            }
            Event::Accepted { .. } => match self.recon.lost_at.take() {
                Some(lost) => {
                    self.recon.waits.push((t.at_ms - lost) as f64);
                    self.judge_reconnects()
                }
                None => none(),
            },
            _ => none(),
        }
    }

    fn judge_reconnects(&self) -> Step {
        let waits = &self.recon.waits;
        if waits.len() < self.config.attempts {
            return none();
        }
        let kind = classify(waits);
        let seen = format!("{kind:?} backoff over reconnect waits {waits:?} ms");
        let verdict = match kind {
            Backoff::Jitter => Verdict::pass(seen),
            Backoff::Exponential => Verdict::warn(format!("{seen}: exponential without jitter")),
            _ => Verdict::fail(seen),
        };
        (vec![Act::LiftFaults], Some(verdict))
    }

    pub(crate) fn reconnect_timed_out(&self) -> String {
        format!(
            "only {} reconnects after lost connections (needs {})",
            self.recon.waits.len(),
            self.config.attempts
        )
    }
}

/// Whether `id` is one of these cases.
pub(crate) fn is_reconnect(id: CaseId) -> bool {
    matches!(
        id,
        CaseId::ReconnectServerDisconnect | CaseId::ReconnectUnstable
    )
}

#[cfg(test)]
mod tests {
    use crate::{Act, Case, CaseId, Config, Event, Outcome, Packet, Timed};

    /// Connects, gets CONNACK, loses the connection, and reconnects after each wait.
    fn cycles(id: CaseId, waits: &[i64]) -> (Vec<Act>, Option<Outcome>) {
        let mut case = Case::new(id, Config::new("d"));
        let (mut now, mut acts) = (0, Vec::new());
        let connack = Packet {
            kind: "CONNACK".into(),
            ..Packet::default()
        };
        for (i, wait) in waits.iter().enumerate() {
            let conn = i as u64 + 1;
            let events = [
                Event::Accepted { conn },
                Event::Out {
                    conn,
                    packet: connack.clone(),
                    withheld: false,
                },
                Event::Closed {
                    conn,
                    reason: "SERVER_INITIATED_DISCONNECT".into(),
                },
            ];
            for event in events {
                now += 5;
                let (a, v) = case.on(&Timed { at_ms: now, event });
                acts.extend(a);
                assert!(v.is_none());
            }
            now += wait;
            let next = Event::Accepted { conn: conn + 100 };
            let (a, v) = case.on(&Timed {
                at_ms: now,
                event: next,
            });
            acts.extend(a);
            if let Some(v) = v {
                return (acts, Some(v.outcome));
            }
        }
        (acts, None)
    }

    #[test]
    fn reconnect_waits_are_classified() {
        let id = CaseId::ReconnectServerDisconnect;
        let (acts, jitter) = cycles(id, &[60, 90, 260, 380, 1100]);
        assert_eq!(jitter, Some(Outcome::Pass));
        assert!(acts.iter().any(|a| matches!(a, Act::Disconnect { .. })));
        assert!(acts.contains(&Act::LiftFaults));
        let exponential = cycles(id, &[50, 100, 200, 400, 800]).1;
        assert_eq!(exponential, Some(Outcome::Warn));
        let constant = cycles(CaseId::ReconnectUnstable, &[50, 50, 51, 50, 50]);
        assert_eq!(constant.1, Some(Outcome::Fail));
        assert!(
            !constant
                .0
                .iter()
                .any(|a| matches!(a, Act::Disconnect { .. })),
            "the unstable case drops connections through its fault plan"
        );
        assert_eq!(cycles(id, &[50, 100, 200]).1, None, "too few so far");
    }

    #[test]
    fn connect_backoff_is_measured_from_each_closed_attempt() {
        // The device waits 300 ms for CONNACK, closes, then backs off 50, 100, 200, 400, 800 ms.
        let mut case = Case::new(CaseId::ConnectExponentialBackoff, Config::new("d"));
        let mut now = 0;
        let mut verdict = None;
        for (i, wait) in [0, 50, 100, 200, 400, 800].into_iter().enumerate() {
            let conn = i as u64 + 1;
            now += wait;
            let connect = Event::Connect {
                conn,
                client_id: "d".into(),
                clean_start: true,
                keep_alive: 30,
            };
            for event in [Event::Accepted { conn }, connect] {
                verdict = verdict.or(case.on(&Timed { at_ms: now, event }).1);
            }
            now += 300;
            let closed = Event::Closed {
                conn,
                reason: "CLIENT_ERROR".into(),
            };
            case.on(&Timed {
                at_ms: now,
                event: closed,
            });
        }
        let verdict = verdict.unwrap();
        assert_eq!(verdict.outcome, Outcome::Pass, "{}", verdict.reason);
        assert!(
            verdict
                .reason
                .contains("[50.0, 100.0, 200.0, 400.0, 800.0]"),
            "{}",
            verdict.reason
        );
    }
}
