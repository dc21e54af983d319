//! The MQTT decode path: version detection and decoding of arbitrary bytes, 3.1.1 and 5.
#![no_main]
use bytes::BytesMut;
use iotmock_mqtt::{Version, decode, detect_version, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = detect_version(data);
    for version in [Version::V311, Version::V5] {
        let mut buf = BytesMut::from(data);
        for _ in 0..16 {
            match decode(&mut buf, version) {
                Ok(Some(packet)) => {
                    let mut out = BytesMut::new();
                    let _ = encode(&packet, version, &mut out);
                }
                _ => break,
            }
        }
    }
});
