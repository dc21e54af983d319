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

/// A JUnit report (written with quick-junit): one `<testsuite>` of the run under a
/// `<testsuites>` root, one testcase per case with its time, start and parameters as
/// properties. FAIL is a failure whose body is the case's evidence timeline; WARN passes with
/// the warning and the timeline in system-out.
pub fn junit(results: &[CaseResult]) -> String {
    use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
    let at = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).map(|t| t.fixed_offset());
    let mut suite = TestSuite::new("iotmock advisor");
    let mut total = std::time::Duration::ZERO;
    for r in results {
        let timeline = r.evidence.join("\n");
        let status = match r.verdict.outcome {
            Outcome::Fail => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(r.verdict.reason.as_str())
                    .set_type("FAIL")
                    .set_description(timeline.as_str());
                s
            }
            _ => TestCaseStatus::success(),
        };
        let mut case = TestCase::new(r.id, status);
        case.set_classname("advisor").set_time(r.duration);
        if let Some(t) = at(r.started_ms) {
            case.set_timestamp(t);
        }
        if r.verdict.outcome != Outcome::Fail {
            let out = format!(
                "{}: {}\n{timeline}",
                r.verdict.outcome.name(),
                r.verdict.reason
            );
            case.set_system_out(out);
        }
        for (k, v) in &r.parameters {
            case.add_property(Property::new(k.as_str(), v.as_str()));
        }
        total += r.duration;
        suite.add_test_case(case);
    }
    suite.set_time(total);
    if let Some(t) = results.iter().map(|r| r.started_ms).min().and_then(at) {
        suite.set_timestamp(t);
    }
    let mut report = Report::new("iotmock advisor");
    report.add_test_suite(suite);
    report.to_string().unwrap_or_else(|e| {
        tracing::error!(error = %e, "the JUnit report could not be written");
        String::new()
    })
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
            started_ms: 1_700_000_000_000,
            duration: std::time::Duration::from_millis(1500),
            parameters: vec![("CLIENT_ID".into(), "dev".into())],
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
        assert!(
            xml.contains("<testsuites") && xml.contains("failures=\"1\""),
            "{xml}"
        );
        assert!(
            xml.contains("&quot;quoted&quot; &lt;reason&gt; &amp; more"),
            "{xml}"
        );
        assert!(xml.contains("<system-out>WARN: exponential"), "{xml}");
        assert!(
            xml.contains("time=\"1.500\"") && xml.contains("timestamp=\"2023-11-14T22:13:20"),
            "{xml}"
        );
        assert!(
            xml.contains("<property name=\"CLIENT_ID\" value=\"dev\"/>"),
            "{xml}"
        );
        let read = quick_junit::Report::deserialize_from_str(&xml).expect("JUnit that reads back");
        let cases = &read.test_suites[0].test_cases;
        assert_eq!((read.tests, read.failures, cases.len()), (2, 1, 2));
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
