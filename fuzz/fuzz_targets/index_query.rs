//! Fleet indexing's query syntax: parse arbitrary text and, when it parses, evaluate it
//! against a fixed thing document (it must never panic).
#![no_main]
use iotmock_index::config::{Config, ThingMode};
use iotmock_index::{Connectivity, ShadowDoc, ThingDoc, eval, query};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(q) = query::parse(text) else {
        return;
    };
    let config = Config {
        thing_mode: ThingMode::RegistryAndShadow,
        connectivity: true,
        ..Config::default()
    };
    let doc = ThingDoc {
        name: "kitchen-1".into(),
        id: "id".into(),
        attributes: [("room".to_string(), "kitchen 2".to_string())].into(),
        shadow: Some(ShadowDoc {
            reported: Some(serde_json::json!({ "t": 21.5, "tags": ["a", 1, true] })),
            ..ShadowDoc::default()
        }),
        connectivity: Some(Connectivity { connected: true, timestamp: 1, disconnect_reason: None }),
        ..ThingDoc::default()
    };
    let _ = eval::matches(&q, &doc.fields(&config));
});
