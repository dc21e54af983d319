//! Device Defender Detect's device-side metrics, with no I/O: a device publishes a metrics
//! report on `$aws/things/{thing}/defender/metrics/{json|cbor}`; the report is validated
//! ([`report`]) and answered on `…/accepted` or `…/rejected` (in the request's format, to the
//! subscribers of those topics), and an accepted report's metric values are kept per thing
//! for ListMetricValues: the newest [`KEPT_PER_THING`] reports of at most [`THINGS`] things.

pub mod report;
#[cfg(test)]
mod tests;

use iotmock_fleet::Format;
use iotmock_mqtt::Publish;
use iotmock_session::{Reply, Service, ServiceRequest};
use report::MetricValue;
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

/// Reports kept per thing.
pub const KEPT_PER_THING: usize = 100;
/// Things whose reports are kept; a report of a thing past it is answered but not kept.
pub const THINGS: usize = 10_000;

/// One kept metric value.
#[derive(Debug, Clone, PartialEq)]
pub struct Datum {
    pub timestamp_ms: i64,
    pub metric: String,
    pub value: MetricValue,
}

/// Each accepted report's values, oldest first, by (region, thing).
type Kept = BTreeMap<(String, String), VecDeque<Vec<Datum>>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The Defender metrics service of one mock.
pub struct DefenderService {
    default_region: String,
    /// The key of the report id in an accepted answer (AWS's documented example is garbled).
    report_id_key: String,
    kept: Mutex<Kept>,
}

/// The thing and format of a metrics topic.
pub fn parse_topic(topic: &str) -> Option<(&str, Format)> {
    let rest = topic.strip_prefix("$aws/things/")?;
    let (thing, fmt) = rest.split_once("/defender/metrics/")?;
    Some((thing, Format::parse(fmt)?))
}

impl DefenderService {
    /// Forgets every metrics report (iotmock's reset).
    pub fn reset(&self) {
        self.kept.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    pub fn new(default_region: &str) -> Self {
        Self::with_report_id_key(default_region, "reportId")
    }

    /// A service whose accepted answers name the report id `key`.
    pub fn with_report_id_key(default_region: &str, key: &str) -> Self {
        Self {
            default_region: default_region.to_string(),
            report_id_key: key.to_string(),
            kept: Mutex::new(BTreeMap::new()),
        }
    }

    /// ListMetricValues: `thing`'s values of `metric` received in `[start_ms, end_ms)`, newest
    /// first.
    pub fn metric_values(
        &self,
        region: &str,
        thing: &str,
        metric: &str,
        (start_ms, end_ms): (i64, i64),
    ) -> Vec<Datum> {
        let kept = lock(&self.kept);
        let Some(reports) = kept.get(&(region.to_string(), thing.to_string())) else {
            return Vec::new();
        };
        let mut out: Vec<Datum> = reports
            .iter()
            .flatten()
            .filter(|d| d.metric == metric && d.timestamp_ms >= start_ms && d.timestamp_ms < end_ms)
            .cloned()
            .collect();
        out.reverse();
        out
    }

    /// Answers one report, keeping it when it is accepted.
    pub fn receive(
        &self,
        region: &str,
        thing: &str,
        fmt: Format,
        payload: &[u8],
        now_ms: i64,
    ) -> Publish {
        let base = format!("$aws/things/{thing}/defender/metrics/{}", fmt.name());
        let read = fmt.decode(payload).and_then(|doc| report::read(&doc));
        let (topic, answer) = match read {
            Ok(r) => {
                self.keep(region, thing, &r, now_ms);
                let mut doc =
                    json!({ "thingName": thing, "status": "ACCEPTED", "timestamp": now_ms });
                doc[self.report_id_key.as_str()] = json!(r.report_id);
                (format!("{base}/accepted"), doc)
            }
            Err(why) => {
                tracing::info!(thing, %why, rule = "Device Defender metrics report schema", "a metrics report was rejected");
                let doc = json!({ "thingName": thing, "status": "REJECTED",
                    "statusDetails": { "ErrorCode": "InvalidPayload", "ErrorMessage": "Malformed metrics report" },
                    "timestamp": now_ms });
                (format!("{base}/rejected"), doc)
            }
        };
        Publish::new(topic, fmt.encode(&answer), 0, false)
    }

    fn keep(&self, region: &str, thing: &str, r: &report::Report, now_ms: i64) {
        let mut kept = lock(&self.kept);
        let key = (region.to_string(), thing.to_string());
        if !kept.contains_key(&key) && kept.len() >= THINGS {
            return;
        }
        let reports = kept.entry(key).or_default();
        if reports.len() >= KEPT_PER_THING {
            reports.pop_front();
        }
        let values = r.metrics.iter().map(|(metric, value)| Datum {
            timestamp_ms: now_ms,
            metric: metric.clone(),
            value: value.clone(),
        });
        reports.push_back(values.collect());
    }
}

impl Service for DefenderService {
    fn name(&self) -> &'static str {
        "defender"
    }

    fn filters(&self) -> Vec<String> {
        vec![
            "$aws/things/+/defender/metrics/json".into(),
            "$aws/things/+/defender/metrics/cbor".into(),
        ]
    }

    fn handle(&self, request: &ServiceRequest<'_>) -> Vec<Reply> {
        let Some((thing, fmt)) = parse_topic(request.topic) else {
            return Vec::new();
        };
        let region = request.region.unwrap_or(&self.default_region);
        let answer = self.receive(region, thing, fmt, request.payload, request.now_ms);
        vec![Reply::ToSubscribers(answer)]
    }
}

/// ListMetricValues' `metricDatumList` entry.
pub fn datum_json(d: &Datum) -> Value {
    json!({ "timestamp": d.timestamp_ms as f64 / 1000.0, "value": d.value })
}
