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

pub use server::ApiServer;
pub use state::{ApiLimits, ApiState};

/// A retained message as iot-data reports it.
#[derive(Debug, Clone)]
pub struct RetainedView {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub last_modified_ms: i64,
}

/// The broker as the iot-data operations see it.
pub trait DataPlane: Send + Sync {
    /// Publishes; `Err` (with why) when a retained message could not be stored.
    fn publish(&self, topic: &str, payload: Vec<u8>, qos: u8, retain: bool) -> Result<(), String>;
    fn retained(&self, topic: &str) -> Option<RetainedView>;
    fn list_retained(&self) -> Vec<RetainedView>;
    /// DeleteConnection; false when the client is not connected.
    fn disconnect(&self, client_id: &str, clean_session: bool, prevent_will: bool) -> bool;
    /// Waits until the services have reacted to every registry change committed so far.
    fn settle(&self) {}
    /// Waits until the service `name` (`shadow`, `jobs`) has taken every request queued so
    /// far, so an HTTP request sees what devices were acknowledged before it.
    fn settle_service(&self, _name: &str) {}
}
