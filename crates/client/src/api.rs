//! Just enough of the AWS IoT control plane for the load generator to register devices:
//! JSON over HTTP/1.1 to the mock's API, one connection per call.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

/// Why a call to the control plane failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The API's address did not accept a TCP connection.
    #[error("API {authority}: {source}")]
    Connect {
        authority: String,
        source: std::io::Error,
    },
    /// The HTTP exchange itself failed (handshake, request, or reading the body).
    #[error("API {authority}: {source}")]
    Http {
        authority: String,
        source: hyper::Error,
    },
    /// The request could not be built (e.g. a path that is not a valid URI).
    #[error("{method} {path}: {source}")]
    Request {
        method: String,
        path: String,
        source: hyper::http::Error,
    },
    /// The API answered with a non-2xx status; `message` is the error body's `message`.
    #[error("{method} {path}: {status}{}", message.as_deref().map(|m| format!(" {m}")).unwrap_or_default())]
    Status {
        method: String,
        path: String,
        status: StatusCode,
        message: Option<String>,
    },
    /// A text body that is not UTF-8.
    #[error("GET {path}: the body is not UTF-8: {source}")]
    Utf8 {
        path: String,
        source: std::string::FromUtf8Error,
    },
}

impl ApiError {
    /// The HTTP status of a refused call, if the API answered at all.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Sends one request and returns the status and the raw body.
async fn send(
    api: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<(StatusCode, Bytes), ApiError> {
    send_in(api, None, method, path, body).await
}

/// [`send`] naming `region` the way the mock reads it: the SigV4 credential scope.
async fn send_in(
    api: &str,
    region: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<(StatusCode, Bytes), ApiError> {
    let authority = api.trim_start_matches("http://").trim_end_matches('/');
    let http = |source| ApiError::Http {
        authority: authority.to_string(),
        source,
    };
    let stream = TcpStream::connect(authority)
        .await
        .map_err(|source| ApiError::Connect {
            authority: authority.to_string(),
            source,
        })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http)?;
    tokio::spawn(conn);
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", authority)
        .header("content-type", "application/json");
    let req = match region {
        Some(r) => req.header("authorization", scope(r)),
        None => req,
    };
    let req = req
        .body(Full::new(Bytes::from(bytes)))
        .map_err(|source| ApiError::Request {
            method: method.to_string(),
            path: path.to_string(),
            source,
        })?;
    let resp = sender.send_request(req).await.map_err(http)?;
    let status = resp.status();
    let raw = resp.into_body().collect().await.map_err(http)?.to_bytes();
    Ok((status, raw))
}

/// Calls `method path` with an optional JSON body; Ok(body) on 2xx (`Null` when the body is
/// empty or not JSON), Err otherwise.
pub async fn call(
    api: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<Value, ApiError> {
    call_in(api, None, method, path, body).await
}

/// An unsigned SigV4-shaped authorization naming `region` (the mock verifies no signature).
fn scope(region: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=iotmock/20260101/{region}/iotdata/aws4_request, SignedHeaders=host, Signature=0"
    )
}

/// [`call`] in `region` (`None`: the mock's default region).
pub async fn call_in(
    api: &str,
    region: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<Value, ApiError> {
    let (status, raw) = send_in(api, region, method, path, body).await?;
    let json: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    if status.is_success() {
        Ok(json)
    } else {
        Err(ApiError::Status {
            method: method.to_string(),
            path: path.to_string(),
            status,
            message: json["message"]
                .as_str()
                .filter(|m| !m.is_empty())
                .map(str::to_string),
        })
    }
}

/// GETs `path` as text (e.g. the served trust anchor).
pub async fn get_text(api: &str, path: &str) -> Result<String, ApiError> {
    let (status, raw) = send(api, "GET", path, None).await?;
    if !status.is_success() {
        return Err(ApiError::Status {
            method: "GET".into(),
            path: path.to_string(),
            status,
            message: None,
        });
    }
    String::from_utf8(raw.to_vec()).map_err(|source| ApiError::Utf8 {
        path: path.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_errors_read_as_before() {
        let err = |message: Option<&str>| ApiError::Status {
            method: "POST".into(),
            path: "/policies/p".into(),
            status: StatusCode::CONFLICT,
            message: message.map(str::to_string),
        };
        assert_eq!(
            err(Some("exists")).to_string(),
            "POST /policies/p: 409 Conflict exists"
        );
        assert_eq!(err(None).to_string(), "POST /policies/p: 409 Conflict");
        assert_eq!(err(None).status(), Some(StatusCode::CONFLICT));
    }
}
