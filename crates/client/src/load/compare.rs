//! `iotmock load compare A B`: two runs (each a `--report` directory, or the workers' logs of
//! a sharded run) side by side: their summaries with B's change against A, and one page with
//! both latency distributions and both rates over time.

use super::chart;
use super::html::{percentile_axis, percentile_points, rate_points, time_axis};
use super::report::Report;
use crate::cli::CliError;
use html_escape::encode_text;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A run as `--report DIR` wrote it (`latency.hlog` + `report.json`), or as `merge` reads it.
pub fn read_run(path: &Path) -> Result<Report, CliError> {
    let (log, summary) = (path.join("latency.hlog"), path.join("report.json"));
    if !(log.is_file() && summary.is_file()) {
        return super::cli::merge(&[path.to_path_buf()]);
    }
    let unreadable = |e: String| CliError::Merge(format!("{}: {e}", path.display()));
    let bytes = std::fs::read(&log).map_err(|e| unreadable(e.to_string()))?;
    let intervals =
        super::timeline::Intervals::from_log(&bytes).map_err(|e| unreadable(e.to_string()))?;
    let doc = std::fs::read(&summary).map_err(|e| unreadable(e.to_string()))?;
    let doc: serde_json::Value =
        serde_json::from_slice(&doc).map_err(|e| unreadable(e.to_string()))?;
    Report::from_parts(&doc, intervals).map_err(unreadable)
}

/// The figures compared, as (name, A, B).
fn figures(a: &Report, b: &Report) -> Vec<(&'static str, f64, f64)> {
    let q = |r: &Report, q: f64| r.latency.value_at_quantile(q) as f64 / 1000.0;
    vec![
        ("ok", a.ok as f64, b.ok as f64),
        ("rate (/s)", a.rate(), b.rate()),
        ("p50 (ms)", q(a, 0.5), q(b, 0.5)),
        ("p99 (ms)", q(a, 0.99), q(b, 0.99)),
        ("p99.9 (ms)", q(a, 0.999), q(b, 0.999)),
        (
            "max (ms)",
            a.latency.max() as f64 / 1000.0,
            b.latency.max() as f64 / 1000.0,
        ),
    ]
}

fn change(a: f64, b: f64) -> String {
    if a == 0.0 {
        return "-".into();
    }
    format!("{:+.1} %", (b - a) / a * 100.0)
}

/// The text summary: each figure for A and B and B's change.
pub fn text(a: &Report, b: &Report, names: (&str, &str)) -> String {
    let mut out = format!(
        "{:<12} {:>14} {:>14} {:>10}\n",
        "", names.0, names.1, "change"
    );
    for (k, x, y) in figures(a, b) {
        let _ = writeln!(out, "{k:<12} {x:>14.2} {y:>14.2} {:>10}", change(x, y));
    }
    out
}

/// The page: the figures, then both distributions and both rates.
pub fn page(a: &Report, b: &Report, names: (&str, &str)) -> String {
    let (na, nb) = (encode_text(names.0), encode_text(names.1));
    let mut rows = format!("<tr><th></th><th>{na}</th><th>{nb}</th><th>change</th></tr>");
    for (k, x, y) in figures(a, b) {
        let _ = write!(
            rows,
            "<tr><th>{k}</th><td>{x:.2}</td><td>{y:.2}</td><td>{}</td></tr>",
            change(x, y)
        );
    }
    let (pa, pb) = (percentile_points(a), percentile_points(b));
    let latency = chart::lines(&[(names.0, &pa), (names.1, &pb)], &percentile_axis(), "ms");
    let (ra, rb) = (rate_points(a), rate_points(b));
    let end = |p: &[(f64, f64)]| p.last().map_or(0.0, |q| q.0);
    let longer = if end(&ra) >= end(&rb) { &ra } else { &rb };
    let rate = chart::lines(
        &[(names.0, &ra), (names.1, &rb)],
        &time_axis(longer),
        "per second",
    );
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>iotmock load: {na} vs {nb}</title>\
         <style>body{{font:14px sans-serif;margin:2em}}th,td{{text-align:left;padding-right:1em}}\
         svg{{display:block;margin:1em 0}}text{{font:11px sans-serif}}</style></head><body>\
         <h1>{na} vs {nb}</h1><p>{sa} / {sb}</p><table>{rows}</table>\
         <h2>Latency distribution</h2>{latency}<h2>Rate over time</h2>{rate}</body></html>",
        sa = encode_text(&a.scenario),
        sb = encode_text(&b.scenario),
    )
}

/// Reads both runs, prints the comparison, and writes `DIR/compare.html` when asked.
pub fn run(a: &Path, b: &Path, report: Option<&PathBuf>) -> Result<(), CliError> {
    let (ra, rb) = (read_run(a)?, read_run(b)?);
    let names = (a.display().to_string(), b.display().to_string());
    print!("{}", text(&ra, &rb, (&names.0, &names.1)));
    if let Some(dir) = report {
        let write_err = |e: std::io::Error| CliError::Write {
            path: dir.display().to_string(),
            source: e,
        };
        std::fs::create_dir_all(dir).map_err(write_err)?;
        std::fs::write(
            dir.join("compare.html"),
            page(&ra, &rb, (&names.0, &names.1)),
        )
        .map_err(write_err)?;
    }
    Ok(())
}
