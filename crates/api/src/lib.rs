//! The AWS IoT control plane over HTTP (restJson1), as the AWS CLI, boto3 and the AWS SDKs
//! speak it with `--endpoint-url`. This crate only decodes requests ([`request`]), routes them
//! through one table ([`router`]), calls the registry, and encodes answers and errors
//! ([`wire`], the one place an [`iotmock_model::IotError`] becomes an HTTP response).

mod handlers;
pub mod request;
pub mod router;
mod server;
mod views;
pub mod wire;

pub use server::{ApiServer, ApiState};
