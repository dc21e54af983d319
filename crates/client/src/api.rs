//! Just enough of the AWS IoT control plane for the load generator to register devices:
//! JSON over HTTP/1.1 to the mock's API, one connection per call.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

/// Calls `method path` with an optional JSON body; Ok(body) on 2xx, Err(message) otherwise.
pub async fn call(
    api: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let authority = api.trim_start_matches("http://").trim_end_matches('/');
    let stream = TcpStream::connect(authority)
        .await
        .map_err(|e| format!("API {authority}: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", authority)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(bytes)))
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let raw = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let json: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    if status.is_success() {
        Ok(json)
    } else {
        Err(format!(
            "{} {path}: {status} {}",
            method,
            json["message"].as_str().unwrap_or_default()
        ))
    }
}
