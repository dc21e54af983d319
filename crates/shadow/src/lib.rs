//! Device Shadow, as AWS IoT keeps it: classic and named shadows keyed by thing name (no
//! registered thing needed), the merge of `desired` and `reported` with per-leaf metadata,
//! versions, the delta, and every refusal with AWS's code and message. The document rules
//! are pure ([`Shadows`]); [`ShadowService`] answers the MQTT request topics through the
//! broker's service seam and keeps the shadows in a [`iotmock_store::Store`].

mod delta;
mod document;
mod error;
mod request;
mod service;
mod shadows;
#[cfg(test)]
mod tests;
mod topic;

pub use delta::delta;
pub use document::Document;
pub use error::ShadowError;
pub use service::{KIND, Outcome, ShadowService};
pub use shadows::{Deleted, Shadows, Updated};
pub use topic::{Op, ShadowKey, parse_topic, valid_shadow_name, valid_thing_name};

/// Shadow limits and the choices AWS leaves open.
#[derive(Debug, Clone)]
pub struct ShadowSettings {
    /// `desired` + `reported` after a merge, in bytes (AWS: 8 KB).
    pub max_document_bytes: usize,
    /// Object nesting allowed in `desired` and `reported`, the section counting as level 1
    /// (AWS's sources say 5, 6 and 8; the current quota page says 8).
    pub max_depth: usize,
    /// How long a deleted shadow's version is remembered, so a re-created shadow continues it
    /// (AWS: 48 hours).
    pub tombstone_ms: i64,
    /// How the 404 names a named shadow: `'{thing}~{shadow}'` (true, as observed in the wild)
    /// or `'{shadow}'` (false, as the AWS tutorial shows).
    pub named_404_with_thing: bool,
    /// AWS's request rate per shadow (20 per second), answered 429 beyond it; off by default,
    /// like the broker's throttles.
    pub throttle: bool,
}

impl Default for ShadowSettings {
    fn default() -> Self {
        Self {
            max_document_bytes: 8192,
            max_depth: 8,
            tombstone_ms: 48 * 3600 * 1000,
            named_404_with_thing: true,
            throttle: false,
        }
    }
}

/// Requests per second per shadow when throttling is on (AWS's quota).
pub const REQUESTS_PER_SECOND: u32 = 20;

/// The largest `clientToken`, in bytes.
pub const MAX_CLIENT_TOKEN: usize = 64;
