//! AWS IoT's lifecycle events (`$aws/events/presence/...`, `$aws/events/subscriptions/...`)
//! and the JITR registration event, built as ordinary messages: the broker routes them like
//! any other, so subscribers need iot:Subscribe and iot:Receive on them as in AWS.

use bytes::Bytes;
use iotmock_mqtt::Publish;
use serde_json::{Value, json};

/// One connection's identity in its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    pub client_id: String,
    pub session: String,
    pub principal: String,
    pub version: u64,
    /// The thing the certificate is exclusively attached to: AWS names it (`thingName`) in
    /// every lifecycle event of the connection.
    pub thing: Option<String>,
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
        if let Some(thing) = &self.thing {
            m.insert("thingName".into(), json!(thing));
        }
        m
    }
}

fn event(topic: String, body: Value) -> Publish {
    Publish::new(topic, Bytes::from(body.to_string()), 1, false)
}

/// A lifecycle event of one connection: its topic, and the facts its message is built from
/// when someone receives the topic (most events have no receiver, and the JSON is skipped).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub topic: String,
    presence: Presence,
    now_ms: i64,
    what: What,
}

#[derive(Debug, Clone, PartialEq)]
enum What {
    Connected { ip: String },
    Disconnected { reason: String },
    Subscriptions { kind: String, topics: Vec<String> },
}

impl Event {
    /// The message AWS publishes on the event's topic.
    pub fn message(&self) -> Publish {
        let p = &self.presence;
        let body = match &self.what {
            What::Connected { ip } => {
                let mut m = p.base("connected", self.now_ms);
                m.insert("ipAddress".into(), json!(ip));
                m.insert("versionNumber".into(), json!(p.version));
                m
            }
            What::Disconnected { reason } => {
                let mut m = p.base("disconnected", self.now_ms);
                let by_client = reason == "CLIENT_INITIATED_DISCONNECT";
                m.insert("clientInitiatedDisconnect".into(), json!(by_client));
                m.insert("disconnectReason".into(), json!(reason));
                m.insert("versionNumber".into(), json!(p.version));
                m
            }
            What::Subscriptions { kind, topics } => {
                let mut m = p.base(kind, self.now_ms);
                m.insert("topics".into(), json!(topics));
                m
            }
        };
        event(self.topic.clone(), Value::Object(body))
    }
}

impl Presence {
    /// This connection's event on `topic`; `None` for a client id AWS sends no events for.
    fn event(&self, topic: String, now_ms: i64, what: What) -> Option<Event> {
        (!self.silent()).then(|| Event {
            topic,
            presence: self.clone(),
            now_ms,
            what,
        })
    }
}

pub fn connected(p: &Presence, ip: &str, now_ms: i64) -> Option<Event> {
    let topic = format!("$aws/events/presence/connected/{}", p.client_id);
    let ip = ip.to_string();
    p.event(topic, now_ms, What::Connected { ip })
}

pub fn disconnected(p: &Presence, reason: &str, now_ms: i64) -> Option<Event> {
    let topic = format!("$aws/events/presence/disconnected/{}", p.client_id);
    let reason = reason.to_string();
    p.event(topic, now_ms, What::Disconnected { reason })
}

/// `subscribed` or `unsubscribed`, with the filters of that packet.
pub fn subscriptions(p: &Presence, kind: &str, topics: &[String], now_ms: i64) -> Option<Event> {
    if topics.is_empty() {
        return None;
    }
    let topic = format!("$aws/events/subscriptions/{kind}/{}", p.client_id);
    let (kind, topics) = (kind.to_string(), topics.to_vec());
    p.event(topic, now_ms, What::Subscriptions { kind, topics })
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
