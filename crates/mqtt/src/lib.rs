//! MQTT for iotmock, without I/O: the codec over mqttbytes (3.1.1 and 5, one module for its
//! shims), AWS IoT's topic rules and matching, the subscription table, and the session rules
//! (keep-alive clamp, client-id checks, limits) that the broker applies.

mod codec;
mod convert;
pub mod rules;
pub mod subscriptions;
pub mod topic;

pub use codec::{
    CodecError, ConnAckProps, Connect, MAX_PACKET, MAX_PAYLOAD, Packet, Publish, Version, Will,
    decode, detect_version,
};
pub use convert::encode;
