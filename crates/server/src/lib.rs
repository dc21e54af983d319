//! The iotmock server: [`MockIotCore`] runs the control-plane API (and, as it lands, the MQTT
//! broker) on bound listeners over one registry, in-process for tests or from the `iotmock`
//! command line.

pub mod cli;
mod core;
mod state_dir;

pub use crate::core::{Builder, MockIotCore};
pub use iotmock_registry::Registry;
