//! `--report DIR`: the report as one self-contained HTML page (inline SVG charts, nothing
//! fetched) beside its JSON and interval log: the latency distribution as a percentile plot and
//! the rate over time.

use super::report::Report;
use html_escape::encode_text;
use std::fmt::Write as _;
use std::path::Path;

const W: f64 = 640.0;
const H: f64 = 240.0;
const LEFT: f64 = 60.0;
const BOTTOM: f64 = 36.0;
const TOP: f64 = 24.0;
const RIGHT: f64 = 16.0;

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
    series_chart(
        &[("", &percentile_points(r))],
        &percentile_ticks(),
        "percentile",
        "ms",
    )
}

/// The x axis of a percentile plot.
pub(crate) fn percentile_ticks() -> [(f64, String); 5] {
    [
        (0.0, "0%"),
        (1.0, "90%"),
        (2.0, "99%"),
        (3.0, "99.9%"),
        (4.0, "99.99%"),
    ]
    .map(|(x, l)| (x, l.to_string()))
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

pub(crate) fn time_ticks(points: &[(f64, f64)]) -> [(f64, String); 3] {
    let last = points.last().map_or(1.0, |p| p.0.max(1.0));
    [0.0, last / 2.0, last].map(|x| (x, format!("{x:.0} s")))
}

/// Operations per second, each wall-clock second of the run (a partly covered second scaled
/// to a full one).
fn rate_chart(r: &Report) -> String {
    let points = rate_points(r);
    chart(&points, &time_ticks(&points), "time", "per second")
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
    chart(&points, &time_ticks(&points), "time", "failures per second")
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
    let ticks = time_ticks(&p99);
    series_chart(&[("p50", &p50), ("p99", &p99)], &ticks, "time", "ms")
}

/// A line chart of `points` as inline SVG, with `x_ticks` under the x axis.
pub fn chart(
    points: &[(f64, f64)],
    x_ticks: &[(f64, String)],
    x_name: &str,
    y_name: &str,
) -> String {
    series_chart(&[("", points)], x_ticks, x_name, y_name)
}

/// Colours of the series, in order.
const COLOURS: [&str; 3] = ["#1f77b4", "#d62728", "#2ca02c"];

/// A line chart of several named series (a legend when they are named).
pub fn series_chart(
    series: &[(&str, &[(f64, f64)])],
    x_ticks: &[(f64, String)],
    x_name: &str,
    y_name: &str,
) -> String {
    let x_max = x_ticks.iter().map(|t| t.0).fold(1e-9, f64::max);
    let all = series.iter().flat_map(|(_, p)| p.iter());
    let y_max = all.map(|p| p.1).fold(1e-9, f64::max) * 1.1;
    let sx = |x: f64| LEFT + x / x_max * (W - LEFT - RIGHT);
    let sy = |y: f64| H - BOTTOM - y / y_max * (H - BOTTOM - TOP);
    let mut svg = format!("<svg width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\">");
    let (x0, y0) = (sx(0.0), sy(0.0));
    let _ = write!(
        svg,
        "<line x1=\"{x0}\" y1=\"{y0}\" x2=\"{}\" y2=\"{y0}\" stroke=\"#888\"/>\
         <line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x0}\" y2=\"{TOP}\" stroke=\"#888\"/>",
        W - RIGHT
    );
    for (x, label) in x_ticks {
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            sx(*x),
            H - BOTTOM + 14.0,
            encode_text(label)
        );
    }
    for y in [0.0, y_max / 2.0, y_max] {
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{y:.1}</text>",
            LEFT - 4.0,
            sy(y) + 4.0
        );
    }
    for (i, (name, points)) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let line: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y)))
            .collect();
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
            line.join(" ")
        );
        if !name.is_empty() {
            let _ = write!(
                svg,
                "<text x=\"{}\" y=\"{}\" fill=\"{colour}\">{}</text>",
                W - RIGHT - 60.0,
                TOP + 12.0 * i as f64,
                encode_text(name)
            );
        }
    }
    let _ = write!(
        svg,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\
         <text x=\"4\" y=\"{}\">{}</text></svg>",
        (W + LEFT) / 2.0,
        H - 4.0,
        encode_text(x_name),
        TOP - 8.0,
        encode_text(y_name)
    );
    svg
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
            html.matches("<polyline").count(),
            5,
            "rate, distribution, p50, p99 and failures"
        );
        assert!(html.contains("<th>started</th>") && html.contains(">p99</text>"));
    }
}
