//! The AWS IoT control plane over HTTP (restJson1), as the AWS CLI, boto3 and the AWS SDKs
//! speak it with `--endpoint-url`. This crate only decodes requests ([`request`]), routes them
//! through one table ([`router`]), calls the registry, and encodes answers and errors
//! ([`wire`], the one place an [`iotmock_model::IotError`] becomes an HTTP response).

pub mod accounts;
mod handlers;
pub mod request;
pub mod router;
mod server;
mod state;
mod views;
pub mod wire;

pub use server::{ApiServer, answer, error_response, serve_http};
pub use state::{ApiLimits, ApiState};

/// iotmock's reset (`POST /iotmock/reset`): every store emptied, every connection closed.
pub fn reset(state: &ApiState) -> iotmock_model::IotResult<()> {
    handlers::reset::reset(state).map(|_| ())
}

/// A retained message as iot-data reports it.
#[derive(Debug, Clone)]
pub struct RetainedView {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub last_modified_ms: i64,
}

/// Who a publish is judged as: a device by its client certificate (HTTPS on 8443, or port
/// 443 with ALPN `x-amzn-http-ca`), or a SigV4 caller whose access key has IAM policies set.
#[derive(Debug, Clone)]
pub enum Credential {
    /// The client certificate (DER).
    Certificate(Vec<u8>),
    /// The access key's principal (`Registry::iam_principal`).
    Iam(std::sync::Arc<iotmock_registry::Principal>),
}

/// The sender of a request whose own rights decide it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub credential: Credential,
    pub addr: std::net::SocketAddr,
    /// The region SNI named, if any.
    pub region: Option<String>,
    pub sni: bool,
}

/// A message published over HTTPS.
#[derive(Debug, Clone)]
pub struct Message {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
    /// MQTT 5 properties from the `x-amz-mqtt5-*` headers and the query.
    pub properties: Option<iotmock_mqtt::PublishProperties>,
    /// The request's region (its services, a shadow say, act in it).
    pub region: String,
}

/// Why a publish was not taken.
#[derive(Debug, Clone)]
pub enum PublishError {
    /// The caller's certificate or policies do not allow it (ForbiddenException, 403).
    Forbidden(String),
    /// A retained message that could not be stored (InternalFailureException, 500).
    NotStored(String),
    /// Over a quota (ThrottlingException, 429).
    Throttled(String),
}

/// An answer that is served before it is finished (a page, a WebSocket upgrade).
pub type PageFuture = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = hyper::Response<http_body_util::Full<bytes::Bytes>>>
            + Send,
    >,
>;

/// Pages served beside the API on its port (the console): every request whose path they
/// claim goes to them instead of the API's operations.
pub trait Pages: Send + Sync {
    /// Whether `path` is theirs.
    fn claims(&self, path: &str) -> bool;
    /// Answers `req` (upgrades allowed: the connection is served with upgrades).
    fn answer(&self, req: hyper::Request<hyper::body::Incoming>) -> PageFuture;
}

/// The broker as the iot-data operations see it.
pub trait DataPlane: Send + Sync {
    /// Publishes `message`: as the iot-data API (AWS credentials, no policy check) when
    /// `caller` is `None`, else as that caller, under its policies.
    fn publish(&self, caller: Option<&Caller>, message: Message) -> Result<(), PublishError>;
    fn retained(&self, topic: &str) -> Option<RetainedView>;
    fn list_retained(&self) -> Vec<RetainedView>;
    /// DeleteConnection; false when the client is not connected.
    fn disconnect(&self, client_id: &str, clean_session: bool, prevent_will: bool) -> bool;
    /// Waits until the services have reacted to every registry change committed so far.
    fn settle(&self) {}
    /// iotmock's reset: closes every connection and forgets every persistent session and
    /// retained message; the number of connections closed.
    fn reset(&self) -> usize {
        0
    }
    /// Waits until the service `name` (`shadow`, `jobs`) has taken every request queued so
    /// far, so an HTTP request sees what devices were acknowledged before it.
    fn settle_service(&self, _name: &str) {}
}
