//! AWS's account-wide quotas on what devices publish, checked before the session sees a
//! PUBLISH: the retained-message quota (`max_retained`: a retained publish with a payload to
//! a topic that holds none, past it) always, and the account's inbound publishes a second
//! (`account_publishes_per_second`, AWS's 20,000) under the throttles. A refused PUBLISH goes
//! nowhere and gets the answer the per-connection throttle gives: MQTT 5 PUBACK 0x97 (quota
//! exceeded) for QoS 1, nothing on 3.1.1 (AWS documents the excess as discarded). Logged with
//! the quota that refused it.

use crate::Shared;
use iotmock_mqtt::reason::V5;
use iotmock_mqtt::{Packet, Publish, Version};

/// The answer to `p` when a quota refuses it; `None` when it passes.
pub(super) fn refused(
    shared: &Shared,
    p: &Publish,
    version: Version,
    client_id: &str,
) -> Option<Option<Packet>> {
    let settings = &shared.settings;
    let why = if p.retain
        && !p.payload.is_empty()
        && shared.hub.retained_full(&p.topic, settings.max_retained)
    {
        "over the account's retained-message quota"
    } else if !shared.hub.account_publish_allowed() {
        "over the account's inbound publishes per second"
    } else {
        return None;
    };
    tracing::info!(client_id, topic = %p.topic, max_retained = settings.max_retained, "PUBLISH refused: {why}");
    let ack = (p.qos == 1 && version == Version::V5).then(|| Packet::PubAck {
        pkid: p.pkid,
        reason: V5::QuotaExceeded.code(),
    });
    Some(ack)
}
