//! MQTT_Long_Duration, compressed: the basic phase (CONNECT, PUBLISH, PUBLISH with PUBACK
//! withheld, SUBSCRIBE, SUBSCRIBE with SUBACK withheld, RECONNECT) and then the advanced
//! scenarios asked for in `SCENARIOS` (PUBACK_QOS_1, RECEIVE_LARGE_PAYLOAD, PERSISTENT_SESSION,
//! KEEP_ALIVE, INTERMITTENT_CONNECTIVITY, RECONNECT_BACK_OFF, LONG_SERVER_DISCONNECT), one
//! after another on the same device. Each phase is judged as its own case would judge it; a
//! phase starts by setting its faults and dropping the device's connection and session, so the
//! device starts afresh. The server disconnect lasts `LONG_SERVER_DISCONNECT_MINUTES` divided
//! by `TIME_COMPRESSION`. The verdict ends with Device Advisor's summary: keep-alive,
//! persistent flag, connections, backoff type and topics.

use crate::cases::Step;
use crate::{Act, Backoff, Case, CaseId, Config, Event, Faults, Outcome, Timed, Verdict};

/// The advanced scenarios, in the order they run.
pub const SCENARIOS: [&str; 7] = [
    "PUBACK_QOS_1",
    "RECEIVE_LARGE_PAYLOAD",
    "PERSISTENT_SESSION",
    "KEEP_ALIVE",
    "INTERMITTENT_CONNECTIVITY",
    "RECONNECT_BACK_OFF",
    "LONG_SERVER_DISCONNECT",
];

/// What a phase runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// As this case judges it.
    Case(CaseId),
    /// Reconnects after `n` server disconnects, whatever the backoff.
    Reconnects(usize),
    /// The broker withholds CONNACK for a while; the device must be connected after.
    ServerDown,
}

fn phases(scenarios: &[String]) -> Vec<(&'static str, Kind)> {
    let mut out = vec![
        ("CONNECT", Kind::Case(CaseId::MqttConnect)),
        ("PUBLISH", Kind::Case(CaseId::MqttPublish)),
        ("PUBLISH_RETRY", Kind::Case(CaseId::PublishRetryNoPuback)),
        ("SUBSCRIBE", Kind::Case(CaseId::MqttSubscribe)),
        (
            "SUBSCRIBE_RETRY",
            Kind::Case(CaseId::SubscribeRetryNoSuback),
        ),
        ("RECONNECT", Kind::Reconnects(1)),
    ];
    let advanced = [
        Kind::Case(CaseId::ClientPubackQos1),
        Kind::Case(CaseId::ClientPubackQos1),
        Kind::Case(CaseId::PersistentSessionHappy),
        Kind::Case(CaseId::NoAckPingResp),
        Kind::Reconnects(3),
        Kind::Case(CaseId::ReconnectServerDisconnect),
        Kind::ServerDown,
    ];
    for (name, kind) in SCENARIOS.iter().zip(advanced) {
        if scenarios.iter().any(|s| s == name || s == "ALL") {
            out.push((name, kind));
        }
    }
    out
}

/// A phase's fresh start: the device's connection and session are dropped once it is
/// connected, and the phase meets the device from its next CONNECT on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reset {
    Pending,
    Sent,
    Done,
}

/// Where the long run stands.
#[derive(Debug, Clone)]
pub(crate) struct Long {
    phases: Vec<(&'static str, Kind)>,
    at: usize,
    inner: Option<Box<Case>>,
    /// When the server-down phase lifts its faults.
    down_until: Option<i64>,
    /// When the current phase started.
    started_ms: i64,
    /// The device's connection must be dropped (once it is connected) to start afresh.
    reset: Reset,
    /// The device's connection while it has one, and since when.
    connected: Option<(u64, i64)>,
    /// How long the connection must have been up before the backoff scenario drops it, so
    /// the device counts it stable and starts its backoff afresh.
    settle_ms: i64,
    results: Vec<(&'static str, Verdict)>,
    keep_alive: u16,
    persistent: bool,
    connections: usize,
    backoff: Option<Backoff>,
    topics: Vec<String>,
}

impl Long {
    pub(crate) fn new(config: &Config) -> Self {
        Self {
            phases: phases(&config.scenarios),
            at: 0,
            inner: None,
            down_until: None,
            started_ms: 0,
            reset: Reset::Done,
            connected: None,
            settle_ms: i64::try_from(config.stable_secs * 1000).unwrap_or(i64::MAX),
            results: Vec::new(),
            keep_alive: 0,
            persistent: false,
            connections: 0,
            backoff: None,
            topics: Vec::new(),
        }
    }
}

/// The case a phase runs, with its configuration.
fn inner_case(kind: Kind, name: &str, config: &Config) -> Case {
    let mut config = config.clone();
    let id = match kind {
        Kind::Case(id) => id,
        Kind::Reconnects(n) => {
            config.attempts = n;
            CaseId::ReconnectServerDisconnect
        }
        Kind::ServerDown => CaseId::MqttConnect,
    };
    if name == "RECEIVE_LARGE_PAYLOAD" {
        config.payload_kb = 128;
    }
    Case::new(id, config)
}

impl Long {
    pub(crate) fn on(&mut self, config: &Config, t: &Timed) -> Step {
        self.note(t);
        let mut acts = Vec::new();
        if self.inner.is_none() {
            acts.extend(self.start_phase(config, t.at_ms));
        }
        acts.extend(self.housekeeping(t));
        let phase_ms = i64::try_from(config.phase_timeout_secs * 1000).unwrap_or(i64::MAX);
        let expired = t.at_ms - self.started_ms > phase_ms;
        if self.reset != Reset::Done && !expired {
            // The phase meets the device only after its fresh start.
            return (acts, None);
        }
        let Some(inner) = self.inner.as_mut() else {
            return (acts, None);
        };
        let (more, verdict) = match expired {
            true => (Vec::new(), Some(inner.timed_out())),
            false => inner.on(t),
        };
        acts.extend(more);
        let Some(verdict) = verdict else {
            return (acts, None);
        };
        let backoff = inner.backoff_seen().map(|(_, kind)| kind);
        let (name, kind) = self.phases[self.at];
        if name == "RECONNECT_BACK_OFF" {
            self.backoff = backoff;
        }
        let verdict = match kind {
            _ if expired => verdict,
            Kind::Reconnects(n) => Verdict::pass(format!("reconnected after {n} disconnects")),
            Kind::ServerDown if self.down_until.is_some() => return (acts, None),
            _ => verdict,
        };
        self.results.push((name, verdict));
        self.inner = None;
        self.at += 1;
        if self.at == self.phases.len() {
            return (acts, Some(self.verdict()));
        }
        acts.extend(self.start_phase(config, t.at_ms));
        (acts, None)
    }

    /// Lifts the server-down faults when their time is up, and drops the device's connection
    /// for a fresh start once it is connected.
    fn housekeeping(&mut self, t: &Timed) -> Vec<Act> {
        let mut acts = Vec::new();
        if self.down_until.is_some_and(|until| t.at_ms >= until) {
            self.down_until = None;
            acts.push(Act::LiftFaults);
        }
        let settled = match self.phases.get(self.at) {
            Some((_, Kind::Case(CaseId::ReconnectServerDisconnect))) => self.settle_ms,
            _ => 0,
        };
        let up_for = self.connected.map(|(_, since)| t.at_ms - since);
        if self.reset == Reset::Pending && up_for.is_some_and(|ms| ms >= settled) {
            self.reset = Reset::Sent;
            acts.push(Act::Disconnect {
                clean_session: true,
            });
        }
        acts
    }

    /// Starts the current phase: its faults, and a fresh start for the device (except the
    /// first phase, which meets the device as it comes).
    fn start_phase(&mut self, config: &Config, now: i64) -> Vec<Act> {
        let down_ms = (config.long_disconnect_min as f64 * 60_000.0 / config.compression) as i64;
        let (name, kind) = self.phases[self.at];
        let inner = inner_case(kind, name, config);
        let mut faults = inner.id.faults();
        if kind == Kind::ServerDown {
            faults = Faults {
                withhold_connack: true,
                ..Faults::default()
            };
            self.down_until = Some(now + down_ms);
        }
        self.started_ms = now;
        self.reset = match self.at {
            0 => Reset::Done,
            _ => Reset::Pending,
        };
        self.inner = Some(Box::new(inner));
        if self.at == 0 {
            return Vec::new();
        }
        vec![Act::SetFaults(faults)]
    }

    /// Collects the summary: keep-alive, persistent flag, connections and topics.
    fn note(&mut self, t: &Timed) {
        match &t.event {
            Event::Connect {
                keep_alive,
                clean_start,
                ..
            } => {
                if self.reset == Reset::Sent {
                    self.reset = Reset::Done;
                }
                self.connections += 1;
                self.keep_alive = *keep_alive;
                self.persistent = !clean_start;
            }
            Event::Out {
                conn,
                packet,
                withheld: false,
            } if packet.kind == "CONNACK" => self.connected = Some((*conn, t.at_ms)),
            Event::Closed { conn, .. } if self.connected.is_some_and(|(c, _)| c == *conn) => {
                self.connected = None
            }
            Event::In { packet, .. } => {
                let topics = packet.topic.iter().chain(packet.filters.iter());
                for topic in topics {
                    if !self.topics.contains(topic) {
                        self.topics.push(topic.clone());
                    }
                }
            }
            _ => {}
        }
    }

    fn verdict(&self) -> Verdict {
        let worst = self
            .results
            .iter()
            .map(|(_, v)| v.outcome)
            .max_by_key(|o| match o {
                Outcome::Pass => 0,
                Outcome::Warn => 1,
                Outcome::Fail => 2,
            })
            .unwrap_or(Outcome::Pass);
        let phases: Vec<String> = self
            .results
            .iter()
            .map(|(name, v)| format!("{name} {}: {}", v.outcome.name(), v.reason))
            .collect();
        let backoff = self
            .backoff
            .map_or("not measured".to_string(), |b| format!("{b:?}"));
        let reason = format!(
            "{}. Summary: keep-alive {} s, persistent session {}, {} connections, backoff {backoff}, topics {}",
            phases.join("; "),
            self.keep_alive,
            self.persistent,
            self.connections,
            self.topics.join(", ")
        );
        Verdict {
            outcome: worst,
            reason,
        }
    }

    pub(crate) fn timed_out(&self) -> Verdict {
        let Some((name, _)) = self.phases.get(self.at) else {
            return self.verdict();
        };
        let why = self
            .inner
            .as_ref()
            .map_or("it never started".to_string(), |c| c.timed_out().reason);
        let done: Vec<&str> = self.results.iter().map(|(n, _)| *n).collect();
        Verdict::fail(format!(
            "phase {name} did not finish ({why}); finished: {}",
            done.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use crate::{Act, Case, CaseId, Config, Event, Outcome, Timed};

    fn at(at_ms: i64, event: Event) -> Timed {
        Timed { at_ms, event }
    }

    #[test]
    fn phases_run_in_order_and_each_times_out_on_its_own() {
        let mut config = Config::new("d");
        config.set("SCENARIOS", "keep_alive").expect("known");
        assert!(config.set("SCENARIOS", "NAPPING").is_err());
        let mut case = Case::new(CaseId::LongDuration, config);
        let connect = Event::Connect {
            conn: 1,
            client_id: "d".into(),
            clean_start: false,
            keep_alive: 45,
        };
        let (acts, verdict) = case.on(&at(0, connect));
        assert_eq!(verdict, None, "CONNECT passed; PUBLISH is next");
        assert!(matches!(acts.as_slice(), [Act::SetFaults(_)]), "{acts:?}");
        // The device does nothing more: each remaining phase runs out of time in turn.
        let mut last = None;
        for i in 1..=10 {
            let (_, v) = case.on(&at(i * 31_000, Event::Tick));
            if v.is_some() {
                last = v;
                break;
            }
        }
        let verdict = last.expect("every phase ended");
        assert_eq!(verdict.outcome, Outcome::Fail);
        assert!(
            verdict.reason.starts_with("CONNECT PASS"),
            "{}",
            verdict.reason
        );
        for phase in ["PUBLISH FAIL", "SUBSCRIBE_RETRY FAIL", "KEEP_ALIVE FAIL"] {
            assert!(
                verdict.reason.contains(phase),
                "{phase}: {}",
                verdict.reason
            );
        }
        assert!(
            verdict
                .reason
                .contains("keep-alive 45 s, persistent session true")
        );
    }
}
