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
pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:85%}\
.run{margin-bottom:1.5em}.meta{color:#444;font-size:90%}";

/// What the report's header says about the run.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    /// When the run started (UTC, ISO 8601).
    pub started: String,
    pub version: String,
    /// The device: its command, or "external".
    pub device: String,
    /// The suite or the case ids asked for.
    pub suite: String,
}

/// Where AWS describes Device Advisor's test cases.
const CASES_DOC: &str =
    "https://docs.aws.amazon.com/iot/latest/developerguide/device-advisor-tests.html";

fn rank(o: Outcome) -> u8 {
    match o {
        Outcome::Fail => 0,
        Outcome::Warn => 1,
        _ => 2,
    }
}

/// The HTML page: the run's header, a summary table (failures first), then each case with its
/// reason, duration, parameters, chart and timeline.
pub fn html(results: &[CaseResult], run: &RunInfo) -> String {
    let mut order: Vec<&CaseResult> = results.iter().collect();
    order.sort_by_key(|r| rank(r.verdict.outcome));
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>iotmock advisor</title><style>{STYLE}</style></head><body>\n<h1>iotmock advisor: {} cases, {} failed</h1>\n",
        results.len(),
        failures(results)
    );
    let _ = writeln!(
        out,
        "<table class=\"run\"><tr><th>Started</th><td>{}</td></tr><tr><th>iotmock</th><td>{}</td></tr><tr><th>Device</th><td><code>{}</code></td></tr><tr><th>Cases</th><td>{}</td></tr></table>",
        text(&run.started),
        text(&run.version),
        text(&run.device),
        text(&run.suite)
    );
    out.push_str("<table><tr><th>Case</th><th>Verdict</th><th>Duration</th><th>Reason</th></tr>\n");
    for r in &order {
        let v = r.verdict.outcome.name();
        let _ = writeln!(
            out,
            "<tr><td><a href=\"#{id}\">{id}</a></td><td class=\"{v}\">{v}</td><td>{:.1} s</td><td>{}</td></tr>",
            r.duration.as_secs_f64(),
            text(&r.verdict.reason),
            id = attr(r.id)
        );
    }
    out.push_str("</table>\n");
    for r in order {
        case_section(&mut out, r);
    }
    out.push_str("</body></html>\n");
    out
}

fn case_section(out: &mut String, r: &CaseResult) {
    let v = r.verdict.outcome.name();
    let _ = writeln!(
        out,
        "<h2 id=\"{}\">{} <span class=\"{v}\">{v}</span></h2>\n<p>{}</p>\n<p class=\"meta\">{:.1} s; <a href=\"{CASES_DOC}\">what the case checks</a></p>",
        attr(r.id),
        text(r.id),
        text(&r.verdict.reason),
        r.duration.as_secs_f64()
    );
    if !r.parameters.is_empty() {
        let params: Vec<String> = r
            .parameters
            .iter()
            .map(|(k, v)| format!("<code>{}={}</code>", text(k), text(v)))
            .collect();
        let _ = writeln!(out, "<p class=\"meta\">{}</p>", params.join(" "));
    }
    if let Some((waits, kind)) = &r.backoff {
        let _ = writeln!(
            out,
            "<p>Waits between connection attempts, classified as <b>{kind:?}</b>. Device Advisor expects each wait longer than the one before (exponential backoff, jitter allowed).</p>"
        );
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

/// A bar per measured wait, with a y axis in ms and the attempt number under each bar.
fn chart(waits: &[f64]) -> String {
    let svg = iotmock_client::load::chart::bars(waits, 2, "attempt", "wait", "ms");
    let label = "<svg role=\"img\" aria-label=\"waits between attempts in milliseconds\" ";
    svg.replacen("<svg ", label, 1) + "\n"
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
        let page = html(&results, &RunInfo::default());
        assert!(!page.contains("<script>") && page.contains("&lt;script&gt;"));
        assert!(page.contains("What the topic rules did") && page.contains("&lt;b&gt;"));
        assert_eq!(
            page.matches("<svg role=\"img\"").count(),
            1,
            "one backoff chart"
        );
        assert!(page.contains("\nattempt\n</text>") && page.contains("<td>1.5 s</td>"));
        let (fail, warn) = (
            page.find("class=\"FAIL\">FAIL").unwrap(),
            page.find("class=\"WARN\">WARN").unwrap(),
        );
        assert!(fail < warn, "failures first");
        let run = RunInfo {
            device: "./fw --x <y>".into(),
            ..RunInfo::default()
        };
        assert!(html(&results, &run).contains("./fw --x &lt;y&gt;"));
        assert!(page.contains("<b>Exponential</b>"));
        let doc = json(&results);
        assert_eq!(doc["cases"][0]["verdict"], "FAIL");
        assert_eq!(doc["cases"][1]["backoff"]["classification"], "Exponential");
    }
}
