//! Actions that leave the mock (http, lambda, AWS services) run on the adapter's runtime, not
//! on the rules' worker: a slow or dead endpoint delays only its own action. Each is handed
//! over as a [`Job`] whose outcome arrives later, through [`Done`]; a failure then runs the
//! rule's error action with that action in `failures`.

use crate::engine::Invocation;
use crate::sql::{Message, Properties};

/// Called once with the action's outcome: `Ok(true)` delivered, `Ok(false)` recorded only,
/// `Err` failed (with why).
pub type Done = Box<dyn FnOnce(Result<bool, String>) + Send>;

/// One action for the [`crate::Runner`].
pub struct Job {
    pub rule: String,
    /// The rule's region (AWS calls are signed for it).
    pub region: String,
    /// The topic of the message the action came from (HTTP batches are per topic).
    pub topic: String,
    pub invocation: Invocation,
    pub done: Done,
}

/// The message an action came from, kept for an error action that runs later.
#[derive(Debug, Clone)]
pub struct Origin {
    pub topic: String,
    pub payload: Vec<u8>,
    pub client_id: Option<String>,
    pub principal: Option<String>,
    pub account: String,
    pub now_ms: i64,
    pub region: String,
    pub trace_id: Option<String>,
}

impl Origin {
    pub fn of(msg: &Message<'_>, region: &str) -> Self {
        Self {
            topic: msg.topic.to_string(),
            payload: msg.payload.to_vec(),
            client_id: msg.client_id.map(str::to_string),
            principal: msg.principal.map(str::to_string),
            account: msg.account.to_string(),
            now_ms: msg.now_ms,
            region: region.to_string(),
            trace_id: msg.trace_id.map(str::to_string),
        }
    }

    /// The message again, as the SQL sees it (without its MQTT 5 properties).
    pub fn message<'a>(&'a self, properties: &'a Properties) -> Message<'a> {
        Message {
            topic: &self.topic,
            payload: &self.payload,
            client_id: self.client_id.as_deref(),
            principal: self.principal.as_deref(),
            account: &self.account,
            now_ms: self.now_ms,
            source_ip: None,
            trace_id: self.trace_id.as_deref(),
            properties,
            parsed: None,
        }
    }
}
