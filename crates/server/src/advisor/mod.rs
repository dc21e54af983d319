//! `iotmock advisor`: runs Device Advisor's cases against a device (a command, an async task
//! in a Rust test, or external hardware), each on a fresh mock with its own thing, certificate
//! and policy. The broker plays the case's faults and records the device's timeline; the case
//! (crates/advisor) judges it.

#[cfg(feature = "cli")]
pub mod cli;
mod custom;
mod device;
mod events;
#[cfg(feature = "cli")]
pub mod report;

use crate::MockIotCore;
use anyhow::{Context, Result};
use device::{Running, start_device};
use events::{cert_kind, describe, event, plan};
use iotmock_advisor::{Act, Backoff, Case, CaseId, Config, Event, Timed, Verdict};
use iotmock_broker::Observed;
use iotmock_jobs::NewJob;
use iotmock_registry::CreateThing;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// What one case found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseResult {
    pub id: &'static str,
    pub verdict: Verdict,
    /// The timeline, one line per event (`+ms #conn what`).
    pub evidence: Vec<String>,
    /// For the backoff cases: the waits measured (ms) and how they were classified.
    pub backoff: Option<(Vec<f64>, Backoff)>,
    /// What the topic rules given to the run did with the device's messages (the action
    /// log, one line per action).
    pub rules: Vec<String>,
    /// When the case started (wall clock, epoch ms) and how long it ran.
    pub started_ms: i64,
    pub duration: std::time::Duration,
    /// The case's parameters (Device Advisor's configuration keys as the run resolved them).
    pub parameters: Vec<(String, String)>,
}

/// Where and as whom the device connects: what the `IOTMOCK_*` variables carry.
#[derive(Debug, Clone)]
pub struct DeviceEnv {
    pub host: String,
    pub port: u16,
    pub ca_file: PathBuf,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub client_id: String,
    pub thing_name: String,
    /// The case's publish or trigger topic.
    pub topic: String,
    pub case: &'static str,
    /// The control-plane API (for devices that provision themselves).
    pub api_url: String,
    /// MQTT over WebSocket: the signed `/mqtt` path on `port` (the port-443 listener), signed
    /// with [`WSS_ACCESS_KEY`] (`None`: MQTT over mutual TLS).
    pub websocket: Option<String>,
    /// The mock's region (what a WebSocket URL is signed for).
    pub region: String,
    /// A custom authorizer's credentials (username, password): the device connects to `port`
    /// (the port-443 listener) with ALPN `mqtt` and no client certificate.
    pub auth: Option<(String, String)>,
}

/// The credentials a device under test over WebSocket gets (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`), to sign its own URL with; the mock does not check them.
pub const WSS_ACCESS_KEY: (&str, &str) = ("AKIDIOTMOCKADVISOR", "iotmock-advisor");

impl DeviceEnv {
    /// The environment a device command gets.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        let path = |p: &PathBuf| p.display().to_string();
        let transport = if self.websocket.is_some() {
            "wss"
        } else {
            "tls"
        };
        vec![
            ("IOTMOCK_HOST", self.host.clone()),
            ("IOTMOCK_PORT", self.port.to_string()),
            ("IOTMOCK_CA_FILE", path(&self.ca_file)),
            ("IOTMOCK_CERT_FILE", path(&self.cert_file)),
            ("IOTMOCK_KEY_FILE", path(&self.key_file)),
            ("IOTMOCK_CLIENT_ID", self.client_id.clone()),
            ("IOTMOCK_THING_NAME", self.thing_name.clone()),
            ("IOTMOCK_TOPIC", self.topic.clone()),
            ("IOTMOCK_CASE", self.case.to_string()),
            ("IOTMOCK_API", self.api_url.clone()),
            ("IOTMOCK_TRANSPORT", transport.to_string()),
            (
                "IOTMOCK_WSS_PATH",
                self.websocket.clone().unwrap_or_default(),
            ),
            ("AWS_ACCESS_KEY_ID", WSS_ACCESS_KEY.0.to_string()),
            ("AWS_SECRET_ACCESS_KEY", WSS_ACCESS_KEY.1.to_string()),
            ("AWS_REGION", self.region.clone()),
            (
                "IOTMOCK_AUTH",
                if self.auth.is_some() {
                    "custom"
                } else {
                    "certificate"
                }
                .to_string(),
            ),
            (
                "IOTMOCK_USERNAME",
                self.auth.as_ref().map(|a| a.0.clone()).unwrap_or_default(),
            ),
            (
                "IOTMOCK_PASSWORD",
                self.auth.as_ref().map(|a| a.1.clone()).unwrap_or_default(),
            ),
        ]
    }
}

/// An in-process device: called once per case with where to connect; dropped (aborted) when
/// the case is decided.
pub type DeviceTask =
    Arc<dyn Fn(DeviceEnv) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The device under test.
#[derive(Clone)]
pub enum Device {
    /// A shell command started with the `IOTMOCK_*` variables, ended with SIGTERM then
    /// SIGKILL.
    Command(String),
    /// An async task in this process (firmware tests in Rust).
    Task(DeviceTask),
    /// Real hardware: the runner prints where to connect and waits.
    External,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Command(c) => write!(f, "Command({c:?})"),
            Device::Task(_) => f.write_str("Task"),
            Device::External => f.write_str("External"),
        }
    }
}

/// A device identity to reuse instead of minting one per case: its certificate (registered
/// without a CA, ACTIVE, so the device must send SNI as AWS requires) and key files.
#[derive(Debug, Clone)]
pub struct Identity {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// How to run the cases.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub device: Device,
    /// Device Advisor's configuration keys.
    pub settings: Vec<(String, String)>,
    /// Policies `(name, document)` to attach to the device certificate instead of the
    /// allow-all one.
    pub policies: Vec<(String, String)>,
    /// Topic rules `(name, topicRulePayload JSON)` every case's mock runs.
    pub rules: Vec<(String, String)>,
    /// Reuse this certificate and key.
    pub identity: Option<Identity>,
    /// The thing (and client id) for every case, instead of one per case.
    pub thing: Option<String>,
    /// The root CA (certificate, key PEM) every case's mock uses.
    pub root_ca: Option<(String, String)>,
    /// Where the broker listens (loopback, ephemeral port by default).
    pub listen: std::net::SocketAddr,
    /// The host name the device is told to connect to (in the server certificate too).
    pub host: String,
    /// The device connects over MQTT over WebSocket (port 443, a signed URL) instead of
    /// mutual TLS; the TLS cases then see no ClientHello of their own.
    pub websocket: bool,
    /// The device authenticates with a custom authorizer (a username and password on the
    /// port-443 listener, ALPN `mqtt`); the Custom_Auth_* cases always do.
    pub custom_auth: bool,
}

impl RunOptions {
    pub fn new(device: Device) -> Self {
        Self {
            device,
            settings: Vec::new(),
            policies: Vec::new(),
            rules: Vec::new(),
            identity: None,
            thing: None,
            root_ca: None,
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            host: "localhost".into(),
            websocket: false,
            custom_auth: false,
        }
    }
}

/// What the runner attaches when no policy is given.
const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#;

/// The certificate (ARN, certificate PEM, key PEM) the case's device presents.
fn credentials(
    mock: &MockIotCore,
    reg: &mut iotmock_registry::Registry,
    identity: Option<&Identity>,
) -> Result<(String, String, String)> {
    let region = mock.region().to_string();
    if let Some(id) = identity {
        let read = |p: &Path| {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
        };
        let (cert, key) = (read(&id.cert_file)?, read(&id.key_file)?);
        let registered =
            reg.register_certificate_without_ca(&region, Some(&cert), Some("ACTIVE"))?;
        return Ok((registered.arn, cert, key));
    }
    let (ca, now) = reg.issuer();
    let keys = iotmock_registry::mint_keys(&ca, now)?;
    let created = reg.register_created_keys(&region, keys, true)?;
    Ok((
        created.registered.arn,
        created.keys.certificate_pem,
        created.keys.private_key_pem,
    ))
}

/// A thing with `policies` and a certificate, written to `dir`: (CA, certificate, key) files.
fn provision(
    mock: &MockIotCore,
    thing: &str,
    opts: &RunOptions,
    policies: &[(String, String)],
    dir: &Path,
) -> Result<(PathBuf, PathBuf, PathBuf)> {
    let registry = mock.registry();
    let mut reg = registry
        .write()
        .map_err(|_| anyhow::anyhow!("registry unavailable"))?;
    let region = mock.region().to_string();
    reg.create_thing(&region, thing, CreateThing::default())?;
    let (arn, cert, key) = credentials(mock, &mut reg, opts.identity.as_ref())?;
    for (name, doc) in policies {
        reg.create_policy(&region, name, Some(doc))
            .with_context(|| format!("policy {name}"))?;
        reg.attach_policy(&region, name, &arn)?;
    }
    reg.attach_thing_principal(&region, thing, &arn, None)?;
    std::fs::create_dir_all(dir)?;
    let ca_file = dir.join("AmazonRootCA1.pem");
    std::fs::write(&ca_file, mock.root_ca_pem())?;
    if let Some(id) = &opts.identity {
        return Ok((ca_file, id.cert_file.clone(), id.key_file.clone()));
    }
    let files = (
        ca_file,
        dir.join("device.pem.crt"),
        dir.join("private.pem.key"),
    );
    std::fs::write(&files.1, cert)?;
    std::fs::write(&files.2, key)?;
    Ok(files)
}

/// The timeline can run ahead of the broker: waits (up to a second) until the device's
/// subscription to `topic` is in place.
async fn subscribed(mock: &MockIotCore, config: &Config, topic: &str) {
    for _ in 0..100 {
        if mock.broker().receives(&config.client_id, topic) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Carries out what a case asks.
async fn act(mock: &MockIotCore, config: &Config, a: Act, now_ms: i64) {
    match a {
        Act::Publish {
            topic,
            payload,
            qos,
        } => {
            subscribed(mock, config, &topic).await;
            mock.broker().publish(&topic, payload.into(), qos, false);
        }
        Act::LiftFaults => mock.broker().clear_fault_plan(&config.client_id),
        Act::SetFaults(faults) => mock
            .broker()
            .set_fault_plan(&config.client_id, plan(&faults)),
        Act::RefreshGrant => mock.broker().nudge_grants(false),
        Act::LapseGrant => mock.broker().nudge_grants(true),
        Act::Disconnect { clean_session } => {
            mock.broker()
                .disconnect(&config.client_id, clean_session, true);
        }
        Act::SetDesired {
            shadow,
            state,
            client_token,
        } => {
            let delta = format!("{}update/delta", config.shadow_prefix());
            subscribed(mock, config, &delta).await;
            let handle = match &shadow {
                Some(name) => mock.named_shadow(&config.thing, name),
                None => mock.shadow(&config.thing),
            };
            let update =
                serde_json::json!({"state": {"desired": state}, "clientToken": client_token});
            if let Err(e) = handle.update(update) {
                tracing::warn!(error = %e, "the advisor could not set the desired state");
            }
        }
        Act::CreateJob { id, document } => {
            let region = mock.region();
            let account = mock.account_id();
            let arn = format!("arn:aws:iot:{region}:{account}:thing/{}", config.thing);
            let new = NewJob {
                document,
                targets: vec![arn],
                things: vec![config.thing.clone()],
                ..NewJob::default()
            };
            if let Err(e) = mock.jobs().create_job(region, &id, new, now_ms) {
                tracing::warn!(error = %e, "the advisor could not create its job");
            }
        }
    }
}

/// Starts the case's mock: its server certificate, the run's root CA and listener.
async fn case_mock(id: CaseId, opts: &RunOptions, config: &Config) -> Result<MockIotCore> {
    let endpoint = iotmock_registry::EndpointConfig {
        host: opts.host.clone(),
        ..Default::default()
    };
    // Some TLS stacks (s2n) wait 10-30 s before closing on a certificate they refuse.
    let settings = iotmock_broker::BrokerSettings {
        handshake_timeout: Duration::from_secs(60),
        ..Default::default()
    };
    let mut builder = MockIotCore::builder()
        .broker_settings(settings)
        .server_certificate(cert_kind(id.server_cert()))
        .mqtt_addr(opts.listen)
        .endpoint(endpoint);
    if let Some((cert, key)) = &opts.root_ca {
        builder = builder.root_ca(cert.clone(), key.clone());
    }
    let custom = custom_auth(id, opts);
    if custom {
        builder = builder.function(custom::FUNCTION, custom::function(config));
    }
    let mock = builder.start().await.context("starting the mock")?;
    if custom {
        custom::authorizer(&mock)?;
    }
    Ok(mock)
}

/// Whether the case's device authenticates with a custom authorizer.
fn custom_auth(id: CaseId, opts: &RunOptions) -> bool {
    opts.custom_auth || id.is_custom_auth()
}

/// The case's configuration: its thing, the settings and the policies.
fn case_config(id: CaseId, opts: &RunOptions) -> Result<Config> {
    let thing = opts.thing.clone().unwrap_or_else(|| {
        format!(
            "advisor-{}",
            id.name().to_ascii_lowercase().replace('_', "-")
        )
    });
    let mut config = Config::new(&thing);
    for (k, v) in &opts.settings {
        config.set(k, v).map_err(anyhow::Error::msg)?;
    }
    config.policies = if opts.policies.is_empty() {
        vec![("advisor-all".to_string(), ALLOW_ALL.to_string())]
    } else {
        opts.policies.clone()
    };
    Ok(config)
}

/// Runs one case against the device.
/// Where the device connects: the MQTT port, or the port-443 listener and a signed URL.
fn door(mock: &MockIotCore, opts: &RunOptions, custom: bool) -> Result<(u16, Option<String>)> {
    if custom {
        let addr = mock.port_443_addr();
        return Ok((
            addr.context("the port-443 listener is closed")?.port(),
            None,
        ));
    }
    if !opts.websocket {
        return Ok((mock.mqtt_addr().port(), None));
    }
    let port = mock
        .port_443_addr()
        .context("the port-443 listener is closed")?
        .port();
    let creds = iotmock_client::presign::AwsCredentials {
        access_key: WSS_ACCESS_KEY.0.into(),
        secret_key: WSS_ACCESS_KEY.1.into(),
        session_token: None,
    };
    let now_ms = u64::try_from(mock.now_millis()).unwrap_or(0);
    let now = std::time::UNIX_EPOCH + Duration::from_millis(now_ms);
    let host = format!("{}:{port}", opts.host);
    let path = iotmock_client::presign::mqtt_path(
        &host,
        mock.region(),
        &creds,
        now,
        Duration::from_secs(3600),
    )
    .map_err(|e| anyhow::anyhow!("signing the WebSocket URL: {e}"))?;
    Ok((port, Some(path)))
}

pub async fn run_case(id: CaseId, opts: &RunOptions) -> Result<CaseResult> {
    let started = std::time::Instant::now();
    let started_ms = iotmock_registry::Clock::now_millis(&iotmock_registry::SystemClock);
    let config = case_config(id, opts)?;
    let mock = case_mock(id, opts, &config).await?;
    let dir = std::env::temp_dir().join(format!(
        "iotmock-advisor-{}-{}",
        std::process::id(),
        id.name()
    ));
    let (ca_file, cert_file, key_file) =
        provision(&mock, &config.thing, opts, &config.policies, &dir)?;
    install_rules(&mock, &opts.rules)?;
    mock.rules().trace_evaluations(!opts.rules.is_empty());
    mock.broker()
        .set_fault_plan(&config.client_id, plan(&id.faults()));
    let mut timeline = mock.broker().observe();
    let custom = custom_auth(id, opts);
    let (port, websocket) = door(&mock, opts, custom)?;
    let env = DeviceEnv {
        auth: custom.then(|| (custom::USERNAME.to_string(), custom::PASSWORD.to_string())),
        host: opts.host.clone(),
        port,
        websocket,
        region: mock.region().to_string(),
        ca_file,
        cert_file,
        key_file,
        client_id: config.client_id.clone(),
        thing_name: config.thing.clone(),
        topic: config.topic.clone(),
        case: id.name(),
        api_url: mock.api_url(),
    };
    let mut device = start_device(&opts.device, &env)?;
    let mut case = Case::new(id, config.clone());
    let (verdict, evidence) = watch(&mut case, &mut timeline, &mut device, &mock, &config).await;
    device.stop().await;
    let rules = rule_trace(&mock, !opts.rules.is_empty());
    mock.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    let mut parameters = vec![
        ("CLIENT_ID".to_string(), config.client_id.clone()),
        ("THING_NAME".to_string(), config.thing.clone()),
        ("TOPIC".to_string(), config.topic.clone()),
    ];
    parameters.extend(opts.settings.iter().cloned());
    Ok(CaseResult {
        id: id.name(),
        verdict,
        evidence,
        backoff: case.backoff_seen(),
        rules,
        started_ms,
        duration: started.elapsed(),
        parameters,
    })
}

/// Creates the run's topic rules in the case's mock.
fn install_rules(mock: &MockIotCore, rules: &[(String, String)]) -> Result<()> {
    let now_secs = mock.now_millis() / 1000;
    for (name, text) in rules {
        let payload: serde_json::Value =
            serde_json::from_str(text).with_context(|| format!("rule {name}: not JSON"))?;
        mock.rules()
            .change(|book| {
                book.create(mock.region(), name, &payload, Vec::new(), now_secs)
                    .map(|_| ())
            })
            .map_err(|e| anyhow::anyhow!("rule {name}: {e:?}"))?;
    }
    Ok(())
}

/// The action log as report lines: time from the first action, rule, action, outcome, the
/// resolved parameters and the payload.
fn rule_trace(mock: &MockIotCore, any: bool) -> Vec<String> {
    if !any {
        return Vec::new();
    }
    let log = mock.actions(None);
    let evaluations = mock.rules().evaluations();
    let starts = log
        .iter()
        .map(|e| e.time_ms)
        .chain(evaluations.iter().map(|e| e.time_ms));
    let t0 = starts.min().unwrap_or(0);
    let mut lines: Vec<(i64, String)> = evaluations
        .iter()
        .map(|e| {
            let what = match &e.not_matched {
                None => "matched".to_string(),
                Some(why) => format!("not matched: {why}"),
            };
            (
                e.time_ms,
                format!(
                    "+{}ms rule {} on {}: {what}",
                    e.time_ms - t0,
                    e.rule,
                    e.topic
                ),
            )
        })
        .collect();
    lines.extend(log.iter().map(|e| {
        let payload: String = String::from_utf8_lossy(&e.payload)
            .chars()
            .take(200)
            .collect();
        let line = format!(
            "+{}ms rule {}: {} {:?} {} payload {payload}",
            e.time_ms - t0,
            e.rule,
            e.action,
            e.outcome,
            serde_json::Value::Object(e.params.clone())
        );
        (e.time_ms, line)
    }));
    lines.sort_by_key(|(t, _)| *t);
    lines.into_iter().map(|(_, l)| l).collect()
}

/// The library entry for firmware tests in Rust: runs one case against `device`, an async
/// function given where to connect, and returns the verdict with its evidence.
pub async fn check_device<F, Fut>(
    id: CaseId,
    settings: &[(&str, &str)],
    device: F,
) -> Result<CaseResult>
where
    F: Fn(DeviceEnv) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let task: DeviceTask = Arc::new(move |env| Box::pin(device(env)));
    let mut opts = RunOptions::new(Device::Task(task));
    opts.settings = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    run_case(id, &opts).await
}

/// Feeds the timeline to the case until a verdict, the case's timeout, or the device exiting
/// and going quiet.
async fn watch(
    case: &mut Case,
    timeline: &mut tokio::sync::mpsc::UnboundedReceiver<Observed>,
    device: &mut Running,
    mock: &MockIotCore,
    config: &Config,
) -> (Verdict, Vec<String>) {
    let secs = config.timeout_secs.unwrap_or(case.id.timeout_secs());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let (mut evidence, mut start, mut exited) = (Vec::new(), None, false);
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    loop {
        let quiet = if exited {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(3600)
        };
        let next = tokio::select! {
            o = timeline.recv() => o.map(event),
            _ = ticks.tick() => Some(Timed { at_ms: mock.now_millis(), event: Event::Tick }),
            () = device.exited(), if !exited => { exited = true; continue; }
            () = tokio::time::sleep(quiet) => None,
            () = tokio::time::sleep_until(deadline) => None,
        };
        let Some(t) = next else {
            let mut verdict = case.timed_out();
            if exited {
                verdict.reason = verdict
                    .reason
                    .replacen("timed out", "the device exited first", 1);
            }
            return (verdict, evidence);
        };
        if t.event != Event::Tick {
            let t0 = *start.get_or_insert(t.at_ms);
            evidence.push(describe(&t, t0));
        }
        let (acts, verdict) = case.on(&t);
        for a in acts {
            act(mock, config, a, t.at_ms).await;
        }
        if let Some(v) = verdict {
            return (v, evidence);
        }
    }
}
