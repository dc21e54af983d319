//! iot-data operations on the same port: Publish, GetRetainedMessage, ListRetainedMessages.

use crate::request::ApiRequest;
use crate::state::ApiState;
use crate::views;
use crate::wire::Reply;
use base64::Engine;
use iotmock_model::{IotError, IotResult};
use iotmock_registry::{PageRequest, paginate};
use serde_json::json;

fn data(state: &ApiState) -> IotResult<&dyn crate::DataPlane> {
    state.data.as_deref().ok_or_else(|| {
        IotError::new(
            iotmock_model::ErrorCode::ServiceUnavailable,
            "The MQTT broker is not running",
        )
    })
}

pub fn publish(state: &ApiState, req: &ApiRequest, topic: &str) -> IotResult<Reply> {
    let qos = match req.qs("qos") {
        None | Some("0") => 0,
        Some("1") => 1,
        Some(other) => {
            return Err(IotError::invalid(format!(
                "qos must be 0 or 1, got '{other}'"
            )));
        }
    };
    let retain = req.qs_bool("retain")?;
    if req.body.len() > iotmock_mqtt::MAX_PAYLOAD {
        return Err(IotError::new(
            iotmock_model::ErrorCode::RequestEntityTooLarge,
            format!(
                "The payload is {} bytes; AWS IoT accepts at most {} (128 KB)",
                req.body.len(),
                iotmock_mqtt::MAX_PAYLOAD
            ),
        ));
    }
    // The broker's own topic rules: AWS's limits, no wildcards, and of the reserved topics only
    // those a client may publish to (Basic Ingest, shadow and jobs requests, provisioning).
    iotmock_mqtt::topic::validate_topic(topic)
        .map_err(|e| IotError::invalid(format!("'{topic}' is not a valid topic name: {e}")))?;
    let message = crate::Message {
        topic: topic.to_string(),
        payload: req.body.clone(),
        qos,
        retain,
        properties: super::data_props::properties(req)?,
        region: req.region.clone(),
    };
    let signed = signed_caller(state, req)?;
    let caller = req.caller.as_deref().or(signed.as_ref());
    data(state)?.publish(caller, message).map_err(|e| match e {
        crate::PublishError::Forbidden(why) => {
            IotError::new(iotmock_model::ErrorCode::Forbidden, why)
        }
        crate::PublishError::NotStored(why) => IotError::internal(why),
        crate::PublishError::Throttled(why) => {
            IotError::new(iotmock_model::ErrorCode::DataThrottling, why)
        }
    })?;
    Ok(Reply::Json(
        json!({ "message": "OK", "traceId": crate::handlers::request_id() }),
    ))
}

/// A SigV4 request whose access key has IAM policies set is judged by them (as a WebSocket
/// connection with that key is); other signed requests keep the API's allow-all.
fn signed_caller(state: &ApiState, req: &ApiRequest) -> IotResult<Option<crate::Caller>> {
    let Some(key) = req.access_key.as_deref() else {
        return Ok(None);
    };
    let registry = super::read(state)?;
    if registry
        .iam_key(key)
        .is_none_or(|k| k.policies.is_empty() && k.identity_id.is_none())
    {
        return Ok(None);
    }
    let principal = registry.iam_principal(&req.region, key);
    Ok(Some(crate::Caller {
        credential: crate::Credential::Iam(std::sync::Arc::new(principal)),
        addr: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
        region: Some(req.region.clone()),
        sni: false,
    }))
}

/// DeleteConnection: `DELETE /connections/{clientId}?cleanSession=&preventWillMessage=`.
pub fn delete_connection(state: &ApiState, req: &ApiRequest, client_id: &str) -> IotResult<Reply> {
    let clean = req.qs_bool("cleanSession")?;
    let prevent_will = req.qs_bool("preventWillMessage")?;
    if client_id.is_empty() || client_id.len() > 128 || client_id.starts_with('$') {
        return Err(IotError::invalid(format!(
            "Invalid client id: '{client_id}'"
        )));
    }
    if !data(state)?.disconnect(client_id, clean, prevent_will) {
        let msg = format!("No connection found for client id '{client_id}'");
        return Err(IotError::not_found(msg));
    }
    Ok(Reply::Empty)
}

pub fn get_retained(state: &ApiState, _req: &ApiRequest, topic: &str) -> IotResult<Reply> {
    let m = data(state)?.retained(topic).ok_or_else(|| {
        IotError::not_found(format!("No retained message exists for topic '{topic}'"))
    })?;
    Ok(Reply::Json(json!({
        "topic": m.topic,
        "payload": base64::engine::general_purpose::STANDARD.encode(&m.payload),
        "qos": m.qos,
        "lastModifiedTime": m.last_modified_ms,
    })))
}

pub fn list_retained(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let page = req.page("nextToken", "maxResults")?;
    let page = PageRequest {
        ascending: Some(true),
        ..page
    };
    let items = data(state)?
        .list_retained()
        .into_iter()
        .map(|m| (m.topic.clone(), m))
        .collect();
    let page = paginate(items, &page, true, "maxResults")?;
    Ok(Reply::Json(views::page(
        page,
        "retainedTopics",
        "nextToken",
        |m| json!({ "topic": m.topic, "payloadSize": m.payload.len(), "qos": m.qos, "lastModifiedTime": m.last_modified_ms }),
    )))
}
