//! The stores' readers: arbitrary rows (any kind, key and value) handed to the registry, Jobs
//! and Device Shadow as their store would hand them at start. A row that does not read is
//! quarantined; nothing panics and every open succeeds.
#![no_main]
use iotmock_registry::{EndpointConfig, ManualClock, Registry};
use iotmock_store::{Change, Row, Store, StoreError};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};

/// Hands out the fuzzer's rows; quarantining drops them.
struct Rows(Vec<Row>);

impl Store for Rows {
    fn load(&mut self) -> Result<Vec<Row>, StoreError> {
        Ok(self.0.clone())
    }
    fn commit(&mut self, _: &[Change]) -> Result<(), StoreError> {
        Ok(())
    }
    fn quarantine(&mut self, _: &Row, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

const KINDS: [&str; 14] = [
    "ca", "cert", "policy", "thing", "attachment", "thing_principal", "group", "type",
    "member", "template", "tags", "code", "job", "execution",
];

fn rows(data: &[u8]) -> Vec<Row> {
    let text = String::from_utf8_lossy(data);
    text.split('\u{1}')
        .enumerate()
        .map(|(i, value)| {
            let kind = KINDS[value.len() % KINDS.len()];
            let kind = if i % 5 == 4 { "shadow" } else { kind };
            Row { kind: kind.into(), key: format!("k{i}"), value: value.to_string() }
        })
        .collect()
}

fn ca() -> Arc<iotmock_pki::MockCa> {
    static CA: OnceLock<Arc<iotmock_pki::MockCa>> = OnceLock::new();
    CA.get_or_init(|| Arc::new(iotmock_pki::MockCa::generate(1_800_000_000).expect("a CA")))
        .clone()
}

fuzz_target!(|data: &[u8]| {
    let rows = rows(data);
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let store = Box::new(Rows(rows.clone()));
    let opened = Registry::open("123456789012", EndpointConfig::default(), store, clock, ca());
    assert!(opened.is_ok(), "the registry opens whatever its store holds");
    let jobs = iotmock_jobs::JobsService::open(Box::new(Rows(rows.clone())), "us-east-1");
    assert!(jobs.is_ok(), "the jobs open whatever their store holds");
    let settings = iotmock_shadow::ShadowSettings::default();
    let shadows = iotmock_shadow::ShadowService::open(Box::new(Rows(rows)), settings, "us-east-1");
    assert!(shadows.is_ok(), "the shadows open whatever their store holds");
});
