//! Fleet indexing, pure: SearchIndex's selection over 100,000 things (registry attributes,
//! a classic shadow, connectivity), by the inverted map (`field:value` terms) and by a pass
//! over the precomputed fields (ranges, prefixes), and one document replaced (an update).

use criterion::{Criterion, criterion_group, criterion_main};
use iotmock_index::book::RegionIndex;
use iotmock_index::config::{Config, ThingMode};
use iotmock_index::query::parse;
use iotmock_index::{Connectivity, ShadowDoc, ThingDoc};
use serde_json::json;
use std::hint::black_box;

const THINGS: usize = 100_000;

fn thing(i: usize) -> ThingDoc {
    ThingDoc {
        name: format!("thing-{i:06}"),
        id: format!("id-{i}"),
        type_name: Some(format!("type{}", i % 10)),
        attributes: [
            ("room".to_string(), format!("room{}", i % 100)),
            ("firmware".to_string(), format!("v1.{}", i % 7)),
        ]
        .into(),
        version: 1,
        shadow: Some(ShadowDoc {
            reported: Some(json!({ "temp": (i % 40) as f64 + 0.5, "on": i.is_multiple_of(2) })),
            metadata: json!({}),
            version: 3,
            ..ShadowDoc::default()
        }),
        connectivity: Some(Connectivity {
            connected: i.is_multiple_of(3),
            timestamp: 1_700_000_000_000,
            disconnect_reason: None,
        }),
        ..ThingDoc::default()
    }
}

fn bench(c: &mut Criterion) {
    let config = Config {
        thing_mode: ThingMode::RegistryAndShadow,
        connectivity: true,
        ..Config::default()
    };
    let mut index = RegionIndex::build((0..THINGS).map(thing), &config);
    let mut group = c.benchmark_group("index 100,000 things");
    group.sample_size(30);
    for q in [
        "attributes.room:room42",
        "attributes.room:room42 AND connectivity.connected:true",
        "thingTypeName:type3 AND attributes.firmware:v1.2",
        "shadow.reported.temp:[10 TO 12]",
        "thingName:thing-0424*",
    ] {
        let query = parse(q).expect("parses");
        group.bench_function(q, |b| b.iter(|| black_box(index.select(&query).len())));
    }
    group.bench_function("an update (one document replaced)", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % THINGS;
            index.put(thing(i), &config);
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
