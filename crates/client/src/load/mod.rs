//! The load generator: `handshake` (full mutual-TLS handshakes plus CONNECT/CONNACK) and
//! `publish` (P publishers x S subscribers, end-to-end latency, lost and duplicated counts).
//! Every run is bounded by count and by time and stops by itself.

pub mod cli;
pub mod devices;
pub mod handshake;
pub mod html;
pub mod publish;
pub mod report;
pub mod shard;
pub mod timeline;
