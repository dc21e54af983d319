//! Fleet indexing: UpdateIndexingConfiguration, GetIndexingConfiguration, DescribeIndex,
//! ListIndices, SearchIndex and the aggregations (GetStatistics, GetCardinality,
//! GetPercentiles, GetBucketsAggregation). Documents are read from the registry, the shadows
//! and the connectivity the broker's lifecycle events told, when the request runs.

use super::read;
use crate::request::ApiRequest;
use crate::state::ApiState;
use crate::wire::Reply;
use iotmock_index::search::{self, Paging};
use iotmock_index::{Config, GROUPS, GroupDoc, IndexService, ShadowDoc, THINGS, ThingDoc, query};
use iotmock_model::{ErrorCode, IotError, IotResult};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

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

/// Every thing of the request's region as the index documents it.
fn things(state: &ApiState, req: &ApiRequest) -> IotResult<Vec<ThingDoc>> {
    if let Some(data) = &state.data {
        data.settle_service("index");
        data.settle_service("shadow");
    }
    let index = service(state)?;
    let mut connectivity = index.connectivity(&req.region);
    let mut shadows: BTreeMap<String, (Option<ShadowDoc>, BTreeMap<String, ShadowDoc>)> =
        BTreeMap::new();
    if let Some(s) = &state.shadows {
        for (key, doc, delta) in s.live(Some(&req.region)) {
            let shadow = ShadowDoc {
                desired: doc.desired.clone(),
                reported: doc.reported.clone(),
                delta,
                metadata: doc.metadata(),
                version: doc.version,
            };
            let slot = shadows.entry(key.thing).or_default();
            match key.name {
                Some(name) => {
                    slot.1.insert(name, shadow);
                }
                None => slot.0 = Some(shadow),
            }
        }
    }
    let registry = read(state)?;
    let docs = registry
        .things_with_groups(&req.region)
        .into_iter()
        .map(|(t, groups)| {
            let (shadow, named) = shadows.remove(&t.name).unwrap_or_default();
            ThingDoc {
                name: t.name.clone(),
                id: t.id.clone(),
                type_name: t.type_name.clone(),
                groups,
                attributes: t.attributes.clone(),
                version: t.version,
                shadow,
                named,
                connectivity: connectivity.remove(&t.name),
            }
        })
        .collect();
    Ok(docs)
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
        let docs = things(state, req)?;
        let hits = search::select(&docs, &config, &q);
        let (shown, next) = search::page(hits, &paging, |d| d.to_json(&config))?;
        answer["things"] = json!(shown);
        next
    };
    if let Some(token) = next {
        answer["nextToken"] = json!(token);
    }
    Ok(Reply::Json(answer))
}

/// What an aggregation runs on: the configuration, the field and its type, the documents.
fn aggregation(
    state: &ApiState,
    req: &ApiRequest,
    body: &Map<String, Value>,
) -> IotResult<(
    Config,
    String,
    iotmock_index::config::FieldType,
    Vec<ThingDoc>,
    query::Query,
)> {
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
    let field = field.to_string();
    Ok((config, field, kind, things(state, req)?, q))
}

pub fn statistics(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let body = req.json()?;
    let (config, field, kind, docs, q) = aggregation(state, req, &body)?;
    let hits = search::select(&docs, &config, &q);
    Ok(Reply::Json(search::statistics(
        &hits, &config, &field, kind,
    )))
}

pub fn cardinality(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let body = req.json()?;
    let (config, field, _, docs, q) = aggregation(state, req, &body)?;
    let hits = search::select(&docs, &config, &q);
    Ok(Reply::Json(search::cardinality(&hits, &config, &field)))
}

pub fn percentiles(state: &ApiState, req: &ApiRequest) -> IotResult<Reply> {
    let body = req.json()?;
    let (config, field, kind, docs, q) = aggregation(state, req, &body)?;
    let percents: Vec<f64> = body
        .get("percents")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    let hits = search::select(&docs, &config, &q);
    Ok(Reply::Json(search::percentiles(
        &hits, &config, &field, kind, &percents,
    )?))
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
    let (config, field, _, docs, q) = aggregation(state, req, &body)?;
    let hits = search::select(&docs, &config, &q);
    let max = usize::try_from(max).unwrap_or(10);
    Ok(Reply::Json(search::buckets(&hits, &config, &field, max)))
}
