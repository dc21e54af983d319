//! The one place where answers and errors become HTTP: status from the exception's model,
//! `x-amzn-ErrorType: <Name>:`, `x-amzn-RequestId`, and `{"message", "__type"}` bodies.

use iotmock_model::IotError;
use serde_json::{Value, json};

/// What a handler answers on success.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Json(Value),
    Empty,
    Pem(String),
}

/// An encoded response: status, extra headers and body.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

pub fn success(reply: Reply, request_id: &str) -> Encoded {
    let (content_type, body) = match reply {
        Reply::Json(v) => ("application/json", v.to_string().into_bytes()),
        Reply::Empty => ("application/json", Vec::new()),
        Reply::Pem(p) => ("application/x-pem-file", p.into_bytes()),
    };
    Encoded {
        status: 200,
        headers: vec![
            ("content-type", content_type.to_string()),
            ("x-amzn-requestid", request_id.to_string()),
        ],
        body,
    }
}

pub fn failure(err: &IotError, request_id: &str) -> Encoded {
    let name = err.code.name();
    let mut body = json!({ "message": err.message, "__type": name });
    if let Some(id) = &err.resource_id {
        body["resourceId"] = json!(id);
    }
    if let Some(arn) = &err.resource_arn {
        body["resourceArn"] = json!(arn);
    }
    Encoded {
        status: err.code.http_status(),
        headers: vec![
            ("content-type", "application/json".to_string()),
            ("x-amzn-errortype", format!("{name}:")),
            ("x-amzn-requestid", request_id.to_string()),
        ],
        body: body.to_string().into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iotmock_model::ErrorCode;

    #[test]
    fn errors_carry_type_status_and_clash() {
        let e = IotError::already_exists("dup", "abc", "arn:x");
        let enc = failure(&e, "rid");
        assert_eq!(enc.status, 409);
        assert!(
            enc.headers
                .contains(&("x-amzn-errortype", "ResourceAlreadyExistsException:".into()))
        );
        let body: Value = serde_json::from_slice(&enc.body).expect("json");
        assert_eq!(body["resourceId"], "abc");
        assert_eq!(body["message"], "dup");
        assert_eq!(failure(&IotError::cert_state("x"), "r").status, 406);
        assert_eq!(
            failure(&IotError::new(ErrorCode::LimitExceeded, "x"), "r").status,
            410
        );
    }
}
