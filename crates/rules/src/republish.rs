//! The `republish` action, served locally: the SELECT output published through the broker
//! like a device's message (`$$aws/...` reaches reserved topics, so a rule can update a
//! shadow; reserved job topics are refused, as AWS refuses them), and the loop guard: a
//! republished message is never seen by a rule whose republish made it, and a chain of
//! republishes stops after [`MAX_DEPTH`] rounds.

use crate::engine::Invocation;
use bytes::Bytes;
use iotmock_mqtt::{Publish, PublishProperties};
use iotmock_session::Outlet;
use serde_json::Value;
use std::collections::VecDeque;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

/// Republish rounds one message may start.
pub const MAX_DEPTH: usize = 8;
/// Republished messages remembered until they come back.
const REMEMBERED: usize = 1024;

/// Republished messages on their way back to the rules, with the rules that made them.
#[derive(Debug, Default)]
pub struct Guard {
    recent: VecDeque<(String, u64, Vec<String>)>,
}

fn digest(payload: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    payload.hash(&mut h);
    h.finish()
}

impl Guard {
    /// A message arrived: the rules that must not see it (those whose republish made it), or
    /// `None` when it is the end of a chain [`MAX_DEPTH`] long.
    pub fn arrived(&mut self, topic: &str, payload: &[u8]) -> Option<Vec<String>> {
        if self.recent.is_empty() {
            return Some(Vec::new());
        }
        let d = digest(payload);
        let at = self
            .recent
            .iter()
            .position(|(t, h, _)| t == topic && *h == d);
        let chain = at
            .and_then(|i| self.recent.remove(i))
            .map(|(_, _, chain)| chain)
            .unwrap_or_default();
        (chain.len() < MAX_DEPTH).then_some(chain)
    }

    fn sent(&mut self, topic: &str, payload: &[u8], chain: Vec<String>) {
        if self.recent.len() == REMEMBERED {
            self.recent.pop_front();
        }
        self.recent
            .push_back((topic.to_string(), digest(payload), chain));
    }
}

/// The topic a republish names: a leading `$$` stands for `$`.
fn target(topic: &str) -> Result<String, String> {
    let topic = match topic.strip_prefix("$$") {
        Some(rest) => format!("${rest}"),
        None => topic.to_string(),
    };
    if topic.starts_with("$aws/things/") && topic.contains("/jobs/") {
        return Err(format!(
            "Republishing to reserved job topics is not supported: {topic}"
        ));
    }
    iotmock_mqtt::topic::validate_topic(&topic)
        .map_err(|e| format!("Invalid republish topic {topic}: {e}"))?;
    Ok(topic)
}

/// MQTT 5 properties from the action's `headers`.
fn properties(headers: Option<&Value>) -> Result<Option<PublishProperties>, String> {
    let Some(h) = headers.and_then(Value::as_object) else {
        return Ok(None);
    };
    let text = |k: &str| h.get(k).and_then(Value::as_str).map(str::to_string);
    let correlation = match text("correlationData") {
        Some(b64) => {
            Some(Bytes::from(base64_decode(&b64).map_err(|e| {
                format!("correlationData is not base64: {e}")
            })?))
        }
        None => None,
    };
    let expiry = match text("messageExpiry") {
        Some(s) => Some(
            s.parse::<u32>()
                .map_err(|_| format!("Invalid messageExpiry: {s}"))?,
        ),
        None => None,
    };
    let users = h
        .get("userProperties")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|p| {
                    Some((
                        p.get("key")?.as_str()?.to_string(),
                        p.get("value")?.as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(PublishProperties {
        payload_format_indicator: text("payloadFormatIndicator")
            .map(|f| u8::from(f == "UTF8_DATA")),
        message_expiry_interval: expiry,
        topic_alias: None,
        response_topic: text("responseTopic"),
        correlation_data: correlation,
        user_properties: users,
        subscription_identifiers: Vec::new(),
        content_type: text("contentType"),
    }))
}

fn base64_decode(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s)
}

/// Publishes the invocation's payload; the rules that made it will not see it.
pub fn republish(
    inv: &Invocation,
    outlet: &Outlet,
    region: &str,
    rule: &str,
    chain: &[String],
    guard: &Mutex<Guard>,
) -> Result<(), String> {
    let topic = inv
        .params
        .get("topic")
        .and_then(Value::as_str)
        .ok_or("The republish action has no topic")?;
    let topic = target(topic)?;
    let qos = inv.params.get("qos").and_then(Value::as_u64).unwrap_or(0);
    let qos = u8::try_from(qos.min(1)).unwrap_or(0);
    let mut message = Publish::new(topic.clone(), Bytes::from(inv.payload.clone()), qos, false);
    message.properties = properties(inv.params.get("headers"))?;
    let mut made_by = chain.to_vec();
    made_by.push(rule.to_string());
    guard
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .sent(&topic, &inv.payload, made_by);
    outlet.publish_in(region, message);
    Ok(())
}
