//! Subscription routing, pure: the cost of finding a topic's subscribers as the number of
//! unrelated filters grows (it should not) and as the number of matching filters grows.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use iotmock_mqtt::subscriptions::Subscriptions;
use std::hint::black_box;

/// `n` devices, each subscribed to its own command topics (none match the routed topic).
fn fleet(n: usize) -> Subscriptions<String> {
    let mut s = Subscriptions::default();
    for i in 0..n {
        let id = format!("device-{i}");
        s.add(&id, &format!("things/{id}/cmd/+"), 1);
        s.add(&id, &format!("$aws/things/{id}/shadow/update/delta"), 1);
    }
    s
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("route/unrelated filters");
    for n in [10, 1_000, 10_000] {
        let mut s = fleet(n);
        s.add(&"watcher".to_string(), "things/device-0/telemetry", 0);
        group.bench_with_input(BenchmarkId::from_parameter(n * 2), &s, |b, s| {
            b.iter(|| s.route(black_box("things/device-0/telemetry")))
        });
    }
    group.finish();
    let mut group = c.benchmark_group("route/matching filters");
    for m in [1, 10, 100] {
        let mut s = fleet(10_000);
        for i in 0..m {
            s.add(&format!("dashboard-{i}"), "things/+/telemetry", 0);
        }
        group.bench_with_input(BenchmarkId::from_parameter(m), &s, |b, s| {
            b.iter(|| s.route(black_box("things/device-0/telemetry")))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
