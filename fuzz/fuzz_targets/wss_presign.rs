//! The query of an MQTT-over-WebSocket upgrade (`/mqtt?X-Amz-...`), as the port-443 door
//! parses and judges it.
#![no_main]
use iotmock_session::presign::{check, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(data).into_owned().collect();
    if let Ok(Some(presigned)) = parse(&pairs) {
        let _ = check(&presigned, 1_796_605_323_000, "us-east-1");
    }
});
