//! What the rules' actions do outside the mock, on the mock's runtime (never on the rules'
//! worker or an MQTT I/O thread): the `http` action posts to its URL (3 tries on 429 and 5xx,
//! as AWS); `lambda` and `aws_lambda()` call `--lambda-url BASE/NAME` when it is set; the
//! AWS-service actions are sent to `--aws-endpoint-url`, signed with SigV4 as the AWS SDK
//! sends them, when it is set. Without an endpoint an action is recorded, not sent.

pub(crate) mod aws;
mod batch;
mod calls;
mod client;
pub(crate) use client::Trust;
mod dynamo;
pub(crate) mod lookups;
pub(crate) mod presign;
mod telemetry;

use iotmock_registry::Clock;
use iotmock_rules::Runner;
use iotmock_rules::engine::Invocation;
use iotmock_rules::later::Job;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Actions in flight at once; past it an action fails at once (and its error action runs), so
/// a slow endpoint holds a bounded number of connections and tasks.
pub const IN_FLIGHT: usize = 256;
/// One try of an action.
const TRY_DEADLINE: Duration = Duration::from_secs(5);
/// `aws_lambda()` must answer within this (AWS's limit).
pub const FUNCTION_DEADLINE: Duration = Duration::from_millis(2000);

/// Where actions that leave the mock go.
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    /// Functions: `POST BASE/NAME` with the event as the body.
    pub lambda_url: Option<String>,
    /// AWS services (LocalStack, moto's server, MiniStack).
    pub aws_endpoint_url: Option<String>,
    /// Topic rule destinations are ENABLED at creation, with no confirmation to wait for.
    pub auto_confirm_destinations: bool,
    /// CAs (DER) that `https://` endpoints may prove themselves with, besides the system's.
    pub action_ca: Vec<Vec<u8>>,
}

#[derive(Clone)]
pub struct ActionRunner {
    pub handle: tokio::runtime::Handle,
    pub endpoints: Endpoints,
    pub clock: Arc<dyn Clock>,
    /// Permits for the actions in flight ([`IN_FLIGHT`]).
    pub in_flight: Arc<tokio::sync::Semaphore>,
    /// The rules' account (in the ARNs the calls name).
    pub account: String,
    /// In-process functions (`Builder::function`), before `--lambda-url`.
    pub functions: crate::custom_auth::FunctionTable,
    /// Whom `https://` endpoints must prove they are.
    pub trust: Trust,
    /// HTTP actions' open batches (`enableBatching`).
    pub batches: batch::Batches,
}

impl Runner for ActionRunner {
    fn takes(&self, inv: &Invocation) -> bool {
        match inv.kind.member {
            "http" => true,
            "lambda" if self.endpoints.lambda_url.is_some() => true,
            "lambda" if self.function(inv).is_some() => true,
            member => self.endpoints.aws_endpoint_url.is_some() && aws::SENT.contains(&member),
        }
    }

    fn run(&self, job: Job) {
        if let Some(limits) = batch::Limits::of(&job.invocation) {
            self.batch(job, &limits);
            return;
        }
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            let why = format!(
                "{IN_FLIGHT} actions are already waiting on their endpoints; this one was not sent"
            );
            (job.done)(Err(why));
            return;
        };
        let this = self.clone();
        self.handle.spawn(async move {
            let outcome = this.perform(&job.rule, &job.region, &job.invocation).await;
            drop(permit);
            (job.done)(outcome);
        });
    }

    fn confirm(&self, post: iotmock_rules::Post, done: Box<dyn FnOnce(Result<(), String>) + Send>) {
        let trust = self.trust.clone();
        self.handle.spawn(async move {
            let (url, headers) = (&post.url, &post.headers);
            let sent = client::send_trusting(&trust, "POST", url, headers, post.body, TRY_DEADLINE)
                .await;
            let result = match sent {
                Ok(answer) if (200..300).contains(&answer.status) => Ok(()),
                Ok(answer) => Err(format!("{} answered {}", post.url, answer.status)),
                Err(e) => Err(format!("{}: {e}", post.url)),
            };
            if let Err(why) = &result {
                tracing::info!(url = %post.url, %why, "a topic rule destination's confirmation was not delivered");
            }
            done(result);
        });
    }
}

/// The function's name in a Lambda ARN (`...:function:NAME[:alias]`), or the name given.
pub fn function_name(arn: &str) -> &str {
    match arn.split_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => arn,
    }
}

impl ActionRunner {
    /// Adds an `http` action's message to its batch; sends the batches that are complete and
    /// starts the timer of one it opened.
    fn batch(&self, job: Job, limits: &batch::Limits) {
        let (send, added) = self.batches.add(&self.account, job, limits);
        for full in send {
            self.send_batch(full);
        }
        if let batch::Added::Opened(key, generation) = added {
            let (this, open) = (self.clone(), limits.open);
            self.handle.spawn(async move {
                tokio::time::sleep(open).await;
                if let Some(due) = this.batches.expire(&key, generation) {
                    this.send_batch(due);
                }
            });
        }
    }

    /// One POST for a batch; every message in it has the batch's outcome.
    fn send_batch(&self, batch: batch::Batch) {
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            for (_, done) in batch.parts {
                done(Err(format!(
                    "{IN_FLIGHT} actions are already waiting on their endpoints; this batch was not sent"
                )));
            }
            return;
        };
        let this = self.clone();
        self.handle.spawn(async move {
            let mut inv = batch.last.clone();
            inv.payload = batch.body();
            let now_ms = this.clock.now_millis();
            let outcome = http_action(&this.trust, &inv, now_ms).await;
            drop(permit);
            for (_, done) in batch.parts {
                done(outcome.clone().map(|()| true));
            }
        });
    }

    /// The in-process function a `lambda` action names, if one was given.
    fn function(&self, inv: &Invocation) -> Option<crate::custom_auth::FunctionFn> {
        if inv.kind.member != "lambda" {
            return None;
        }
        let arn = inv.params.get("functionArn").and_then(Value::as_str)?;
        self.functions.get(arn)
    }

    async fn perform(&self, rule: &str, region: &str, inv: &Invocation) -> Result<bool, String> {
        let text = |k: &str| {
            inv.params
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        if let Some(f) = self.function(inv) {
            let deadline = TRY_DEADLINE;
            let run = crate::custom_auth::call(f, inv.payload.clone(), deadline);
            return run.await.map(|_| true);
        }
        match (inv.kind.member, &self.endpoints.lambda_url) {
            ("http", _) => {
                let now_ms = self.clock.now_millis();
                http_action(&self.trust, inv, now_ms).await.map(|()| true)
            }
            ("lambda", Some(base)) => {
                let name = function_name(text("functionArn"));
                let url = format!("{}/{name}", base.trim_end_matches('/'));
                post_json(&url, inv.payload.clone()).await.map(|_| true)
            }
            _ => match &self.endpoints.aws_endpoint_url {
                Some(endpoint) => {
                    let cx = calls::Context {
                        rule,
                        region,
                        account: &self.account,
                        now_ms: self.clock.now_millis(),
                    };
                    aws::call(&self.trust, endpoint, inv, &cx).await
                }
                None => Ok(false),
            },
        }
    }
}

/// POSTs JSON to a function's webhook; its 2xx body is the result.
pub async fn post_json(url: &str, body: Vec<u8>) -> Result<Vec<u8>, String> {
    let headers = [("content-type".to_string(), "application/json".to_string())];
    let answer = client::send("POST", url, &headers, body, TRY_DEADLINE)
        .await
        .map_err(|e| e.to_string())?;
    match answer.status {
        200..=299 => Ok(answer.body),
        s => Err(format!(
            "{url} answered {s}: {}",
            String::from_utf8_lossy(&answer.body)
        )),
    }
}

/// The `http` action: POST the payload (SigV4-signed with `auth.sigv4`), up to 3 tries while
/// the answer is 429 or 5xx.
async fn http_action(trust: &Trust, inv: &Invocation, now_ms: i64) -> Result<(), String> {
    let url = inv
        .params
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let json = serde_json::from_slice::<Value>(&inv.payload).is_ok();
    let mut headers: Vec<(String, String)> = inv
        .params
        .get("headers")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|h| {
                    Some((
                        h.get("key")?.as_str()?.to_string(),
                        h.get("value")?.as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        let kind = if json {
            "application/json"
        } else {
            "application/octet-stream"
        };
        headers.push(("content-type".into(), kind.into()));
    }
    if let Some(sigv4) = inv.params.get("auth").and_then(|a| a.get("sigv4")) {
        let field = |k: &str| sigv4.get(k).and_then(Value::as_str).unwrap_or_default();
        let signer = aws::Signer {
            service: field("serviceName"),
            region: field("signingRegion"),
            now_ms,
        };
        let (host, port, _) = client::parse(url).map_err(|e| e.to_string())?;
        headers.push(("host".into(), format!("{host}:{port}")));
        let signed = aws::signature(&signer, "POST", url, &headers, &inv.payload)?;
        headers.retain(|(k, _)| k != "host");
        headers.extend(signed);
    }
    let mut last = String::new();
    for _ in 0..3 {
        let body = inv.payload.clone();
        let sent = client::send_trusting(trust, "POST", url, &headers, body, TRY_DEADLINE).await;
        match sent {
            Ok(a) if (200..300).contains(&a.status) => return Ok(()),
            Ok(a) if a.status == 429 || a.status >= 500 => {
                last = format!("{url} answered {}", a.status)
            }
            Ok(a) => return Err(format!("{url} answered {}", a.status)),
            Err(e) => return Err(e.to_string()),
        }
    }
    Err(last)
}
