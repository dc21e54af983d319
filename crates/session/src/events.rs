//! AWS IoT's lifecycle events (`$aws/events/presence/...`, `$aws/events/subscriptions/...`)
//! and the JITR registration event, built as ordinary messages: the broker routes them like
//! any other, so subscribers need iot:Subscribe and iot:Receive on them as in AWS.

use bytes::Bytes;
use iotmock_mqtt::Publish;
use serde_json::{Value, json};

/// One connection's identity in its events.
#[derive(Debug, Clone)]
pub struct Presence {
    pub client_id: String,
    pub session: String,
    pub principal: String,
    pub version: u64,
}

impl Presence {
    /// Client ids holding `#` or `+` get no lifecycle events (AWS).
    fn silent(&self) -> bool {
        self.client_id.contains(['#', '+'])
    }

    fn base(&self, event: &str, now_ms: i64) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("clientId".into(), json!(self.client_id));
        m.insert("timestamp".into(), json!(now_ms));
        m.insert("eventType".into(), json!(event));
        m.insert("sessionIdentifier".into(), json!(self.session));
        m.insert("principalIdentifier".into(), json!(self.principal));
        m
    }
}

fn event(topic: String, body: Value) -> Publish {
    Publish::new(topic, Bytes::from(body.to_string()), 1, false)
}

pub fn connected(p: &Presence, ip: &str, now_ms: i64) -> Option<Publish> {
    if p.silent() {
        return None;
    }
    let mut m = p.base("connected", now_ms);
    m.insert("ipAddress".into(), json!(ip));
    m.insert("versionNumber".into(), json!(p.version));
    let topic = format!("$aws/events/presence/connected/{}", p.client_id);
    Some(event(topic, Value::Object(m)))
}

pub fn disconnected(p: &Presence, reason: &str, now_ms: i64) -> Option<Publish> {
    if p.silent() {
        return None;
    }
    let mut m = p.base("disconnected", now_ms);
    let by_client = reason == "CLIENT_INITIATED_DISCONNECT";
    m.insert("clientInitiatedDisconnect".into(), json!(by_client));
    m.insert("disconnectReason".into(), json!(reason));
    m.insert("versionNumber".into(), json!(p.version));
    let topic = format!("$aws/events/presence/disconnected/{}", p.client_id);
    Some(event(topic, Value::Object(m)))
}

/// `subscribed` or `unsubscribed`, with the filters of that packet.
pub fn subscriptions(p: &Presence, kind: &str, topics: &[String], now_ms: i64) -> Option<Publish> {
    if p.silent() || topics.is_empty() {
        return None;
    }
    let mut m = p.base(kind, now_ms);
    m.insert("topics".into(), json!(topics));
    let topic = format!("$aws/events/subscriptions/{kind}/{}", p.client_id);
    Some(event(topic, Value::Object(m)))
}

/// JITR: a certificate registered (or presented) in PENDING_ACTIVATION under `ca_id`.
pub fn certificate_registered(cert_id: &str, ca_id: &str, account: &str, now_ms: i64) -> Publish {
    let body = json!({
        "certificateId": cert_id,
        "caCertificateId": ca_id,
        "timestamp": now_ms,
        "certificateStatus": "PENDING_ACTIVATION",
        "awsAccountId": account,
        "certificateRegistrationTimestamp": Value::Null,
    });
    event(format!("$aws/events/certificates/registered/{ca_id}"), body)
}
