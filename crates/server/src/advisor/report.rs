//! The advisor's reports: JSON (`{"cases": [...]}`), JUnit XML (WARN passes with the warning
//! in system-out) and an HTML page with each case's verdict and timeline, and a chart of the
//! measured waits for the backoff cases.

use crate::advisor::CaseResult;
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
use iotmock_advisor::Outcome;
use std::fmt::Write;

/// `{"cases": [{"id", "verdict", "reason", "evidence"}]}`, with the backoff waits when measured.
pub fn json(results: &[CaseResult]) -> serde_json::Value {
    let cases: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            let mut case = serde_json::json!({
                "id": r.id,
                "verdict": r.verdict.outcome.name(),
                "reason": r.verdict.reason,
                "evidence": r.evidence,
            });
            if let Some((waits, kind)) = &r.backoff {
                case["backoff"] = serde_json::json!({"waitsMs": waits, "classification": kind});
            }
            if !r.rules.is_empty() {
                case["rules"] = serde_json::json!(r.rules);
            }
            case
        })
        .collect();
    serde_json::json!({ "cases": cases })
}

fn failures(results: &[CaseResult]) -> usize {
    results
        .iter()
        .filter(|r| r.verdict.outcome == Outcome::Fail)
        .count()
}

/// One testcase per case; FAIL is a failure, WARN passes with the warning in system-out.
pub fn junit(results: &[CaseResult]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"iotmock advisor\" tests=\"{}\" failures=\"{}\">\n",
        results.len(),
        failures(results)
    );
    for r in results {
        let reason = &r.verdict.reason;
        let body = match r.verdict.outcome {
            Outcome::Fail => format!("<failure message=\"{}\"/>", attr(reason)),
            outcome => format!(
                "<system-out>{}: {}</system-out>",
                outcome.name(),
                text(reason)
            ),
        };
        let _ = writeln!(
            out,
            "  <testcase classname=\"advisor\" name=\"{}\">{body}</testcase>",
            attr(r.id)
        );
    }
    out.push_str("</testsuite>\n");
    out
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;max-width:70em}\
table{border-collapse:collapse}td,th{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left}\
.PASS{color:#17692b}.WARN{color:#8a5a00}.FAIL{color:#b00020}\
pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:85%}";

/// The HTML page: a summary table, then each case with its reason, chart and timeline.
pub fn html(results: &[CaseResult]) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>iotmock advisor</title><style>{STYLE}</style></head><body>\n<h1>iotmock advisor: {} cases, {} failed</h1>\n<table><tr><th>Case</th><th>Verdict</th><th>Reason</th></tr>\n",
        results.len(),
        failures(results)
    );
    for r in results {
        let v = r.verdict.outcome.name();
        let _ = writeln!(
            out,
            "<tr><td><a href=\"#{id}\">{id}</a></td><td class=\"{v}\">{v}</td><td>{}</td></tr>",
            text(&r.verdict.reason),
            id = attr(r.id)
        );
    }
    out.push_str("</table>\n");
    for r in results {
        let v = r.verdict.outcome.name();
        let _ = writeln!(
            out,
            "<h2 id=\"{}\">{} <span class=\"{v}\">{v}</span></h2>\n<p>{}</p>",
            attr(r.id),
            text(r.id),
            text(&r.verdict.reason)
        );
        if let Some((waits, kind)) = &r.backoff {
            let _ = writeln!(out, "<p>Waits classified as <b>{kind:?}</b>.</p>");
            out.push_str(&chart(waits));
        }
        let _ = writeln!(out, "<pre>{}</pre>", text(&r.evidence.join("\n")));
        if !r.rules.is_empty() {
            let _ = writeln!(
                out,
                "<h3>What the topic rules did</h3>\n<pre>{}</pre>",
                text(&r.rules.join("\n"))
            );
        }
    }
    out.push_str("</body></html>\n");
    out
}

/// A bar per measured wait, scaled to the longest, labelled in ms.
fn chart(waits: &[f64]) -> String {
    let (bar, gap, height) = (48.0, 12.0, 160.0);
    let max = waits.iter().copied().fold(1.0_f64, f64::max);
    let width = waits.len() as f64 * (bar + gap) + gap;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{}\" role=\"img\">",
        height + 40.0
    );
    for (i, w) in waits.iter().enumerate() {
        let h = (w / max * height).max(1.0);
        let x = gap + i as f64 * (bar + gap);
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{}\" width=\"{bar}\" height=\"{h}\" fill=\"#4a78c2\"/><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{w:.0} ms</text>",
            height - h + 20.0,
            x + bar / 2.0,
            height + 34.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use iotmock_advisor::{Backoff, Verdict};

    fn result(outcome: Verdict, backoff: Option<(Vec<f64>, Backoff)>) -> CaseResult {
        CaseResult {
            id: "MQTT_Connect",
            verdict: outcome,
            evidence: vec!["+0ms #1 <- PUBLISH <script>".into()],
            backoff,
            rules: vec!["+0ms rule r: republish Captured {} payload <b>".into()],
        }
    }

    #[test]
    fn reports_escape_and_count() {
        let results = [
            result(Verdict::fail("a \"quoted\" <reason> & more"), None),
            result(
                Verdict::warn("exponential"),
                Some((vec![50.0, 100.0, 200.0], Backoff::Exponential)),
            ),
        ];
        let xml = junit(&results);
        assert!(xml.contains("failures=\"1\""));
        assert!(
            xml.contains("&quot;quoted&quot; &lt;reason&gt; &amp; more"),
            "{xml}"
        );
        assert!(xml.contains("<system-out>WARN: exponential</system-out>"));
        let page = html(&results);
        assert!(!page.contains("<script>") && page.contains("&lt;script&gt;"));
        assert!(page.contains("What the topic rules did") && page.contains("&lt;b&gt;"));
        assert_eq!(page.matches("<rect ").count(), 3);
        assert!(page.contains("<b>Exponential</b>"));
        let doc = json(&results);
        assert_eq!(doc["cases"][0]["verdict"], "FAIL");
        assert_eq!(doc["cases"][1]["backoff"]["classification"], "Exponential");
    }
}
