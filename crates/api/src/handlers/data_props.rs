//! An HTTPS publish's MQTT 5 properties, as iot-data takes them: `x-amz-mqtt5-user-properties`
//! (base64 of a JSON array of one-pair objects), `x-amz-mqtt5-payload-format-indicator`
//! (`UNSPECIFIED_BYTES` | `UTF8_DATA`), `x-amz-mqtt5-correlation-data` (base64), and the
//! `contentType`, `responseTopic` and `messageExpiry` query parameters.

use crate::request::ApiRequest;
use base64::Engine;
use iotmock_model::{IotError, IotResult};
use iotmock_mqtt::PublishProperties;

const USER_PROPERTIES: &str = "x-amz-mqtt5-user-properties";
const FORMAT: &str = "x-amz-mqtt5-payload-format-indicator";
const CORRELATION: &str = "x-amz-mqtt5-correlation-data";

/// The properties the request carries (`None`: none).
pub fn properties(req: &ApiRequest) -> IotResult<Option<PublishProperties>> {
    let header = |name: &str| req.headers.get(name).map(String::as_str);
    let mut props = iotmock_mqtt::empty_properties();
    if let Some(encoded) = header(USER_PROPERTIES) {
        props.user_properties = user_properties(encoded)?;
    }
    props.payload_format_indicator = match header(FORMAT) {
        None | Some("UNSPECIFIED_BYTES") => None,
        Some("UTF8_DATA") => Some(1),
        Some(other) => {
            return Err(IotError::invalid(format!(
                "{FORMAT} must be UNSPECIFIED_BYTES or UTF8_DATA, got '{other}'"
            )));
        }
    };
    if props.payload_format_indicator == Some(1) && std::str::from_utf8(&req.body).is_err() {
        return Err(IotError::invalid(
            "The payload is not UTF-8, but the payload format indicator says UTF8_DATA",
        ));
    }
    if let Some(encoded) = header(CORRELATION) {
        props.correlation_data = Some(decode(CORRELATION, encoded)?.into());
    }
    props.content_type = req.qs("contentType").map(str::to_string);
    props.response_topic = req.qs("responseTopic").map(str::to_string);
    if let Some(topic) = &props.response_topic {
        iotmock_mqtt::topic::validate_topic(topic).map_err(|e| {
            IotError::invalid(format!("responseTopic '{topic}' is not a valid topic: {e}"))
        })?;
    }
    props.message_expiry_interval = match req.qs("messageExpiry") {
        None => None,
        Some(text) => Some(expiry(text)?),
    };
    Ok((props != iotmock_mqtt::empty_properties()).then_some(props))
}

fn decode(name: &str, encoded: &str) -> IotResult<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| IotError::invalid(format!("{name} is not base64: {e}")))
}

/// `[{"k":"v"}, ...]`, base64-encoded, into ordered pairs (a key may repeat).
pub fn user_properties(encoded: &str) -> IotResult<Vec<(String, String)>> {
    let raw = decode(USER_PROPERTIES, encoded)?;
    let bad = |why: &str| IotError::invalid(format!("{USER_PROPERTIES} {why}"));
    let value: serde_json::Value = serde_json::from_slice(&raw)
        .map_err(|_| bad("must be a base64-encoded JSON array of objects"))?;
    let items = value
        .as_array()
        .ok_or_else(|| bad("must be a JSON array of objects"))?;
    let mut pairs = Vec::new();
    for item in items {
        let object = item
            .as_object()
            .ok_or_else(|| bad("must hold objects of one key and a string value"))?;
        for (k, v) in object {
            let v = v.as_str().ok_or_else(|| bad("values must be strings"))?;
            pairs.push((k.clone(), v.to_string()));
        }
    }
    Ok(pairs)
}

/// Seconds until the message expires: a non-negative integer (at most MQTT's u32).
fn expiry(text: &str) -> IotResult<u32> {
    text.parse::<u64>()
        .ok()
        .map(|s| u32::try_from(s).unwrap_or(u32::MAX))
        .ok_or_else(|| {
            IotError::invalid(format!(
                "messageExpiry must be a whole number of seconds, got '{text}'"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    #[test]
    fn user_properties_keep_their_order_and_repeats() {
        let text = r#"[{"deviceName":"alpha"},{"deviceCnt":"45"},{"deviceName":"beta"}]"#;
        let pairs = user_properties(&encode(text)).unwrap();
        assert_eq!(
            pairs,
            vec![
                ("deviceName".into(), "alpha".into()),
                ("deviceCnt".into(), "45".into()),
                ("deviceName".into(), "beta".into()),
            ]
        );
        assert!(user_properties(&encode(r#"{"a":"b"}"#)).is_err());
        assert!(user_properties(&encode(r#"[{"a":1}]"#)).is_err());
        assert!(user_properties("not base64!").is_err());
    }

    proptest! {
        #[test]
        fn any_header_is_parsed_or_refused_without_panicking(text in ".{0,200}") {
            let _ = user_properties(&text);
            let _ = user_properties(&encode(&text));
            let _ = expiry(&text);
        }

        #[test]
        fn pairs_round_trip(pairs in proptest::collection::vec(("[a-z]{1,8}", ".{0,16}"), 0..8)) {
            let json: Vec<serde_json::Value> = pairs
                .iter()
                .map(|(k, v)| serde_json::json!({ k.as_str(): v }))
                .collect();
            let encoded = encode(&serde_json::Value::Array(json).to_string());
            prop_assert_eq!(user_properties(&encoded).unwrap(), pairs);
        }
    }
}
