//! `iotmock advisor`: runs Device Advisor's cases against a device command, each on a fresh
//! mock with its own thing, certificate and policy. The broker plays the case's faults and
//! records the device's timeline; the case (crates/advisor) judges it.

use crate::MockIotCore;
use anyhow::{Context, Result};
use iotmock_advisor::{
    Act, Case, CaseId, Config, Event, Faults, Packet, ServerCert, Timed, Verdict,
};
use iotmock_broker::{Answer, FaultPlan, Observed, PacketSeen, Seen, TlsEnd};
use iotmock_jobs::NewJob;
use iotmock_pki::ServerCertKind;
use iotmock_registry::CreateThing;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What one case found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseResult {
    pub id: &'static str,
    pub verdict: Verdict,
    /// The timeline, one line per event (`+ms conn what`).
    pub evidence: Vec<String>,
}

/// How to run the cases.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The device: a shell command started with the IOTMOCK_* variables.
    pub device_cmd: String,
    /// Device Advisor's configuration keys.
    pub settings: Vec<(String, String)>,
    /// Policies `(name, document)` to attach to the device certificate instead of the
    /// allow-all one.
    pub policies: Vec<(String, String)>,
}

/// What the runner attaches when no policy is given.
const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#;

fn plan(f: &Faults) -> FaultPlan {
    let kinds = [
        (f.withhold_connack, Answer::ConnAck),
        (f.withhold_puback, Answer::PubAck),
        (f.withhold_suback, Answer::SubAck),
        (f.withhold_pingresp, Answer::PingResp),
    ];
    let withhold = kinds
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, a)| *a)
        .collect();
    FaultPlan {
        withhold,
        drop_after: f.drop_after,
        ..FaultPlan::default()
    }
}

fn tls_end(end: TlsEnd) -> iotmock_advisor::TlsEnd {
    use iotmock_advisor::TlsEnd as A;
    match end {
        TlsEnd::Completed => A::Completed,
        TlsEnd::Alert(a) => A::Alert(a),
        TlsEnd::Closed => A::Closed,
        TlsEnd::Failed(e) => A::Failed(e),
        TlsEnd::TimedOut => A::TimedOut,
    }
}

fn cert_kind(c: ServerCert) -> ServerCertKind {
    match c {
        ServerCert::Standard => ServerCertKind::Standard,
        ServerCert::Large => ServerCertKind::Large,
        ServerCert::Untrusted => ServerCertKind::Untrusted,
        ServerCert::WrongName => ServerCertKind::WrongName,
        ServerCert::Expired => ServerCertKind::Expired,
    }
}

fn packet(p: PacketSeen) -> Packet {
    Packet {
        kind: p.kind.to_string(),
        pkid: p.pkid,
        topic: p.topic,
        qos: p.qos,
        dup: p.dup,
        payload: p.payload.map(|b| b.to_vec()).unwrap_or_default(),
        filters: p.filters,
    }
}

fn event(o: Observed) -> Timed {
    let conn = o.conn;
    let event = match o.seen {
        Seen::Accepted => Event::Accepted { conn },
        Seen::Hello { suites, sni } => Event::Hello { conn, suites, sni },
        Seen::Handshake(end) => Event::Handshake {
            conn,
            end: tls_end(end),
        },
        Seen::Connect {
            client_id,
            clean_start,
            keep_alive,
        } => Event::Connect {
            conn,
            client_id,
            clean_start,
            keep_alive,
        },
        Seen::In(p) => Event::In {
            conn,
            packet: packet(p),
        },
        Seen::Out {
            packet: p,
            withheld,
        } => Event::Out {
            conn,
            packet: packet(p),
            withheld,
        },
        Seen::Closed { reason } => Event::Closed {
            conn,
            reason: reason.to_string(),
        },
    };
    Timed {
        at_ms: o.at_ms,
        event,
    }
}

fn describe(t: &Timed, start: i64) -> String {
    let at = t.at_ms - start;
    match &t.event {
        Event::Accepted { conn } => format!("+{at}ms #{conn} accepted"),
        Event::Hello { conn, suites, sni } => {
            let suites: Vec<String> = suites.iter().map(|s| format!("0x{s:04X}")).collect();
            let sni = sni.as_deref().unwrap_or("(none)");
            format!(
                "+{at}ms #{conn} ClientHello sni={sni} suites={}",
                suites.join(",")
            )
        }
        Event::Handshake { conn, end } => format!("+{at}ms #{conn} TLS {end}"),
        Event::Connect {
            conn,
            client_id,
            clean_start,
            keep_alive,
        } => {
            format!(
                "+{at}ms #{conn} CONNECT {client_id} clean={clean_start} keepalive={keep_alive}"
            )
        }
        Event::In { conn, packet } => format!("+{at}ms #{conn} -> {}", packet_line(packet)),
        Event::Out {
            conn,
            packet,
            withheld,
        } => {
            let w = if *withheld { " (withheld)" } else { "" };
            format!("+{at}ms #{conn} <- {}{w}", packet_line(packet))
        }
        Event::Closed { conn, reason } => format!("+{at}ms #{conn} closed {reason}"),
    }
}

/// A packet's kind, id and topic or filters.
fn packet_line(p: &Packet) -> String {
    let id = p.pkid.map(|i| format!(" id={i}")).unwrap_or_default();
    let what = match &p.topic {
        Some(topic) => format!(" {topic} qos={}", p.qos),
        None if !p.filters.is_empty() => format!(" {}", p.filters.join(", ")),
        None => String::new(),
    };
    format!("{}{id}{what}", p.kind)
}

/// A fresh thing with `policies` and an AWS-issued certificate, written to `dir`.
fn provision(
    mock: &MockIotCore,
    thing: &str,
    policies: &[(String, String)],
    dir: &Path,
) -> Result<(PathBuf, PathBuf, PathBuf)> {
    let registry = mock.registry();
    let mut reg = registry
        .write()
        .map_err(|_| anyhow::anyhow!("registry unavailable"))?;
    let region = mock.region().to_string();
    reg.create_thing(&region, thing, CreateThing::default())?;
    let (ca, now) = reg.issuer();
    let keys = iotmock_registry::mint_keys(&ca, now)?;
    let created = reg.register_created_keys(&region, keys, true)?;
    for (name, doc) in policies {
        reg.create_policy(&region, name, Some(doc))
            .with_context(|| format!("policy {name}"))?;
        reg.attach_policy(&region, name, &created.registered.arn)?;
    }
    reg.attach_thing_principal(&region, thing, &created.registered.arn, None)?;
    std::fs::create_dir_all(dir)?;
    let files = (
        dir.join("AmazonRootCA1.pem"),
        dir.join("device.pem.crt"),
        dir.join("private.pem.key"),
    );
    std::fs::write(&files.0, mock.root_ca_pem())?;
    std::fs::write(&files.1, &created.keys.certificate_pem)?;
    std::fs::write(&files.2, &created.keys.private_key_pem)?;
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
            if let Ok((_, notices)) = mock.jobs().create_job(region, &id, new, now_ms) {
                for n in notices {
                    mock.broker()
                        .publish(&n.topic, n.payload.to_string().into(), 1, false);
                }
            }
        }
    }
}

/// Ends the device: SIGTERM, then SIGKILL after two seconds.
async fn stop(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        let _ = tokio::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
    }
    if tokio::time::timeout(Duration::from_secs(2), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}

/// Runs one case against the device command.
pub async fn run_case(id: CaseId, opts: &RunOptions) -> Result<CaseResult> {
    let mock = MockIotCore::builder()
        .server_certificate(cert_kind(id.server_cert()))
        .start()
        .await
        .context("starting the mock")?;
    let thing = format!(
        "advisor-{}",
        id.name().to_ascii_lowercase().replace('_', "-")
    );
    let mut config = Config::new(&thing);
    for (k, v) in &opts.settings {
        config.set(k, v).map_err(anyhow::Error::msg)?;
    }
    let dir = std::env::temp_dir().join(format!("iotmock-advisor-{}-{thing}", std::process::id()));
    config.policies = if opts.policies.is_empty() {
        vec![("advisor-all".to_string(), ALLOW_ALL.to_string())]
    } else {
        opts.policies.clone()
    };
    let (ca, cert, key) = provision(&mock, &thing, &config.policies, &dir)?;
    mock.broker()
        .set_fault_plan(&config.client_id, plan(&id.faults()));
    let mut timeline = mock.broker().observe();
    let mut child = tokio::process::Command::new("sh")
        .args(["-c", &opts.device_cmd])
        .env("IOTMOCK_HOST", "localhost")
        .env("IOTMOCK_PORT", mock.mqtt_addr().port().to_string())
        .env("IOTMOCK_CA_FILE", &ca)
        .env("IOTMOCK_CERT_FILE", &cert)
        .env("IOTMOCK_KEY_FILE", &key)
        .env("IOTMOCK_CLIENT_ID", &config.client_id)
        .env("IOTMOCK_THING_NAME", &thing)
        .env("IOTMOCK_TOPIC", &config.topic)
        .env("IOTMOCK_CASE", id.name())
        .env("IOTMOCK_API", mock.api_url())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the device command")?;
    let mut case = Case::new(id, config.clone());
    let (verdict, evidence) = watch(&mut case, &mut timeline, &mut child, &mock, &config).await;
    stop(&mut child).await;
    mock.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(CaseResult {
        id: id.name(),
        verdict,
        evidence,
    })
}

/// Feeds the timeline to the case until a verdict, the case's timeout, or the device exiting
/// and going quiet.
async fn watch(
    case: &mut Case,
    timeline: &mut tokio::sync::mpsc::UnboundedReceiver<Observed>,
    child: &mut tokio::process::Child,
    mock: &MockIotCore,
    config: &Config,
) -> (Verdict, Vec<String>) {
    let secs = config.timeout_secs.unwrap_or(case.id.timeout_secs());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let (mut evidence, mut start, mut exited) = (Vec::new(), None, false);
    loop {
        let quiet = if exited {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(3600)
        };
        let next = tokio::select! {
            o = timeline.recv() => o,
            _ = child.wait(), if !exited => { exited = true; continue; }
            () = tokio::time::sleep(quiet) => None,
            () = tokio::time::sleep_until(deadline) => None,
        };
        let Some(o) = next else {
            return (case.timed_out(), evidence);
        };
        let t = event(o);
        let t0 = *start.get_or_insert(t.at_ms);
        evidence.push(describe(&t, t0));
        let (acts, verdict) = case.on(&t);
        for a in acts {
            act(mock, config, a, t.at_ms).await;
        }
        if let Some(v) = verdict {
            return (v, evidence);
        }
    }
}
