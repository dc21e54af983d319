//! Subscription routing, pure: the cost of finding a topic's subscribers as the number of
//! unrelated filters grows (it should not) and as the number of matching filters grows, with
//! the client ids as `String`s (each receiver's id copied per message, as the hub did) and as
//! shared `Arc<str>`s (the hub's keys now: a reference count per receiver).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use iotmock_mqtt::subscriptions::Subscriptions;
use std::hash::Hash;
use std::hint::black_box;
use std::sync::Arc;

/// `n` devices, each subscribed to its own command topics (none match the routed topic).
fn fleet<K: Clone + Eq + Hash + From<String>>(n: usize) -> Subscriptions<K> {
    let mut s = Subscriptions::default();
    for i in 0..n {
        let id = format!("device-{i}");
        let filters = [
            format!("things/{id}/cmd/+"),
            format!("$aws/things/{id}/shadow/update/delta"),
        ];
        let key = K::from(id);
        for f in filters {
            s.add(&key, &f, 1);
        }
    }
    s
}

/// `m` dashboards subscribed to every device's telemetry, among 10,000 devices.
fn matching<K: Clone + Eq + Hash + From<String>>(c: &mut Criterion, keys: &str) {
    let mut group = c.benchmark_group(format!("route/matching filters/{keys}"));
    for m in [1, 10, 100] {
        let mut s = fleet::<K>(10_000);
        for i in 0..m {
            s.add(&K::from(format!("dashboard-{i}")), "things/+/telemetry", 0);
        }
        group.bench_with_input(BenchmarkId::from_parameter(m), &s, |b, s| {
            b.iter(|| s.route(black_box("things/device-0/telemetry")))
        });
    }
    group.finish();
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("route/unrelated filters");
    for n in [10, 1_000, 10_000] {
        let mut s = fleet::<Arc<str>>(n);
        s.add(&Arc::from("watcher"), "things/device-0/telemetry", 0);
        group.bench_with_input(BenchmarkId::from_parameter(n * 2), &s, |b, s| {
            b.iter(|| s.route(black_box("things/device-0/telemetry")))
        });
    }
    group.finish();
    matching::<String>(c, "String");
    matching::<Arc<str>>(c, "Arc<str>");
}

criterion_group!(benches, bench);
criterion_main!(benches);
