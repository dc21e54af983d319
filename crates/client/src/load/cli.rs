//! `iotmock load handshake|publish|merge`: runs a load plan (whole, or one worker's share of
//! a sharded run), prints its report, and writes the interval log, the summary and the HTML
//! report where asked; `merge` adds up the workers' logs into one report.

use super::devices::{KeyType, load, register, root_ca, save};
use super::handshake::{self, HandshakePlan};
use super::publish::{self, PublishPlan};
use super::report::{Report, process_cpu};
use super::shard::Shard;
use crate::cli::{CliError, parse_duration, read, version};
use crate::{TlsOptions, client_config};
use clap::{Args, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

/// `iotmock load ...`
#[derive(Debug, Clone, Subcommand)]
pub enum LoadCmd {
    /// Full mutual-TLS handshakes + CONNECT/CONNACK.
    Handshake(HandshakeArgs),
    /// P publishers x S subscribers, end to end.
    Publish(PublishArgs),
    /// Many connections at once: `--target N` opened at `--rate R` a second (over loopback
    /// source addresses 127.0.0.x), held `--hold D` with keep-alive pings, then closed.
    Connections(super::connections_cli::ConnectionsArgs),
    /// Add up the workers' interval logs (`worker-N.hlog` + `worker-N.json` from `--out`)
    /// into one report: histograms added, never percentiles averaged.
    Merge(MergeArgs),
    /// Two runs side by side (each a `--report` directory or a sharded run's logs): the
    /// figures with B's change against A, and with `--report DIR` a page overlaying both.
    Compare(CompareArgs),
}

#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// The first run (the baseline).
    a: PathBuf,
    /// The second run.
    b: PathBuf,
    /// Write compare.html into this directory.
    #[arg(long)]
    report: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// Directories (every `*.hlog` in them) or `.hlog` files; each beside its `.json`.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    #[command(flatten)]
    output: OutputArgs,
}

/// Where a report goes besides standard output.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Machine-readable output: the summary as one JSON object, on stdout instead of the text
    /// (`--json`), or in a file besides the text (`--json FILE`).
    #[arg(long, num_args = 0..=1, default_missing_value = "-")]
    pub(super) json: Option<PathBuf>,
    /// Also write report.html (latency distribution and rate charts), report.json and
    /// latency.hlog into this directory.
    #[arg(long)]
    pub(super) report: Option<PathBuf>,
}

/// This worker's share of a run split across workers (a Kubernetes Indexed Job).
#[derive(Debug, Clone, Args)]
pub struct ShardArgs {
    /// How many workers share the run.
    #[arg(long, env = "IOTMOCK_LOAD_SHARDS")]
    pub(super) shards: Option<u32>,
    /// This worker's index (0-based); an Indexed Job sets JOB_COMPLETION_INDEX.
    #[arg(long, env = "JOB_COMPLETION_INDEX")]
    pub(super) shard_index: Option<u32>,
    /// Write this worker's interval log and summary here (`worker-<index>.hlog`, `.json`),
    /// for `iotmock load merge`.
    #[arg(long)]
    pub(super) out: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// Broker address.
    #[arg(long, default_value = "127.0.0.1:8883")]
    pub(super) mqtt: String,
    /// TLS server name.
    #[arg(long, default_value = "localhost")]
    pub(super) server_name: String,
    /// The mock's API, to register devices and fetch its root CA (`--endpoint-url` of the aws
    /// CLI; `--api` is kept as an alias).
    #[arg(
        long = "endpoint-url",
        alias = "api",
        env = "IOTMOCK_ENDPOINT_URL",
        default_value = "http://127.0.0.1:4580"
    )]
    pub(super) api: String,
    /// Register this many devices through the API first.
    #[arg(long)]
    pub(super) devices: Option<usize>,
    #[arg(long, value_enum, default_value = "ec")]
    pub(super) key_type: KeyType,
    /// Keep registered devices here and reuse them on later runs.
    #[arg(long)]
    pub(super) certs_dir: Option<std::path::PathBuf>,
    /// Or use these files (any MQTT-over-TLS broker): trust anchor, client certificate and key.
    #[arg(long)]
    pub(super) cafile: Option<String>,
    #[arg(long)]
    pub(super) cert: Option<String>,
    #[arg(long)]
    pub(super) key: Option<String>,
    #[arg(short = 'V', long = "protocol-version", default_value = "mqttv311")]
    pub(super) protocol: String,
    /// TLS 1.2 only (default: 1.3 and 1.2).
    #[arg(long)]
    tls12: bool,
    #[command(flatten)]
    pub(super) output: OutputArgs,
    #[command(flatten)]
    pub(super) shard: ShardArgs,
}

#[derive(Debug, Clone, Args)]
pub struct HandshakeArgs {
    #[command(flatten)]
    target: TargetArgs,
    #[arg(short = 'c', long, default_value_t = 8)]
    concurrency: usize,
    /// Stop after this long (e.g. 10s, 500ms).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Stop after this many attempts.
    #[arg(long)]
    count: Option<u64>,
    /// Target attempts per second (default: as fast as the concurrency allows).
    #[arg(long, value_parser = parse_rate)]
    rate: Option<f64>,
    #[command(flatten)]
    transport: TransportArgs,
}

/// How the load's clients reach the broker.
#[derive(Debug, Clone, Args)]
pub struct TransportArgs {
    /// `tls` (mutual TLS, a client certificate) or `wss` (TLS, the WebSocket upgrade at /mqtt
    /// with a SigV4 URL, then CONNECT; `--mqtt` is then the port-443 listener). The URL is
    /// signed with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or a placeholder key when they
    /// are unset (the mock checks signatures only with --sigv4-credentials).
    #[arg(long, default_value = "tls")]
    transport: String,
    /// The region a WebSocket URL is signed for.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// `certificate` (the transport's own credentials) or `custom`: MQTT on the port-443
    /// listener with ALPN `mqtt` and no client certificate, a custom authorizer judging the
    /// CONNECT's `--auth-username` and `--auth-password` (`--mqtt` is then port 443).
    #[arg(long, default_value = "certificate")]
    auth: String,
    /// The CONNECT username, with a custom authorizer's query string when it names one:
    /// `name?x-amz-customauthorizer-name=A&x-amz-customauthorizer-signature=S&TOKEN_KEY=T`.
    #[arg(long, default_value = "load")]
    auth_username: String,
    #[arg(long)]
    auth_password: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct PublishArgs {
    #[command(flatten)]
    target: TargetArgs,
    #[arg(short = 'P', long, default_value_t = 1)]
    publishers: usize,
    #[arg(short = 'S', long, default_value_t = 1)]
    subscribers: usize,
    #[arg(short = 'q', long, default_value_t = 0)]
    qos: u8,
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Messages per publisher.
    #[arg(long, default_value_t = 10_000)]
    count: u64,
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// Target publishes per second across the publishers (default: each as fast as it can),
    /// to measure latency at a known load.
    #[arg(long, value_parser = parse_rate)]
    rate: Option<f64>,
    #[command(flatten)]
    transport: TransportArgs,
}

/// `--rate`: a positive number of operations per second.
pub(super) fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "{s:?} is not a positive number of operations per second"
        )),
    }
}

/// `--devices N`: saved identities from `--certs-dir` when there are enough, else new ones.
/// A worker of a sharded run registers its part of N, under `shard-<index>` of the certs dir.
async fn registered(t: &TargetArgs, shard: Shard, n: usize) -> Result<Vec<TlsOptions>, CliError> {
    let n = (shard.part(n as u64) as usize).max(1);
    let dir = t.certs_dir.as_ref().map(|d| match shard == Shard::WHOLE {
        true => d.clone(),
        false => d.join(format!("shard-{}", shard.index)),
    });
    let saved = match &dir {
        Some(dir) => load(dir)?,
        None => Vec::new(),
    };
    if saved.len() >= n {
        eprintln!("reusing {n} devices saved in the certs dir");
        return Ok(saved.into_iter().take(n).collect());
    }
    let root = match &t.cafile {
        Some(f) => read(f)?,
        None => root_ca(&t.api).await?,
    };
    eprintln!("registering {n} {:?} devices through {}", t.key_type, t.api);
    let ids = register(&t.api, n, t.key_type, &root).await?;
    if let Some(dir) = &dir {
        save(dir, &ids)?;
    }
    Ok(ids)
}

pub(super) async fn identities(
    t: &TargetArgs,
    shard: Shard,
) -> Result<Vec<std::sync::Arc<rustls::ClientConfig>>, CliError> {
    let mut list = match (&t.devices, &t.cert, &t.key) {
        (Some(n), _, _) => registered(t, shard, *n).await?,
        (None, Some(cert), Some(key)) => {
            let ca = t.cafile.as_deref().ok_or(CliError::MissingCafile)?;
            vec![TlsOptions::new(read(ca)?).identity(read(cert)?, read(key)?)]
        }
        _ => return Err(CliError::NoIdentitySource),
    };
    for tls in &mut list {
        tls.tls12_only = t.tls12;
    }
    list.iter()
        .map(|o| client_config(o).map_err(CliError::Identity))
        .collect()
}

type Connections = (Vec<std::sync::Arc<rustls::ClientConfig>>, Option<String>);

/// The TLS configurations the clients use, and for WSS the signed upgrade path.
async fn connections(
    t: &TargetArgs,
    shard: Shard,
    how: &TransportArgs,
) -> Result<Connections, CliError> {
    if how.auth == "custom" {
        return custom_auth_target(t).await;
    }
    if how.auth != "certificate" {
        return Err(CliError::Transport(format!("--auth {}", how.auth)));
    }
    match how.transport.as_str() {
        "tls" => Ok((identities(t, shard).await?, None)),
        "wss" => websocket_target(t, &how.region).await,
        other => Err(CliError::Transport(other.to_string())),
    }
}

/// The root that signs the broker's certificate: `--cafile`, or the mock's from `--api`.
async fn server_root(t: &TargetArgs) -> Result<String, CliError> {
    match &t.cafile {
        Some(path) => read(path),
        None => super::devices::root_ca(&t.api)
            .await
            .map_err(|e| CliError::Signing(format!("fetching the root CA: {e}"))),
    }
}

/// For `--auth custom`: TLS without a client certificate, offering ALPN `mqtt`.
async fn custom_auth_target(t: &TargetArgs) -> Result<Connections, CliError> {
    let mut tls = TlsOptions::new(server_root(t).await?);
    tls.tls12_only = t.tls12;
    tls.alpn = vec![b"mqtt".to_vec()];
    Ok((vec![client_config(&tls).map_err(CliError::Identity)?], None))
}

/// For `--transport wss`: a TLS configuration without a client certificate (trusting
/// `--cafile`, or the mock's root from `--api`), and the signed `/mqtt` path.
async fn websocket_target(t: &TargetArgs, region: &str) -> Result<Connections, CliError> {
    let mut tls = TlsOptions::new(server_root(t).await?);
    tls.tls12_only = t.tls12;
    let config = client_config(&tls).map_err(CliError::Identity)?;
    let creds =
        crate::presign::AwsCredentials::from_env().unwrap_or(crate::presign::AwsCredentials {
            access_key: "AKIDIOTMOCKLOAD".into(),
            secret_key: "iotmock-load".into(),
            session_token: None,
        });
    let port = t.mqtt.rsplit(':').next().unwrap_or("443");
    let path = crate::presign::mqtt_path_now(&t.server_name, port, region, &creds)
        .map_err(CliError::Signing)?;
    Ok((vec![config], Some(path)))
}

fn write_file(path: PathBuf, contents: &[u8]) -> Result<(), CliError> {
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    std::fs::write(&path, contents).map_err(|source| CliError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// Prints the report, and writes what `--report` asks for.
fn emit(report: &Report, output: &OutputArgs) -> Result<(), CliError> {
    match output.json.as_deref() {
        Some(path) if path == std::path::Path::new("-") => println!("{}", report.to_json()),
        Some(path) => {
            write_file(path.to_path_buf(), report.to_json().to_string().as_bytes())?;
            print!("{}", report.to_text());
        }
        None => print!("{}", report.to_text()),
    }
    if let Some(dir) = &output.report {
        super::html::write(dir, report).map_err(|source| CliError::Write {
            path: dir.display().to_string(),
            source,
        })?;
    }
    Ok(())
}

/// A worker's report: printed, and its interval log and summary written to `--out`.
pub(super) fn finish(
    mut report: Report,
    cpu_before: Option<Duration>,
    t: &TargetArgs,
) -> Result<(), CliError> {
    report.client_cpu = process_cpu()
        .zip(cpu_before)
        .map(|(a, b)| a.saturating_sub(b));
    if let Some(dir) = &t.shard.out {
        let index = t.shard.shard_index.unwrap_or(0);
        let log = report
            .intervals
            .to_log()
            .map_err(|e| CliError::Merge(e.to_string()))?;
        write_file(dir.join(format!("worker-{index}.hlog")), &log)?;
        let summary = report.to_json().to_string();
        write_file(dir.join(format!("worker-{index}.json")), summary.as_bytes())?;
    }
    emit(&report, &t.output)
}

/// `iotmock load`.
pub async fn run_load(cmd: LoadCmd) -> Result<(), CliError> {
    let progress = std::io::stderr().is_terminal();
    match cmd {
        LoadCmd::Handshake(a) => {
            let t = &a.target;
            let shard = Shard::new(t.shard.shard_index, t.shard.shards)?;
            let (configs, websocket) = connections(t, shard, &a.transport).await?;
            let whole = shard == Shard::WHOLE;
            let plan = HandshakePlan {
                websocket,
                login: (a.transport.auth == "custom").then(|| {
                    let how = &a.transport;
                    (how.auth_username.clone(), how.auth_password.clone())
                }),
                addr: t.mqtt.clone(),
                server_name: t.server_name.clone(),
                version: version(&t.protocol)?,
                concurrency: a.concurrency,
                duration: a.duration,
                count: a.count.map(|c| shard.part(c)),
                rate: a.rate.map(|r| shard.rate(r)),
                timeout: Duration::from_secs(10),
                id_prefix: if whole {
                    "load".into()
                } else {
                    format!("load-{}", shard.label())
                },
            };
            let cpu = process_cpu();
            let report = handshake::run(plan, configs, progress && t.output.json.is_none()).await;
            finish(report, cpu, t)?;
        }
        LoadCmd::Publish(a) => {
            let t = &a.target;
            let shard = Shard::new(t.shard.shard_index, t.shard.shards)?;
            let (configs, websocket) = connections(t, shard, &a.transport).await?;
            let plan = PublishPlan {
                websocket,
                addr: t.mqtt.clone(),
                server_name: t.server_name.clone(),
                version: version(&t.protocol)?,
                publishers: shard.part(a.publishers as u64) as usize,
                subscribers: a.subscribers,
                qos: a.qos.min(1),
                size: a.size,
                count: a.count,
                duration: a.duration,
                rate: a.rate.map(|r| shard.share(r, a.publishers as u64)),
                run_label: format!("{}-{}", std::process::id(), shard.label()),
            };
            let cpu = process_cpu();
            let report = publish::run(plan, configs, progress && t.output.json.is_none()).await?;
            finish(report, cpu, t)?;
        }
        LoadCmd::Connections(a) => super::connections_cli::run(a, progress).await?,
        LoadCmd::Merge(a) => emit(&merge(&a.inputs)?, &a.output)?,
        LoadCmd::Compare(c) => super::compare::run(&c.a, &c.b, c.report.as_ref())?,
    }
    Ok(())
}

/// The `.hlog` files among `inputs` (directories are searched one level deep).
fn logs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let mut out = Vec::new();
    for input in inputs {
        if !input.is_dir() {
            out.push(input.clone());
            continue;
        }
        let entries = std::fs::read_dir(input)
            .map_err(|e| CliError::Merge(format!("cannot read {}: {e}", input.display())))?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "hlog"))
            .collect();
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

/// Adds up the workers' reports: `X.hlog` for the latencies, `X.json` for counts and failures.
pub fn merge(inputs: &[PathBuf]) -> Result<Report, CliError> {
    let mut merged: Option<Report> = None;
    for log in logs(inputs)? {
        let unreadable = |e: String| CliError::Merge(format!("{}: {e}", log.display()));
        let bytes = std::fs::read(&log).map_err(|e| unreadable(e.to_string()))?;
        let intervals =
            super::timeline::Intervals::from_log(&bytes).map_err(|e| unreadable(e.to_string()))?;
        let summary_path = log.with_extension("json");
        let summary = std::fs::read(&summary_path)
            .map_err(|e| unreadable(format!("no summary {}: {e}", summary_path.display())))?;
        let summary: serde_json::Value =
            serde_json::from_slice(&summary).map_err(|e| unreadable(e.to_string()))?;
        let report = Report::from_parts(&summary, intervals).map_err(unreadable)?;
        match merged.as_mut() {
            Some(m) => m.absorb(&report),
            None => merged = Some(report),
        }
    }
    merged.ok_or_else(|| CliError::Merge("no interval logs (*.hlog) to merge".into()))
}

#[cfg(test)]
mod tests {
    use super::parse_rate;

    #[test]
    fn a_rate_is_a_positive_finite_number() {
        assert_eq!(parse_rate("2500"), Ok(2500.0));
        assert_eq!(parse_rate("0.5"), Ok(0.5));
        for bad in ["0", "-3", "NaN", "inf", "fast", ""] {
            assert!(parse_rate(bad).is_err(), "{bad:?} was taken");
        }
    }
}
