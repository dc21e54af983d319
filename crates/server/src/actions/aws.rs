//! Sending the AWS-service actions' calls (built in `calls.rs`): signed with SigV4 (dummy
//! credentials, the rule's region) and sent to `--aws-endpoint-url` (OpenSearch to the
//! domain's own endpoint). `kafka`, `iotSiteWise`, `iotAnalytics` and `salesforce` are
//! recorded, not sent.

use super::calls::{self, Call, Context};
use super::client;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use iotmock_rules::engine::Invocation;
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
    "cloudwatchLogs",
    "cloudwatchAlarm",
    "timestream",
    "iotEvents",
    "location",
    "openSearch",
    "elasticsearch",
];

/// Sends `inv`'s calls to `endpoint` in order: `Ok(true)` when AWS (or its stand-in) took
/// them all, `Ok(false)` for an action that is recorded, not sent.
pub async fn call(
    trust: &client::Trust,
    endpoint: &str,
    inv: &Invocation,
    cx: &Context<'_>,
) -> Result<bool, String> {
    let calls = calls::build(inv, cx)?;
    if calls.is_empty() {
        return Ok(false);
    }
    for call in calls {
        send(trust, endpoint, call, (cx.region, cx.now_ms)).await?;
    }
    Ok(true)
}

/// One signed call, signed for `region` at `now_ms`: the answer's body. An answer naming the
/// call's tolerated error counts as done.
pub async fn send(
    trust: &client::Trust,
    endpoint: &str,
    mut call: Call,
    (region, now_ms): (&str, i64),
) -> Result<Vec<u8>, String> {
    let url = if call.path.starts_with("http://") || call.path.starts_with("https://") {
        call.path.clone()
    } else {
        format!("{}{}", endpoint.trim_end_matches('/'), call.path)
    };
    let (host, port, _) = client::parse(&url).map_err(|e| e.to_string())?;
    let mut headers = std::mem::take(&mut call.headers);
    headers.push(("host".into(), format!("{host}:{port}")));
    let signer = Signer {
        service: call.service,
        region,
        now_ms,
    };
    let signed = signature(&signer, call.method, &url, &headers, &call.body)?;
    headers.retain(|(k, _)| k != "host");
    headers.extend(signed);
    let body = std::mem::take(&mut call.body);
    let deadline = Duration::from_secs(5);
    let answer = client::send_trusting(trust, call.method, &url, &headers, body, deadline)
        .await
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&answer.body);
    match answer.status {
        200..=299 => Ok(answer.body),
        _ if call.tolerate.is_some_and(|code| text.contains(code)) => Ok(Vec::new()),
        s => Err(format!(
            "{} {} answered {s}: {}",
            call.service,
            call.operation,
            text.chars().take(300).collect::<String>()
        )),
    }
}

/// Who signs a request: the service's signing name, the region and the time.
pub struct Signer<'a> {
    pub service: &'a str,
    pub region: &'a str,
    pub now_ms: i64,
}

/// The SigV4 headers for a request (dummy credentials `test`/`test`); `headers` must hold
/// `host`.
pub fn signature(
    signer: &Signer<'_>,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<Vec<(String, String)>, String> {
    let identity =
        aws_credential_types::Credentials::new("test", "test", None, None, "iotmock").into();
    let mut settings = SigningSettings::default();
    if signer.service == "s3" {
        settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
    }
    let time = UNIX_EPOCH + Duration::from_millis(u64::try_from(signer.now_ms).unwrap_or(0));
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(signer.region)
        .name(signer.service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let pairs = headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let signable = SignableRequest::new(method, url, pairs, SignableBody::Bytes(body))
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
        tolerate: None,
    };
    let url = format!("{}{}", endpoint.trim_end_matches('/'), call.path);
    let (host, port, _) = client::parse(&url).map_err(|e| e.to_string())?;
    let mut headers = vec![("host".to_string(), format!("{host}:{port}"))];
    let signer = Signer {
        service: "lambda",
        region,
        now_ms,
    };
    let signed = signature(&signer, call.method, &url, &headers, &call.body)?;
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
