//! How jobs and executions look on the wire: device payloads (epoch seconds, the job document
//! as a JSON object over MQTT) and control-plane shapes.

use crate::model::{Execution, Job};
use serde_json::{Map, Value, json};

pub fn secs(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

/// The job document as MQTT carries it: parsed JSON (a string when it is not JSON).
pub fn document_value(doc: &str) -> Value {
    serde_json::from_str(doc).unwrap_or_else(|_| Value::String(doc.to_string()))
}

/// JobExecutionSummary (notify, get).
pub fn summary(e: &Execution) -> Value {
    let mut m = Map::new();
    m.insert("jobId".into(), json!(e.job_id));
    m.insert("queuedAt".into(), json!(secs(e.queued_ms)));
    if let Some(s) = e.started_ms {
        m.insert("startedAt".into(), json!(secs(s)));
    }
    m.insert("lastUpdatedAt".into(), json!(secs(e.updated_ms)));
    m.insert("versionNumber".into(), json!(e.version));
    m.insert("executionNumber".into(), json!(e.number));
    Value::Object(m)
}

/// JobExecution over MQTT: the summary plus status, statusDetails when set, the document
/// when asked for, and the seconds left before a timeout.
pub fn execution(e: &Execution, job: Option<&Job>, with_document: bool, now_ms: i64) -> Value {
    let mut v = summary(e);
    v["status"] = json!(e.status.name());
    if !e.status_details.is_empty() {
        v["statusDetails"] = json!(e.status_details);
    }
    if let (true, Some(j)) = (with_document, job) {
        v["jobDocument"] = document_value(&j.document_at(now_ms));
    }
    if let Some(d) = e.deadline().filter(|_| !e.status.terminal()) {
        v["approximateSecondsBeforeTimedOut"] = json!(secs(d - now_ms).max(0));
    }
    v
}

/// `executionState` of an update answer or a rejection.
pub fn execution_state(e: &Execution) -> Value {
    json!({ "status": e.status.name(), "statusDetails": e.status_details, "versionNumber": e.version })
}
