//! The one HTTP/1.1 request the actions make, to `http://` (a webhook, LocalStack, moto's
//! server) or `https://` endpoints (trusting the system's roots and the CAs given with
//! `--action-ca-file`), with a deadline over the whole exchange and a bounded answer.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Whom `https://` endpoints must prove they are: a TLS client configuration.
#[derive(Clone, Debug)]
pub struct Trust(Arc<rustls::ClientConfig>);

impl Trust {
    /// The system's roots and `extra` (DER certificates of other CAs to trust).
    pub fn new(extra: &[Vec<u8>]) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::debug!(error = %e, "a system root certificate could not be read");
        }
        roots.add_parsable_certificates(found.certs);
        roots.add_parsable_certificates(extra.iter().map(|d| CertificateDer::from(d.clone())));
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|b| b.with_root_certificates(roots).with_no_client_auth());
        match config {
            Ok(mut config) => {
                config.alpn_protocols = vec![b"http/1.1".to_vec()];
                Trust(Arc::new(config))
            }
            Err(e) => unreachable!("the default provider supports its own versions: {e}"),
        }
    }

    /// The system's roots alone, built once.
    pub fn system() -> Self {
        static SYSTEM: OnceLock<Trust> = OnceLock::new();
        SYSTEM.get_or_init(|| Trust::new(&[])).clone()
    }
}

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
    #[error("TLS with {0}: {1}")]
    Tls(String, String),
    #[error("no answer from {0} within {1:?}")]
    Timeout(String, Duration),
    #[error("{0}: {1}")]
    Io(String, String),
}

/// `method url` with `headers` and `body`, answered within `deadline`; `https://` endpoints
/// are trusted by the system's roots.
pub async fn send(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
    deadline: Duration,
) -> Result<Answer, SendError> {
    send_trusting(&Trust::system(), method, url, headers, body, deadline).await
}

/// [`send`], with `trust` deciding which `https://` endpoints are who they say.
pub async fn send_trusting(
    trust: &Trust,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
    deadline: Duration,
) -> Result<Answer, SendError> {
    let exchange = exchange(trust, method, url, headers, body);
    tokio::time::timeout(deadline, exchange)
        .await
        .unwrap_or_else(|_| Err(SendError::Timeout(url.to_string(), deadline)))
}

/// The parts of an `http://` or `https://` URL: host, port, path with query.
pub fn parse(url: &str) -> Result<(String, u16, String), SendError> {
    let bad = |why: &str| SendError::Url(url.to_string(), why.to_string());
    let uri: Uri = url
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| bad(&e.to_string()))?;
    let default_port = match uri.scheme_str() {
        Some("http") => 80,
        Some("https") => 443,
        _ => return Err(bad("the scheme must be http or https")),
    };
    let host = uri.host().ok_or_else(|| bad("no host"))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    Ok((host, uri.port_u16().unwrap_or(default_port), path))
}

async fn exchange(
    trust: &Trust,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Result<Answer, SendError> {
    let (host, port, path) = parse(url)?;
    let io = |e: &dyn std::fmt::Display| SendError::Io(url.to_string(), e.to_string());
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", format!("{host}:{port}"));
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req.body(Full::new(Bytes::from(body))).map_err(|e| io(&e))?;
    let stream = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| io(&e))?;
    let _ = stream.set_nodelay(true);
    if !url.starts_with("https://") {
        return over(stream, url, req).await;
    }
    let tls = |e: &dyn std::fmt::Display| SendError::Tls(url.to_string(), e.to_string());
    let name = ServerName::try_from(host).map_err(|e| tls(&e))?;
    let connector = tokio_rustls::TlsConnector::from(trust.0.clone());
    let stream = connector.connect(name, stream).await.map_err(|e| tls(&e))?;
    over(stream, url, req).await
}

/// `req` over an open connection.
async fn over<S>(stream: S, url: &str, req: Request<Full<Bytes>>) -> Result<Answer, SendError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = |e: &dyn std::fmt::Display| SendError::Io(url.to_string(), e.to_string());
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| io(&e))?;
    tokio::spawn(conn);
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
