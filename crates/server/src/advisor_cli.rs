//! `iotmock advisor list` and `iotmock advisor run`: the command line of the conformance
//! runner, with JSON and JUnit reports and an exit status that fails when a case fails.

use crate::advisor::{CaseResult, RunOptions, run_case};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use iotmock_advisor::{CaseId, Outcome, all_cases};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum AdvisorCmd {
    /// Every case id, with what it checks.
    List,
    /// Run cases against a device command.
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Case ids (all when none are given).
    cases: Vec<String>,
    /// The device: a shell command; it gets IOTMOCK_HOST, IOTMOCK_PORT, IOTMOCK_CA_FILE,
    /// IOTMOCK_CERT_FILE, IOTMOCK_KEY_FILE, IOTMOCK_CLIENT_ID, IOTMOCK_THING_NAME,
    /// IOTMOCK_TOPIC and IOTMOCK_CASE.
    #[arg(long)]
    device_cmd: String,
    /// Device Advisor configuration, KEY=VALUE (TRIGGER_TOPIC, PAYLOAD_SIZE,
    /// RECONNECTION_ATTEMPTS, JOB_DOCUMENT, EXECUTION_TIMEOUT, SHADOW_NAME, REPORTED_STATE,
    /// DESIRED_STATE).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    settings: Vec<String>,
    /// A policy document (JSON file) to attach to the device certificate instead of the
    /// allow-all one; repeatable. Named after the file.
    #[arg(long = "policy", value_name = "FILE")]
    policies: Vec<PathBuf>,
    /// Write the verdicts as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the verdicts as JUnit XML (WARN passes, with the warning in system-out).
    #[arg(long)]
    junit: Option<PathBuf>,
}

pub async fn run_advisor(cmd: AdvisorCmd) -> Result<()> {
    match cmd {
        AdvisorCmd::List => {
            for c in all_cases() {
                println!("{:<54} {}", c.name(), c.summary());
            }
            Ok(())
        }
        AdvisorCmd::Run(args) => run(args).await,
    }
}

fn cases(names: &[String]) -> Result<Vec<CaseId>> {
    if names.is_empty() {
        return Ok(all_cases());
    }
    names
        .iter()
        .map(|n| {
            CaseId::parse(n)
                .with_context(|| format!("unknown case {n} (see `iotmock advisor list`)"))
        })
        .collect()
}

async fn run(args: RunArgs) -> Result<()> {
    let settings = args
        .settings
        .iter()
        .map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .with_context(|| format!("--set {s}: expected KEY=VALUE"))
        })
        .collect::<Result<Vec<_>>>()?;
    let policies = args
        .policies
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--policy {}", path.display()))?;
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "device-policy".into());
            Ok((name, text))
        })
        .collect::<Result<Vec<_>>>()?;
    let opts = RunOptions {
        device_cmd: args.device_cmd,
        settings,
        policies,
    };
    let mut results = Vec::new();
    for id in cases(&args.cases)? {
        eprint!("{:<54} ...", id.name());
        let r = run_case(id, &opts).await?;
        eprintln!(
            "\r{:<54} {} {}",
            id.name(),
            r.verdict.outcome.name(),
            r.verdict.reason
        );
        results.push(r);
    }
    if let Some(path) = &args.json {
        let doc = serde_json::json!({ "cases": results.iter().map(json_case).collect::<Vec<_>>() });
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, junit(&results))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let failed = results
        .iter()
        .filter(|r| r.verdict.outcome == Outcome::Fail)
        .count();
    if failed > 0 {
        bail!("{failed} of {} cases failed", results.len());
    }
    Ok(())
}

fn json_case(r: &CaseResult) -> serde_json::Value {
    serde_json::json!({ "id": r.id, "verdict": r.verdict.outcome.name(), "reason": r.verdict.reason, "evidence": r.evidence })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One testcase per case; FAIL is a failure, WARN passes with the warning in system-out.
fn junit(results: &[CaseResult]) -> String {
    let failures = results
        .iter()
        .filter(|r| r.verdict.outcome == Outcome::Fail)
        .count();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"iotmock advisor\" tests=\"{}\" failures=\"{failures}\">\n",
        results.len()
    );
    for r in results {
        let body = match r.verdict.outcome {
            Outcome::Fail => format!("<failure message=\"{}\"/>", escape(&r.verdict.reason)),
            _ => format!(
                "<system-out>{}: {}</system-out>",
                r.verdict.outcome.name(),
                escape(&r.verdict.reason)
            ),
        };
        out.push_str(&format!(
            "  <testcase classname=\"advisor\" name=\"{}\">{body}</testcase>\n",
            r.id
        ));
    }
    out.push_str("</testsuite>\n");
    out
}
