//! The cases: Device Advisor's ids, what each needs from the broker, and how each judges the
//! device from its timeline.

use crate::custom::Custom;
use crate::long::Long;
use crate::persistent::Persist;
use crate::reconnect::{Recon, is_reconnect};
use crate::{
    Act, Backoff, CaseId, Config, Event, Packet, SHADOW_SETUP_TOKEN, Timed, Verdict, classify,
    contains, judge_policies,
};

/// The payload TLS_Receive_Maximum_Size_Fragments sends: more than two full TLS records.
pub const FRAGMENTS_PAYLOAD: usize = 2 * 16_384 + 1000;

/// One case in progress.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: CaseId,
    pub(crate) config: Config,
    pub(crate) persist: Persist,
    pub(crate) recon: Recon,
    pub(crate) custom: Custom,
    /// MQTT_Long_Duration's phases.
    long: Option<Box<Long>>,
    connects: Vec<i64>,
    /// (connection, packet id) of the first QoS 1 PUBLISH or SUBSCRIBE.
    first: Option<(u64, u16)>,
    /// What it carried (topic, payload, filters): a resend carries the same.
    first_body: Option<(Option<String>, Vec<u8>, Vec<String>)>,
    /// Packet id of the QoS 1 message sent to the device.
    delivered: Option<u16>,
    delivered_size: usize,
    pub(crate) asked: bool,
    pinged: Option<u64>,
    /// When Job_Execution's device first sent CONNECT.
    pub(crate) job_connected_at: Option<i64>,
}

pub(crate) type Step = (Vec<Act>, Option<Verdict>);

fn json(p: &Packet) -> serde_json::Value {
    serde_json::from_slice(&p.payload).unwrap_or(serde_json::Value::Null)
}

impl Case {
    pub fn new(id: CaseId, config: Config) -> Self {
        let long = (id == CaseId::LongDuration).then(|| Box::new(Long::new(&config)));
        Self {
            id,
            config,
            persist: Persist::default(),
            recon: Recon::default(),
            custom: Custom::default(),
            long,
            connects: Vec::new(),
            first: None,
            first_body: None,
            delivered: None,
            delivered_size: 0,
            asked: false,
            pinged: None,
            job_connected_at: None,
        }
    }

    /// Feeds one event; returns what the runner must do and, once decided, the verdict.
    pub fn on(&mut self, t: &Timed) -> Step {
        if let Some(long) = self.long.as_mut() {
            return long.on(&self.config, t);
        }
        if matches!(
            self.id,
            CaseId::PersistentSessionHappy | CaseId::ExpiredPersistentSession
        ) {
            return self.persistent(t);
        }
        if is_reconnect(self.id) {
            return self.reconnect(t);
        }
        if self.id.is_custom_auth() {
            return self.custom(t);
        }
        if self.id == CaseId::JobExecution
            && let Some(acts) = self.job_due(t)
        {
            let (_, verdict) = self.judge(t);
            return (acts, verdict);
        }
        self.judge(t)
    }

    /// The cases judged event by event (after the special ones above).
    fn judge(&mut self, t: &Timed) -> Step {
        if matches!(
            self.id,
            CaseId::ConnectExponentialBackoff | CaseId::ConnectJitterBackoff
        ) {
            self.recon.note_gap(t);
        }
        if self.id.is_tls() && self.id != CaseId::TlsReceiveMaxFragments {
            return self.tls(t);
        }
        match (&t.event, self.id) {
            (Event::Accepted { .. }, CaseId::SecurityDevicePolicies) => {
                done(judge_policies(&self.config.policies))
            }
            (Event::Connect { client_id, .. }, CaseId::MqttConnect) => {
                done(Verdict::pass(format!("CONNECT as {client_id}")))
            }
            (
                Event::Connect { .. },
                CaseId::ConnectExponentialBackoff | CaseId::ConnectJitterBackoff,
            ) => self.backoff(t.at_ms),
            (Event::In { conn, packet }, _) => self.inbound(*conn, packet),
            (
                Event::Out {
                    packet,
                    withheld: false,
                    ..
                },
                CaseId::ClientPubackQos1 | CaseId::TlsReceiveMaxFragments,
            ) if packet.kind == "PUBLISH"
                && packet.qos == 1
                && self.delivered_size > 0
                && packet.payload.len() == self.delivered_size =>
            {
                self.delivered = packet.pkid;
                (Vec::new(), None)
            }
            (Event::Closed { conn, reason }, CaseId::NoAckPingResp)
                if self.pinged == Some(*conn) =>
            {
                done(match reason.as_str() {
                    "MQTT_KEEP_ALIVE_TIMEOUT" => {
                        Verdict::fail("the broker had to close the connection at 1.5 x keep-alive")
                    }
                    _ => Verdict::pass("the device closed the connection when no PINGRESP came"),
                })
            }
            (
                Event::Closed { conn, .. },
                CaseId::PublishRetryNoPuback | CaseId::SubscribeRetryNoSuback,
            ) if self.first.is_some_and(|(c, _)| c == *conn) => done(Verdict::fail(
                "the device dropped the connection instead of resending",
            )),
            _ => (Vec::new(), None),
        }
    }

    fn inbound(&mut self, conn: u64, p: &Packet) -> Step {
        match (p.kind.as_str(), self.id) {
            ("PUBLISH", CaseId::MqttPublish) => done(Verdict::pass(format!(
                "PUBLISH to {}",
                p.topic.clone().unwrap_or_default()
            ))),
            ("SUBSCRIBE", CaseId::MqttSubscribe) => done(Verdict::pass(format!(
                "SUBSCRIBE to {}",
                p.filters.join(", ")
            ))),
            ("SUBSCRIBE", CaseId::ClientPubackQos1 | CaseId::TlsReceiveMaxFragments)
                if !self.asked =>
            {
                self.asked = true;
                let exact = p.filters.iter().find(|f| !f.contains(['+', '#']));
                let topic = exact.cloned().unwrap_or_else(|| self.config.topic.clone());
                let size = match self.id {
                    // Two full 16 KB records and a part of a third.
                    CaseId::TlsReceiveMaxFragments => FRAGMENTS_PAYLOAD,
                    _ => self.config.payload_kb * 1024,
                };
                let payload = vec![b'x'; size];
                self.delivered_size = size;
                (
                    vec![Act::Publish {
                        topic,
                        payload,
                        qos: 1,
                    }],
                    None,
                )
            }
            ("PUBACK", CaseId::ClientPubackQos1 | CaseId::TlsReceiveMaxFragments)
                if self.delivered.is_some() && p.pkid == self.delivered =>
            {
                done(Verdict::pass(format!(
                    "the QoS 1 message ({} bytes) was acknowledged",
                    self.delivered_size
                )))
            }
            ("PUBLISH", CaseId::PublishRetryNoPuback) if p.qos == 1 => self.retry(conn, p),
            ("SUBSCRIBE", CaseId::SubscribeRetryNoSuback) => self.retry(conn, p),
            ("PINGREQ", CaseId::NoAckPingResp) => {
                self.pinged = Some(conn);
                (Vec::new(), None)
            }
            ("PUBLISH", CaseId::ShadowPublishReportedState) => self.shadow(p),
            ("SUBSCRIBE" | "PUBLISH", CaseId::ShadowUpdateReportedState) => self.converge(p),
            ("PUBLISH", CaseId::JobExecution) => self.job(p),
            _ => (Vec::new(), None),
        }
    }

    fn retry(&mut self, conn: u64, p: &Packet) -> Step {
        let pkid = p.pkid.unwrap_or(0);
        let body = (p.topic.clone(), p.payload.clone(), p.filters.clone());
        let Some((c, id)) = self.first else {
            self.first = Some((conn, pkid));
            self.first_body = Some(body);
            return (Vec::new(), None);
        };
        if self.first_body.as_ref() != Some(&body) {
            // Another message, not a resend of the first: keep waiting for the resend.
            return (Vec::new(), None);
        }
        done(match (c == conn, id == pkid) {
            (true, true) => Verdict::pass(format!(
                "{} resent with packet id {pkid} on the same connection",
                p.kind
            )),
            (true, false) => Verdict::fail(format!(
                "{} retried with a new packet id ({id} then {pkid})",
                p.kind
            )),
            (false, _) => {
                Verdict::fail(format!("the device reconnected and sent a new {}", p.kind))
            }
        })
    }

    fn backoff(&mut self, at_ms: i64) -> Step {
        self.connects.push(at_ms);
        let want = self.config.attempts + 1;
        if self.connects.len() < want {
            return (Vec::new(), None);
        }
        let (waits, what) = self.connect_waits();
        let kind = classify(&waits);
        let seen = format!("{kind:?} backoff over {what} {waits:?} ms");
        let verdict = match (self.id, kind) {
            (CaseId::ConnectJitterBackoff, Backoff::Jitter) => Verdict::pass(seen),
            (CaseId::ConnectJitterBackoff, Backoff::Exponential) => {
                Verdict::warn(format!("{seen}: exponential without jitter"))
            }
            (CaseId::ConnectExponentialBackoff, Backoff::Exponential | Backoff::Jitter) => {
                Verdict::pass(seen)
            }
            _ => Verdict::fail(seen),
        };
        (vec![Act::LiftFaults], Some(verdict))
    }

    /// The waits between attempts: from the device closing one to its next connection when it
    /// closes each (its CONNACK timeout left out), else from CONNECT to CONNECT.
    fn connect_waits(&self) -> (Vec<f64>, &'static str) {
        let attempts = self.connects.len().saturating_sub(1);
        if attempts > 0 && self.recon.waits.len() >= attempts {
            let waits = self.recon.waits[..attempts].to_vec();
            return (waits, "waits from each closed attempt to the next");
        }
        let intervals = self
            .connects
            .windows(2)
            .map(|w| (w[1] - w[0]) as f64)
            .collect();
        (intervals, "intervals between CONNECTs")
    }

    /// The `state.reported` of an update to the watched shadow, if `p` is one.
    fn reported(&self, p: &Packet) -> Option<(String, Option<serde_json::Value>)> {
        let topic = p.topic.clone()?;
        if topic != format!("{}update", self.config.shadow_prefix()) {
            return None;
        }
        let reported = json(p).pointer("/state/reported").cloned();
        Some((topic, reported.filter(serde_json::Value::is_object)))
    }

    fn shadow(&self, p: &Packet) -> Step {
        let Some((topic, reported)) = self.reported(p) else {
            return (Vec::new(), None);
        };
        let Some(reported) = reported else {
            return done(Verdict::fail(format!(
                "the update to {topic} carries no state.reported object"
            )));
        };
        match &self.config.reported_state {
            Some(want) if !contains(&reported, want) => (Vec::new(), None),
            _ => done(Verdict::pass(format!(
                "reported state {reported} published to {topic}"
            ))),
        }
    }

    /// Shadow_Update_Reported_State: once the device listens to its shadow (subscribes to
    /// `update/delta` or asks `get`), set `desired`; pass when a report carries it.
    fn converge(&mut self, p: &Packet) -> Step {
        let prefix = self.config.shadow_prefix();
        let delta = format!("{prefix}update/delta");
        let listens = p
            .filters
            .iter()
            .any(|f| iotmock_mqtt::topic::matches(f, &delta))
            || p.topic.as_deref() == Some(format!("{prefix}get").as_str());
        if !self.asked && listens {
            self.asked = true;
            let act = Act::SetDesired {
                shadow: self.config.shadow_name.clone(),
                state: self.config.desired_state.clone(),
                client_token: SHADOW_SETUP_TOKEN.into(),
            };
            return (vec![act], None);
        }
        match self.reported(p) {
            Some((topic, Some(r))) if self.asked && contains(&r, &self.config.desired_state) => {
                done(Verdict::pass(format!(
                    "the desired state was reported to {topic}: {r}"
                )))
            }
            _ => (Vec::new(), None),
        }
    }

    fn job(&self, p: &Packet) -> Step {
        let topic = format!("$aws/things/{}/jobs/advisor-job/update", self.config.thing);
        if p.topic.as_deref() != Some(topic.as_str()) {
            return (Vec::new(), None);
        }
        match json(p)["status"].as_str() {
            Some("SUCCEEDED") => done(Verdict::pass("the job execution was reported SUCCEEDED")),
            Some(s @ ("FAILED" | "REJECTED")) => {
                done(Verdict::fail(format!("the job execution was reported {s}")))
            }
            _ => (Vec::new(), None),
        }
    }

    /// For the backoff cases: the waits measured so far (ms) and how they classify.
    pub fn backoff_seen(&self) -> Option<(Vec<f64>, Backoff)> {
        let waits: Vec<f64> = match self.id {
            CaseId::ConnectExponentialBackoff | CaseId::ConnectJitterBackoff => {
                self.connect_waits().0
            }
            id if is_reconnect(id) => self.recon.waits.clone(),
            _ => return None,
        };
        let kind = classify(&waits);
        Some((waits, kind))
    }

    /// The verdict when the device ran out of time.
    pub fn timed_out(&self) -> Verdict {
        if let Some(long) = &self.long {
            return long.timed_out();
        }
        if matches!(
            self.id,
            CaseId::PersistentSessionHappy | CaseId::ExpiredPersistentSession
        ) {
            return self.persistent_timed_out();
        }
        let what = match self.id {
            CaseId::TlsConnect => "no TLS handshake completed".to_string(),
            id if id.is_tls() && id != CaseId::TlsReceiveMaxFragments => {
                "the device never attempted a TLS handshake".to_string()
            }
            id if is_reconnect(id) => self.reconnect_timed_out(),
            id if id.is_custom_auth() => self.custom_timed_out(),
            CaseId::ConnectExponentialBackoff | CaseId::ConnectJitterBackoff => {
                format!(
                    "only {} CONNECT attempts (needs {})",
                    self.connects.len(),
                    self.config.attempts + 1
                )
            }
            CaseId::PublishRetryNoPuback | CaseId::SubscribeRetryNoSuback
                if self.first.is_some() =>
            {
                "no retry of the unacknowledged packet".to_string()
            }
            CaseId::NoAckPingResp if self.pinged.is_some() => {
                "the device kept the connection without PINGRESP".to_string()
            }
            CaseId::ShadowUpdateReportedState if self.asked => format!(
                "desired {} was set but never reported",
                self.config.desired_state
            ),
            CaseId::ShadowUpdateReportedState => {
                "the device never subscribed to update/delta nor asked get".to_string()
            }
            CaseId::ShadowPublishReportedState => match &self.config.reported_state {
                Some(want) => format!(
                    "no report to {}update containing {want}",
                    self.config.shadow_prefix()
                ),
                None => format!("no report to {}update", self.config.shadow_prefix()),
            },
            _ => format!("no sign that {}", self.id.summary()),
        };
        Verdict::fail(format!("timed out: {what}"))
    }
}

pub(crate) fn done(v: Verdict) -> Step {
    (Vec::new(), Some(v))
}

pub(crate) fn none() -> Step {
    (Vec::new(), None)
}
