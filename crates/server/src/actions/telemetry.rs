//! The telemetry services' calls: CloudWatch metrics, alarms and logs, Timestream, IoT Events
//! and Amazon Location, as the AWS SDK sends them.

use super::calls::{
    Call, Context, array, b64, flag, json_call, object, pair, query_call, rest_call, text,
};
use serde_json::{Map, Value, json};
use std::time::{Duration, UNIX_EPOCH};

/// Timestream takes at most this many values from one message.
const TIMESTREAM_VALUES: usize = 100;
/// IoT Events takes at most this many messages in one batch.
const IOT_EVENTS_BATCH: usize = 10;

/// The call of a telemetry action, or `None` for an action that is recorded, not sent.
pub fn build(
    member: &str,
    p: &Map<String, Value>,
    payload: &[u8],
    cx: &Context<'_>,
) -> Result<Option<Call>, String> {
    Ok(Some(match member {
        "cloudwatchMetric" => metric(p, cx),
        "cloudwatchAlarm" => alarm(p),
        "timestream" => timestream(p, payload, cx)?,
        "iotEvents" => iot_events(p, payload)?,
        "location" => location(p, cx)?,
        _ => return Ok(None),
    }))
}

/// ISO 8601 with milliseconds, as the SDKs write timestamps.
fn iso(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    aws_smithy_types::DateTime::from(at)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

/// A `timestamp {value, unit}` member in milliseconds (unit MILLISECONDS by default); `None`
/// when absent.
fn stamp_ms(p: &Map<String, Value>, action: &str) -> Result<Option<i64>, String> {
    let Some(ts) = p.get("timestamp") else {
        return Ok(None);
    };
    let value = ts.get("value").and_then(Value::as_str).unwrap_or_default();
    let n: i64 = value
        .trim()
        .parse()
        .map_err(|_| format!("{action}: the timestamp {value:?} is not a whole number"))?;
    let ms = match ts
        .get("unit")
        .and_then(Value::as_str)
        .unwrap_or("MILLISECONDS")
    {
        "SECONDS" => n.saturating_mul(1000),
        "MICROSECONDS" => n / 1000,
        "NANOSECONDS" => n / 1_000_000,
        _ => n,
    };
    Ok(Some(ms))
}

fn metric(p: &Map<String, Value>, cx: &Context<'_>) -> Call {
    let secs = p
        .get("metricTimestamp")
        .and_then(Value::as_str)
        .and_then(|s| s.trim().parse::<i64>().ok());
    let stamp = iso(secs.map_or(cx.now_ms, |s| s.saturating_mul(1000)));
    let m = "MetricData.member.1";
    let params = [
        pair("Namespace", text(p, "metricNamespace")),
        pair(&format!("{m}.MetricName"), text(p, "metricName")),
        pair(&format!("{m}.Value"), text(p, "metricValue")),
        pair(&format!("{m}.Unit"), text(p, "metricUnit")),
        pair(&format!("{m}.Timestamp"), &stamp),
        pair("Version", "2010-08-01"),
    ];
    query_call("monitoring", "PutMetricData", &params)
}

fn alarm(p: &Map<String, Value>) -> Call {
    let params = [
        pair("AlarmName", text(p, "alarmName")),
        pair("StateValue", text(p, "stateValue")),
        pair("StateReason", text(p, "stateReason")),
        pair("Version", "2010-08-01"),
    ];
    query_call("monitoring", "SetAlarmState", &params)
}

/// `cloudwatchLogs`: the rule's log stream in the group is created when missing, then the
/// message is one event (now), or with `batchMode` each `{timestamp, message}` element is one.
/// AWS does not document the stream's name; iotmock's is the rule's name.
pub fn logs(p: &Map<String, Value>, payload: &[u8], cx: &Context<'_>) -> Result<Vec<Call>, String> {
    let group = text(p, "logGroupName");
    let mut events = if flag(p, "batchMode") {
        array(payload, "cloudwatchLogs")?
            .iter()
            .map(log_event)
            .collect::<Result<Vec<_>, _>>()?
    } else {
        let message = String::from_utf8_lossy(payload).into_owned();
        vec![json!({ "timestamp": cx.now_ms, "message": message })]
    };
    events.sort_by_key(|e| e.get("timestamp").and_then(Value::as_i64).unwrap_or(0));
    let names = json!({ "logGroupName": group, "logStreamName": cx.rule });
    let mut create = json_call("logs", "Logs_20140328.CreateLogStream", "1.1", names);
    create.tolerate = Some("ResourceAlreadyExistsException");
    let put = json!({ "logGroupName": group, "logStreamName": cx.rule, "logEvents": events });
    let put = json_call("logs", "Logs_20140328.PutLogEvents", "1.1", put);
    Ok(vec![create, put])
}

/// One `{timestamp, message}` element of a batch as a log event.
fn log_event(v: &Value) -> Result<Value, String> {
    let timestamp = v.get("timestamp").and_then(Value::as_i64);
    let message = v.get("message").map(|m| match m {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    match (timestamp, message) {
        (Some(t), Some(m)) => Ok(json!({ "timestamp": t, "message": m })),
        _ => Err(format!(
            "cloudwatchLogs with batchMode: each element needs a numeric timestamp and a message, not {v}"
        )),
    }
}

/// A value's Timestream measure type and text, as the rule infers them.
fn measure(v: &Value) -> (&'static str, String) {
    match v {
        Value::Bool(b) => ("BOOLEAN", b.to_string()),
        Value::Number(n) if n.is_i64() || n.is_u64() => ("BIGINT", n.to_string()),
        Value::Number(n) => ("DOUBLE", n.to_string()),
        Value::String(s) => ("VARCHAR", s.clone()),
        other => ("VARCHAR", other.to_string()),
    }
}

/// `timestream`: one record per attribute of the SELECT output, with the action's dimensions.
fn timestream(p: &Map<String, Value>, payload: &[u8], cx: &Context<'_>) -> Result<Call, String> {
    let doc = object(payload)?;
    if doc.len() > TIMESTREAM_VALUES {
        return Err(format!(
            "timestream takes at most {TIMESTREAM_VALUES} values from a message, the SELECT output has {}",
            doc.len()
        ));
    }
    let dimensions: Vec<Value> = p
        .get("dimensions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|d| {
            json!({ "Name": d.get("name").cloned().unwrap_or(Value::Null),
                    "Value": d.get("value").cloned().unwrap_or(Value::Null),
                    "DimensionValueType": "VARCHAR" })
        })
        .collect();
    let time = stamp_ms(p, "timestream")?.unwrap_or(cx.now_ms);
    let records: Vec<Value> = doc
        .iter()
        .map(|(name, v)| {
            let (kind, value) = measure(v);
            json!({ "MeasureName": name, "MeasureValue": value, "MeasureValueType": kind })
        })
        .collect();
    let body = json!({
        "DatabaseName": text(p, "databaseName"),
        "TableName": text(p, "tableName"),
        "CommonAttributes": { "Dimensions": dimensions, "Time": time.to_string(), "TimeUnit": "MILLISECONDS" },
        "Records": records,
    });
    Ok(json_call(
        "timestream",
        "Timestream_20181101.WriteRecords",
        "1.0",
        body,
    ))
}

/// `iotEvents`: `BatchPutMessage` with the output as one message, or with `batchMode` each
/// array element as one (at most 10).
fn iot_events(p: &Map<String, Value>, payload: &[u8]) -> Result<Call, String> {
    let input = text(p, "inputName");
    let message = |id: String, bytes: &[u8]| json!({ "messageId": id, "inputName": input, "payload": b64(bytes) });
    let messages = if flag(p, "batchMode") {
        let items = array(payload, "iotEvents")?;
        if items.len() > IOT_EVENTS_BATCH {
            return Err(format!(
                "iotEvents with batchMode takes at most {IOT_EVENTS_BATCH} messages, the SELECT output has {}",
                items.len()
            ));
        }
        items
            .iter()
            .map(|v| message(iotmock_registry::random_uuid(), v.to_string().as_bytes()))
            .collect()
    } else {
        let id = p
            .get("messageId")
            .and_then(Value::as_str)
            .map_or_else(iotmock_registry::random_uuid, str::to_string);
        vec![message(id, payload)]
    };
    let body = json!({ "messages": messages });
    Ok(rest_call(
        "ioteventsdata",
        "BatchPutMessage",
        "POST",
        "/inputs/messages".into(),
        body,
    ))
}

/// `location`: one device position on the tracker (`BatchUpdateDevicePosition`).
fn location(p: &Map<String, Value>, cx: &Context<'_>) -> Result<Call, String> {
    let coordinate = |k: &str| {
        let v = text(p, k);
        v.trim()
            .parse::<f64>()
            .map_err(|_| format!("location: {k} {v:?} is not a number"))
    };
    let (lat, lon) = (coordinate("latitude")?, coordinate("longitude")?);
    let time = stamp_ms(p, "location")?.unwrap_or(cx.now_ms);
    let update =
        json!({ "DeviceId": text(p, "deviceId"), "Position": [lon, lat], "SampleTime": iso(time) });
    let tracker = text(p, "trackerName");
    Ok(rest_call(
        "geo",
        "BatchUpdateDevicePosition",
        "POST",
        format!("/tracking/v0/trackers/{tracker}/positions"),
        json!({ "Updates": [update] }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> Context<'static> {
        Context {
            rule: "r1",
            region: "us-east-1",
            account: "123456789012",
            now_ms: 1_700_000_000_000,
        }
    }

    fn params(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn timestream_writes_one_record_per_attribute_with_inferred_types() {
        let p = params(json!({ "databaseName": "db", "tableName": "t",
            "dimensions": [{ "name": "device", "value": "d1" }],
            "timestamp": { "value": "1700000000", "unit": "SECONDS" } }));
        let call = timestream(
            &p,
            br#"{"t":21.5,"n":3,"ok":true,"s":"x","o":{"a":1}}"#,
            &cx(),
        )
        .unwrap();
        let body: Value = serde_json::from_slice(&call.body).unwrap();
        assert_eq!(body["CommonAttributes"]["Time"], "1700000000000");
        let kinds: Vec<(&str, &str)> = body["Records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["MeasureName"].as_str().unwrap(),
                    r["MeasureValueType"].as_str().unwrap(),
                )
            })
            .collect();
        assert!(kinds.contains(&("t", "DOUBLE")) && kinds.contains(&("n", "BIGINT")));
        assert!(kinds.contains(&("ok", "BOOLEAN")) && kinds.contains(&("o", "VARCHAR")));
        let many: Map<String, Value> = (0..101).map(|i| (format!("k{i}"), json!(i))).collect();
        let too_many = serde_json::to_vec(&many).unwrap();
        assert!(timestream(&p, &too_many, &cx()).is_err());
    }

    #[test]
    fn logs_create_the_stream_then_put_events_sorted() {
        let p = params(json!({ "logGroupName": "g", "batchMode": true }));
        let calls = logs(
            &p,
            br#"[{"timestamp":2,"message":"b"},{"timestamp":1,"message":"a"}]"#,
            &cx(),
        )
        .unwrap();
        assert_eq!(calls[0].operation, "CreateLogStream");
        assert_eq!(calls[0].tolerate, Some("ResourceAlreadyExistsException"));
        let body: Value = serde_json::from_slice(&calls[1].body).unwrap();
        assert_eq!(body["logEvents"][0]["message"], "a");
        assert_eq!(body["logStreamName"], "r1");
        assert!(logs(&p, br#"[{"message":"no time"}]"#, &cx()).is_err());
        assert!(logs(&p, b"not an array", &cx()).is_err());
    }

    #[test]
    fn location_needs_numeric_coordinates() {
        let p = params(
            json!({ "trackerName": "t", "deviceId": "d", "latitude": "47.6", "longitude": "-122.3" }),
        );
        let call = location(&p, &cx()).unwrap();
        assert_eq!(call.path, "/tracking/v0/trackers/t/positions");
        let body: Value = serde_json::from_slice(&call.body).unwrap();
        assert_eq!(body["Updates"][0]["Position"], json!([-122.3, 47.6]));
        let bad = params(
            json!({ "trackerName": "t", "deviceId": "d", "latitude": "north", "longitude": "1" }),
        );
        assert!(location(&bad, &cx()).is_err());
    }
}
