//! MQTT for iotmock, without I/O: the codec over mqttbytes (3.1.1 and 5, one module for its
//! shims), AWS IoT's topic rules and matching, the subscription table, and the session rules
//! (keep-alive clamp, client-id checks, limits) that the broker applies.

mod codec;
mod codes;
mod convert;
mod delivery;
pub mod reason;
pub mod rules;
pub mod subscriptions;
pub mod topic;

pub use codec::{
    CodecError, ConnAckProps, Connect, MAX_ENCODABLE, MAX_PACKET, MAX_PAYLOAD, Packet, Publish,
    Version, Will, decode, decode_within, detect_version,
};
pub use convert::encode;
pub use delivery::{Delivery, encode_delivery};
pub use mqttbytes::v5::PublishProperties;

/// MQTT 5 PUBLISH properties with nothing set.
pub fn empty_properties() -> PublishProperties {
    PublishProperties {
        payload_format_indicator: None,
        message_expiry_interval: None,
        topic_alias: None,
        response_topic: None,
        correlation_data: None,
        user_properties: Vec::new(),
        subscription_identifiers: Vec::new(),
        content_type: None,
    }
}
