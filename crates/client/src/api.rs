//! Just enough of the AWS IoT control plane for the load generator to register devices:
//! JSON over HTTP/1.1 to the mock's API, one connection per call.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

/// Sends one request and returns the status and the raw body.
async fn send(
    api: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<(hyper::StatusCode, Bytes), String> {
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
    Ok((status, raw))
}

/// Calls `method path` with an optional JSON body; Ok(body) on 2xx, Err(message) otherwise.
pub async fn call(
    api: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let (status, raw) = send(api, method, path, body).await?;
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

/// GETs `path` as text (e.g. the served trust anchor).
pub async fn get_text(api: &str, path: &str) -> Result<String, String> {
    let (status, raw) = send(api, "GET", path, None).await?;
    if !status.is_success() {
        return Err(format!("GET {path}: {status}"));
    }
    String::from_utf8(raw.to_vec()).map_err(|e| e.to_string())
}
