//! The MQTT session core of iotmock: every per-connection rule of AWS IoT Core as a pure state
//! machine. It takes decoded packets, clock readings, deliveries and registry changes, and
//! returns [`Action`]s: packets to send, messages to route, subscriptions to record, and the
//! end of the connection with its reason. It reads no clock, owns no socket and spawns
//! nothing; the broker crate is the adapter that does.

pub mod admit;
pub mod authz;
pub mod denial;
pub mod events;
pub mod explain;
mod packets;
pub mod presign;
pub mod refusal;
pub mod service;
mod session;
#[cfg(test)]
mod tests;

pub use admit::{Admission, ConnectEnv, ConnectInfo, Refused, admit, authorize_publish};
pub use authz::{Action as Right, Authz, Checked};
pub use denial::{Denial, JustInTime, RegistryUnavailable};
pub use refusal::{CloseReason, ConnectRefusal, End};
pub use service::{Outbox, Outlet, Reply, Service, ServiceRequest};
pub use session::{Session, Start, queued_size};

use iotmock_mqtt::{Delivery, Packet, Publish};
use std::sync::Arc;

/// The AWS rules a session applies that are settings of this process.
#[derive(Debug, Clone)]
pub struct Rules {
    /// MQTT 3.1.1 refusals close without CONNACK (AWS); off sends CONNACK 5 / 2 instead.
    pub strict_mqtt3_refusal: bool,
    /// AWS's throttles: publishes per second per connection and CONNECTs per second per id.
    pub throttle: bool,
    /// Persistent-session and last-will CONNECTs need a statement testing
    /// `iot:ConnectAttributes`.
    pub require_connect_attributes: bool,
    /// The longest a persistent session outlives its connection (AWS: 1 hour).
    pub session_expiry_secs: u64,
    /// Silence allowed per second of keep-alive before the broker closes, in ms (AWS: 1500,
    /// i.e. 1.5 x keep-alive). Tests shrink it to see expiry without waiting 45 s.
    pub keep_alive_ms_per_second: i64,
    /// Bytes of QoS 1 deliveries a client's session holds beyond its in-flight window (as
    /// [`queued_size`] counts them); past it, deliveries are discarded and counted.
    pub queue_bytes: usize,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            strict_mqtt3_refusal: true,
            throttle: false,
            require_connect_attributes: false,
            session_expiry_secs: 3600,
            keep_alive_ms_per_second: 1500,
            queue_bytes: QUEUE_BYTES,
        }
    }
}

/// AWS's limit on publishes per second per connection.
pub const PUBLISHES_PER_SECOND: u32 = 100;
/// Outbound QoS 1 messages awaiting PUBACK per client (AWS: 100); further deliveries wait.
pub const MAX_INFLIGHT: usize = 100;
/// Deliveries waiting for room in the in-flight window before further ones are discarded
/// (as deep as a connection's delivery queue, so a subscriber that acknowledges loses none).
pub const MAX_PENDING: usize = 65_536;
/// QoS 1 publishes a client may have unacknowledged (the Receive Maximum AWS advertises;
/// the broker acknowledges each at once, so it is never reached).
pub const RECEIVE_MAXIMUM: u16 = 100;
/// The default bound, in bytes, on QoS 1 deliveries a session holds beyond its in-flight
/// window of 100 (a client that acknowledges slowly); the broker sets it to its per-client
/// bound and counts what waits here into its total.
pub const QUEUE_BYTES: usize = 16 * 1024 * 1024;
/// Topic aliases a client may use (the Topic Alias Maximum AWS advertises).
pub const TOPIC_ALIAS_MAX: u16 = 8;
/// MQTT 5 message expiry bounds AWS applies, in seconds.
pub const MESSAGE_EXPIRY_MIN: u32 = 1;
pub const MESSAGE_EXPIRY_MAX: u32 = 604_800;

/// What the session asks its adapter to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Encode and write this packet to the client.
    Send(Packet),
    /// Write a message to the client (encoded straight from the shared message).
    Deliver(Delivery),
    /// Route an authorized message: retain it when flagged, hand it to the services on
    /// reserved topics, deliver it to every subscriber.
    Route(Arc<Publish>),
    /// Route the will: like `Route`, but services ignore it (AWS's shadow service does not
    /// process a will published to a `$aws` topic).
    Will(Arc<Publish>),
    /// Route a lifecycle event like `Route`; its message is built only when the topic has a
    /// receiver (a subscriber or a service).
    Event(events::Event),
    /// Record a granted subscription (and send the retained message of an exact filter).
    Subscribe { filter: String, qos: u8 },
    /// Remove a subscription.
    Unsubscribe { filter: String },
    /// The connection ends; nothing follows.
    Close(End),
}

/// A message kept for a session: queued while it was offline, or in flight (sent and not yet
/// acknowledged) when its connection ended; `pkid` set means it is redelivered with DUP.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub message: Arc<Publish>,
    pub qos: u8,
    pub pkid: Option<u16>,
}
