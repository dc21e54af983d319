//! Refusals as the console shows them. Every refusal the mock makes (a CONNECT, a PUBLISH, a
//! SUBSCRIBE, a delivery, an HTTPS publish, a WebSocket upgrade) is logged once with the rule
//! that refused it; [`RefusalTap`] (a `tracing` layer, installed by `iotmock serve`) keeps
//! those log events in a [`RefusalLog`]: a bounded ring for pages that open later and a
//! broadcast for open ones. Nothing else in the log is kept.

use serde_json::{Map, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// The mock's clock, in ms.
type Now = Box<dyn Fn() -> i64 + Send + Sync>;

/// The recent refusals.
pub struct RefusalLog {
    ring: usize,
    /// The mock's clock, once the mock it logs for is built (0 before).
    now: std::sync::OnceLock<Now>,
    recent: Mutex<VecDeque<Arc<Value>>>,
    live: broadcast::Sender<Arc<Value>>,
}

impl RefusalLog {
    /// Keeps the last `ring` refusals.
    pub fn new(ring: usize) -> Self {
        Self {
            ring: ring.max(1),
            now: std::sync::OnceLock::new(),
            recent: Mutex::new(VecDeque::new()),
            live: broadcast::channel(ring.clamp(16, 4096)).0,
        }
    }

    /// Reads time from `now` (the mock's injected clock) from now on.
    pub(crate) fn set_clock(&self, now: Now) {
        let _ = self.now.set(now);
    }

    /// The time a refusal is stamped with, in ms.
    pub fn now_ms(&self) -> i64 {
        self.now.get().map_or(0, |now| now())
    }

    /// Keeps one refusal (its log fields, with `at` and `message`).
    pub fn push(&self, refusal: Value) {
        let refusal = Arc::new(refusal);
        {
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            recent.push_back(refusal.clone());
            while recent.len() > self.ring {
                recent.pop_front();
            }
        }
        let _ = self.live.send(refusal);
    }

    /// The kept refusals, newest last.
    pub fn recent(&self) -> Vec<Value> {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.iter().map(|r| (**r).clone()).collect()
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<Value>> {
        self.live.subscribe()
    }
}

/// Whether a log message says something was refused.
pub fn is_refusal(message: &str) -> bool {
    [
        "refused",
        "dropped",
        "discarded",
        "not published",
        "closed: ",
    ]
    .iter()
    .any(|w| message.contains(w))
}

/// What a refusal was about, from its log message.
pub fn what(message: &str) -> &'static str {
    let m = message.to_ascii_lowercase();
    if m.contains("connect")
        || m.contains("tls")
        || m.contains("websocket")
        || m.contains("closed: ")
    {
        "connect"
    } else if m.contains("subscri") {
        "subscribe"
    } else if m.contains("deliver") || m.contains("receive") {
        "receive"
    } else {
        "publish"
    }
}

/// Builds the refusal of one log event's fields (`message` among them).
pub fn refusal(mut fields: Map<String, Value>, at_ms: i64) -> Option<Value> {
    let message = fields.get("message")?.as_str()?.to_string();
    if !is_refusal(&message) {
        return None;
    }
    fields.insert("at".into(), Value::from(at_ms));
    fields.insert("what".into(), Value::from(what(&message)));
    Some(Value::Object(fields))
}

#[cfg(feature = "cli")]
pub use tap::RefusalTap;

#[cfg(feature = "cli")]
mod tap {
    use super::RefusalLog;
    use serde_json::{Map, Value};
    use std::sync::Arc;
    use tracing::field::{Field, Visit};

    /// The `tracing` layer that keeps refusals (INFO and above, from the mock's crates).
    pub struct RefusalTap(pub Arc<RefusalLog>);

    struct Fields(Map<String, Value>);

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0
                .insert(field.name().to_string(), Value::from(format!("{value:?}")));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name().to_string(), Value::from(value));
        }
        fn record_u64(&mut self, field: &Field, value: u64) {
            self.0.insert(field.name().to_string(), Value::from(value));
        }
        fn record_i64(&mut self, field: &Field, value: i64) {
            self.0.insert(field.name().to_string(), Value::from(value));
        }
    }

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for RefusalTap {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _ctx: tracing_subscriber::layer::Context<'_, S>,
        ) {
            let meta = event.metadata();
            let target = meta.target();
            if *meta.level() > tracing::Level::INFO
                || !target.starts_with("iotmock")
                || target.starts_with("iotmock_api")
            {
                return;
            }
            let mut fields = Fields(Map::new());
            event.record(&mut fields);
            if let Some(r) = super::refusal(fields.0, self.0.now_ms()) {
                self.0.push(r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refusals_are_kept_in_a_ring_and_other_logs_are_not() {
        let log = RefusalLog::new(2);
        for i in 0..3 {
            let fields = json!({"message": "CONNECT refused", "client_id": format!("c{i}")});
            let Value::Object(map) = fields else { panic!() };
            log.push(refusal(map, i).unwrap());
        }
        let Value::Object(other) = json!({"message": "iotmock ready"}) else {
            panic!()
        };
        assert!(refusal(other, 0).is_none());
        let kept = log.recent();
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0]["client_id"], "c1");
        assert_eq!(kept[1]["what"], "connect");
    }

    #[test]
    fn a_refusal_says_what_it_refused() {
        assert_eq!(what("subscription refused"), "subscribe");
        assert_eq!(what("PUBLISH refused"), "publish");
        assert_eq!(what("HTTPS publish refused"), "publish");
        assert_eq!(what("MQTT over WebSocket refused"), "connect");
    }
}
