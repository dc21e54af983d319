//! The iotmock server: [`MockIotCore`] runs the control-plane API, the MQTT broker and the
//! services on it (Device Shadow) on bound listeners over one registry, in-process for tests
//! or from the `iotmock` command line.

mod accounts;
mod actions;
pub mod advisor;
/// The `iotmock` command line (feature `cli`, on by default in the `iotmock` package: a test
/// that only starts mocks need not compile clap, indicatif or the load client).
#[cfg(feature = "cli")]
pub mod cli;
pub mod console;
mod core;
mod custom_auth;
mod data_plane;
mod doors;
pub use doors::Secrets as SigV4Secrets;
mod jobs_handle;
mod rules;
#[cfg(feature = "cli")]
mod rules_cli;
mod shadow_handle;
mod state_dir;
pub mod testing;
mod timers;

pub use crate::core::{Builder, MockIotCore};
pub use crate::jobs_handle::{JobHandle, NotReached};
pub use crate::rules::RuleNotFound;
pub use crate::shadow_handle::{NotReported, ShadowHandle};
pub use iotmock_api::ApiLimits;
pub use iotmock_registry::{ManualClock, Registry};
pub use iotmock_shadow::ShadowError;
