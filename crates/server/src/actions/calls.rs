//! The AWS API calls each AWS-service action makes, built as the AWS SDK builds them: the
//! operation, its protocol (query, JSON 1.0/1.1, REST) and body. Signing and sending are in
//! `aws.rs`; the telemetry services (CloudWatch, Timestream, IoT Events, Location) are in
//! `telemetry.rs`.

use super::{dynamo, telemetry};
use base64::Engine as _;
use iotmock_rules::engine::Invocation;
use serde_json::{Map, Value, json};

/// One AWS API call.
pub struct Call {
    pub service: &'static str,
    pub operation: &'static str,
    pub method: &'static str,
    /// The path on `--aws-endpoint-url`, or a whole URL (an OpenSearch domain's endpoint).
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// An error code that counts as done (creating what already exists).
    pub tolerate: Option<&'static str>,
}

/// What the calls are made for: the rule, its region and account, and the time.
pub struct Context<'a> {
    pub rule: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub now_ms: i64,
}

pub fn text<'a>(p: &'a Map<String, Value>, k: &str) -> &'a str {
    p.get(k).and_then(Value::as_str).unwrap_or_default()
}

pub fn pair(k: &str, v: &str) -> (String, String) {
    (k.to_string(), v.to_string())
}

pub fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

pub fn flag(p: &Map<String, Value>, k: &str) -> bool {
    p.get(k).and_then(Value::as_bool).unwrap_or(false)
}

pub fn json_call(service: &'static str, target: &'static str, version: &str, body: Value) -> Call {
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
        tolerate: None,
    }
}

pub fn rest_call(
    service: &'static str,
    operation: &'static str,
    method: &'static str,
    path: String,
    body: Value,
) -> Call {
    Call {
        service,
        operation,
        method,
        path,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
        tolerate: None,
    }
}

pub fn query_call(
    service: &'static str,
    operation: &'static str,
    params: &[(String, String)],
) -> Call {
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
        tolerate: None,
    }
}

/// The payload as a JSON object (DynamoDB items and Timestream records need one).
pub fn object(payload: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice(payload) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err("the SELECT output is not a JSON object".into()),
    }
}

/// The payload as a JSON array (what `batchMode` takes).
pub fn array(payload: &[u8], action: &str) -> Result<Vec<Value>, String> {
    match serde_json::from_slice(payload) {
        Ok(Value::Array(items)) if !items.is_empty() => Ok(items),
        _ => Err(format!(
            "{action} with batchMode needs the SELECT output to be a non-empty JSON array"
        )),
    }
}

/// The calls `inv` makes, in order (empty for an action that is recorded, not sent).
pub fn build(inv: &Invocation, cx: &Context<'_>) -> Result<Vec<Call>, String> {
    let p = &inv.params;
    let payload = &inv.payload;
    let call = match inv.kind.member {
        "sqs" => sqs(p, payload),
        "sns" => sns(p, payload),
        "dynamoDBv2" => dynamo::v2(p, payload)?,
        "dynamoDB" => dynamo::v1(p, payload)?,
        "kinesis" => kinesis(p, payload),
        "firehose" => firehose(p, payload)?,
        "stepFunctions" => step_functions(p, payload, cx),
        "s3" => s3(p, payload),
        "lambda" => lambda(p, payload),
        "openSearch" | "elasticsearch" => search_document(p, payload),
        "cloudwatchLogs" => return telemetry::logs(p, payload, cx),
        member => match telemetry::build(member, p, payload, cx)? {
            Some(call) => call,
            None => return Ok(Vec::new()),
        },
    };
    Ok(vec![call])
}

fn body_text(payload: &[u8]) -> String {
    String::from_utf8_lossy(payload).into_owned()
}

fn sqs(p: &Map<String, Value>, payload: &[u8]) -> Call {
    let body = if flag(p, "useBase64") {
        b64(payload)
    } else {
        body_text(payload)
    };
    let params = [
        pair("QueueUrl", text(p, "queueUrl")),
        pair("MessageBody", &body),
        pair("Version", "2012-11-05"),
    ];
    query_call("sqs", "SendMessage", &params)
}

fn sns(p: &Map<String, Value>, payload: &[u8]) -> Call {
    let mut params = vec![
        pair("TargetArn", text(p, "targetArn")),
        pair("Message", &body_text(payload)),
        pair("Version", "2010-03-31"),
    ];
    if text(p, "messageFormat") == "JSON" {
        params.push(pair("MessageStructure", "json"));
    }
    query_call("sns", "Publish", &params)
}

fn kinesis(p: &Map<String, Value>, payload: &[u8]) -> Call {
    let key = p
        .get("partitionKey")
        .and_then(Value::as_str)
        .map_or_else(iotmock_registry::random_uuid, str::to_string);
    let body =
        json!({ "StreamName": text(p, "streamName"), "Data": b64(payload), "PartitionKey": key });
    json_call("kinesis", "Kinesis_20131202.PutRecord", "1.1", body)
}

/// `PutRecord`, or with `batchMode` `PutRecordBatch` with one record per array element.
fn firehose(p: &Map<String, Value>, payload: &[u8]) -> Result<Call, String> {
    let separator = text(p, "separator").as_bytes();
    let record = |bytes: &[u8]| {
        let mut data = bytes.to_vec();
        data.extend_from_slice(separator);
        json!({ "Data": b64(&data) })
    };
    let stream = text(p, "deliveryStreamName");
    if !flag(p, "batchMode") {
        let body = json!({ "DeliveryStreamName": stream, "Record": record(payload) });
        return Ok(json_call(
            "firehose",
            "Firehose_20150804.PutRecord",
            "1.1",
            body,
        ));
    }
    let items = array(payload, "firehose")?;
    if items.len() > 500 {
        return Err(format!(
            "firehose with batchMode takes at most 500 records, the SELECT output has {}",
            items.len()
        ));
    }
    let records: Vec<Value> = items
        .iter()
        .map(|v| record(v.to_string().as_bytes()))
        .collect();
    let body = json!({ "DeliveryStreamName": stream, "Records": records });
    Ok(json_call(
        "firehose",
        "Firehose_20150804.PutRecordBatch",
        "1.1",
        body,
    ))
}

fn step_functions(p: &Map<String, Value>, payload: &[u8], cx: &Context<'_>) -> Call {
    let arn = format!(
        "arn:aws:states:{}:{}:stateMachine:{}",
        cx.region,
        cx.account,
        text(p, "stateMachineName")
    );
    let name = format!(
        "{}{}",
        text(p, "executionNamePrefix"),
        iotmock_registry::random_uuid()
    );
    let body = json!({ "stateMachineArn": arn, "name": name, "input": body_text(payload) });
    json_call("states", "AWSStepFunctions.StartExecution", "1.0", body)
}

fn s3(p: &Map<String, Value>, payload: &[u8]) -> Call {
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
        body: payload.to_vec(),
        tolerate: None,
    }
}

fn lambda(p: &Map<String, Value>, payload: &[u8]) -> Call {
    let name = super::function_name(text(p, "functionArn"));
    let headers = vec![("x-amz-invocation-type".to_string(), "Event".to_string())];
    Call {
        service: "lambda",
        operation: "Invoke",
        method: "POST",
        path: format!("/2015-03-31/functions/{name}/invocations"),
        headers,
        body: payload.to_vec(),
        tolerate: None,
    }
}

/// OpenSearch (and Elasticsearch): the document indexed at the domain's own endpoint.
fn search_document(p: &Map<String, Value>, payload: &[u8]) -> Call {
    let endpoint = text(p, "endpoint").trim_end_matches('/');
    let path = format!(
        "{endpoint}/{}/{}/{}",
        text(p, "index"),
        text(p, "type"),
        text(p, "id")
    );
    Call {
        service: "es",
        operation: "IndexDocument",
        method: "PUT",
        path,
        headers: vec![("content-type".into(), "application/json".into())],
        body: payload.to_vec(),
        tolerate: None,
    }
}
