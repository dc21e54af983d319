//! Results: rate, latency percentiles (hdrhistogram) and failures by cause, as text or JSON.

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// Microsecond latencies from 1 µs to 60 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("constant histogram bounds are valid")
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct Report {
    pub scenario: String,
    pub ok: u64,
    pub elapsed: Duration,
    pub latency: Histogram<u64>,
    pub failures: BTreeMap<String, u64>,
    pub extra: BTreeMap<String, Value>,
}

impl Report {
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn to_json(&self) -> Value {
        json!({
            "scenario": self.scenario,
            "ok": self.ok,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "per_second": self.rate(),
            "latency_ms": { "p50": self.ms(0.5), "p90": self.ms(0.9), "p99": self.ms(0.99), "max": self.latency.max() as f64 / 1000.0 },
            "failures": self.failures,
            "extra": self.extra,
        })
    }

    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{}: {} ok in {:.2} s = {:.1}/s\nlatency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}\n",
            self.scenario,
            self.ok,
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.ms(0.5),
            self.ms(0.9),
            self.ms(0.99),
            self.latency.max() as f64 / 1000.0
        );
        if self.failures.is_empty() {
            out.push_str("failures: none\n");
        } else {
            out.push_str("failures:\n");
            for (cause, n) in &self.failures {
                out.push_str(&format!("  {n:>8}  {cause}\n"));
            }
        }
        for (k, v) in &self.extra {
            out.push_str(&format!("{k}: {v}\n"));
        }
        out
    }
}
