//! The soak: `iotmock serve` on one state dir under mixed traffic (persistent QoS 1, a QoS 0
//! feed, connect churn, slow and dead subscribers, malformed and oversized packets, thing,
//! shadow and job writes), killed with SIGKILL at the end of every cycle and started again.
//! Each start must succeed and hold everything acknowledged before the kill; within each run
//! RSS stays flat after warm-up and file descriptors come back; a bystander's p99 stays within
//! twice a quiet run's.
//!
//! `cargo test --release --test suite -- --ignored soak`: one hour of 2-minute cycles by
//! default; `IOTMOCK_SOAK_SECS`, `IOTMOCK_SOAK_CYCLE_SECS` and `IOTMOCK_SOAK_REPORT` (the
//! report's directory, `target/soak` by default) change that. `.ci/run` runs a few minutes.

use crate::crash::serve;
use crate::soak_report::{Cycle, Sample, judge, write_report};
use crate::soak_traffic::{self as traffic, KEEP_TOPIC, Target};
use crate::support::{Api, REGION};
use iotmock_client::{DeviceClient, TlsOptions, client_config};
use iotmock_testkit::TestCa;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::watch;

struct Settings {
    total: Duration,
    cycle: Duration,
    report: PathBuf,
}

fn settings() -> Settings {
    let secs = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let report = std::env::var_os("IOTMOCK_SOAK_REPORT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/soak"));
    Settings {
        total: Duration::from_secs(secs("IOTMOCK_SOAK_SECS", 3600)),
        cycle: Duration::from_secs(secs("IOTMOCK_SOAK_CYCLE_SECS", 120).max(20)),
        report,
    }
}

/// What was acknowledged and must be there after the next start.
#[derive(Default)]
struct Ledger {
    /// QoS 1 sequence numbers the broker acknowledged that the keeper has not received.
    owed: BTreeSet<u64>,
    next_seq: u64,
    /// Things created, one list per cycle; a cycle's things are deleted two cycles later.
    things: Vec<Vec<String>>,
    deleted_things: Vec<String>,
    jobs: Vec<Vec<String>>,
    shadow_seq: Option<u64>,
    next_shadow: u64,
}

/// Reads the RSS (kB) and open descriptors of `pid` four times a second until `stop`.
async fn sample(pid: u32, start: Instant, stop: watch::Receiver<bool>) -> Vec<Sample> {
    let mut out = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    while !*stop.borrow() {
        tick.tick().await;
        if let (Some(rss_kb), Some(fds)) = (rss_kb(pid), fds(pid)) {
            let at = start.elapsed().as_secs_f64();
            out.push(Sample { at, rss_kb, fds });
        }
    }
    out
}

fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn fds(pid: u32) -> Option<u64> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64)
}

/// A CA, a device certificate allowed everything, and the thing whose shadow and jobs the
/// soak writes; returns the device's TLS identity and the thing's ARN.
async fn provision(api: &Api, dir: &Path) -> (std::sync::Arc<rustls::ClientConfig>, String) {
    let ca = TestCa::new("soak fleet");
    api.register_ca(&ca, true).await;
    let dev = ca.leaf("soak-device");
    let (_, arn) = api.register_cert(&dev.cert_pem).await;
    api.create_policy("soak-all").await;
    let target = Some(json!({ "target": arn }));
    api.call("PUT", "/target-policies/soak-all", &[], target)
        .await
        .ok();
    let thing = api.post("/things/soak-shadow", json!({})).await.ok();
    // A rule on the persistent traffic: republished, and an action recorded in the log.
    let rule = json!({
        "sql": format!("SELECT *, topic() AS t FROM '{KEEP_TOPIC}'"),
        "actions": [
            { "republish": { "topic": traffic::RULED_TOPIC, "roleArn": "arn:aws:iam::1:role/r" } },
            { "sqs": { "queueUrl": "https://sqs.us-east-1.amazonaws.com/1/soak", "roleArn": "arn:aws:iam::1:role/r" } },
        ],
    });
    api.post("/rules/soak_rule", rule).await.ok();
    let root = std::fs::read_to_string(dir.join("AmazonRootCA1.pem")).expect("root CA");
    let tls = TlsOptions::new(root).identity(dev.cert_pem, dev.key_pem);
    let thing_arn = thing["thingArn"].as_str().expect("arn").to_string();
    (client_config(&tls).expect("tls"), thing_arn)
}

/// After a start: the keeper's session is there and gets every message it was owed, and
/// every acknowledged API write reads back. Returns the keeper, still connected.
async fn verify(target: &Target, ledger: &mut Ledger, first: bool) -> (DeviceClient, u64) {
    let (mut keeper, present) = target
        .connect("soak-keeper", false, 60)
        .await
        .expect("keeper");
    if first {
        keeper.subscribe(&[(KEEP_TOPIC, 1)]).await.expect("suback");
    } else {
        assert!(present, "the keeper's persistent session survived the kill");
    }
    let owed = ledger.owed.len() as u64;
    while !ledger.owed.is_empty() {
        let next = tokio::time::timeout(Duration::from_secs(10), keeper.next_message()).await;
        let Ok(Ok(m)) = next else {
            panic!(
                "acknowledged QoS 1 messages lost across the kill: {:?}",
                ledger.owed
            );
        };
        if let Some(seq) = std::str::from_utf8(&m.payload)
            .ok()
            .and_then(|s| s.parse().ok())
        {
            ledger.owed.remove(&seq);
        }
    }
    let api = &target.api;
    for name in ledger.things.iter().flatten() {
        let got = api.get(&format!("/things/{name}")).await;
        assert_eq!(got.status, 200, "acknowledged thing {name} was lost");
    }
    for name in ledger.deleted_things.drain(..) {
        let got = api.get(&format!("/things/{name}")).await;
        assert_eq!(got.status, 404, "acknowledged delete of {name} was undone");
    }
    let rule = api.get("/rules/soak_rule").await;
    assert_eq!(rule.status, 200, "the topic rule survived the kill");
    for id in ledger.jobs.iter().flatten() {
        assert_eq!(
            api.get(&format!("/jobs/{id}")).await.status,
            200,
            "job {id} was lost"
        );
    }
    if let Some(seq) = ledger.shadow_seq {
        let shadow = api
            .signed_for("iotdata")
            .get("/things/soak-shadow/shadow")
            .await
            .ok();
        let kept = shadow["state"]["reported"]["seq"].as_u64().unwrap_or(0);
        assert!(kept >= seq, "the shadow went back from {seq} to {kept}");
    }
    (keeper, owed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes to an hour; `cargo test --release --test suite -- --ignored soak`"]
async fn soak() {
    let s = settings();
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let mut ledger = Ledger::default();
    let mut cycles: Vec<Cycle> = Vec::new();
    let mut identity = None;
    for index in 0.. {
        if index > 0 && start.elapsed() + s.cycle / 2 > s.total {
            break;
        }
        let begun = Instant::now();
        let mut served = serve(dir.path());
        let restart_ms = begun.elapsed().as_millis() as u64;
        let api = Api::new(served.api, REGION);
        if identity.is_none() {
            identity = Some(provision(&api, dir.path()).await);
        }
        let (tls, thing_arn) = identity.clone().expect("provisioned");
        let target = Target {
            mqtt: served.mqtt,
            api: api.clone(),
            tls,
        };
        let (keeper, redelivered) = verify(&target, &mut ledger, index == 0).await;
        let pid = served.child.id();
        let fd_before = fds(pid).unwrap_or(0);
        let (kill_tx, kill_rx) = watch::channel(false);
        let sampler = tokio::spawn(sample(pid, start, kill_rx));
        let doomed_things = if index >= 2 {
            ledger.things[index - 2].clone()
        } else {
            Vec::new()
        };
        let doomed_jobs = if index >= 2 {
            ledger.jobs[index - 2].clone()
        } else {
            Vec::new()
        };
        let publisher = tokio::spawn(traffic::publish_kept(target.clone(), ledger.next_seq));
        let reader = tokio::spawn(traffic::keep_reading(keeper));
        let things = tokio::spawn(traffic::things(api.clone(), index, doomed_things));
        let shadow = tokio::spawn(traffic::shadow_and_jobs(
            api.clone(),
            thing_arn.clone(),
            (index, ledger.next_shadow),
            doomed_jobs,
        ));
        let (churn_stop, churn_rx) = watch::channel(false);
        let churn = tokio::spawn(traffic::churn(target.clone(), churn_rx));
        let quiet = probe_alone(&target, (s.cycle / 8).max(Duration::from_secs(10))).await;
        let load_start = start.elapsed().as_secs_f64();
        let phase = load_phase(&target, s.cycle.mul_f64(0.7)).await;
        let _ = churn_stop.send(true);
        let mut phase = phase;
        phase.misbehaviour.churned = churn.await.expect("churn");
        let fd_after = settle_fds(pid, fd_before + 4).await;
        tokio::time::sleep_until((begun + s.cycle).into()).await;
        served.child.kill().expect("SIGKILL");
        let _ = served.child.wait();
        let _ = kill_tx.send(true);
        let acked = publisher.await.expect("publisher");
        let received = reader.await.expect("keeper");
        let things = things.await.expect("things");
        let shadow = shadow.await.expect("shadow");
        ledger.next_seq = acked.last().map_or(ledger.next_seq, |l| l + 1000);
        ledger
            .owed
            .extend(acked.iter().filter(|s| !received.contains(s)));
        if index >= 2 {
            ledger.things[index - 2].retain(|t| !things.deleted.contains(t));
            ledger.jobs[index - 2].retain(|j| !shadow.deleted.contains(j));
        }
        ledger.deleted_things = things.deleted.clone();
        ledger.things.push(things.created.clone());
        ledger.jobs.push(shadow.jobs.clone());
        if shadow.shadow_seq.is_some() {
            ledger.shadow_seq = shadow.shadow_seq;
        }
        ledger.next_shadow = ledger.shadow_seq.map_or(0, |s| s + 1000);
        cycles.push(Cycle {
            index,
            load_start,
            restart_ms,
            redelivered,
            qos1_acked: acked.len() as u64,
            api_writes: (things.created.len() + things.deleted.len() + shadow.jobs.len()) as u64,
            quiet,
            latencies: phase.latencies,
            misbehaviour: phase.misbehaviour,
            samples: sampler.await.expect("sampler"),
            fd_before,
            fd_after,
        });
    }
    // The last kill's ledger is checked by one more start.
    let served = serve(dir.path());
    let api = Api::new(served.api, REGION);
    let tls = identity.expect("provisioned").0;
    let target = Target {
        mqtt: served.mqtt,
        api,
        tls,
    };
    let (_keeper, _) = verify(&target, &mut ledger, false).await;
    let mut child = served.child;
    let _ = child.kill();
    let _ = child.wait();
    let verdict = judge(&cycles);
    write_report(&s.report, start.elapsed(), &cycles, &verdict).expect("report");
    assert!(
        verdict.is_empty(),
        "the soak failed: {verdict:#?} (report in {})",
        s.report.display()
    );
}

/// What the load phase measured.
struct Phase {
    latencies: Vec<u64>,
    misbehaviour: traffic::Misbehaviour,
}

/// The bystander's latency with only the steady traffic running (QoS 1 publishes, API
/// writes, connect churn): the quiet run the misbehaving clients are judged against.
async fn probe_alone(target: &Target, length: Duration) -> Vec<u64> {
    let (stop_tx, stop) = watch::channel(false);
    let probe = tokio::spawn(traffic::probe(target.clone(), stop, "quiet"));
    tokio::time::sleep(length).await;
    let _ = stop_tx.send(true);
    probe.await.expect("probe")
}

/// The feed, the bystander's probe, slow, dead and malformed clients for `length`;
/// every connection they made is dropped when this returns.
async fn load_phase(target: &Target, length: Duration) -> Phase {
    let (stop_tx, stop) = watch::channel(false);
    let feed = tokio::spawn(traffic::feed(target.clone(), stop.clone()));
    let probe = tokio::spawn(traffic::probe(target.clone(), stop.clone(), "loaded"));
    let stalled = tokio::spawn(traffic::stalled(target.clone(), stop.clone()));
    let malformed = tokio::spawn(traffic::malformed(target.clone(), stop.clone()));
    let ruled = tokio::spawn(traffic::ruled(target.clone(), stop));
    tokio::time::sleep(length).await;
    let _ = stop_tx.send(true);
    feed.await.expect("feed");
    let latencies = probe.await.expect("probe");
    let mut misbehaviour = malformed.await.expect("malformed");
    (misbehaviour.slow, misbehaviour.dead) = stalled.await.expect("stalled");
    misbehaviour.ruled = ruled.await.expect("ruled");
    Phase {
        latencies,
        misbehaviour,
    }
}

/// Polls the open descriptors until they are at most `bound` (the connections the load phase
/// dropped are closed), for at most 10 s; returns the last count.
async fn settle_fds(pid: u32, bound: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n = fds(pid).unwrap_or(0);
        if n <= bound || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
