//! The rules engine, pure: parsing a rule's SQL, evaluating it per message, and finding the
//! rules a message reaches among 110 (100 that do not match, 10 that do).

use criterion::{Criterion, criterion_group, criterion_main};
use iotmock_rules::RuleBook;
use iotmock_rules::engine::{fire, rules_for};
use iotmock_rules::sql::{Env, Message, Properties, SqlVersion, Value, evaluate, parse};
use iotmock_store::MemoryStore;
use serde_json::json;
use std::hint::black_box;

struct Quiet;

impl Env for Quiet {
    fn new_uuid(&self) -> String {
        "00000000-0000-4000-8000-000000000000".into()
    }
    fn rand(&self) -> f64 {
        0.5
    }
    fn thing_shadow(&self, _: &str, _: Option<&str>) -> Result<Value, String> {
        Err("none".into())
    }
    fn registry_data(&self, _: &str, _: &str) -> Result<Value, String> {
        Err("none".into())
    }
    fn lambda(&self, _: &str, _: &Value) -> Result<Value, String> {
        Err("none".into())
    }
}

const PAYLOAD: &[u8] =
    br#"{"temp":31.5,"hum":40,"device":{"id":"d-17","fw":"1.2.3"},"readings":[1,2,3,4]}"#;

fn message<'a>(topic: &'a str, properties: &'a Properties) -> Message<'a> {
    Message {
        topic,
        payload: PAYLOAD,
        client_id: Some("d-17"),
        principal: None,
        account: "123456789012",
        now_ms: 1_796_600_000_000,
        source_ip: None,
        trace_id: None,
        properties,
        parsed: None,
    }
}

fn bench(c: &mut Criterion) {
    let props = Properties::default();
    let msg = message("sensors/d-17/telemetry", &props);
    let v16 = SqlVersion::V2016_03_23;
    let statements = [
        (
            "select-where",
            "SELECT temp, device.id AS id, topic(2) AS t FROM 'sensors/+/telemetry' WHERE temp > 30",
        ),
        ("select-star", "SELECT * FROM 'sensors/+/telemetry'"),
        (
            "functions",
            "SELECT upper(device.fw) AS fw, round(temp) AS t, concat(topic(1), '-', clientid()) AS k, timestamp() AS ts, newuuid() AS id FROM 'sensors/#' WHERE startswith(device.id, 'd-')",
        ),
    ];
    for (name, sql) in statements {
        let stmt = parse(sql, v16).expect("parses");
        c.bench_function(&format!("rules/evaluate {name}"), |b| {
            b.iter(|| evaluate(black_box(&stmt), black_box(&msg), &Quiet))
        });
    }
    c.bench_function("rules/parse select-where", |b| {
        b.iter(|| parse(black_box(statements[0].1), v16))
    });
    let mut book = RuleBook::open(Box::new(MemoryStore)).expect("opens");
    for i in 0..100 {
        let payload = json!({ "sql": format!("SELECT * FROM 'other/{i}/+'"), "actions": [] });
        book.create("us-east-1", &format!("miss_{i}"), &payload, Vec::new(), 0)
            .expect("created");
    }
    for i in 0..10 {
        let republish =
            json!({ "republish": { "topic": format!("out/{i}/${{topic(2)}}"), "roleArn": "r" } });
        let payload = json!({ "sql": "SELECT temp FROM 'sensors/+/telemetry' WHERE temp > 30", "actions": [republish] });
        book.create("us-east-1", &format!("hit_{i}"), &payload, Vec::new(), 0)
            .expect("created");
    }
    c.bench_function("rules/110 rules, 10 match: find and fire", |b| {
        b.iter(|| {
            let hits = rules_for(&book, "us-east-1", black_box(msg.topic));
            let fired: Vec<_> = hits
                .iter()
                .map(|(rule, _)| fire(rule, &msg, &Quiet))
                .collect();
            black_box(fired)
        })
    });
    // As the service runs them: the payload parsed once for every rule the message reaches.
    c.bench_function(
        "rules/110 rules, 10 match: parse once, find and fire",
        |b| {
            b.iter(|| {
                let hits = rules_for(&book, "us-east-1", black_box(msg.topic));
                let root = iotmock_rules::sql::parse_payload(msg.payload);
                let seen = Message {
                    parsed: Some(&root),
                    ..message(msg.topic, &props)
                };
                let fired: Vec<_> = hits
                    .iter()
                    .map(|(rule, _)| fire(rule, &seen, &Quiet))
                    .collect();
                black_box(fired)
            })
        },
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
