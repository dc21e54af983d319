//! P publishers x S subscribers on one topic: end-to-end messages per second, latency from
//! the publish timestamp carried in each payload, and lost and duplicated deliveries.

use super::report::Report;
use super::timeline::{Recorder, Timeline};
use crate::{ClientError, ConnectOptions, DeviceClient, Packet, Version};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// QoS 1 publishes in flight per publisher (AWS accepts 100 unacknowledged).
const WINDOW: usize = 100;

#[derive(Debug, Clone)]
pub struct PublishPlan {
    pub addr: String,
    pub server_name: String,
    pub version: Version,
    pub publishers: usize,
    pub subscribers: usize,
    pub qos: u8,
    pub size: usize,
    /// Messages per publisher.
    pub count: u64,
    pub duration: Duration,
    /// Publishes per second across this run's publishers (default: each as fast as it can).
    /// Each publisher keeps its share on a schedule, so latency is measured at a known load.
    pub rate: Option<f64>,
    /// Names this run's topic and client ids; distinct per worker when a run is sharded.
    pub run_label: String,
    /// MQTT over WebSocket: the upgrade's signed path (`None`: MQTT over TLS).
    pub websocket: Option<String>,
}

/// Why a publish run could not start.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// No device identity to connect with.
    #[error("no device identity")]
    NoIdentity,
    /// A publisher or subscriber could not connect.
    #[error("{id}: {source}")]
    Connect { id: String, source: ClientError },
    /// A subscriber's SUBSCRIBE failed on the wire.
    #[error("{id}: SUBSCRIBE failed: {source}")]
    Subscribe { id: String, source: ClientError },
    /// The broker refused the subscription; the SUBACK codes.
    #[error("subscription refused with code {0:?}")]
    SubscriptionRefused(Vec<u8>),
}

/// A spinner on a terminal, nothing otherwise.
pub fn progress_bar(enabled: bool, what: &str) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) =
        ProgressStyle::with_template(&format!("{{spinner}} {what} {{elapsed}} {{msg}}"))
    {
        bar.set_style(style);
    }
    bar
}

/// A payload stamped with `sent` (since the run's start), the publisher and the sequence.
fn payload(publisher: u32, seq: u32, sent: Duration, size: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(size.max(16));
    p.extend_from_slice(&(sent.as_nanos() as u64).to_be_bytes());
    p.extend_from_slice(&publisher.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.resize(size.max(16), b'x');
    p
}

fn decode(p: &[u8]) -> Option<(u64, u32, u32)> {
    let t = u64::from_be_bytes(p.get(..8)?.try_into().ok()?);
    let a = u32::from_be_bytes(p.get(8..12)?.try_into().ok()?);
    let b = u32::from_be_bytes(p.get(12..16)?.try_into().ok()?);
    Some((t, a, b))
}

async fn connect(
    plan: &PublishPlan,
    config: Arc<rustls::ClientConfig>,
    id: String,
) -> Result<DeviceClient, PublishError> {
    let mut opts = ConnectOptions::new(plan.addr.clone(), id.clone()).version(plan.version);
    opts.server_name = plan.server_name.clone();
    opts.websocket = plan.websocket.clone();
    DeviceClient::connect(config, &opts)
        .await
        .map(|(c, _)| c)
        .map_err(|source| PublishError::Connect { id, source })
}

/// A paced publisher's schedule: its share of the run's rate, starting `index / rate` after
/// the run, so that the publishers take turns instead of sending together.
struct Pace {
    start: Instant,
    rate: f64,
}

impl Pace {
    fn new(plan: &PublishPlan, index: u32, t0: Instant) -> Option<Pace> {
        let total = plan.rate?;
        Some(Pace {
            start: super::due(t0, u64::from(index), total)?,
            rate: total / plan.publishers.max(1) as f64,
        })
    }

    /// Waits until publish `seq` is due (or the deadline comes first); when it was due.
    async fn wait(&self, seq: u64, deadline: Instant) -> Instant {
        let due = super::due(self.start, seq, self.rate).map_or(deadline, |d| d.min(deadline));
        tokio::time::sleep_until(due.into()).await;
        due
    }
}

async fn publisher(
    mut client: DeviceClient,
    idx: u32,
    plan: PublishPlan,
    topic: String,
    t0: Instant,
    deadline: Instant,
) -> u64 {
    let mut outstanding = 0usize;
    let mut sent = 0;
    let pace = Pace::new(&plan, idx, t0);
    for seq in 0..plan.count {
        let due = match &pace {
            Some(pace) => Some(pace.wait(seq, deadline).await),
            None => None,
        };
        if Instant::now() >= deadline {
            break;
        }
        // Latency counts from when a paced publish was due, so falling behind shows.
        let stamp = due.unwrap_or_else(Instant::now).duration_since(t0);
        let body = payload(idx, seq as u32, stamp, plan.size);
        if client.send_publish(&topic, body, plan.qos).await.is_err() {
            break;
        }
        sent += 1;
        if plan.qos == 1 {
            outstanding += 1;
            while outstanding >= WINDOW {
                match tokio::time::timeout_at(deadline.into(), client.recv()).await {
                    Ok(Ok(Packet::PubAck { .. })) => outstanding -= 1,
                    Ok(Ok(_)) => {}
                    _ => return sent,
                }
            }
        }
    }
    while outstanding > 0 {
        match tokio::time::timeout_at(deadline.into(), client.recv()).await {
            Ok(Ok(Packet::PubAck { .. })) => outstanding -= 1,
            Ok(Ok(_)) => {}
            _ => break,
        }
    }
    let _ = client.disconnect().await;
    sent
}

struct Received {
    unique: u64,
    duplicates: u64,
    last: Option<Instant>,
}

async fn subscriber(
    mut client: DeviceClient,
    expected: u64,
    mut recorder: Recorder,
    t0: Instant,
    deadline: Instant,
) -> Received {
    let mut seen = HashSet::new();
    let mut r = Received {
        unique: 0,
        duplicates: 0,
        last: None,
    };
    while r.unique < expected {
        let Ok(Ok(msg)) = tokio::time::timeout_at(deadline.into(), client.next_message()).await
        else {
            break;
        };
        let Some((sent_ns, p, s)) = decode(&msg.payload) else {
            continue;
        };
        if seen.insert((p, s)) {
            r.unique += 1;
            let now_ns = t0.elapsed().as_nanos() as u64;
            recorder.record(now_ns.saturating_sub(sent_ns) / 1000);
            r.last = Some(Instant::now());
        } else {
            r.duplicates += 1;
        }
    }
    let _ = client.disconnect().await;
    r
}

/// The `i`th identity, round robin.
fn pick(
    configs: &[Arc<rustls::ClientConfig>],
    i: usize,
) -> Result<Arc<rustls::ClientConfig>, PublishError> {
    configs
        .get(i % configs.len().max(1))
        .cloned()
        .ok_or(PublishError::NoIdentity)
}

/// Connects the subscribers (the first identities) and subscribes each to `topic`.
async fn subscribe_all(
    plan: &PublishPlan,
    configs: &[Arc<rustls::ClientConfig>],
    topic: &str,
) -> Result<Vec<DeviceClient>, PublishError> {
    let mut subs = Vec::new();
    for i in 0..plan.subscribers {
        let id = format!("lsub-{}-{i}", plan.run_label);
        let mut c = connect(plan, pick(configs, i)?, id.clone()).await?;
        let codes = c
            .subscribe(&[(topic, plan.qos)])
            .await
            .map_err(|source| PublishError::Subscribe { id, source })?;
        if codes.first().is_some_and(|c| *c > 1) {
            return Err(PublishError::SubscriptionRefused(codes));
        }
        subs.push(c);
    }
    Ok(subs)
}

/// Runs the plan; `configs` are device identities used in turn.
pub async fn run(
    plan: PublishPlan,
    configs: Vec<Arc<rustls::ClientConfig>>,
    progress: bool,
) -> Result<Report, PublishError> {
    let topic = format!("load/{}/t", plan.run_label);
    let subs = subscribe_all(&plan, &configs, &topic).await?;
    let mut pubs = Vec::new();
    for i in 0..plan.publishers {
        pubs.push(
            connect(
                &plan,
                pick(&configs, plan.subscribers + i)?,
                format!("lpub-{}-{i}", plan.run_label),
            )
            .await?,
        );
    }
    let bar = progress_bar(progress, "publishing");
    let timeline = Timeline::new();
    let t0 = timeline.start();
    let pub_deadline = t0 + plan.duration;
    let sub_deadline = pub_deadline + Duration::from_secs(5);
    let expected = plan.count * plan.publishers as u64;
    let sub_tasks: Vec<_> = subs
        .into_iter()
        .map(|c| {
            let recorder = timeline.recorder();
            tokio::spawn(subscriber(c, expected, recorder, t0, sub_deadline))
        })
        .collect();
    let pub_tasks: Vec<_> = pubs
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            tokio::spawn(publisher(
                c,
                i as u32,
                plan.clone(),
                topic.clone(),
                t0,
                pub_deadline,
            ))
        })
        .collect();
    let mut published = 0;
    for t in pub_tasks {
        published += t.await.unwrap_or(0);
    }
    let (mut unique, mut dups, mut last) = (0u64, 0u64, t0);
    for t in sub_tasks {
        if let Ok(r) = t.await {
            unique += r.unique;
            dups += r.duplicates;
            last = last.max(r.last.unwrap_or(t0));
        }
    }
    bar.finish_and_clear();
    let should = published * plan.subscribers as u64;
    let mut extra = BTreeMap::new();
    extra.insert("published".into(), published.into());
    extra.insert("expected_deliveries".into(), should.into());
    extra.insert("lost".into(), should.saturating_sub(unique).into());
    extra.insert("duplicated".into(), dups.into());
    let scenario = format!(
        "publish ({:?}, QoS {}, {} B, {} -> {})",
        plan.version, plan.qos, plan.size, plan.publishers, plan.subscribers
    );
    let elapsed = last.duration_since(t0).max(Duration::from_millis(1));
    let mut report = Report::new(scenario, &timeline, elapsed);
    report.ok = unique;
    report.extra = extra;
    Ok(report)
}
