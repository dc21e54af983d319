//! `--report DIR`: the report as one self-contained HTML page (inline SVG charts, nothing
//! fetched) beside its JSON and interval log: the latency distribution as a percentile plot and
//! the rate over time.

use super::chart::{self, XAxis};
use super::report::Report;
use html_escape::encode_text;
use std::fmt::Write as _;
use std::path::Path;

/// Writes `report.html`, `report.json` and `latency.hlog` into `dir`.
pub fn write(dir: &Path, report: &Report) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(&report.to_json()).unwrap_or_default();
    std::fs::write(dir.join("report.json"), json)?;
    let log = report
        .intervals
        .to_log()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    std::fs::write(dir.join("latency.hlog"), log)?;
    std::fs::write(dir.join("report.html"), page(report))
}

/// When the run started, as UTC `YYYY-MM-DD HH:MM:SS`.
fn started(unix: f64) -> String {
    let secs = unix as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = iotmock_model::civil_from_days(days);
    let (h, min, s) = (rest / 3600, rest % 3600 / 60, rest % 60);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{min:02}:{s:02} UTC")
}

/// The page.
pub fn page(r: &Report) -> String {
    let command: Vec<String> = std::env::args().collect();
    let mut rows = vec![
        ("scenario", r.scenario.clone()),
        ("started", started(r.started_unix)),
        ("iotmock", env!("CARGO_PKG_VERSION").to_string()),
        ("command", command.join(" ")),
        ("ok", r.ok.to_string()),
        ("elapsed", format!("{:.2} s", r.elapsed.as_secs_f64())),
        ("rate", format!("{:.1}/s", r.rate())),
        ("workers", r.workers.to_string()),
    ];
    for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)] {
        let ms = r.latency.value_at_quantile(q) as f64 / 1000.0;
        rows.push((name, format!("{ms:.2} ms")));
    }
    rows.push(("max", format!("{:.2} ms", r.latency.max() as f64 / 1000.0)));
    if let Some(per) = r.cpu_per_op_us() {
        rows.push(("client CPU per operation", format!("{per:.1} µs")));
    }
    for (cause, n) in &r.failures {
        rows.push(("failed", format!("{n} × {cause}")));
    }
    let mut table = String::new();
    for (k, v) in rows {
        let _ = write!(
            table,
            "<tr><th>{}</th><td>{}</td></tr>",
            encode_text(k),
            encode_text(&v)
        );
    }
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>iotmock load: {title}</title>\
         <style>body{{font:14px sans-serif;margin:2em}}th{{text-align:left;padding-right:1em}}\
         svg{{display:block;margin:1em 0}}text{{font:11px sans-serif}}</style></head><body>\
         <h1>{title}</h1><table>{table}</table>\
         <h2>Latency distribution</h2>{latency}<h2>Rate over time</h2>{rate}\
         <h2>Latency over time</h2>{over_time}<h2>Failures over time</h2>{failures}</body></html>",
        title = encode_text(&r.scenario),
        latency = percentile_chart(r),
        rate = rate_chart(r),
        over_time = latency_over_time(r),
        failures = failures_over_time(r),
    )
}

/// Latency (ms) against percentile, on the usual 1/(1-q) scale up to 99.99 %.
fn percentile_chart(r: &Report) -> String {
    chart::lines(&[("", &percentile_points(r))], &percentile_axis(), "ms")
}

/// The x axis of a percentile plot: 0 %, 90 %, 99 %, 99.9 %, 99.99 %.
pub(crate) fn percentile_axis() -> XAxis<'static> {
    XAxis {
        max: 4.0,
        labels: 5,
        name: "percentile",
        label: &percentile_label,
    }
}

fn percentile_label(x: &f64) -> String {
    let nines = x.round();
    if (x - nines).abs() > 1e-6 {
        return String::new();
    }
    let labels = ["0%", "90%", "99%", "99.9%", "99.99%"];
    labels
        .get(nines as usize)
        .map_or_else(String::new, |l| l.to_string())
}

/// (position on the 1/(1-q) scale, latency in ms) up to 99.99 %.
pub(crate) fn percentile_points(r: &Report) -> Vec<(f64, f64)> {
    (0..=40)
        .map(|k| {
            let q = 1.0 - 10f64.powf(-f64::from(k) / 10.0);
            (
                f64::from(k) / 10.0,
                r.latency.value_at_quantile(q) as f64 / 1000.0,
            )
        })
        .collect()
}

/// The part of wall-clock second `s` the run covered, in seconds.
fn covered(r: &Report, s: u64) -> f64 {
    let (start, end) = (r.started_unix, r.started_unix + r.elapsed.as_secs_f64());
    let (from, to) = (start.max(s as f64), end.min(s as f64 + 1.0));
    (to - from).clamp(0.0, 1.0)
}

/// The seconds of the run shown over time: those it covered for at least a quarter of a
/// second (a run that starts or ends mid-second would otherwise show a drop that is not one).
fn shown_seconds(r: &Report) -> Vec<(u64, f64)> {
    let first = r.intervals.slots.keys().next().copied().unwrap_or(0);
    r.intervals
        .slots
        .keys()
        .map(|s| (*s, covered(r, *s)))
        .filter(|(s, c)| *c >= 0.25 || r.elapsed.as_secs_f64() < 1.0 && *s == first)
        .collect()
}

pub(crate) fn time_axis(points: &[(f64, f64)]) -> XAxis<'static> {
    XAxis {
        max: points.last().map_or(1.0, |p| p.0.max(1.0)),
        labels: 6,
        name: "time",
        label: &time_label,
    }
}

fn time_label(x: &f64) -> String {
    format!("{x:.0} s")
}

/// Operations per second, each wall-clock second of the run (a partly covered second scaled
/// to a full one).
fn rate_chart(r: &Report) -> String {
    let points = rate_points(r);
    chart::lines(&[("", &points)], &time_axis(&points), "per second")
}

/// (seconds since the run's first second, operations that second).
pub(crate) fn rate_points(r: &Report) -> Vec<(f64, f64)> {
    let start = r.started_unix.floor();
    shown_seconds(r)
        .into_iter()
        .map(|(s, c)| {
            let n = r.intervals.slots.get(&s).map_or(0, |h| h.len()) as f64;
            (s as f64 - start, n / c.max(1e-3))
        })
        .collect()
}

/// Failed operations each second of the run (none: said in words, no empty chart).
fn failures_over_time(r: &Report) -> String {
    if r.failed_by_second.values().all(|n| *n == 0) {
        return "<p>No operation failed.</p>".to_string();
    }
    let start = r.started_unix.floor();
    // Seconds with operations, and seconds where everything failed.
    let seconds: std::collections::BTreeSet<u64> = shown_seconds(r)
        .into_iter()
        .map(|(s, _)| s)
        .chain(r.failed_by_second.keys().copied())
        .collect();
    let points: Vec<(f64, f64)> = seconds
        .into_iter()
        .map(|s| {
            let n = r.failed_by_second.get(&s).copied().unwrap_or(0) as f64;
            (s as f64 - start, n / covered(r, s).max(0.25))
        })
        .collect();
    chart::lines(&[("", &points)], &time_axis(&points), "failures per second")
}

/// p50 and p99 latency (ms), each second of the run.
fn latency_over_time(r: &Report) -> String {
    let start = r.started_unix.floor();
    let at = |q: f64| -> Vec<(f64, f64)> {
        shown_seconds(r)
            .into_iter()
            .filter_map(|(s, _)| {
                let h = r.intervals.slots.get(&s)?;
                Some((s as f64 - start, h.value_at_quantile(q) as f64 / 1000.0))
            })
            .collect()
    };
    let (p50, p99) = (at(0.5), at(0.99));
    chart::lines(&[("p50", &p50), ("p99", &p99)], &time_axis(&p99), "ms")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::timeline::Timeline;

    #[test]
    fn the_page_escapes_and_draws_both_charts() {
        let timeline = Timeline::new();
        let mut rec = timeline.recorder();
        for v in [900, 1200, 40_000] {
            rec.record(v);
        }
        drop(rec);
        let mut r = Report::new(
            "<publish & co>".into(),
            &timeline,
            std::time::Duration::from_secs(1),
        );
        r.ok = 3;
        r.failures.insert("TLS <alert>".into(), 1);
        assert!(page(&r).contains("No operation failed."));
        timeline.failed();
        r.failed_by_second = timeline.failures_by_second();
        let html = page(&r);
        assert!(html.contains("&lt;publish &amp; co&gt;") && !html.contains("<publish"));
        assert!(html.contains("TLS &lt;alert&gt;"));
        assert_eq!(
            html.matches("<svg").count(),
            4,
            "distribution, rate, latency and failures over time"
        );
        for label in ["99.99%", "p50", "p99", "failures per second"] {
            assert!(html.contains(label), "{label}");
        }
        assert!(html.contains("<th>started</th>"));
    }
}
