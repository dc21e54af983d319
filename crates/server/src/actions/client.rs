//! The one HTTP/1.1 request the actions make: `http://` endpoints only (a webhook, LocalStack,
//! moto's server), with a deadline over the whole exchange and a bounded answer.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::net::TcpStream;

/// Answers longer than this are cut (AWS reads at most 16 KiB of an http action's answer).
const MAX_ANSWER: usize = 1024 * 1024;

/// What an endpoint answered.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("invalid URL {0}: {1}")]
    Url(String, String),
    #[error("{0}: only http:// endpoints are reached offline (https needs AWS itself)")]
    Https(String),
    #[error("no answer from {0} within {1:?}")]
    Timeout(String, Duration),
    #[error("{0}: {1}")]
    Io(String, String),
}

/// `method url` with `headers` and `body`, answered within `deadline`.
pub async fn send(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
    deadline: Duration,
) -> Result<Answer, SendError> {
    let exchange = exchange(method, url, headers, body);
    tokio::time::timeout(deadline, exchange)
        .await
        .unwrap_or_else(|_| Err(SendError::Timeout(url.to_string(), deadline)))
}

/// The parts of an `http://` URL: host, port, path with query.
pub fn parse(url: &str) -> Result<(String, u16, String), SendError> {
    let bad = |why: &str| SendError::Url(url.to_string(), why.to_string());
    let uri: Uri = url
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| bad(&e.to_string()))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => return Err(SendError::Https(url.to_string())),
        _ => return Err(bad("the scheme must be http")),
    }
    let host = uri.host().ok_or_else(|| bad("no host"))?.to_string();
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    Ok((host, uri.port_u16().unwrap_or(80), path))
}

async fn exchange(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Result<Answer, SendError> {
    let (host, port, path) = parse(url)?;
    let io = |e: &dyn std::fmt::Display| SendError::Io(url.to_string(), e.to_string());
    let stream = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| io(&e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| io(&e))?;
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", format!("{host}:{port}"));
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req.body(Full::new(Bytes::from(body))).map_err(|e| io(&e))?;
    let resp = sender.send_request(req).await.map_err(|e| io(&e))?;
    let status = resp.status().as_u16();
    let body = Limited::new(resp.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|e| io(&e))?
        .to_bytes()
        .to_vec();
    Ok(Answer { status, body })
}
