//! The broker end to end, in process: full mutual-TLS handshake + CONNECT/CONNACK (P-256 and
//! RSA-2048 device keys, no resumption), and publish throughput (QoS 0/1, 64 B and 1 KiB,
//! 1 -> 1 and 1 -> 10).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use iotmock::MockIotCore;
use iotmock_client::load::devices::{KeyType, register, root_ca};
use iotmock_client::{ConnectOptions, DeviceClient, Version, client_config};
use std::sync::Arc;
use std::time::Duration;

struct Setup {
    mock: MockIotCore,
    ec: Vec<Arc<rustls::ClientConfig>>,
    rsa: Vec<Arc<rustls::ClientConfig>>,
}

async fn setup() -> Setup {
    let mock = MockIotCore::builder().start().await.expect("mock");
    let api = mock.api_url();
    let root = root_ca(&api).await.expect("root");
    let configs = |ids: Vec<iotmock_client::TlsOptions>| {
        ids.iter()
            .map(|o| client_config(o).expect("tls"))
            .collect::<Vec<_>>()
    };
    let ec = configs(
        register(&api, 12, KeyType::Ec, &root)
            .await
            .expect("ec devices"),
    );
    let rsa = configs(
        register(&api, 1, KeyType::Rsa, &root)
            .await
            .expect("rsa device"),
    );
    Setup { mock, ec, rsa }
}

async fn connect(s: &Setup, config: Arc<rustls::ClientConfig>, id: &str) -> DeviceClient {
    let opts = ConnectOptions::new(s.mock.mqtt_addr().to_string(), id).version(Version::V311);
    DeviceClient::connect(config, &opts)
        .await
        .expect("admitted")
        .0
}

fn handshakes(c: &mut Criterion, rt: &tokio::runtime::Runtime, s: &Setup) {
    let mut g = c.benchmark_group("handshake+connect");
    g.sample_size(30).measurement_time(Duration::from_secs(8));
    for (name, config) in [("p256", s.ec[0].clone()), ("rsa2048", s.rsa[0].clone())] {
        g.bench_function(name, |b| {
            b.to_async(rt).iter(|| async {
                let client = connect(s, config.clone(), "bench-hs").await;
                let _ = client.disconnect().await;
            })
        });
    }
    g.finish();
}

fn publishing(c: &mut Criterion, rt: &tokio::runtime::Runtime, s: &Setup) {
    const BATCH: u64 = 500;
    let mut g = c.benchmark_group("publish");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    for fan_out in [1usize, 10] {
        for qos in [0u8, 1] {
            for size in [64usize, 1024] {
                g.throughput(Throughput::Elements(BATCH * fan_out as u64));
                let id = format!("qos{qos}/{size}B/1->{fan_out}");
                g.bench_function(id, |b| {
                    b.to_async(rt)
                        .iter(|| publish_batch(s, fan_out, qos, size, BATCH));
                });
            }
        }
    }
    g.finish();
}

async fn publish_batch(s: &Setup, fan_out: usize, qos: u8, size: usize, batch: u64) {
    let mut subs = Vec::new();
    for i in 0..fan_out {
        let mut c = connect(s, s.ec[1 + i].clone(), &format!("bench-sub-{i}")).await;
        c.subscribe(&[("bench/t", qos)]).await.expect("suback");
        subs.push(c);
    }
    let mut publisher = connect(s, s.ec[11].clone(), "bench-pub").await;
    let receivers: Vec<_> = subs
        .into_iter()
        .map(|mut c| {
            tokio::spawn(async move {
                for _ in 0..batch {
                    if c.next_message().await.is_err() {
                        break;
                    }
                }
                let _ = c.disconnect().await;
            })
        })
        .collect();
    let payload = vec![b'x'; size];
    for _ in 0..batch {
        if qos == 1 {
            publisher
                .publish("bench/t", payload.clone(), 1, false)
                .await
                .expect("puback");
        } else {
            publisher
                .send_publish("bench/t", payload.clone(), 0)
                .await
                .expect("send");
        }
    }
    for r in receivers {
        let _ = r.await;
    }
    let _ = publisher.disconnect().await;
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let s = rt.block_on(setup());
    handshakes(c, &rt, &s);
    publishing(c, &rt, &s);
}

criterion_group!(benches, bench);
criterion_main!(benches);
