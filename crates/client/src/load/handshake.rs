//! Full mutual-TLS handshakes followed by CONNECT/CONNACK, at a concurrency or a target rate,
//! for a duration or a count. Session resumption is off in every client configuration.

use super::report::Report;
use super::timeline::Timeline;
use crate::{ClientError, ConnectOptions, DeviceClient, Version};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct HandshakePlan {
    pub addr: String,
    pub server_name: String,
    pub version: Version,
    pub concurrency: usize,
    pub duration: Duration,
    pub count: Option<u64>,
    pub rate: Option<f64>,
    pub timeout: Duration,
    /// Client ids are `{id_prefix}-{n}`: distinct per worker when a run is sharded.
    pub id_prefix: String,
    /// MQTT over WebSocket: the upgrade's signed path (`None`: MQTT over TLS).
    pub websocket: Option<String>,
    /// CONNECT username and password (a custom authorizer's credentials).
    pub login: Option<(String, Option<String>)>,
}

/// The cause a failed attempt is counted under.
pub fn cause(e: &ClientError) -> String {
    match e {
        ClientError::Tls(e) => format!("TLS handshake failed ({e})"),
        ClientError::ClosedBeforeConnack => "closed before CONNACK".into(),
        ClientError::Refused(code) => format!("CONNACK code {code:#04x}"),
        ClientError::Timeout(_) => "timeout".into(),
        ClientError::Tcp(_, e) => format!("TCP connect failed ({})", e.kind()),
        other => other.to_string(),
    }
}

struct Shared {
    started: AtomicU64,
    ok: AtomicU64,
    failed: AtomicU64,
    failures: Mutex<BTreeMap<String, u64>>,
    timeline: Arc<Timeline>,
}

/// Runs the plan over `configs` (one per device, used in turn).
pub async fn run(
    plan: HandshakePlan,
    configs: Vec<Arc<rustls::ClientConfig>>,
    progress: bool,
) -> Report {
    let shared = Arc::new(Shared {
        started: AtomicU64::new(0),
        ok: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        failures: Mutex::new(BTreeMap::new()),
        timeline: Timeline::new(),
    });
    let configs = Arc::new(configs);
    let start = shared.timeline.start();
    let deadline = start + plan.duration;
    let bar = super::publish::progress_bar(progress, "handshakes");
    let mut workers = Vec::new();
    for _ in 0..plan.concurrency.max(1) {
        let (plan, shared, configs) = (plan.clone(), shared.clone(), configs.clone());
        workers.push(tokio::spawn(async move {
            worker(plan, shared, configs, start, deadline).await
        }));
    }
    let ticker = {
        let (shared, bar) = (shared.clone(), bar.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                bar.set_message(format!(
                    "ok {}  failed {}",
                    shared.ok.load(Ordering::Relaxed),
                    shared.failed.load(Ordering::Relaxed)
                ));
                bar.tick();
            }
        })
    };
    for w in workers {
        let _ = w.await;
    }
    ticker.abort();
    bar.finish_and_clear();
    let elapsed = start.elapsed();
    let failures = shared
        .failures
        .lock()
        .map(|f| f.clone())
        .unwrap_or_default();
    let scenario = format!(
        "handshake ({:?}, concurrency {})",
        plan.version, plan.concurrency
    );
    let mut report = Report::new(scenario, &shared.timeline, elapsed);
    report.ok = shared.ok.load(Ordering::Relaxed);
    report.failures = failures;
    report
}

async fn worker(
    plan: HandshakePlan,
    shared: Arc<Shared>,
    configs: Arc<Vec<Arc<rustls::ClientConfig>>>,
    start: Instant,
    deadline: Instant,
) {
    let mut recorder = shared.timeline.recorder();
    loop {
        let n = shared.started.fetch_add(1, Ordering::Relaxed);
        if plan.count.is_some_and(|c| n >= c) || Instant::now() >= deadline || configs.is_empty() {
            break;
        }
        if let Some(rate) = plan.rate {
            let due = super::due(start, n, rate).unwrap_or(deadline);
            if due >= deadline {
                break;
            }
            tokio::time::sleep_until(due.into()).await;
        }
        let config = configs[(n as usize) % configs.len()].clone();
        let mut opts = ConnectOptions::new(plan.addr.clone(), format!("{}-{n}", plan.id_prefix));
        opts.server_name = plan.server_name.clone();
        opts.version = plan.version;
        opts.timeout = plan.timeout;
        opts.websocket = plan.websocket.clone();
        if let Some((user, password)) = &plan.login {
            opts.username = Some(user.clone());
            opts.password = password.clone();
        }
        let t0 = Instant::now();
        match DeviceClient::connect(config, &opts).await {
            Ok((client, _)) => {
                recorder.record(t0.elapsed().as_micros() as u64);
                shared.ok.fetch_add(1, Ordering::Relaxed);
                let _ = client.disconnect().await;
            }
            Err(e) => {
                shared.failed.fetch_add(1, Ordering::Relaxed);
                shared.timeline.failed();
                if let Ok(mut f) = shared.failures.lock() {
                    *f.entry(cause(&e)).or_default() += 1;
                }
            }
        }
    }
}
