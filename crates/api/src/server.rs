//! The HTTP/1.1 server: accepts on a bound listener, reads each request (at most
//! [`MAX_BODY`] bytes), runs the operation on the blocking pool (registry commits and RSA key
//! generation block), and writes the encoded answer. Shutdown stops accepting and lets
//! in-flight requests finish.

use crate::request::{ApiRequest, MAX_BODY};
use crate::router::{Method, dispatch};
use crate::wire::{self, Encoded};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use iotmock_model::{IotError, IotResult};
use iotmock_registry::Registry;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What every request handler shares.
#[derive(Clone)]
pub struct ApiState {
    pub registry: Arc<RwLock<Registry>>,
    /// The trust anchor devices use, served at `GET /iotmock/AmazonRootCA1.pem`.
    pub root_ca_pem: Arc<str>,
    /// Region for requests that carry no SigV4 credential scope.
    pub default_region: Arc<str>,
    /// The broker, for the iot-data operations.
    pub data: Option<Arc<dyn crate::DataPlane>>,
    /// Device Shadow, shared with the broker's MQTT face.
    pub shadows: Option<Arc<iotmock_shadow::ShadowService>>,
    /// Jobs, shared with the broker's MQTT face.
    pub jobs: Option<Arc<iotmock_jobs::JobsService>>,
}

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

    /// Stops accepting, lets in-flight requests finish, and waits for the accept loop.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn accept_loop(listener: TcpListener, state: ApiState, mut stopped: watch::Receiver<bool>) {
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "api accept failed");
                    continue;
                }
            },
            _ = stopped.changed() => return,
        };
        let state = state.clone();
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(state.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = stopped.changed() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "api connection ended with an error");
            }
        });
    }
}

async fn handle(
    state: ApiState,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let request_id = crate::handlers::request_id();
    let label = format!("{} {}", req.method(), req.uri().path());
    let encoded = match run(state, req).await {
        Ok(reply) => {
            tracing::debug!(request = %label, %request_id, "api ok");
            wire::success(reply, &request_id)
        }
        Err(err) => {
            tracing::info!(request = %label, %request_id, error = err.code.name(), message = %err.message, "api refused");
            wire::failure(&err, &request_id)
        }
    };
    Ok(into_response(encoded))
}

async fn run(state: ApiState, req: Request<Incoming>) -> IotResult<wire::Reply> {
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
    let body = Limited::new(body, MAX_BODY)
        .collect()
        .await
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
    tokio::task::spawn_blocking(move || dispatch(&state, &request))
        .await
        .map_err(|e| IotError::internal(format!("The operation did not complete: {e}")))?
}

fn into_response(encoded: Encoded) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(encoded.status);
    for (name, value) in encoded.headers {
        builder = builder.header(name, value);
    }
    builder
        .body(Full::new(Bytes::from(encoded.body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}
