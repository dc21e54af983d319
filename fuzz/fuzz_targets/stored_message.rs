//! Messages as `broker.db` keeps them: arbitrary bytes decoded with the store's limit (no
//! limit but MQTT's own) never panic, and whatever decodes encodes again and decodes the same.
#![no_main]
use bytes::BytesMut;
use iotmock_mqtt::{MAX_ENCODABLE, Packet, Version, decode_within, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    if let Ok(Some(Packet::Publish(p))) = decode_within(&mut buf, Version::V5, MAX_ENCODABLE) {
        let stored = Packet::Publish(iotmock_mqtt::Publish { pkid: 1, ..p });
        let mut out = BytesMut::new();
        if encode(&stored, Version::V5, &mut out).is_ok() {
            let again = decode_within(&mut out, Version::V5, MAX_ENCODABLE);
            assert!(matches!(again, Ok(Some(Packet::Publish(_)))), "what the store wrote reads back");
        }
    }
});
