//! Policy parsing and evaluation of arbitrary documents against a fixed request.
#![no_main]
use iotmock_policy::{NamedPolicy, NoVars, PolicyDocument, Request, evaluate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(document) = PolicyDocument::parse(text) {
        let policies = [NamedPolicy { name: "p".into(), version: "1".into(), document }];
        let req = Request { action: "iot:Publish", resource: "arn:aws:iot:us-east-1:123456789012:topic/a/b" };
        let _ = evaluate(&policies, &req, &NoVars);
    }
});
