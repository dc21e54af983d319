//! `iotmock advisor list` and `iotmock advisor run`: the command line of the conformance
//! runner, with a live progress line per case on a terminal, JSON, JUnit and HTML reports,
//! and an exit status that fails when a case fails.

use crate::advisor::report as advisor_report;
use crate::advisor::{CaseResult, Device, Identity, RunOptions, run_case};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use iotmock_advisor::{CaseId, Outcome, all_cases, custom_auth_cases, qualification_cases};
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum AdvisorCmd {
    /// Every case id, with what it checks.
    List,
    /// Run cases against a device.
    Run(Box<RunArgs>),
}

/// A named set of cases.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Suite {
    /// The Device Qualification Program subset: the TLS cases, MQTT_Connect, MQTT_Subscribe,
    /// MQTT_Publish and MQTT_Connect_Jitter_Backoff_Retries.
    Qualification,
    /// Every case of Device Advisor's.
    All,
    /// iotmock's cases for a device that authenticates with a custom authorizer
    /// (Custom_Auth_Connect, Custom_Auth_Token_Refresh, Custom_Auth_Reconnect_After_Disconnect).
    CustomAuth,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Case ids (with no ids and no --suite: all).
    cases: Vec<String>,
    /// A named set of cases, run before any ids given.
    #[arg(long, value_enum)]
    suite: Option<Suite>,
    /// The device: a shell command; it gets IOTMOCK_HOST, IOTMOCK_PORT, IOTMOCK_CA_FILE,
    /// IOTMOCK_CERT_FILE, IOTMOCK_KEY_FILE, IOTMOCK_CLIENT_ID, IOTMOCK_THING_NAME,
    /// IOTMOCK_TOPIC, IOTMOCK_CASE and IOTMOCK_TRANSPORT (with --transport wss also
    /// IOTMOCK_WSS_PATH and AWS credentials). Without it, the runner prints them per case and waits
    /// for an external device.
    #[arg(long)]
    device_cmd: Option<String>,
    /// Device Advisor configuration, KEY=VALUE (TRIGGER_TOPIC, PAYLOAD_SIZE,
    /// RECONNECTION_ATTEMPTS, JOB_DOCUMENT, EXECUTION_TIMEOUT, SHADOW_NAME, REPORTED_STATE,
    /// DESIRED_STATE).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    settings: Vec<String>,
    /// A policy document (JSON file) to attach to the device certificate instead of the
    /// allow-all one; repeatable. Named after the file.
    #[arg(long = "policy", value_name = "FILE")]
    policies: Vec<PathBuf>,
    /// A topic rule (a JSON file holding a topicRulePayload, as `aws iot create-topic-rule`
    /// takes) every case's mock runs, named after the file; repeatable. What the rules' actions
    /// did with the device's messages goes into the reports.
    #[arg(long = "rule", value_name = "FILE")]
    rules: Vec<PathBuf>,
    /// Reuse this device certificate (PEM; registered without a CA, so send SNI).
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// The private key of --cert.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// The thing name (and client id) for every case.
    #[arg(long)]
    thing: Option<String>,
    /// Keep the mock root CA here (AmazonRootCA1.pem and its key), made on first use, so a
    /// device given it once trusts every run.
    #[arg(long)]
    root_dir: Option<PathBuf>,
    /// Where the broker listens.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// The host name the device connects to (the server certificate names it).
    #[arg(long, default_value = "localhost")]
    host: String,
    /// `tls` (MQTT over mutual TLS on the MQTT port) or `wss` (MQTT over WebSocket on the
    /// port-443 listener: the device gets IOTMOCK_TRANSPORT=wss, IOTMOCK_WSS_PATH, a signed
    /// `/mqtt?...` path, and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION to sign
    /// its own).
    #[arg(long, default_value = "tls", value_parser = ["tls", "wss"])]
    transport: String,
    /// `certificate`, or `custom`: the device authenticates with a custom authorizer that the
    /// case's mock sets up (IOTMOCK_AUTH=custom, IOTMOCK_USERNAME and IOTMOCK_PASSWORD; it
    /// connects to IOTMOCK_PORT, the port-443 listener, with ALPN `mqtt` and no client
    /// certificate). The Custom_Auth_* cases always run this way.
    #[arg(long, default_value = "certificate", value_parser = ["certificate", "custom"])]
    auth: String,
    /// Machine-readable output: the verdicts as JSON, on stdout (`--json`; the verdict lines
    /// then go to stderr) or in a file (`--json FILE`).
    #[arg(long, num_args = 0..=1, default_missing_value = "-")]
    json: Option<PathBuf>,
    /// Write the verdicts as JUnit XML (WARN passes, with the warning in system-out).
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Write an HTML report (index.html) to this directory.
    #[arg(long)]
    report: Option<PathBuf>,
}

pub async fn run_advisor(cmd: AdvisorCmd) -> Result<()> {
    match cmd {
        AdvisorCmd::List => {
            for c in all_cases().into_iter().chain(custom_auth_cases()) {
                println!("{:<54} {}", c.name(), c.summary());
            }
            Ok(())
        }
        AdvisorCmd::Run(args) => run(*args).await,
    }
}

/// The suite's cases, then the ids given (each once); all cases when neither is given.
fn cases(suite: Option<Suite>, names: &[String]) -> Result<Vec<CaseId>> {
    let mut out = match suite {
        Some(Suite::Qualification) => qualification_cases(),
        Some(Suite::All) => all_cases(),
        Some(Suite::CustomAuth) => custom_auth_cases(),
        None if names.is_empty() => all_cases(),
        None => Vec::new(),
    };
    for n in names {
        let id = CaseId::parse(n)
            .with_context(|| format!("unknown case {n} (see `iotmock advisor list`)"))?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

fn settings(raw: &[String]) -> Result<Vec<(String, String)>> {
    raw.iter()
        .map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .with_context(|| format!("--set {s}: expected KEY=VALUE"))
        })
        .collect()
}

fn policies(paths: &[PathBuf]) -> Result<Vec<(String, String)>> {
    paths
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
        .collect()
}

/// The run's root CA: kept in `dir`, or minted for this run.
fn root_ca(dir: Option<&Path>) -> Result<(String, String)> {
    use iotmock_registry::Clock;
    let now = iotmock_registry::SystemClock.now_millis() / 1000;
    let ca = match dir {
        Some(dir) => crate::state_dir::load_or_create_root(dir, now)?.0,
        None => iotmock_pki::MockCa::generate(now)?,
    };
    Ok((ca.cert_pem().to_string(), ca.key_pem().to_string()))
}

fn options(args: &RunArgs) -> Result<RunOptions> {
    let device = match &args.device_cmd {
        Some(cmd) => Device::Command(cmd.clone()),
        None => Device::External,
    };
    let mut opts = RunOptions::new(device);
    opts.settings = settings(&args.settings)?;
    opts.policies = policies(&args.policies)?;
    opts.rules = policies(&args.rules)?;
    opts.identity = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => Some(Identity {
            cert_file: cert.clone(),
            key_file: key.clone(),
        }),
        _ => None,
    };
    opts.thing = args.thing.clone();
    opts.root_ca = Some(root_ca(args.root_dir.as_deref())?);
    opts.listen = args.listen;
    opts.host = args.host.clone();
    opts.websocket = args.transport == "wss";
    opts.custom_auth = args.auth == "custom";
    Ok(opts)
}

/// A spinner while the case runs (drawn only on a terminal), then its verdict line.
async fn run_one(id: CaseId, opts: &RunOptions, lines_to_stdout: bool) -> Result<CaseResult> {
    // An external device's instructions are printed instead.
    let bar = match opts.device {
        Device::External => indicatif::ProgressBar::hidden(),
        _ => indicatif::ProgressBar::new_spinner(),
    };
    bar.set_message(format!("{:<54} running", id.name()));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let r = run_case(id, opts).await;
    bar.finish_and_clear();
    let r = r?;
    let line = format!(
        "{:<54} {} {}",
        id.name(),
        r.verdict.outcome.name(),
        r.verdict.reason
    );
    match lines_to_stdout {
        true => println!("{line}"),
        false => eprintln!("{line}"),
    }
    Ok(r)
}

async fn run(args: RunArgs) -> Result<()> {
    let opts = options(&args)?;
    let now = iotmock_registry::Clock::now_millis(&iotmock_registry::SystemClock);
    let run = advisor_report::RunInfo {
        started: chrono::DateTime::from_timestamp_millis(now)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        device: args
            .device_cmd
            .clone()
            .unwrap_or_else(|| "external (started by hand)".into()),
        suite: match (&args.suite, args.cases.is_empty()) {
            (Some(s), _) => format!("{s:?}"),
            (None, true) => "all".into(),
            (None, false) => args.cases.join(", "),
        },
    };
    let mut results = Vec::new();
    // The verdict lines are the results: on stdout, unless the JSON goes there.
    let lines_to_stdout = args.json.as_deref() != Some(Path::new("-"));
    for id in cases(args.suite, &args.cases)? {
        results.push(run_one(id, &opts, lines_to_stdout).await?);
    }
    write_reports(&args, &results, &run)?;
    let failed = results
        .iter()
        .filter(|r| r.verdict.outcome == Outcome::Fail)
        .count();
    if failed > 0 {
        bail!("{failed} of {} cases failed", results.len());
    }
    Ok(())
}

fn write_reports(
    args: &RunArgs,
    results: &[CaseResult],
    run: &advisor_report::RunInfo,
) -> Result<()> {
    let write = |path: &Path, body: String| {
        std::fs::write(path, body).with_context(|| format!("writing {}", path.display()))
    };
    if let Some(path) = &args.json {
        let doc = serde_json::to_string_pretty(&advisor_report::json(results))?;
        match path.as_os_str() == "-" {
            true => println!("{doc}"),
            false => write(path, doc)?,
        }
    }
    if let Some(path) = &args.junit {
        write(path, advisor_report::junit(results))?;
    }
    if let Some(dir) = &args.report {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        write(&dir.join("index.html"), advisor_report::html(results, run))?;
    }
    Ok(())
}
