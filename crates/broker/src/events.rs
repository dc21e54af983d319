//! AWS IoT's lifecycle events (`$aws/events/presence/...`, `$aws/events/subscriptions/...`)
//! and the JITR registration event, published through the hub like any message, so
//! subscribers need iot:Subscribe and iot:Receive on them as in AWS.

use crate::hub::{Hub, now_ms};
use bytes::Bytes;
use iotmock_mqtt::Publish;
use serde_json::{Value, json};
use std::sync::Arc;

/// One connection's identity in its events.
#[derive(Debug, Clone)]
pub struct Presence {
    pub client_id: String,
    pub session: String,
    pub principal: String,
    pub version: u64,
}

impl Presence {
    fn silent(&self) -> bool {
        self.client_id.contains(['#', '+'])
    }

    fn base(&self, event: &str) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("clientId".into(), json!(self.client_id));
        m.insert("timestamp".into(), json!(now_ms()));
        m.insert("eventType".into(), json!(event));
        m.insert("sessionIdentifier".into(), json!(self.session));
        m.insert("principalIdentifier".into(), json!(self.principal));
        m
    }
}

fn emit(hub: &Hub, topic: String, body: Value) {
    let msg = Publish {
        topic,
        payload: Bytes::from(body.to_string()),
        qos: 1,
        retain: false,
        dup: false,
        pkid: 0,
        properties: None,
    };
    hub.publish(Arc::new(msg));
}

pub fn connected(hub: &Hub, p: &Presence, ip: &str) {
    if p.silent() {
        return;
    }
    let mut m = p.base("connected");
    m.insert("ipAddress".into(), json!(ip));
    m.insert("versionNumber".into(), json!(p.version));
    emit(
        hub,
        format!("$aws/events/presence/connected/{}", p.client_id),
        Value::Object(m),
    );
}

pub fn disconnected(hub: &Hub, p: &Presence, reason: &str) {
    if p.silent() {
        return;
    }
    let mut m = p.base("disconnected");
    m.insert(
        "clientInitiatedDisconnect".into(),
        json!(reason == "CLIENT_INITIATED_DISCONNECT"),
    );
    m.insert("disconnectReason".into(), json!(reason));
    m.insert("versionNumber".into(), json!(p.version));
    emit(
        hub,
        format!("$aws/events/presence/disconnected/{}", p.client_id),
        Value::Object(m),
    );
}

/// `subscribed` or `unsubscribed`, with the filters of that packet.
pub fn subscriptions(hub: &Hub, p: &Presence, event: &str, topics: &[String]) {
    if p.silent() || topics.is_empty() {
        return;
    }
    let mut m = p.base(event);
    m.insert("topics".into(), json!(topics));
    emit(
        hub,
        format!("$aws/events/subscriptions/{event}/{}", p.client_id),
        Value::Object(m),
    );
}

/// JITR: a certificate registered (or presented) in PENDING_ACTIVATION under `ca_id`.
pub fn certificate_registered(hub: &Hub, cert_id: &str, ca_id: &str, account: &str) {
    let body = json!({
        "certificateId": cert_id,
        "caCertificateId": ca_id,
        "timestamp": now_ms(),
        "certificateStatus": "PENDING_ACTIVATION",
        "awsAccountId": account,
        "certificateRegistrationTimestamp": Value::Null,
    });
    emit(
        hub,
        format!("$aws/events/certificates/registered/{ca_id}"),
        body,
    );
}
