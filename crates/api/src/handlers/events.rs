//! Registry events: UpdateEventConfigurations and DescribeEventConfigurations.

use crate::request::ApiRequest;
use crate::state::ApiState;
use crate::wire::Reply;
use iotmock_events::EventsService;
use iotmock_model::{ErrorCode, IotError, IotResult};
use serde_json::{Value, json};

fn service(state: &ApiState) -> IotResult<&EventsService> {
    state.events.as_deref().ok_or_else(|| {
        IotError::new(
            ErrorCode::InvalidRequest,
            "registry events are served for the mock's own account only",
        )
    })
}

pub fn update(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let body = Value::Object(req.json()?);
    let now = super::read(state)?.now_millis();
    service(state)?.update(&req.region, &body, now)?;
    Ok(Reply::Json(json!({})))
}

pub fn describe(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    Ok(Reply::Json(service(state)?.describe(&req.region)))
}
