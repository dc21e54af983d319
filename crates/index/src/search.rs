//! SearchIndex's paging and the aggregations (GetStatistics, GetCardinality, GetPercentiles,
//! GetBucketsAggregation) over the documents a query selects.

use crate::book::Indexed;
use crate::config::{Config, FieldType};
use crate::doc::Leaf;
use iotmock_model::{ErrorCode, IotError, IotResult};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// SearchIndex answers at most this many documents per page.
pub const MAX_RESULTS: usize = 100;
/// The percentiles GetPercentiles answers when none are asked for.
pub const DEFAULT_PERCENTS: [f64; 7] = [1.0, 5.0, 25.0, 50.0, 75.0, 95.0, 99.0];

/// One page of documents: where it starts and how many it may hold.
pub struct Paging<'a> {
    pub next_token: Option<&'a str>,
    pub max_results: Option<i64>,
}

/// The documents of one page (as JSON) and the token of the next.
pub fn page<T>(
    hits: Vec<T>,
    paging: &Paging<'_>,
    show: impl Fn(&T) -> Value,
) -> IotResult<(Vec<Value>, Option<String>)> {
    let start = match paging.next_token {
        None | Some("") => 0,
        Some(t) => t.parse::<usize>().map_err(|_| {
            IotError::new(
                ErrorCode::InvalidRequest,
                format!("the nextToken {t:?} is not one this index gave"),
            )
        })?,
    };
    let max = match paging.max_results {
        None => MAX_RESULTS,
        Some(n) if n < 1 => {
            return Err(IotError::new(
                ErrorCode::InvalidRequest,
                "maxResults must be at least 1",
            ));
        }
        Some(n) => usize::try_from(n).unwrap_or(MAX_RESULTS).min(MAX_RESULTS),
    };
    let end = start.saturating_add(max).min(hits.len());
    let shown = hits
        .get(start..end)
        .unwrap_or_default()
        .iter()
        .map(show)
        .collect();
    let next = (end < hits.len()).then(|| end.to_string());
    Ok((shown, next))
}

fn invalid(m: impl Into<String>) -> IotError {
    IotError::new(ErrorCode::InvalidAggregation, m)
}

/// The aggregation field (default `registry.version`) and its type: a managed or custom field.
pub fn aggregation_field<'a>(
    config: &Config,
    field: Option<&'a str>,
) -> IotResult<(&'a str, FieldType)> {
    let field = field.unwrap_or("registry.version");
    let kind = config.field_type(field).ok_or_else(|| {
        invalid(format!(
            "{field} is neither a managed field nor a custom field of the index (UpdateIndexingConfiguration's customFields)"
        ))
    })?;
    Ok((field, kind))
}

/// The values of `field` in the selected documents.
fn values<'a>(hits: &'a [&Indexed], field: &str) -> Vec<&'a Leaf> {
    hits.iter()
        .flat_map(|i| i.fields.iter())
        .filter(|(f, _)| f == field)
        .map(|(_, l)| l)
        .collect()
}

/// GetStatistics: numbers give every statistic, booleans count/average/sum of trues, strings
/// only the count.
pub fn statistics(hits: &[&Indexed], field: &str, kind: FieldType) -> Value {
    let leaves = values(hits, field);
    let numbers: Vec<f64> = match kind {
        FieldType::String => return json!({ "statistics": { "count": leaves.len() } }),
        FieldType::Boolean => leaves
            .iter()
            .filter_map(|l| match l {
                Leaf::Bool(b) => Some(f64::from(u8::from(*b))),
                other => match other.text().as_str() {
                    "true" => Some(1.0),
                    "false" => Some(0.0),
                    _ => None,
                },
            })
            .collect(),
        FieldType::Number => leaves.iter().filter_map(|l| l.number()).collect(),
    };
    let count = numbers.len();
    if count == 0 {
        return json!({ "statistics": { "count": 0 } });
    }
    let n = count as f64;
    let sum: f64 = numbers.iter().sum();
    let squares: f64 = numbers.iter().map(|x| x * x).sum();
    let average = sum / n;
    let variance = (squares / n - average * average).max(0.0);
    let min = numbers.iter().copied().fold(f64::INFINITY, f64::min);
    let max = numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    json!({ "statistics": {
        "count": count, "average": average, "sum": sum, "minimum": min, "maximum": max,
        "sumOfSquares": squares, "variance": variance, "stdDeviation": variance.sqrt(),
    }})
}

/// GetCardinality: how many distinct values the field has (exact here; AWS's is approximate).
pub fn cardinality(hits: &[&Indexed], field: &str) -> Value {
    let distinct: BTreeSet<String> = values(hits, field).iter().map(|l| l.text()).collect();
    json!({ "cardinality": distinct.len() })
}

/// GetPercentiles over a Number field (linear interpolation between closest ranks).
pub fn percentiles(
    hits: &[&Indexed],
    field: &str,
    kind: FieldType,
    percents: &[f64],
) -> IotResult<Value> {
    if kind != FieldType::Number {
        return Err(invalid(format!(
            "{field} is not a Number field: it has no percentiles"
        )));
    }
    if let Some(p) = percents.iter().find(|p| !(0.0..=100.0).contains(*p)) {
        return Err(IotError::new(
            ErrorCode::InvalidRequest,
            format!("the percent {p} is not between 0 and 100"),
        ));
    }
    let mut numbers: Vec<f64> = values(hits, field)
        .iter()
        .filter_map(|l| l.number())
        .collect();
    numbers.sort_by(f64::total_cmp);
    let asked = if percents.is_empty() {
        &DEFAULT_PERCENTS[..]
    } else {
        percents
    };
    let at = |p: f64| -> Option<f64> {
        let last = numbers.len().checked_sub(1)?;
        let rank = p / 100.0 * last as f64;
        let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
        let (a, b) = (numbers[lo.min(last)], numbers[hi.min(last)]);
        Some(a + (b - a) * (rank - rank.floor()))
    };
    let list: Vec<Value> = asked
        .iter()
        .filter_map(|p| at(*p).map(|v| json!({ "percent": p, "value": v })))
        .collect();
    Ok(json!({ "percentiles": list }))
}

/// GetBucketsAggregation (`termsAggregation`): the most frequent values, `max_buckets` of them.
pub fn buckets(hits: &[&Indexed], field: &str, max_buckets: usize) -> Value {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for i in hits {
        let mine: BTreeSet<String> = i
            .fields
            .iter()
            .filter(|(f, _)| f == field)
            .map(|(_, l)| l.text())
            .collect();
        for v in mine {
            *counts.entry(v).or_default() += 1;
        }
    }
    let mut list: Vec<(String, usize)> = counts.into_iter().collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    list.truncate(max_buckets);
    let buckets: Vec<Value> = list
        .into_iter()
        .map(|(k, c)| json!({ "keyValue": k, "count": c }))
        .collect();
    json!({ "totalCount": hits.len(), "buckets": buckets })
}
