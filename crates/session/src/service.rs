//! The seam for in-process services on reserved topics (Device Shadow, Jobs, fleet
//! provisioning): a service names the request topics it answers, receives every authorized
//! PUBLISH to them, and answers either to every authorized subscriber (shadow) or to the
//! requesting client alone (jobs, provisioning).

use bytes::Bytes;
use iotmock_mqtt::Publish;

/// One request to a service.
#[derive(Debug, Clone)]
pub struct ServiceRequest<'a> {
    /// The publishing client; `None` for an HTTP publish (iot-data).
    pub client_id: Option<&'a str>,
    /// The region whose registry admitted the client (`None`: the default region).
    pub region: Option<&'a str>,
    pub topic: &'a str,
    pub payload: &'a Bytes,
    pub now_ms: i64,
}

/// A service's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Published to every subscriber allowed to receive it.
    ToSubscribers(Publish),
    /// Delivered only to the requesting client, when it is subscribed to the topic.
    ToRequester(Publish),
}

/// A service that devices reach over MQTT.
pub trait Service: Send + Sync {
    /// The topic filters of the requests it answers (e.g. `$aws/things/+/shadow/#`).
    fn filters(&self) -> Vec<String>;
    /// Answers one request (requests are also delivered to ordinary subscribers).
    fn handle(&self, request: &ServiceRequest<'_>) -> Vec<Reply>;
}
