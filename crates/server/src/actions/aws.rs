//! The AWS-service actions as the AWS SDK sends them: the operation each action calls, its
//! protocol (query, JSON 1.0/1.1, REST), signed with SigV4 (dummy credentials, the rule's
//! region), to `--aws-endpoint-url`. `cloudwatchLogs`, `timestream`, `kafka` and the rest
//! without a simple single call are recorded, not sent.

use super::{client, dynamo};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use base64::Engine as _;
use iotmock_rules::engine::Invocation;
use serde_json::{Map, Value, json};
use std::time::{Duration, UNIX_EPOCH};

/// The action types sent to AWS (the others are recorded).
pub const SENT: &[&str] = &[
    "sqs",
    "sns",
    "dynamoDBv2",
    "dynamoDB",
    "kinesis",
    "firehose",
    "stepFunctions",
    "cloudwatchMetric",
    "s3",
    "lambda",
];

/// One AWS API call.
struct Call {
    service: &'static str,
    operation: &'static str,
    method: &'static str,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn text<'a>(p: &'a Map<String, Value>, k: &str) -> &'a str {
    p.get(k).and_then(Value::as_str).unwrap_or_default()
}

fn pair(k: &str, v: &str) -> (String, String) {
    (k.to_string(), v.to_string())
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn json_call(service: &'static str, target: &'static str, version: &str, body: Value) -> Call {
    let operation = target.rsplit('.').next().unwrap_or(target);
    Call {
        service,
        operation,
        method: "POST",
        path: "/".into(),
        headers: vec![
            ("x-amz-target".into(), target.into()),
            (
                "content-type".into(),
                format!("application/x-amz-json-{version}"),
            ),
        ],
        body: body.to_string().into_bytes(),
    }
}

fn query_call(service: &'static str, operation: &'static str, params: &[(String, String)]) -> Call {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("Action", operation);
    for (k, v) in params {
        form.append_pair(k, v);
    }
    Call {
        service,
        operation,
        method: "POST",
        path: "/".into(),
        headers: vec![(
            "content-type".into(),
            "application/x-www-form-urlencoded; charset=utf-8".into(),
        )],
        body: form.finish().into_bytes(),
    }
}

/// The payload as a JSON object (DynamoDB items need one).
fn object(payload: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice(payload) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err("the SELECT output is not a JSON object".into()),
    }
}

fn dynamo_v1(p: &Map<String, Value>, payload: &[u8]) -> Result<Call, String> {
    let mut key = Map::new();
    let hash = dynamo::typed(
        text(p, "hashKeyValue"),
        p.get("hashKeyType").and_then(Value::as_str),
    );
    key.insert(text(p, "hashKeyField").to_string(), hash);
    if let Some(field) = p.get("rangeKeyField").and_then(Value::as_str) {
        let range = dynamo::typed(
            text(p, "rangeKeyValue"),
            p.get("rangeKeyType").and_then(Value::as_str),
        );
        key.insert(field.to_string(), range);
    }
    let table = text(p, "tableName");
    if text(p, "operation").eq_ignore_ascii_case("DELETE") {
        let body = json!({ "TableName": table, "Key": key });
        return Ok(json_call(
            "dynamodb",
            "DynamoDB_20120810.DeleteItem",
            "1.0",
            body,
        ));
    }
    let column = p
        .get("payloadField")
        .and_then(Value::as_str)
        .unwrap_or("payload");
    let value = match serde_json::from_slice::<Value>(payload) {
        Ok(v) => dynamo::attribute(&v),
        Err(_) => json!({ "B": b64(payload) }),
    };
    key.insert(column.to_string(), value);
    let body = json!({ "TableName": table, "Item": key });
    Ok(json_call(
        "dynamodb",
        "DynamoDB_20120810.PutItem",
        "1.0",
        body,
    ))
}

/// The call `inv` makes, or `None` for an action that is recorded, not sent.
fn build(
    inv: &Invocation,
    region: &str,
    account: &str,
    now_ms: i64,
) -> Result<Option<Call>, String> {
    let p = &inv.params;
    let payload = &inv.payload;
    let body_text = || String::from_utf8_lossy(payload).into_owned();
    let call = match inv.kind.member {
        "sqs" => {
            let body = match p.get("useBase64").and_then(Value::as_bool) {
                Some(true) => b64(payload),
                _ => body_text(),
            };
            let params = [
                pair("QueueUrl", text(p, "queueUrl")),
                pair("MessageBody", &body),
                pair("Version", "2012-11-05"),
            ];
            query_call("sqs", "SendMessage", &params)
        }
        "sns" => {
            let mut params = vec![
                pair("TargetArn", text(p, "targetArn")),
                pair("Message", &body_text()),
                pair("Version", "2010-03-31"),
            ];
            if text(p, "messageFormat") == "JSON" {
                params.push(pair("MessageStructure", "json"));
            }
            query_call("sns", "Publish", &params)
        }
        "dynamoDBv2" => {
            let table = p
                .get("putItem")
                .and_then(|t| t.get("tableName"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            let body = json!({ "TableName": table, "Item": dynamo::item(&object(payload)?) });
            json_call("dynamodb", "DynamoDB_20120810.PutItem", "1.0", body)
        }
        "dynamoDB" => dynamo_v1(p, payload)?,
        "kinesis" => {
            let key = p
                .get("partitionKey")
                .and_then(Value::as_str)
                .map_or_else(iotmock_registry::random_uuid, str::to_string);
            let body = json!({ "StreamName": text(p, "streamName"), "Data": b64(payload), "PartitionKey": key });
            json_call("kinesis", "Kinesis_20131202.PutRecord", "1.1", body)
        }
        "firehose" => {
            let mut data = payload.clone();
            data.extend_from_slice(text(p, "separator").as_bytes());
            let body = json!({ "DeliveryStreamName": text(p, "deliveryStreamName"), "Record": { "Data": b64(&data) } });
            json_call("firehose", "Firehose_20150804.PutRecord", "1.1", body)
        }
        "stepFunctions" => {
            let arn = format!(
                "arn:aws:states:{region}:{account}:stateMachine:{}",
                text(p, "stateMachineName")
            );
            let name = format!(
                "{}{}",
                text(p, "executionNamePrefix"),
                iotmock_registry::random_uuid()
            );
            let body = json!({ "stateMachineArn": arn, "name": name, "input": body_text() });
            json_call("states", "AWSStepFunctions.StartExecution", "1.0", body)
        }
        "cloudwatchMetric" => {
            let secs = p
                .get("metricTimestamp")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<u64>().ok());
            let at = UNIX_EPOCH
                + Duration::from_secs(secs.unwrap_or(u64::try_from(now_ms / 1000).unwrap_or(0)));
            let stamp = aws_smithy_types::DateTime::from(at);
            let stamp = stamp
                .fmt(aws_smithy_types::date_time::Format::DateTime)
                .unwrap_or_default();
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
        "s3" => {
            let mut headers = Vec::new();
            if let Some(acl) = p.get("cannedAcl").and_then(Value::as_str) {
                headers.push(("x-amz-acl".to_string(), acl.to_string()));
            }
            Call {
                service: "s3",
                operation: "PutObject",
                method: "PUT",
                path: format!("/{}/{}", text(p, "bucketName"), text(p, "key")),
                headers,
                body: payload.clone(),
            }
        }
        "lambda" => {
            let name = super::function_name(text(p, "functionArn"));
            let headers = vec![("x-amz-invocation-type".to_string(), "Event".to_string())];
            Call {
                service: "lambda",
                operation: "Invoke",
                method: "POST",
                path: format!("/2015-03-31/functions/{name}/invocations"),
                headers,
                body: payload.clone(),
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(call))
}

/// Sends `inv`'s call to `endpoint`: `Ok(true)` when AWS (or its stand-in) took it.
pub async fn call(
    endpoint: &str,
    region: &str,
    account: &str,
    inv: &Invocation,
    now_ms: i64,
) -> Result<bool, String> {
    let Some(mut call) = build(inv, region, account, now_ms)? else {
        return Ok(false);
    };
    let url = format!("{}{}", endpoint.trim_end_matches('/'), call.path);
    let (host, port, _) = client::parse(&url).map_err(|e| e.to_string())?;
    let mut headers = std::mem::take(&mut call.headers);
    headers.push(("host".into(), format!("{host}:{port}")));
    let signed = signature(&call, region, &url, &headers, now_ms)?;
    headers.retain(|(k, _)| k != "host");
    headers.extend(signed);
    let answer = client::send(
        call.method,
        &url,
        &headers,
        call.body,
        Duration::from_secs(5),
    )
    .await
    .map_err(|e| e.to_string())?;
    match answer.status {
        200..=299 => Ok(true),
        s => Err(format!(
            "{} {} answered {s}: {}",
            call.service,
            call.operation,
            String::from_utf8_lossy(&answer.body)
                .chars()
                .take(300)
                .collect::<String>()
        )),
    }
}

/// The SigV4 headers for the call (dummy credentials `test`/`test`).
fn signature(
    call: &Call,
    region: &str,
    url: &str,
    headers: &[(String, String)],
    now_ms: i64,
) -> Result<Vec<(String, String)>, String> {
    let identity =
        aws_credential_types::Credentials::new("test", "test", None, None, "iotmock").into();
    let mut settings = SigningSettings::default();
    if call.service == "s3" {
        settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
    }
    let time = UNIX_EPOCH + Duration::from_millis(u64::try_from(now_ms).unwrap_or(0));
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(call.service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let pairs = headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let signable = SignableRequest::new(call.method, url, pairs, SignableBody::Bytes(&call.body))
        .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

/// Lambda Invoke (RequestResponse) of `function_arn` on `endpoint`: the function's answer.
pub async fn invoke_lambda(
    endpoint: &str,
    region: &str,
    function_arn: &str,
    body: Vec<u8>,
    now_ms: i64,
) -> Result<Vec<u8>, String> {
    let name = super::function_name(function_arn);
    let call = Call {
        service: "lambda",
        operation: "Invoke",
        method: "POST",
        path: format!("/2015-03-31/functions/{name}/invocations"),
        headers: Vec::new(),
        body,
    };
    let url = format!("{}{}", endpoint.trim_end_matches('/'), call.path);
    let (host, port, _) = client::parse(&url).map_err(|e| e.to_string())?;
    let mut headers = vec![("host".to_string(), format!("{host}:{port}"))];
    let signed = signature(&call, region, &url, &headers, now_ms)?;
    headers.clear();
    headers.extend(signed);
    let answer = client::send("POST", &url, &headers, call.body, Duration::from_secs(5))
        .await
        .map_err(|e| e.to_string())?;
    match answer.status {
        200..=299 => Ok(answer.body),
        status => Err(format!(
            "Lambda Invoke of {name} answered {status}: {}",
            String::from_utf8_lossy(&answer.body)
                .chars()
                .take(300)
                .collect::<String>()
        )),
    }
}
