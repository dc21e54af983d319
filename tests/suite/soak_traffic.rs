//! The soak's traffic, each kind a task: what keeps going until the mock is killed returns
//! what the mock acknowledged (the ledger the next start is checked against); what runs only
//! in the load phase stops on a signal and drops its connections.

use crate::support::Api;
use iotmock_client::{ClientError, ConnectOptions, DeviceClient, Packet, Version};
use serde_json::json;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::time::{MissedTickBehavior, interval};

/// Where the traffic goes: one started `iotmock serve` and the device identity all clients use.
#[derive(Clone)]
pub struct Target {
    pub mqtt: SocketAddr,
    pub api: Api,
    pub tls: Arc<rustls::ClientConfig>,
}

impl Target {
    pub async fn connect(
        &self,
        id: &str,
        clean: bool,
        keep_alive: u16,
    ) -> Result<(DeviceClient, bool), ClientError> {
        let mut opts = ConnectOptions::new(self.mqtt.to_string(), id).version(Version::V311);
        opts.clean_start = clean;
        opts.keep_alive = keep_alive;
        let (c, ack) = DeviceClient::connect(self.tls.clone(), &opts).await?;
        Ok((c, ack.session_present))
    }
}

/// Stops the load-phase tasks.
pub type Stop = watch::Receiver<bool>;

fn every(period: Duration) -> tokio::time::Interval {
    let mut tick = interval(period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tick
}

pub const KEEP_TOPIC: &str = "soak/keep";
/// Where the soak's topic rule republishes the persistent traffic.
pub const RULED_TOPIC: &str = "soak/ruled";
const FEED_TOPIC: &str = "soak/feed";
const PROBE_TOPIC: &str = "soak/probe";

/// QoS 1 to the keeper's persistent subscription, 200 a second from `first`, until the mock
/// dies: the sequence numbers the broker acknowledged.
pub async fn publish_kept(target: Target, first: u64) -> Vec<u64> {
    let mut acked = Vec::new();
    let Ok((mut c, _)) = target.connect("soak-publisher", true, 60).await else {
        return acked;
    };
    let mut tick = every(Duration::from_millis(5));
    for seq in first.. {
        tick.tick().await;
        match c.publish(KEEP_TOPIC, seq.to_string(), 1, false).await {
            Ok(Some(0)) => acked.push(seq),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    acked
}

/// The keeper reads its persistent subscription until the mock dies: what it received.
pub async fn keep_reading(mut keeper: DeviceClient) -> BTreeSet<u64> {
    let mut got = BTreeSet::new();
    while let Ok(m) = keeper.next_message().await {
        if let Some(seq) = std::str::from_utf8(&m.payload)
            .ok()
            .and_then(|s| s.parse().ok())
        {
            got.insert(seq);
        }
    }
    got
}

/// QoS 0 feed of 16 KB messages, 250 a second, for the slow and dead subscribers to fall
/// behind on (4 MB/s).
pub async fn feed(target: Target, stop: Stop) {
    let Ok((mut c, _)) = target.connect("soak-feeder", true, 60).await else {
        return;
    };
    let payload = bytes::Bytes::from(vec![b'f'; 16 * 1024]);
    let mut tick = every(Duration::from_millis(4));
    while !*stop.borrow() {
        tick.tick().await;
        if c.publish(FEED_TOPIC, payload.clone(), 0, false)
            .await
            .is_err()
        {
            return;
        }
    }
}

/// One probe every 5 ms from a publisher to a bystander: each delivery's latency in µs.
pub async fn probe(target: Target, stop: Stop, tag: &str) -> Vec<u64> {
    let mut latencies = Vec::new();
    let connected = async {
        let (mut by, _) = target
            .connect(&format!("soak-bystander-{tag}"), true, 60)
            .await?;
        by.subscribe(&[(PROBE_TOPIC, 0)]).await?;
        let (pr, _) = target
            .connect(&format!("soak-prober-{tag}"), true, 60)
            .await?;
        Ok::<_, ClientError>((by, pr))
    };
    let Ok((mut bystander, mut prober)) = connected.await else {
        return latencies;
    };
    let base = Instant::now();
    let mut tick = every(Duration::from_millis(5));
    while !*stop.borrow() {
        tick.tick().await;
        let sent = base.elapsed().as_micros().to_string();
        if prober.publish(PROBE_TOPIC, sent, 0, false).await.is_err() {
            break;
        }
        let Ok(m) = bystander.next_message().await else {
            break;
        };
        let at = std::str::from_utf8(&m.payload)
            .ok()
            .and_then(|s| s.parse::<u128>().ok());
        if let Some(at) = at {
            let now = base.elapsed().as_micros();
            latencies.push(u64::try_from(now.saturating_sub(at)).unwrap_or(u64::MAX));
        }
    }
    latencies
}

/// What the load phase's misbehaving clients did.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Misbehaviour {
    pub churned: u64,
    pub slow: u64,
    pub dead: u64,
    pub malformed_closed: u64,
    pub oversized_closed: u64,
    /// Messages the topic rule republished, seen during the load phase.
    pub ruled: u64,
    /// Malformed or oversized packets the broker did not close the connection for.
    pub malformed_not_closed: u64,
    pub oversized_not_closed: u64,
}

impl Misbehaviour {
    fn count(&mut self, closed: bool, oversized: bool) {
        match (closed, oversized) {
            (true, false) => self.malformed_closed += 1,
            (true, true) => self.oversized_closed += 1,
            (false, false) => self.malformed_not_closed += 1,
            (false, true) => self.oversized_not_closed += 1,
        }
    }
}

/// The broker closed the connection while the packet was being written.
fn refused(e: &ClientError) -> bool {
    matches!(e, ClientError::Io(_) | ClientError::Closed { .. })
}

/// Counts what the topic rule republishes until the phase ends.
pub async fn ruled(target: Target, mut stop: Stop) -> u64 {
    let Ok((mut c, _)) = target.connect("soak-ruled", true, 60).await else {
        return 0;
    };
    if c.subscribe(&[(RULED_TOPIC, 0)]).await.is_err() {
        return 0;
    }
    let mut n = 0;
    loop {
        tokio::select! {
            got = c.next_message() => match got {
                Ok(_) => n += 1,
                Err(_) => return n,
            },
            _ = stop.changed() => return n,
        }
    }
}

/// Connect churn: clean sessions that connect, subscribe and leave, ten a second.
pub async fn churn(target: Target, stop: Stop) -> u64 {
    let mut n = 0;
    let mut tick = every(Duration::from_millis(100));
    while !*stop.borrow() {
        tick.tick().await;
        let Ok((mut c, _)) = target
            .connect(&format!("soak-churn-{}", n % 50), true, 60)
            .await
        else {
            continue;
        };
        if c.subscribe(&[("soak/churn/#", 1)]).await.is_ok() && c.disconnect().await.is_ok() {
            n += 1;
        }
    }
    n
}

/// Three subscribers to the feed that never read, and a new dead one (keep-alive 2 s, never
/// pings nor reads) every 5 s; all held until the phase ends.
pub async fn stalled(target: Target, stop: Stop) -> (u64, u64) {
    let mut held = Vec::new();
    for i in 0..3 {
        if let Ok((mut c, _)) = target.connect(&format!("soak-slow-{i}"), true, 60).await
            && c.subscribe(&[(FEED_TOPIC, 0)]).await.is_ok()
        {
            held.push(c);
        }
    }
    let slow = held.len() as u64;
    let mut dead = 0;
    let mut tick = every(Duration::from_millis(500));
    for n in 0u64.. {
        tick.tick().await;
        if *stop.borrow() {
            break;
        }
        if n % 10 != 9 {
            continue;
        }
        let id = format!("soak-dead-{dead}");
        if let Ok((mut c, _)) = target.connect(&id, true, 2).await
            && c.subscribe(&[(FEED_TOPIC, 0)]).await.is_ok()
        {
            held.push(c);
            dead += 1;
        }
    }
    (slow, dead)
}

/// Once a second: a client that sends a packet only a server sends, and one that publishes
/// 200 KB (over AWS's 128 KB); the broker must close each.
pub async fn malformed(target: Target, stop: Stop) -> Misbehaviour {
    let mut m = Misbehaviour::default();
    let big = bytes::Bytes::from(vec![b'o'; 200 * 1024]);
    let mut tick = every(Duration::from_secs(1));
    while !*stop.borrow() {
        tick.tick().await;
        if let Ok((mut c, _)) = target.connect("soak-malformed", true, 60).await {
            let wrong = Packet::ConnAck {
                session_present: false,
                code: 0,
                props: Default::default(),
            };
            let closed = match c.send(&wrong).await {
                Ok(()) => c.expect_closed().await.is_ok(),
                Err(e) => refused(&e),
            };
            m.count(closed, false);
        }
        if let Ok((mut c, _)) = target.connect("soak-oversized", true, 60).await {
            let closed = match c.send_publish("soak/big", big.clone(), 1).await {
                Ok(_) => c.expect_closed().await.is_ok(),
                Err(e) => refused(&e),
            };
            m.count(closed, true);
        }
    }
    m
}

/// What the API acknowledged before the mock died.
#[derive(Debug, Default)]
pub struct ApiLedger {
    pub created: Vec<String>,
    pub deleted: Vec<String>,
    pub shadow_seq: Option<u64>,
    pub jobs: Vec<String>,
}

/// Deletes `doomed`, then creates things `soak-{cycle}-{i}` ten a second, until the mock dies.
pub async fn things(api: Api, cycle: usize, doomed: Vec<String>) -> ApiLedger {
    let mut ledger = ApiLedger::default();
    for name in doomed {
        match api
            .try_raw("DELETE", &format!("/things/{name}"), &[], Vec::new())
            .await
        {
            Ok(a) if a.status == 200 => ledger.deleted.push(name),
            Ok(_) => {}
            Err(_) => return ledger,
        }
    }
    let mut tick = every(Duration::from_millis(100));
    for i in 0.. {
        tick.tick().await;
        let name = format!("soak-{cycle}-{i}");
        let body = json!({ "attributePayload": { "attributes": { "i": i.to_string() } } });
        match api
            .try_raw(
                "POST",
                &format!("/things/{name}"),
                &[],
                body.to_string().into_bytes(),
            )
            .await
        {
            Ok(a) if a.status == 200 => ledger.created.push(name),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    ledger
}

/// The shadow of `thing` reported `seq` five times a second, and a job for it every two
/// seconds, until the mock dies.
/// Deletes the jobs in `doomed` first.
pub async fn shadow_and_jobs(
    api: Api,
    thing_arn: String,
    (cycle, first): (usize, u64),
    doomed: Vec<String>,
) -> ApiLedger {
    let mut ledger = ApiLedger::default();
    for id in doomed {
        let path = format!("/jobs/{id}?force=true");
        match api.try_raw("DELETE", &path, &[], Vec::new()).await {
            Ok(a) if a.status == 200 => ledger.deleted.push(id),
            Ok(_) => {}
            Err(_) => return ledger,
        }
    }
    let data = api.signed_for("iotdata");
    let mut tick = every(Duration::from_millis(200));
    for seq in first.. {
        tick.tick().await;
        let doc = json!({ "state": { "reported": { "seq": seq } } });
        match data
            .try_raw(
                "POST",
                "/things/soak-shadow/shadow",
                &[],
                doc.to_string().into_bytes(),
            )
            .await
        {
            Ok(a) if a.status == 200 => ledger.shadow_seq = Some(seq),
            Ok(_) => {}
            Err(_) => break,
        }
        if seq % 10 == 0 {
            let id = format!("soak-job-{cycle}-{seq}");
            let job = json!({ "targets": [thing_arn], "document": "{\"op\":\"soak\"}" });
            match api
                .try_raw(
                    "PUT",
                    &format!("/jobs/{id}"),
                    &[],
                    job.to_string().into_bytes(),
                )
                .await
            {
                Ok(a) if a.status == 200 => ledger.jobs.push(id),
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
    ledger
}
