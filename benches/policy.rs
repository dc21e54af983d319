//! Policy evaluation, pure: the per-publish and per-delivery cost of authorization.

use criterion::{Criterion, criterion_group, criterion_main};
use iotmock_policy::{NamedPolicy, PolicyDocument, Request, evaluate};
use std::collections::HashMap;
use std::hint::black_box;

fn policy(doc: &str) -> NamedPolicy {
    NamedPolicy {
        name: "p".into(),
        version: "1".into(),
        document: PolicyDocument::parse(doc).expect("valid"),
    }
}

fn bench(c: &mut Criterion) {
    let allow_all = vec![policy(
        r#"{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*"}}"#,
    )];
    let scoped = vec![
        policy(
            r#"{"Statement":[
            {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
            {"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:*:*:topic/things/${iot:ClientId}/*"},
            {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:*:*:topicfilter/things/${iot:ClientId}/*"}]}"#,
        ),
        policy(
            r#"{"Statement":{"Effect":"Deny","Action":"iot:Receive","Resource":"arn:aws:iot:*:*:topic/things/*/secret/*"}}"#,
        ),
    ];
    let vars: HashMap<String, Vec<String>> = [
        ("iot:ClientId", "thing-1"),
        ("iot:Connection.Thing.ThingName", "thing-1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
    .collect();
    let req = Request {
        action: "iot:Publish",
        resource: "arn:aws:iot:us-east-1:123456789012:topic/things/thing-1/telemetry/temp",
    };
    c.bench_function("policy/allow-all publish", |b| {
        b.iter(|| evaluate(black_box(&allow_all), black_box(&req), &vars))
    });
    c.bench_function("policy/scoped publish with variables and a deny", |b| {
        b.iter(|| evaluate(black_box(&scoped), black_box(&req), &vars))
    });
    c.bench_function("policy/parse", |b| {
        b.iter(|| {
            PolicyDocument::parse(black_box(
                r#"{"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#,
            ))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
