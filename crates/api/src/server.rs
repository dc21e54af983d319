//! The HTTP/1.1 server: accepts on a bound listener, reads each request (at most
//! [`MAX_BODY`] bytes), runs the operation on the blocking pool (registry commits and RSA key
//! generation block), and writes the encoded answer. Shutdown stops accepting and lets
//! in-flight requests finish.

use crate::request::{ApiRequest, MAX_BODY};
use crate::router::{Method, dispatch};
use crate::state::ApiState;
use crate::wire::{self, Encoded};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use iotmock_model::{IotError, IotResult};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running API server.
pub struct ApiServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl ApiServer {
    /// Serves `listener` until [`ApiServer::shutdown`] or drop.
    pub fn start(listener: TcpListener, state: ApiState) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, state, stopped));
        Ok(Self { addr, stop, task })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets in-flight requests finish and waits for their connections to
    /// close (at most 5 s).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn accept_loop(listener: TcpListener, state: ApiState, mut stopped: watch::Receiver<bool>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(state.limits.max_connections));
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "api accept failed");
                    continue;
                }
            },
            _ = stopped.changed() => return drain(&slots, state.limits.max_connections).await,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, max = state.limits.max_connections, "api connection refused: too many connections");
            tokio::spawn(refuse_busy(stream));
            continue;
        };
        let (state, stopped) = (state.clone(), stopped.clone());
        tokio::spawn(async move {
            serve(stream, peer, state, stopped).await;
            drop(slot);
        });
    }
}

/// How long shutdown waits for in-flight requests (as the broker waits for its goodbyes).
const DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Waits until every connection has finished its request and closed (each holds a slot),
/// at most [`DRAIN`].
async fn drain(slots: &Arc<tokio::sync::Semaphore>, all: usize) {
    let all = u32::try_from(all).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(waited = ?DRAIN, "api shutdown: some connections had not finished");
    }
}

/// Past the connection cap: AWS's 503 shape, then close.
async fn refuse_busy(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    let err = IotError::new(
        iotmock_model::ErrorCode::ServiceUnavailable,
        "Too many connections to the API; retry later",
    );
    let encoded = wire::failure(&err, &crate::handlers::request_id());
    let mut head = format!(
        "HTTP/1.1 {} Service Unavailable\r\nconnection: close\r\ncontent-length: {}\r\n",
        encoded.status,
        encoded.body.len()
    );
    for (name, value) in &encoded.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&encoded.body).await?;
        stream.shutdown().await
    })
    .await;
}

/// One connection: headers must arrive within the header deadline (hyper closes it
/// otherwise), bodies within the body deadline.
async fn serve(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    state: ApiState,
    stopped: watch::Receiver<bool>,
) {
    let limits = state.limits;
    let service = service_fn(move |req| handle(state.clone(), req, None));
    serve_http(stream, peer, limits, service, stopped).await;
}

/// Serves HTTP/1.1 on `io` with `service` (upgrades allowed) until the client is done or
/// `stopped`, when in-flight requests finish first; how the connection ended is logged.
pub async fn serve_http<IO, S>(
    io: IO,
    peer: SocketAddr,
    limits: crate::ApiLimits,
    service: S,
    mut stopped: watch::Receiver<bool>,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    S: hyper::service::Service<Request<Incoming>, Response = Response<Full<Bytes>>>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Future: Send + 'static,
{
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = stopped.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    // A refusal of bad input is logged once with its rule; a client hanging up is not one.
    match result {
        Err(e) if e.is_timeout() => tracing::info!(
            %peer, limit = ?limits.header_timeout,
            "http connection closed: the request headers did not arrive within the header deadline"
        ),
        Err(e) if e.is_parse() => {
            tracing::info!(%peer, error = %e, "http connection closed: malformed HTTP request")
        }
        Err(e) => tracing::debug!(%peer, error = %e, "http connection ended with an error"),
        Ok(()) => {}
    }
}

async fn handle(
    state: ApiState,
    req: Request<Incoming>,
    caller: Option<Arc<crate::Caller>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if let Some(pages) = state.pages.as_ref().filter(|p| p.claims(req.uri().path())) {
        return Ok(pages.answer(req).await);
    }
    Ok(answer(state, req, caller).await)
}

/// Answers one request, as the API port does; `caller` is the device whose client
/// certificate came with it (another door: 8443, port 443), which may only publish.
pub async fn answer(
    state: ApiState,
    req: Request<Incoming>,
    caller: Option<Arc<crate::Caller>>,
) -> Response<Full<Bytes>> {
    let request_id = crate::handlers::request_id();
    let label = format!("{} {}", req.method(), req.uri().path());
    let encoded = match run(state, req, caller).await {
        Ok(reply) => {
            tracing::debug!(request = %label, %request_id, "api ok");
            wire::success(reply, &request_id)
        }
        Err(err) => {
            tracing::info!(request = %label, %request_id, error = err.code.name(), message = %err.message, "api refused");
            wire::failure(&err, &request_id)
        }
    };
    into_response(encoded)
}

async fn run(
    state: ApiState,
    req: Request<Incoming>,
    caller: Option<Arc<crate::Caller>>,
) -> IotResult<wire::Reply> {
    let (parts, body) = req.into_parts();
    let headers: HashMap<String, String> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let deadline = state.limits.body_timeout;
    let body = tokio::time::timeout(deadline, Limited::new(body, MAX_BODY).collect())
        .await
        .map_err(|_| {
            IotError::invalid(format!(
                "The request body did not arrive within {} s",
                deadline.as_secs()
            ))
        })?
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                IotError::invalid(format!(
                    "The request body is larger than the {MAX_BODY}-byte limit"
                ))
            } else {
                IotError::invalid(format!("The request body could not be read: {e}"))
            }
        })?
        .to_bytes();
    let request = ApiRequest::new(
        Method::parse(parts.method.as_str()),
        parts.uri.path(),
        parts.uri.query(),
        headers,
        body.to_vec(),
        &state.default_region,
    )?;
    let mut request = request;
    if caller.is_some() && !publishes(&request) {
        return Err(IotError::new(
            iotmock_model::ErrorCode::Forbidden,
            "With a client certificate, HTTPS serves publish only (POST /topics/{topic})",
        ));
    }
    request.caller = caller;
    let state = state.for_request(&request);
    tokio::task::spawn_blocking(move || {
        // A device's shadow update or job request acknowledged before this request is taken
        // before it is answered: the HTTP face and the MQTT face never disagree.
        if let Some(data) = state.data.as_deref() {
            for service in ["shadow", "jobs"] {
                if request.segments.iter().any(|s| s == service) {
                    data.settle_service(service);
                }
            }
        }
        let answer = dispatch(&state, &request);
        // A write's consequences in the services (a group join's continuous jobs) are in
        // place before the caller hears back.
        if request.method != Method::Get
            && let Some(data) = state.data.as_deref()
        {
            data.settle();
        }
        answer
    })
    .await
    .map_err(|e| IotError::internal(format!("The operation did not complete: {e}")))?
}

fn publishes(request: &ApiRequest) -> bool {
    request.method == Method::Post && request.segments.first().is_some_and(|s| s == "topics")
}

/// `err` as the API answers it (for refusals a door makes before the API sees the request).
pub fn error_response(err: &iotmock_model::IotError) -> Response<Full<Bytes>> {
    into_response(wire::failure(err, &crate::handlers::request_id()))
}

fn into_response(encoded: Encoded) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(encoded.status);
    for (name, value) in encoded.headers {
        builder = builder.header(name, value);
    }
    builder
        .body(Full::new(Bytes::from(encoded.body)))
        .unwrap_or_else(|e| {
            // A header the answer could not carry: a 500 that says so, never an empty 200.
            tracing::error!(error = %e, "an answer could not be built");
            let body =
                serde_json::json!({ "message": format!("The answer could not be built: {e}") });
            let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
            *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
}
