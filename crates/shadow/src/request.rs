//! Reading a request payload as AWS does: JSON, then the schema (`state`, `desired`,
//! `reported`, `clientToken`, `version`), then nesting. Each refusal names AWS's message.

use crate::document::depth;
use crate::{MAX_CLIENT_TOKEN, ShadowError};
use serde_json::{Map, Value};

/// A valid update request.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateRequest {
    /// The request's `state` (`Value::Null` clears both sections).
    pub state: Value,
    pub client_token: Option<String>,
    pub version: Option<u64>,
}

/// `clientToken` and `version` of any request; the token is echoed even when the rest fails.
fn common(obj: &Map<String, Value>) -> Result<(Option<String>, Option<u64>), ShadowError> {
    let token = match obj.get("clientToken") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if t.len() <= MAX_CLIENT_TOKEN => Some(t.clone()),
        Some(_) => return Err(ShadowError::new(400, "Invalid clientToken")),
    };
    let version = match obj.get("version") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) => Some(n),
            None => {
                return Err(ShadowError::new(400, "Invalid version").with_token(token.as_deref()));
            }
        },
    };
    Ok((token, version))
}

fn parse_object(payload: &[u8]) -> Result<Map<String, Value>, ShadowError> {
    if std::str::from_utf8(payload).is_err() {
        let msg = "Unsupported documented encoding; supported encoding is UTF-8";
        return Err(ShadowError::new(415, msg));
    }
    match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(ShadowError::invalid_json()),
    }
}

/// The client token of a get or delete request (an empty payload is allowed; the content of a
/// delete request is otherwise ignored, as AWS documents).
pub fn read_token(payload: &[u8]) -> Result<Option<String>, ShadowError> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    Ok(common(&parse_object(payload)?)?.0)
}

fn has_null_in_array(v: &Value) -> bool {
    match v {
        Value::Array(items) => items.iter().any(|i| i.is_null() || has_null_in_array(i)),
        Value::Object(m) => m.values().any(has_null_in_array),
        _ => false,
    }
}

/// Checks `state`: an object (or null) holding only `desired` and `reported`, each an object
/// or null, arrays without nulls, nesting within `max_depth`. `delta` is dropped.
fn check_state(state: &mut Value, max_depth: usize) -> Result<(), String> {
    let Some(map) = state.as_object_mut() else {
        return match state {
            Value::Null => Ok(()),
            _ => Err("State node must be an object".into()),
        };
    };
    map.remove("delta");
    if map.keys().any(|k| k != "desired" && k != "reported") {
        return Err("State contains an invalid node".into());
    }
    for (key, msg) in [
        ("desired", "Desired node must be an object"),
        ("reported", "Reported node must be an object"),
    ] {
        match map.get(key) {
            None | Some(Value::Null) => {}
            Some(v @ Value::Object(_)) if has_null_in_array(v) => return Err("Invalid JSON".into()),
            Some(v @ Value::Object(_)) if depth(v) > max_depth => {
                return Err("JSON contains too many levels of nesting; maximum is 6".into());
            }
            Some(Value::Object(_)) => {}
            Some(_) => return Err(msg.into()),
        }
    }
    Ok(())
}

/// Reads an update request.
pub fn read_update(payload: &[u8], max_depth: usize) -> Result<UpdateRequest, ShadowError> {
    let mut obj = parse_object(payload)?;
    let (client_token, version) = common(&obj)?;
    let fail = |msg: String| ShadowError::new(400, msg).with_token(client_token.as_deref());
    let Some(mut state) = obj.remove("state") else {
        return Err(fail("Missing required node: state".into()));
    };
    check_state(&mut state, max_depth).map_err(fail)?;
    Ok(UpdateRequest {
        state,
        client_token,
        version,
    })
}
