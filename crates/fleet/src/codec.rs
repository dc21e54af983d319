//! The two payload formats of the provisioning topics: `json` and `cbor` (what embedded
//! firmware sends), with the same keys.

use bytes::Bytes;
use serde_json::Value;

/// A topic's payload format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Cbor,
}

impl Format {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "json" => Some(Format::Json),
            "cbor" => Some(Format::Cbor),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Cbor => "cbor",
        }
    }

    /// Decodes a request; an empty payload is an empty object.
    pub fn decode(self, payload: &[u8]) -> Result<Value, String> {
        if payload.is_empty() {
            return Ok(Value::Object(Default::default()));
        }
        match self {
            Format::Json => serde_json::from_slice(payload).map_err(|e| e.to_string()),
            Format::Cbor => ciborium::from_reader(payload).map_err(|e| e.to_string()),
        }
    }

    /// Encodes an answer.
    pub fn encode(self, doc: &Value) -> Bytes {
        match self {
            Format::Json => Bytes::from(doc.to_string()),
            Format::Cbor => {
                let mut out = Vec::new();
                match ciborium::into_writer(doc, &mut out) {
                    Ok(()) => Bytes::from(out),
                    Err(_) => Bytes::new(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Format;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn empty_is_an_empty_object_and_garbage_is_an_error() {
        for f in [Format::Json, Format::Cbor] {
            assert_eq!(f.decode(b"").ok(), Some(json!({})));
            assert!(f.decode(&[0xff, 0x00, 0x13]).is_err());
        }
    }

    proptest! {
        #[test]
        fn both_formats_round_trip_string_maps(
            map in proptest::collection::btree_map("[A-Za-z]{1,12}", "\\PC{0,40}", 0..6)
        ) {
            let doc = serde_json::to_value(&map).unwrap_or_default();
            for f in [Format::Json, Format::Cbor] {
                prop_assert_eq!(f.decode(&f.encode(&doc)).ok(), Some(doc.clone()));
            }
        }
    }
}
