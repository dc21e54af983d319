//! A decoded API request: the path split on `/` before each segment is percent-decoded (ARNs
//! and topics travel as `%2F`), the query, the headers the operations read, the JSON body,
//! and the region from the SigV4 credential scope.

use crate::router::Method;
use iotmock_model::{IotError, IotResult};
use iotmock_registry::PageRequest;
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The strings of a JSON array (other members and a missing array give nothing).
pub fn str_list(v: Option<&Value>) -> Vec<String> {
    let items = v
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    items
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// The largest request body accepted.
pub const MAX_BODY: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: Method,
    pub path: String,
    pub segments: Vec<String>,
    pub query: HashMap<String, String>,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub region: String,
    /// The SigV4 signing name (`iot`, `iot-jobs-data`, `iotdata`...), when the request is
    /// signed: it tells apart operations that share a path.
    pub service: Option<String>,
    /// The SigV4 access key id, when the request is signed: it selects the account.
    pub access_key: Option<String>,
    /// The device that sent it, when it came through a door with a client certificate.
    pub caller: Option<std::sync::Arc<crate::Caller>>,
}

impl ApiRequest {
    /// Builds a request from its parts; `default_region` applies when no SigV4 scope is sent.
    pub fn new(
        method: Method,
        path: &str,
        query: Option<&str>,
        headers: HashMap<String, String>,
        body: Vec<u8>,
        default_region: &str,
    ) -> IotResult<Self> {
        let segments = split_path(path)?;
        let query = query
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let region =
            region_from_headers(&headers, &query).unwrap_or_else(|| default_region.to_string());
        let service = scope_part(&headers, &query, 3);
        let access_key = scope_part(&headers, &query, 0);
        Ok(Self {
            method,
            path: path.to_string(),
            segments,
            query,
            headers,
            body,
            region,
            service,
            access_key,
            caller: None,
        })
    }

    /// A query parameter.
    pub fn qs(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    /// A boolean query parameter (`true`/`false`); absent is false.
    pub fn qs_bool(&self, name: &str) -> IotResult<bool> {
        match self.qs(name) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(IotError::invalid(format!(
                "Query parameter {name} must be true or false, got '{other}'"
            ))),
        }
    }

    /// An integer query parameter.
    pub fn qs_int(&self, name: &str) -> IotResult<Option<i64>> {
        self.qs(name)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    IotError::invalid(format!(
                        "Query parameter {name} must be an integer, got '{v}'"
                    ))
                })
            })
            .transpose()
    }

    /// A header (names are lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// marker/pageSize/isAscendingOrder, or nextToken/maxResults for the thing operations.
    pub fn page(&self, marker: &str, size: &str) -> IotResult<PageRequest> {
        Ok(PageRequest {
            marker: self.qs(marker).map(str::to_string),
            page_size: self.qs_int(size)?,
            ascending: match self.qs("isAscendingOrder") {
                None => None,
                Some(_) => Some(self.qs_bool("isAscendingOrder")?),
            },
        })
    }

    /// The JSON body as an object; an empty body is an empty object.
    pub fn json(&self) -> IotResult<Map<String, Value>> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Map::new());
        }
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(IotError::invalid("The request body must be a JSON object")),
            Err(e) => Err(IotError::invalid(format!(
                "The request body is not valid JSON: {e}"
            ))),
        }
    }
}

/// A string member of a JSON body; present but not a string is an error.
pub fn body_str<'a>(body: &'a Map<String, Value>, name: &str) -> IotResult<Option<&'a str>> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(IotError::invalid(format!(
            "{name} must be a string, got {other}"
        ))),
    }
}

/// A boolean member of a JSON body.
pub fn body_bool(body: &Map<String, Value>, name: &str) -> IotResult<bool> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(IotError::invalid(format!(
            "{name} must be a boolean, got {other}"
        ))),
    }
}

/// An integer member of a JSON body.
pub fn body_int(body: &Map<String, Value>, name: &str) -> IotResult<Option<i64>> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
        Some(other) => Err(IotError::invalid(format!(
            "{name} must be an integer, got {other}"
        ))),
    }
}

fn split_path(path: &str) -> IotResult<Vec<String>> {
    path.trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|seg| {
            percent_decode_str(seg)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| {
                    IotError::invalid(format!("The path segment '{seg}' is not valid UTF-8"))
                })
        })
        .collect()
}

/// Part `n` of `Credential=AKID/date/REGION/SERVICE/aws4_request` (header or presigned query).
fn scope_part(
    headers: &HashMap<String, String>,
    query: &HashMap<String, String>,
    n: usize,
) -> Option<String> {
    let scope = headers
        .get("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .or_else(|| query.get("X-Amz-Credential").map(String::as_str))?;
    let part = scope.split('/').nth(n)?;
    let valid = !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    valid.then(|| part.to_string())
}

/// The region of the SigV4 credential scope.
fn region_from_headers(
    headers: &HashMap<String, String>,
    query: &HashMap<String, String>,
) -> Option<String> {
    scope_part(headers, query, 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(path: &str, auth: Option<&str>) -> ApiRequest {
        let mut headers = HashMap::new();
        if let Some(a) = auth {
            headers.insert("authorization".to_string(), a.to_string());
        }
        ApiRequest::new(
            Method::Get,
            path,
            Some("a=1&b=x%2Fy"),
            headers,
            Vec::new(),
            "us-east-1",
        )
        .expect("request")
    }

    #[test]
    fn segments_are_decoded_after_splitting() {
        let r = req(
            "/attached-policies/arn%3Aaws%3Aiot%3Aus-east-1%3A1%3Acert%2Fabc",
            None,
        );
        assert_eq!(
            r.segments,
            vec!["attached-policies", "arn:aws:iot:us-east-1:1:cert/abc"]
        );
        assert_eq!(r.qs("b"), Some("x/y"));
    }

    #[test]
    fn region_comes_from_the_credential_scope() {
        let auth = "AWS4-HMAC-SHA256 Credential=test/20260101/ap-northeast-1/iot/aws4_request, SignedHeaders=host, Signature=00";
        assert_eq!(req("/things", Some(auth)).region, "ap-northeast-1");
        assert_eq!(req("/things", None).region, "us-east-1");
        assert_eq!(
            req("/things", Some("Credential=x/y/../iot")).region,
            "us-east-1"
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_paths_and_queries_never_panic(p in ".{0,200}", q in ".{0,200}") {
            let _ = ApiRequest::new(Method::Post, &p, Some(&q), HashMap::new(), p.clone().into_bytes(), "r");
        }
    }
}
