//! The control plane's request parsing and routing: an arbitrary method, path, query, headers
//! and body, parsed as the server parses a request and dispatched to an in-memory mock. Every
//! outcome is an answer or an AWS-shaped error; nothing panics.
#![no_main]
use iotmock_api::router::{Method, dispatch};
use iotmock_api::{ApiLimits, ApiState, accounts::Accounts, request::ApiRequest, wire};
use iotmock_registry::{EndpointConfig, ManualClock, MemoryStore, Registry};
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

fn state() -> &'static ApiState {
    static STATE: OnceLock<ApiState> = OnceLock::new();
    STATE.get_or_init(|| {
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        let ca = Arc::new(iotmock_pki::MockCa::generate(1_800_000_000).expect("a CA"));
        let reg = Registry::open("123456789012", EndpointConfig::default(), Box::new(MemoryStore), clock, ca)
            .expect("opens");
        let registry = Arc::new(RwLock::new(reg));
        let jobs = iotmock_jobs::JobsService::open(Box::new(MemoryStore), "us-east-1").expect("jobs");
        let shadows = iotmock_shadow::ShadowService::open(
            Box::new(MemoryStore),
            iotmock_shadow::ShadowSettings::default(),
            "us-east-1",
        )
        .expect("shadows");
        ApiState {
            accounts: Arc::new(Accounts::single(registry.clone())),
            registry,
            root_ca_pem: Arc::from(""),
            default_region: Arc::from("us-east-1"),
            data: None,
            shadows: Some(Arc::new(shadows)),
            jobs: Some(Arc::new(jobs)),
            rules: None,
            authorizers: None,
            index: None,
            defender: None,
            events: None,
            pages: None,
            rules_not_found: iotmock_model::ErrorCode::Unauthorized,
            limits: ApiLimits::default(),
        }
    })
}

const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let head = parts.next().unwrap_or_default();
    let auth = parts.next().unwrap_or_default();
    let query = parts.next();
    let body = parts.next().unwrap_or_default().as_bytes().to_vec();
    let method = METHODS[head.len() % METHODS.len()];
    let headers = HashMap::from([("authorization".to_string(), auth.to_string())]);
    let path = if head.starts_with('/') { head.to_string() } else { format!("/{head}") };
    let Ok(req) = ApiRequest::new(Method::parse(method), &path, query, headers, body, "us-east-1")
    else {
        return;
    };
    let state = state().for_request(&req);
    match dispatch(&state, &req) {
        Ok(reply) => drop(wire::success(reply, "rid")),
        Err(e) => drop(wire::failure(&e, "rid")),
    }
});
