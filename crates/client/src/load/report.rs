//! Results: rate, latency percentiles (hdrhistogram), failures by cause and the client's own
//! CPU cost, as text or JSON. A report read back from JSON plus its interval log is what
//! `load merge` adds up.

use super::timeline::{Intervals, Timeline};
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
    /// Every interval added together.
    pub latency: Histogram<u64>,
    pub failures: BTreeMap<String, u64>,
    /// Failed operations by Unix second (the report's failures-over-time chart).
    pub failed_by_second: BTreeMap<u64, u64>,
    pub extra: BTreeMap<String, Value>,
    /// Seconds since the Unix epoch when the run started.
    pub started_unix: f64,
    /// Latency by wall-clock second (the interval log).
    pub intervals: Intervals,
    /// The load generator's own CPU time (user + system) over the run, where it can be read.
    pub client_cpu: Option<Duration>,
    /// How many workers' runs this report adds up (1 for a single run).
    pub workers: u32,
}

impl Report {
    /// A report of what `timeline` recorded, with no failures yet.
    pub fn new(scenario: String, timeline: &Timeline, elapsed: Duration) -> Self {
        let intervals = timeline.intervals();
        Self {
            scenario,
            ok: 0,
            elapsed,
            latency: intervals.total(),
            failures: BTreeMap::new(),
            failed_by_second: timeline.failures_by_second(),
            extra: BTreeMap::new(),
            started_unix: timeline.start_unix(),
            intervals,
            client_cpu: None,
            workers: 1,
        }
    }

    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    /// Client CPU microseconds per successful operation.
    pub fn cpu_per_op_us(&self) -> Option<f64> {
        let cpu = self.client_cpu?;
        (self.ok > 0).then(|| cpu.as_secs_f64() * 1e6 / self.ok as f64)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "scenario": self.scenario,
            "ok": self.ok,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "started_unix_s": self.started_unix,
            "per_second": self.rate(),
            "latency_ms": { "p50": self.ms(0.5), "p90": self.ms(0.9), "p99": self.ms(0.99), "max": self.latency.max() as f64 / 1000.0 },
            "samples": self.latency.len(),
            "failures": self.failures,
            "failures_by_second": self.failed_by_second.iter().map(|(s, n)| (s.to_string(), *n)).collect::<BTreeMap<String, u64>>(),
            "client_cpu_s": self.client_cpu.map(|c| c.as_secs_f64()),
            "client_cpu_us_per_op": self.cpu_per_op_us(),
            "workers": self.workers,
            "extra": self.extra,
        })
    }

    /// A worker's report from its JSON and its interval log (the latencies come from the log).
    pub fn from_parts(summary: &Value, intervals: Intervals) -> Result<Report, String> {
        let num = |k: &str| summary[k].as_f64().ok_or(format!("no number `{k}`"));
        let failures = summary["failures"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default();
        let failed_by_second = summary["failures_by_second"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.parse().ok()?, v.as_u64()?)))
                    .collect()
            })
            .unwrap_or_default();
        let extra = summary["extra"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        Ok(Report {
            scenario: summary["scenario"].as_str().unwrap_or("load").to_string(),
            ok: summary["ok"].as_u64().ok_or("no count `ok`")?,
            elapsed: Duration::from_secs_f64(num("elapsed_s")?.max(0.0)),
            latency: intervals.total(),
            failures,
            failed_by_second,
            extra,
            started_unix: num("started_unix_s")?,
            intervals,
            client_cpu: summary["client_cpu_s"]
                .as_f64()
                .map(|s| Duration::from_secs_f64(s.max(0.0))),
            workers: summary["workers"].as_u64().unwrap_or(1) as u32,
        })
    }

    /// Adds `other` (another worker of the same run): counts and histograms are added; the
    /// elapsed time spans from the first start to the last end.
    pub fn absorb(&mut self, other: &Report) {
        let end = (self.started_unix + self.elapsed.as_secs_f64())
            .max(other.started_unix + other.elapsed.as_secs_f64());
        self.started_unix = self.started_unix.min(other.started_unix);
        self.elapsed = Duration::from_secs_f64((end - self.started_unix).max(0.0));
        self.ok += other.ok;
        for (cause, n) in &other.failures {
            *self.failures.entry(cause.clone()).or_default() += n;
        }
        for (second, n) in &other.failed_by_second {
            *self.failed_by_second.entry(*second).or_default() += n;
        }
        for (k, v) in &other.extra {
            let sum = self.extra.get(k).and_then(Value::as_u64).zip(v.as_u64());
            if let Some((a, b)) = sum {
                self.extra.insert(k.clone(), (a + b).into());
            }
        }
        self.intervals.merge(&other.intervals);
        self.latency = self.intervals.total();
        self.client_cpu = match (self.client_cpu, other.client_cpu) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        self.workers += other.workers;
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
        if let (Some(cpu), Some(per)) = (self.client_cpu, self.cpu_per_op_us()) {
            out.push_str(&format!(
                "client CPU: {:.2} s = {per:.1} µs per operation\n",
                cpu.as_secs_f64()
            ));
        }
        if self.workers > 1 {
            out.push_str(&format!("workers: {}\n", self.workers));
        }
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

/// This process's CPU time so far (user + system, all threads), from `/proc/self/stat`; `None`
/// where that file does not exist. Linux reports it in ticks of 1/100 s (USER_HZ).
pub fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) end with ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let (utime, stime) = (ticks(11)?, ticks(12)?);
    Some(Duration::from_millis((utime + stime) * 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(process_cpu().is_some());
        }
    }

    #[test]
    fn a_report_survives_json_and_absorbing_adds_counts() {
        let timeline = Timeline::new();
        timeline.recorder().record(1500);
        timeline.failed();
        let mut r = Report::new("handshake".into(), &timeline, Duration::from_secs(2));
        r.ok = 1;
        r.failures.insert("timeout".into(), 2);
        r.extra.insert("lost".into(), 3.into());
        let back = Report::from_parts(&r.to_json(), r.intervals.clone()).unwrap();
        assert_eq!((back.ok, back.latency.len()), (1, 1));
        let mut both = r.clone();
        both.absorb(&back);
        assert_eq!((both.ok, both.workers, both.latency.len()), (2, 2, 2));
        assert_eq!(both.failures["timeout"], 4);
        assert_eq!(
            both.failed_by_second.values().sum::<u64>(),
            2,
            "failures over time add up"
        );
        assert_eq!(both.extra["lost"], 6);
    }
}
