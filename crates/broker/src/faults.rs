//! Fault plans: per-client misbehaviour of the broker, for testing how a device copes (the
//! device-conformance runner uses them). A plan sits between the session core and the socket:
//! it can withhold or delay CONNACK, PUBACK, SUBACK or PINGRESP, drop the connection after the
//! client's Nth packet, or stall the broker. No plan, no effect.

use iotmock_mqtt::Packet;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// The answers a plan can hold back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Answer {
    ConnAck,
    PubAck,
    SubAck,
    PingResp,
}

impl Answer {
    /// The kind of `packet`, when it is one a plan can act on.
    pub fn of(packet: &Packet) -> Option<Self> {
        match packet {
            Packet::ConnAck { .. } => Some(Answer::ConnAck),
            Packet::PubAck { .. } => Some(Answer::PubAck),
            Packet::SubAck { .. } => Some(Answer::SubAck),
            Packet::PingResp => Some(Answer::PingResp),
            _ => None,
        }
    }
}

/// What the broker does wrong on purpose for one client id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// Answers never sent.
    pub withhold: Vec<Answer>,
    /// Answers sent late (everything after them waits too, as on a slow link).
    pub delay: Vec<(Answer, Duration)>,
    /// Close the connection (no DISCONNECT) after this many packets from the client, the
    /// CONNECT included.
    pub drop_after: Option<u32>,
    /// After this many packets from the client, stop reading and writing for a while.
    pub stall: Option<(u32, Duration)>,
}

/// What to do with one outgoing packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Send,
    Withhold,
    Delay(Duration),
}

impl FaultPlan {
    pub fn verdict(&self, packet: &Packet) -> Verdict {
        let Some(kind) = Answer::of(packet) else {
            return Verdict::Send;
        };
        if self.withhold.contains(&kind) {
            return Verdict::Withhold;
        }
        match self.delay.iter().find(|(k, _)| *k == kind) {
            Some((_, d)) => Verdict::Delay(*d),
            None => Verdict::Send,
        }
    }
}

/// Plans by client id.
#[derive(Debug, Default)]
pub struct Faults {
    plans: Mutex<HashMap<String, FaultPlan>>,
}

impl Faults {
    pub fn set(&self, client_id: &str, plan: FaultPlan) {
        let mut plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
        plans.insert(client_id.to_string(), plan);
    }

    pub fn clear(&self, client_id: &str) {
        let mut plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
        plans.remove(client_id);
    }

    pub fn get(&self, client_id: &str) -> Option<FaultPlan> {
        let plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
        if plans.is_empty() {
            return None;
        }
        plans.get(client_id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let plan = FaultPlan {
            withhold: vec![Answer::PubAck],
            delay: vec![(Answer::SubAck, Duration::from_millis(5))],
            ..FaultPlan::default()
        };
        let puback = Packet::PubAck { pkid: 1, reason: 0 };
        assert_eq!(plan.verdict(&puback), Verdict::Withhold);
        let suback = Packet::SubAck {
            pkid: 1,
            codes: vec![0],
        };
        assert_eq!(
            plan.verdict(&suback),
            Verdict::Delay(Duration::from_millis(5))
        );
        assert_eq!(plan.verdict(&Packet::PingResp), Verdict::Send);
    }
}
