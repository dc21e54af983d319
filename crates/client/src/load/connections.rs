//! Many connections held at once: `target` mutual-TLS connections opened at `rate` per second
//! (each from the next of `sources`, loopback addresses 127.0.0.x, so that one machine passes
//! the ephemeral-port limit of a single source address), all held for `hold` once the last is
//! open, each pinging within its keep-alive, then closed with DISCONNECT. Every connection's
//! handshake + CONNECT latency is recorded by second; a connection that fails to open, or is
//! lost while held, is counted by cause and by second.

use super::handshake::cause;
use super::report::Report;
use super::timeline::Timeline;
use crate::{ConnectOptions, DeviceClient, Version};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

#[derive(Debug, Clone)]
pub struct ConnectionsPlan {
    pub addr: String,
    pub server_name: String,
    pub version: Version,
    /// Connections to open.
    pub target: u64,
    /// Opened per second.
    pub rate: f64,
    /// How long all of them are held once the last is open.
    pub hold: Duration,
    /// The CONNECT keep-alive (s); each connection pings at half of it.
    pub keep_alive: u16,
    pub timeout: Duration,
    /// Client ids are `{id_prefix}-{n}`.
    pub id_prefix: String,
    /// Source addresses, used in turn (empty: the system chooses).
    pub sources: Vec<IpAddr>,
}

/// The loopback source addresses for `n` of them: 127.0.0.1 and on (127.0.1.0 after
/// 127.0.0.255), `offset` further along (a worker's share on a shared machine).
pub fn loopback_sources(n: usize, offset: usize) -> Vec<IpAddr> {
    (0..n)
        .map(|i| {
            let k = u32::try_from(1 + offset + i).unwrap_or(u32::MAX) & 0x00ff_ffff;
            IpAddr::from(std::net::Ipv4Addr::from(0x7f00_0000 | k))
        })
        .collect()
}

#[derive(Default)]
struct Counts {
    opened: AtomicU64,
    open_now: AtomicU64,
    peak_open: AtomicU64,
    held: AtomicU64,
    closed: AtomicU64,
    failures: Mutex<BTreeMap<String, u64>>,
}

impl Counts {
    fn fail(&self, why: String, timeline: &Timeline) {
        timeline.failed();
        if let Ok(mut f) = self.failures.lock() {
            *f.entry(why).or_default() += 1;
        }
    }
}

/// Runs the plan over `configs` (one per device, used in turn).
pub async fn run(
    plan: ConnectionsPlan,
    configs: Vec<Arc<rustls::ClientConfig>>,
    progress: bool,
) -> Report {
    let timeline = Timeline::new();
    let counts = Arc::new(Counts::default());
    let (release, released) = watch::channel(false);
    let (settled, mut settling) = mpsc::unbounded_channel();
    let bar = super::publish::progress_bar(progress, "connections");
    let start = timeline.start();
    let mut tasks = Vec::with_capacity(usize::try_from(plan.target).unwrap_or(0));
    for n in 0..plan.target {
        if configs.is_empty() {
            break;
        }
        if let Some(due) = super::due(start, n, plan.rate) {
            tokio::time::sleep_until(due.into()).await;
        }
        let config = configs[(n as usize) % configs.len()].clone();
        let mut opts = ConnectOptions::new(plan.addr.clone(), format!("{}-{n}", plan.id_prefix));
        opts.server_name = plan.server_name.clone();
        opts.version = plan.version;
        opts.keep_alive = plan.keep_alive;
        opts.timeout = plan.timeout;
        opts.bind =
            (!plan.sources.is_empty()).then(|| plan.sources[(n as usize) % plan.sources.len()]);
        let job = Job {
            counts: counts.clone(),
            timeline: timeline.clone(),
            released: released.clone(),
            settled: settled.clone(),
            ping_every: Duration::from_secs(u64::from(plan.keep_alive.max(2) / 2)),
        };
        tasks.push(tokio::spawn(job.connection(config, opts)));
        if n % 256 == 0 {
            bar.set_message(format!(
                "open {}  failed {}",
                counts.open_now.load(Ordering::Relaxed),
                counts
                    .failures
                    .lock()
                    .map_or(0, |f| f.values().sum::<u64>())
            ));
            bar.tick();
        }
    }
    // Every connection has opened or failed before the hold starts.
    drop(settled);
    for _ in 0..tasks.len() {
        if settling.recv().await.is_none() {
            break;
        }
    }
    let opening = start.elapsed();
    bar.set_message(format!(
        "holding {}",
        counts.open_now.load(Ordering::Relaxed)
    ));
    tokio::time::sleep(plan.hold).await;
    counts
        .held
        .store(counts.open_now.load(Ordering::Acquire), Ordering::Release);
    let _ = release.send(true);
    for t in tasks {
        let _ = t.await;
    }
    bar.finish_and_clear();
    report(&plan, &counts, &timeline, opening)
}

fn report(
    plan: &ConnectionsPlan,
    counts: &Counts,
    timeline: &Timeline,
    opening: Duration,
) -> Report {
    let scenario = format!(
        "connections ({:?}, {} at {}/s, held {} s)",
        plan.version,
        plan.target,
        plan.rate,
        plan.hold.as_secs()
    );
    let mut report = Report::new(scenario, timeline, opening);
    report.ok = counts.closed.load(Ordering::Acquire);
    report.failures = counts
        .failures
        .lock()
        .map(|f| f.clone())
        .unwrap_or_default();
    for (k, v) in [
        ("opened", &counts.opened),
        ("peak_open", &counts.peak_open),
        ("held", &counts.held),
        ("closed", &counts.closed),
    ] {
        report
            .extra
            .insert(k.into(), v.load(Ordering::Acquire).into());
    }
    report
}

/// One connection's part.
struct Job {
    counts: Arc<Counts>,
    timeline: Arc<Timeline>,
    released: watch::Receiver<bool>,
    /// Told once the connection opened or failed.
    settled: mpsc::UnboundedSender<()>,
    ping_every: Duration,
}

impl Job {
    async fn connection(mut self, config: Arc<rustls::ClientConfig>, opts: ConnectOptions) {
        let t0 = Instant::now();
        let connected = DeviceClient::connect(config, &opts).await;
        let mut client = match connected {
            Ok((client, _)) => {
                let mut recorder = self.timeline.recorder();
                recorder.record(t0.elapsed().as_micros() as u64);
                self.counts.opened.fetch_add(1, Ordering::Relaxed);
                let now = self.counts.open_now.fetch_add(1, Ordering::AcqRel) + 1;
                self.counts.peak_open.fetch_max(now, Ordering::AcqRel);
                let _ = self.settled.send(());
                client
            }
            Err(e) => {
                self.counts.fail(cause(&e), &self.timeline);
                let _ = self.settled.send(());
                return;
            }
        };
        if let Err(why) = self.hold(&mut client).await {
            self.counts.open_now.fetch_sub(1, Ordering::AcqRel);
            return self.counts.fail(why, &self.timeline);
        }
        self.counts.open_now.fetch_sub(1, Ordering::AcqRel);
        match client.disconnect().await {
            Ok(()) => {
                self.counts.closed.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => self
                .counts
                .fail(format!("DISCONNECT failed ({e})"), &self.timeline),
        }
    }

    /// Pings until released; why the connection was lost, if it was.
    async fn hold(&mut self, client: &mut DeviceClient) -> Result<(), String> {
        loop {
            tokio::select! {
                changed = self.released.changed() => {
                    if changed.is_err() || *self.released.borrow() {
                        return Ok(());
                    }
                }
                () = tokio::time::sleep(self.ping_every) => {
                    client
                        .ping()
                        .await
                        .map_err(|e| format!("lost while held ({})", cause(&e)))?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_loopback_addresses_in_turn() {
        let s = loopback_sources(3, 0);
        assert_eq!(s[0].to_string(), "127.0.0.1");
        assert_eq!(s[2].to_string(), "127.0.0.3");
        assert_eq!(loopback_sources(1, 255)[0].to_string(), "127.0.1.0");
        assert!(loopback_sources(300, 10).iter().all(IpAddr::is_loopback));
    }
}
