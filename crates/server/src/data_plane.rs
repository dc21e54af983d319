//! The broker as the iot-data operations of the API see it.

use iotmock_api::Credential as By;
use iotmock_api::{Caller, DataPlane, Message, PublishError, RetainedView};
use iotmock_broker::{BrokerCore, Credential, Door, HttpPublish, PublishRefused};

/// The broker as the iot-data API sees it.
pub(crate) struct BrokerData(pub(crate) BrokerCore);

fn view(m: iotmock_broker::RetainedMessage) -> RetainedView {
    RetainedView {
        topic: m.topic,
        payload: m.payload.to_vec(),
        qos: m.qos,
        last_modified_ms: m.last_modified_ms,
    }
}

impl DataPlane for BrokerData {
    fn publish(&self, caller: Option<&Caller>, message: Message) -> Result<(), PublishError> {
        let door = caller.map(|c| Door {
            transport: iotmock_broker::Transport {
                door: "HTTPS",
                ..Default::default()
            },
            addr: c.addr,
            region: c.region.clone(),
            sni: c.sni,
            credential: match &c.credential {
                By::Certificate(leaf) => Credential::Certificate(leaf.clone()),
                By::Iam(principal) => Credential::Iam(principal.clone()),
            },
        });
        let message = HttpPublish {
            topic: message.topic,
            payload: message.payload.into(),
            qos: message.qos,
            retain: message.retain,
            properties: message.properties,
            region: Some(message.region),
        };
        self.0
            .publish_http(door.as_ref(), message)
            .map_err(|e| match e {
                PublishRefused::Denied(why) => PublishError::Forbidden(why.to_string()),
                PublishRefused::NotStored(why) => PublishError::NotStored(why),
                PublishRefused::Throttled(why) => PublishError::Throttled(why),
            })
    }

    fn retained(&self, topic: &str) -> Option<RetainedView> {
        self.0.retained(topic).map(view)
    }

    fn list_retained(&self) -> Vec<RetainedView> {
        self.0.list_retained().into_iter().map(view).collect()
    }

    fn disconnect(&self, client_id: &str, clean_session: bool, prevent_will: bool) -> bool {
        self.0.disconnect(client_id, clean_session, prevent_will)
    }

    fn settle(&self) {
        self.0.settle_registry_listeners();
    }

    fn reset(&self) -> usize {
        self.0.reset()
    }

    fn settle_service(&self, name: &str) {
        self.0.settle_service(name);
    }
}
