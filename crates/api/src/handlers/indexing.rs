//! Fleet indexing: UpdateIndexingConfiguration, GetIndexingConfiguration, DescribeIndex,
//! ListIndices, SearchIndex and the aggregations (GetStatistics, GetCardinality,
//! GetPercentiles, GetBucketsAggregation), over the live index (`iotmock_index::live`), once
//! it has heard every change made before the request.

use super::read;
use crate::request::ApiRequest;
use crate::state::ApiState;
use crate::wire::Reply;
use iotmock_index::search::{self, Paging};
use iotmock_index::{Config, GROUPS, GroupDoc, IndexService, THINGS, query};
use iotmock_model::{ErrorCode, IotError, IotResult};
use serde_json::{Map, Value, json};

fn service(state: &ApiState) -> IotResult<&IndexService> {
    state.index.as_deref().ok_or_else(|| {
        IotError::new(
            ErrorCode::InvalidRequest,
            "fleet indexing is served for the mock's own account only",
        )
    })
}

fn not_found(name: &str) -> IotError {
    IotError::not_found(format!("Index {name} does not exist or is not enabled"))
}

/// The index a request names (default `AWS_Things`), which must be on.
fn index_on<'a>(config: &Config, name: Option<&'a str>) -> IotResult<&'a str> {
    let name = name.unwrap_or(THINGS);
    let on = match name {
        THINGS => config.thing_mode != iotmock_index::config::ThingMode::Off,
        GROUPS => config.groups,
        _ => false,
    };
    if on { Ok(name) } else { Err(not_found(name)) }
}

pub fn update_config(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let body = Value::Object(req.json()?);
    service(state)?.update(&req.region, &body)?;
    Ok(Reply::Json(json!({})))
}

pub fn get_config(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    Ok(Reply::Json(service(state)?.config(&req.region).to_json()))
}

pub fn describe(state: &ApiState, req: &ApiRequest, name: &str) -> IotResult<Reply> {
    let config = service(state)?.config(&req.region);
    let name = index_on(&config, Some(name))?;
    let schema = if name == GROUPS {
        "THING_GROUPS"
    } else {
        config.schema()
    };
    Ok(Reply::Json(
        json!({ "indexName": name, "indexStatus": "ACTIVE", "schema": schema }),
    ))
}

pub fn list(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let config = service(state)?.config(&req.region);
    let names: Vec<&str> = [THINGS, GROUPS]
        .into_iter()
        .filter(|n| index_on(&config, Some(n)).is_ok())
        .collect();
    Ok(Reply::Json(json!({ "indexNames": names })))
}

/// Waits until the index has heard every change made before this request.
fn settle(state: &ApiState) {
    if let Some(data) = &state.data {
        data.settle();
        data.settle_service("shadow");
        data.settle_service("index");
    }
}

fn groups(state: &ApiState, req: &ApiRequest) -> IotResult<Vec<GroupDoc>> {
    let registry = read(state)?;
    Ok(registry
        .list_thing_groups(&req.region)
        .into_iter()
        .map(|g| GroupDoc {
            name: g.name.clone(),
            id: g.id.clone(),
            description: g.description.clone(),
            attributes: g.attributes.clone(),
            parents: Vec::new(),
        })
        .collect())
}

fn text<'a>(body: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    body.get(k).and_then(Value::as_str)
}

/// The request's query, parsed (InvalidQueryException names the position).
fn parsed(body: &Map<String, Value>) -> IotResult<query::Query> {
    let q = text(body, "queryString")
        .ok_or_else(|| IotError::new(ErrorCode::InvalidRequest, "queryString is required"))?;
    query::parse(q).map_err(|e| {
        IotError::new(
            ErrorCode::InvalidQuery,
            format!("Syntax error in query {q:?}: {e}"),
        )
    })
}

pub fn search_index(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let body = req.json()?;
    let config = service(state)?.config(&req.region);
    let name = index_on(&config, text(&body, "indexName"))?;
    let q = parsed(&body)?;
    let paging = Paging {
        next_token: text(&body, "nextToken"),
        max_results: body.get("maxResults").and_then(Value::as_i64),
    };
    let mut answer = json!({ "things": [], "thingGroups": [] });
    let next = if name == GROUPS {
        let docs = groups(state, req)?;
        let mut hits: Vec<&GroupDoc> = docs
            .iter()
            .filter(|g| iotmock_index::eval::matches(&q, &g.fields()))
            .collect();
        hits.sort_by(|a, b| a.name.cmp(&b.name));
        let (shown, next) = search::page(hits, &paging, |g| g.to_json())?;
        answer["thingGroups"] = json!(shown);
        next
    } else {
        settle(state);
        let (shown, next) = service(state)?.search(&req.region, &q, |config, hits| {
            search::page(hits, &paging, |i| i.doc.to_json(config))
        })?;
        answer["things"] = json!(shown);
        next
    };
    if let Some(token) = next {
        answer["nextToken"] = json!(token);
    }
    Ok(Reply::Json(answer))
}

/// What an aggregation runs on: the field and its type, and the query.
fn aggregation(
    state: &ApiState,
    req: &ApiRequest,
    body: &Map<String, Value>,
) -> IotResult<(String, iotmock_index::config::FieldType, query::Query)> {
    let config = service(state)?.config(&req.region);
    let name = index_on(&config, text(body, "indexName"))?;
    if name == GROUPS {
        return Err(IotError::new(
            ErrorCode::InvalidAggregation,
            "aggregations run on AWS_Things",
        ));
    }
    let q = parsed(body)?;
    let (field, kind) = search::aggregation_field(&config, text(body, "aggregationField"))?;
    settle(state);
    Ok((field.to_string(), kind, q))
}

pub fn statistics(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let body = req.json()?;
    let (field, kind, q) = aggregation(state, req, &body)?;
    let stats = service(state)?.search(&req.region, &q, |_, hits| {
        search::statistics(&hits, &field, kind)
    });
    Ok(Reply::Json(stats))
}

pub fn cardinality(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let body = req.json()?;
    let (field, _, q) = aggregation(state, req, &body)?;
    let answer = service(state)?.search(&req.region, &q, |_, hits| {
        search::cardinality(&hits, &field)
    });
    Ok(Reply::Json(answer))
}

pub fn percentiles(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let body = req.json()?;
    let (field, kind, q) = aggregation(state, req, &body)?;
    let percents: Vec<f64> = body
        .get("percents")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    let answer = service(state)?.search(&req.region, &q, |_, hits| {
        search::percentiles(&hits, &field, kind, &percents)
    })?;
    Ok(Reply::Json(answer))
}

pub fn buckets(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let body = req.json()?;
    if text(&body, "aggregationField").is_none() {
        return Err(IotError::new(
            ErrorCode::InvalidRequest,
            "aggregationField is required",
        ));
    }
    let terms = body
        .get("bucketsAggregationType")
        .and_then(|t| t.get("termsAggregation"));
    let Some(terms) = terms else {
        return Err(IotError::new(
            ErrorCode::InvalidRequest,
            "bucketsAggregationType.termsAggregation is required",
        ));
    };
    let max = terms
        .get("maxBuckets")
        .and_then(Value::as_i64)
        .unwrap_or(10);
    if !(1..=10_000).contains(&max) {
        return Err(IotError::new(
            ErrorCode::InvalidRequest,
            "maxBuckets must be between 1 and 10000",
        ));
    }
    let (field, _, q) = aggregation(state, req, &body)?;
    let max = usize::try_from(max).unwrap_or(10);
    let answer = service(state)?.search(&req.region, &q, |_, hits| {
        search::buckets(&hits, &field, max)
    });
    Ok(Reply::Json(answer))
}
