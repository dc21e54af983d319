//! The soak's figures, its verdict and its report: `report.json` and a self-contained
//! `report.html` (inline SVG, as the load generator's report).

use crate::soak_traffic::Misbehaviour;
use iotmock_client::load::chart::{XAxis, lines};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

/// RSS within a run may grow this much after warm-up.
const RSS_SLACK: f64 = 0.10;
/// A bystander's p99 under load may be this many times a quiet run's...
const LATENCY_FACTOR: f64 = 2.0;
/// ...or this many µs more, whichever is larger: a quiet p99 of a few hundred µs on an idle
/// machine is noise-dominated, and a few ms under full load on two cores is no regression.
const LATENCY_SLACK_US: f64 = 5_000.0;
/// Descriptors that may still be open after the load phase: the publisher's connection and
/// API requests in flight.
const FD_SLACK: u64 = 4;

/// One reading of the server process.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Sample {
    /// Seconds since the soak began.
    pub at: f64,
    pub rss_kb: u64,
    pub fds: u64,
}

/// One start-to-SIGKILL run.
#[derive(Debug, serde::Serialize)]
pub struct Cycle {
    pub index: usize,
    pub load_start: f64,
    pub restart_ms: u64,
    /// Acknowledged QoS 1 messages the keeper had not received at the kill, delivered after
    /// this start.
    pub redelivered: u64,
    pub qos1_acked: u64,
    pub api_writes: u64,
    /// The bystander's latencies (µs) with the steady traffic alone, before the load phase.
    #[serde(skip)]
    pub quiet: Vec<u64>,
    #[serde(skip)]
    pub latencies: Vec<u64>,
    pub misbehaviour: Misbehaviour,
    pub samples: Vec<Sample>,
    pub fd_before: u64,
    pub fd_after: u64,
}

/// The `q` quantile of `values` (µs), 0 when empty.
pub fn quantile(values: &[u64], q: f64) -> u64 {
    let mut v = values.to_vec();
    v.sort_unstable();
    let at = ((v.len() as f64 * q).ceil() as usize).saturating_sub(1);
    v.get(at.min(v.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0)
}

impl Cycle {
    /// The highest RSS in the warm-up (the first half of the load, at least 50 s: a dead
    /// subscriber is closed 45 s after its last packet, AWS's shortest keep-alive, so only
    /// then do as many close as arrive), and after it.
    pub fn rss_warm_and_late(&self) -> (u64, u64) {
        let end = self.samples.last().map_or(self.load_start, |s| s.at);
        let warm_until = self.load_start + ((end - self.load_start) / 2.0).max(50.0);
        let max = |f: &dyn Fn(f64) -> bool| {
            self.samples
                .iter()
                .filter(|s| f(s.at))
                .map(|s| s.rss_kb)
                .max()
                .unwrap_or(0)
        };
        (max(&|at| at <= warm_until), max(&|at| at > warm_until))
    }

    pub fn p99(&self) -> u64 {
        quantile(&self.latencies, 0.99)
    }
}

/// Every assertion the soak makes on its figures; empty when it passed.
pub fn judge(cycles: &[Cycle]) -> Vec<String> {
    let mut failed = Vec::new();
    for c in cycles {
        let quiet_p99 = quantile(&c.quiet, 0.99);
        let (warm, late) = c.rss_warm_and_late();
        if late as f64 > warm as f64 * (1.0 + RSS_SLACK) {
            failed.push(format!(
                "cycle {}: RSS grew after warm-up from {warm} kB to {late} kB",
                c.index
            ));
        }
        if c.fd_after > c.fd_before + FD_SLACK {
            failed.push(format!(
                "cycle {}: {} descriptors open after the load phase, {} before",
                c.index, c.fd_after, c.fd_before
            ));
        }
        let limit = (quiet_p99 as f64 * LATENCY_FACTOR).max(quiet_p99 as f64 + LATENCY_SLACK_US);
        if c.p99() as f64 > limit {
            failed.push(format!(
                "cycle {}: the bystander's p99 was {} µs under load, {quiet_p99} µs quiet",
                c.index,
                c.p99()
            ));
        }
        let m = &c.misbehaviour;
        if m.malformed_not_closed + m.oversized_not_closed > 0 {
            failed.push(format!(
                "cycle {}: {} malformed and {} oversized packets were not refused",
                c.index, m.malformed_not_closed, m.oversized_not_closed
            ));
        }
        if m.ruled == 0 {
            failed.push(format!(
                "cycle {}: the topic rule republished nothing",
                c.index
            ));
        }
        if c.latencies.is_empty() || c.qos1_acked == 0 || c.api_writes == 0 {
            failed.push(format!("cycle {}: the traffic did not run", c.index));
        }
    }
    failed
}

/// Writes `report.json` and `report.html` into `dir`.
pub fn write_report(
    dir: &Path,
    elapsed: Duration,
    cycles: &[Cycle],
    verdict: &[String],
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let rows: Vec<_> = cycles
        .iter()
        .map(|c| {
            let (warm, late) = c.rss_warm_and_late();
            serde_json::json!({
                "cycle": c, "p50_us": quantile(&c.latencies, 0.5), "p99_us": c.p99(),
                "probes": c.latencies.len(), "rss_warm_kb": warm, "rss_late_kb": late,
                "quiet_p50_us": quantile(&c.quiet, 0.5), "quiet_p99_us": quantile(&c.quiet, 0.99),
            })
        })
        .collect();
    let json = serde_json::json!({
        "elapsed_secs": elapsed.as_secs_f64(),
        "cycles": rows,
        "failures": verdict,
    });
    let text = serde_json::to_string_pretty(&json).unwrap_or_default();
    std::fs::write(dir.join("report.json"), text)?;
    std::fs::write(dir.join("report.html"), page(elapsed, cycles, verdict))
}

fn page(elapsed: Duration, cycles: &[Cycle], verdict: &[String]) -> String {
    let mut html = String::from(
        "<!doctype html><meta charset=\"utf-8\"><title>iotmock soak</title>\
         <style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 10px;text-align:right}\
         svg text{font-size:11px}</style><h1>iotmock soak</h1>",
    );
    let outcome = if verdict.is_empty() {
        "passed"
    } else {
        "FAILED"
    };
    let _ = write!(
        html,
        "<p>{outcome}: {} cycles in {:.0} s, each ended by SIGKILL.</p>",
        cycles.len(),
        elapsed.as_secs_f64(),
    );
    for f in verdict {
        let _ = write!(html, "<p>{}</p>", html_escape::encode_text(f));
    }
    html.push_str(
        "<table><tr><th>cycle</th><th>restart ms</th><th>redelivered</th><th>QoS 1 acked</th>\
         <th>API writes</th><th>churned</th><th>refused packets</th><th>quiet p99 µs</th><th>p50 µs</th><th>p99 µs</th>\
         <th>RSS warm MB</th><th>RSS late MB</th><th>fds before/after</th></tr>",
    );
    for c in cycles {
        let (warm, late) = c.rss_warm_and_late();
        let m = &c.misbehaviour;
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{}/{}</td></tr>",
            c.index,
            c.restart_ms,
            c.redelivered,
            c.qos1_acked,
            c.api_writes,
            m.churned,
            m.malformed_closed + m.oversized_closed,
            quantile(&c.quiet, 0.99),
            quantile(&c.latencies, 0.5),
            c.p99(),
            warm as f64 / 1024.0,
            late as f64 / 1024.0,
            c.fd_before,
            c.fd_after
        );
    }
    html.push_str("</table>");
    let samples: Vec<&Sample> = cycles.iter().flat_map(|c| &c.samples).collect();
    let end = samples.last().map_or(1.0, |s| s.at.max(1.0));
    let seconds = |x: &f64| format!("{x:.0} s");
    let time = |name| XAxis {
        max: end,
        labels: 6,
        name,
        label: &seconds,
    };
    let rss: Vec<(f64, f64)> = samples
        .iter()
        .map(|s| (s.at, s.rss_kb as f64 / 1024.0))
        .collect();
    let fds: Vec<(f64, f64)> = samples.iter().map(|s| (s.at, s.fds as f64)).collect();
    let _ = write!(
        html,
        "<h2>RSS (MB)</h2>{}",
        lines(&[("", &rss)], &time("time"), "MB")
    );
    let _ = write!(
        html,
        "<h2>Open descriptors</h2>{}",
        lines(&[("", &fds)], &time("time"), "fds")
    );
    let p99: Vec<(f64, f64)> = cycles
        .iter()
        .map(|c| (c.index as f64, c.p99() as f64))
        .collect();
    let last = cycles.len().saturating_sub(1).max(1) as f64;
    let cycle = |x: &f64| format!("{x:.0}");
    let cycles_axis = XAxis {
        max: last,
        labels: cycles.len().clamp(2, 10),
        name: "cycle",
        label: &cycle,
    };
    let _ = write!(
        html,
        "<h2>Bystander p99 per cycle (µs)</h2>{}",
        lines(&[("", &p99)], &cycles_axis, "µs")
    );
    html
}
