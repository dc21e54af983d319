//! The control plane without a socket: requests built as the server builds them, answered by
//! `router::dispatch` and encoded by `wire`, exactly as over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use iotmock_api::router::{Method, dispatch};
use iotmock_api::wire::{self, Reply};
use iotmock_api::{ApiLimits, ApiState, accounts::Accounts, request::ApiRequest};
use iotmock_jobs::JobsService;
use iotmock_pki::MockCa;
use iotmock_registry::{Clock, EndpointConfig, ManualClock, MemoryStore, Registry};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

fn state() -> ApiState {
    let clock = Arc::new(ManualClock::starting_now());
    let ca = Arc::new(MockCa::generate(clock.now_millis() / 1000).unwrap());
    let store = Box::new(MemoryStore);
    let registry = Registry::open("123456789012", EndpointConfig::default(), store, clock, ca);
    let registry = Arc::new(RwLock::new(registry.unwrap()));
    let jobs = JobsService::open(Box::new(MemoryStore), "us-east-1").unwrap();
    ApiState {
        accounts: Arc::new(Accounts::single(registry.clone())),
        registry,
        root_ca_pem: Arc::from(""),
        default_region: Arc::from("us-east-1"),
        data: None,
        shadows: None,
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
}

/// A request as the server builds it, signed for `service`.
fn request(method: Method, path: &str, service: &str, body: Option<Value>) -> ApiRequest {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=AKID/20261206/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=00"
    );
    let headers = HashMap::from([("authorization".to_string(), auth)]);
    let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let (path, query) = path
        .split_once('?')
        .map_or((path, None), |(p, q)| (p, Some(q)));
    ApiRequest::new(method, path, query, headers, body, "us-east-1").unwrap()
}

fn call(state: &ApiState, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    call_as(state, method, path, "iot", body)
}

fn call_as(
    state: &ApiState,
    method: Method,
    path: &str,
    service: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let req = request(method, path, service, body);
    let encoded = match dispatch(&state.for_request(&req), &req) {
        Ok(reply) => wire::success(reply, "rid"),
        Err(e) => wire::failure(&e, "rid"),
    };
    let body = serde_json::from_slice(&encoded.body).unwrap_or(Value::Null);
    (encoded.status, body)
}

#[test]
fn a_thing_is_created_described_and_refused_in_aws_shapes() {
    let s = state();
    let (status, made) = call(&s, Method::Post, "/things/lamp", Some(json!({})));
    assert_eq!(status, 200);
    assert_eq!(made["thingName"], "lamp");
    let (_, described) = call(&s, Method::Get, "/things/lamp", None);
    assert_eq!(described["thingArn"], made["thingArn"]);
    let (status, missing) = call(&s, Method::Get, "/things/nope", None);
    assert_eq!(status, 404);
    assert_eq!(missing["__type"], "ResourceNotFoundException");
}

#[test]
fn one_path_two_services_by_the_signature() {
    let s = state();
    call(&s, Method::Post, "/things/pump", Some(json!({})));
    let arn = "arn:aws:iot:us-east-1:123456789012:thing/pump";
    let job = json!({ "targets": [arn], "document": "{}" });
    assert_eq!(call(&s, Method::Put, "/jobs/j1", Some(job)).0, 200);
    // iot: ListJobExecutionsForThing.
    let (_, control) = call(&s, Method::Get, "/things/pump/jobs", None);
    assert_eq!(control["executionSummaries"][0]["jobId"], "j1");
    // iot-jobs-data: GetPendingJobExecutions, on the same path.
    let (_, data) = call_as(&s, Method::Get, "/things/pump/jobs", "iot-jobs-data", None);
    assert_eq!(data["queuedJobs"][0]["jobId"], "j1");
}

#[test]
fn the_root_ca_is_served_as_pem() {
    let s = state();
    let req = request(Method::Get, "/iotmock/AmazonRootCA1.pem", "iot", None);
    assert!(matches!(dispatch(&s, &req), Ok(Reply::Pem(_))));
}
