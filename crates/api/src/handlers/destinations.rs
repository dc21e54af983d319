//! Topic rule destinations (restJson1): CreateTopicRuleDestination (`POST /destinations`),
//! GetTopicRuleDestination and DeleteTopicRuleDestination (`/destinations/{arn+}`),
//! ListTopicRuleDestinations (`GET /destinations`), UpdateTopicRuleDestination
//! (`PATCH /destinations`) and ConfirmTopicRuleDestination (`GET /confirmdestination/{token+}`).
//! An unknown destination is answered with the rules' not-found code.

use super::names_page;
use super::rules::{now_ms, service, to_iot};
use crate::request::ApiRequest;
use crate::state::ApiState;
use crate::wire::Reply;
use iotmock_model::{IotError, IotResult};
use serde_json::{Value, json};

pub fn create(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let body = req.json()?;
    let config = body
        .get("destinationConfiguration")
        .ok_or_else(|| IotError::invalid("destinationConfiguration is required"))?;
    let now = now_ms(state)?;
    let made = service(state)?
        .create_destination(&req.region, config, now)
        .map_err(|e| to_iot(state, req, e))?;
    Ok(Reply::Json(
        json!({ "topicRuleDestination": made.to_json() }),
    ))
}

pub fn get(state: &ApiState, req: &ApiRequest, arn: &str) -> IotResult<Reply> {
    let found = service(state)?
        .read(|book| book.destination(arn).map(|d| d.to_json()))
        .map_err(|e| to_iot(state, req, e))?;
    Ok(Reply::Json(json!({ "topicRuleDestination": found })))
}

pub fn list(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let items: Vec<(String, Value)> = service(state)?.read(|book| {
        book.destinations(&req.region)
            .map(|d| (d.arn.clone(), d.summary()))
            .collect()
    });
    names_page(req, items, "destinationSummaries", "maxResults")
}

pub fn update(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let body = req.json()?;
    let field = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| IotError::invalid(format!("{k} is required")))
    };
    let (arn, status) = (field("arn")?, field("status")?);
    let now = now_ms(state)?;
    service(state)?
        .update_destination(arn, status, now)
        .map_err(|e| to_iot(state, req, e))?;
    Ok(Reply::Json(json!({})))
}

pub fn delete(state: &ApiState, req: &ApiRequest, arn: &str) -> IotResult<Reply> {
    service(state)?
        .change(|book| book.delete_destination(arn))
        .map_err(|e| to_iot(state, req, e))?;
    Ok(Reply::Json(json!({})))
}

pub fn confirm(state: &ApiState, req: &ApiRequest, token: &str) -> IotResult<Reply> {
    if token.is_empty() || token.len() > 2048 {
        return Err(IotError::invalid(
            "confirmationToken must be 1 to 2048 characters",
        ));
    }
    let now = now_ms(state)?;
    service(state)?
        .confirm_destination(token, now)
        .map_err(|e| to_iot(state, req, e))?;
    Ok(Reply::Json(json!({})))
}
