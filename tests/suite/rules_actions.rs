//! Rule actions that leave the mock, against real local HTTP servers: the `http` action (and
//! its retries and error action), `lambda` and `aws_lambda()` through `--lambda-url`, and an
//! AWS-service action sent SigV4-signed to `--aws-endpoint-url`.

use crate::mqtt::{ALLOW_ALL, Fleet, body};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use iotmock::MockIotCore;
use iotmock_client::Version;
use serde_json::{Value, json};
use std::net::SocketAddr;
use tokio::sync::mpsc;

/// One request a hook received.
#[derive(Debug)]
pub(crate) struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        let found = self
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name));
        found.map(|(_, v)| v.as_str())
    }
}

/// A local HTTP server answering every request with `status` and `answer`.
pub(crate) async fn hook(
    status: u16,
    answer: &'static str,
) -> (SocketAddr, mpsc::UnboundedReceiver<Seen>) {
    hook_on(status, answer, None).await
}

/// [`hook`] over TLS: an HTTPS server for `localhost` with a certificate from `ca`.
pub(crate) async fn https_hook(
    status: u16,
    answer: &'static str,
    ca: &iotmock_testkit::TestCa,
) -> (SocketAddr, mpsc::UnboundedReceiver<Seen>) {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
    let leaf = ca.server_leaf("localhost");
    let chain = vec![CertificateDer::from_pem_slice(leaf.cert_pem.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    hook_on(status, answer, Some(acceptor)).await
}

async fn hook_on(
    status: u16,
    answer: &'static str,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> (SocketAddr, mpsc::UnboundedReceiver<Seen>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            let tls = tls.clone();
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let tx = tx.clone();
                    async move {
                        let method = req.method().to_string();
                        let path = req.uri().to_string();
                        let headers = req
                            .headers()
                            .iter()
                            .map(|(k, v)| {
                                (k.to_string(), v.to_str().unwrap_or_default().to_string())
                            })
                            .collect();
                        let body = req.into_body().collect().await.unwrap().to_bytes().to_vec();
                        let _ = tx.send(Seen {
                            method,
                            path,
                            headers,
                            body,
                        });
                        let resp = hyper::Response::builder()
                            .status(status)
                            .body(Full::new(Bytes::from_static(answer.as_bytes())))
                            .unwrap();
                        Ok::<_, std::convert::Infallible>(resp)
                    }
                });
            tokio::spawn(async move {
                let http = hyper::server::conn::http1::Builder::new();
                match tls {
                    Some(tls) => match tls.accept(stream).await {
                        Ok(s) => http.serve_connection(TokioIo::new(s), service).await.ok(),
                        Err(_) => None,
                    },
                    None => http
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                        .ok(),
                };
            });
        }
    });
    (addr, rx)
}

const ROLE: &str = "arn:aws:iam::123456789012:role/r";

/// A fleet on a mock started from `builder`.
pub(crate) async fn fleet_of(builder: iotmock::Builder) -> Fleet {
    Fleet::on(builder.start().await.unwrap()).await
}

async fn rule(fleet: &Fleet, name: &str, payload: Value) {
    fleet
        .api
        .post(&format!("/rules/{name}"), payload)
        .await
        .ok();
}

#[tokio::test]
async fn the_http_action_posts_the_output_and_retries_then_runs_the_error_action() {
    let (ok, mut seen) = hook(200, "").await;
    let (bad, mut failing) = hook(503, "busy").await;
    let mut fleet = fleet_of(MockIotCore::builder().auto_confirm_destinations(true)).await;
    let http = |addr: SocketAddr, path: &str| {
        json!({ "http": {
            "url": format!("http://{addr}{path}"),
            "confirmationUrl": format!("http://{addr}/"),
            "headers": [{ "key": "x-device", "value": "${clientid()}" }],
        }})
    };
    rule(
        &fleet,
        "hook",
        json!({ "sql": "SELECT temp FROM 't/+'", "actions": [http(ok, "/in/${topic(2)}")] }),
    )
    .await;
    rule(
        &fleet,
        "down",
        json!({
            "sql": "SELECT * FROM 'd/+'",
            "actions": [http(bad, "/down")],
            "errorAction": { "republish": { "topic": "errors", "roleArn": ROLE } },
        }),
    )
    .await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut watcher = fleet.client(&dev, "watcher", Version::V311).await;
    watcher.subscribe(&[("errors", 1)]).await.unwrap();
    let mut c = fleet.client(&dev, "thermo", Version::V311).await;
    c.publish("t/kitchen", r#"{"temp":21,"x":1}"#, 1, false)
        .await
        .unwrap();
    let got = seen.recv().await.unwrap();
    assert_eq!(
        (got.method.as_str(), got.path.as_str()),
        ("POST", "/in/kitchen")
    );
    assert_eq!(got.header("x-device"), Some("thermo"));
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(
        serde_json::from_slice::<Value>(&got.body).unwrap(),
        json!({ "temp": 21 })
    );
    c.publish("d/x", "{}", 1, false).await.unwrap();
    let error = watcher.next_message().await.unwrap();
    let doc = body(&error);
    assert_eq!(doc["failures"][0]["failedAction"], "HttpAction");
    assert!(
        doc["failures"][0]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("503")
    );
    let mut tries = 0;
    while failing.try_recv().is_ok() {
        tries += 1;
    }
    assert_eq!(tries, 3, "503 is tried three times, as AWS does");
    let log = fleet.mock.actions(Some("hook"));
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].outcome, iotmock_rules::log::Outcome::Delivered);
}

#[tokio::test]
async fn functions_are_called_through_the_lambda_url() {
    let (addr, mut seen) = hook(200, r#"{"verdict":"ok"}"#).await;
    let mut fleet = fleet_of(MockIotCore::builder().lambda_url(format!("http://{addr}/fn"))).await;
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:enrich";
    rule(&fleet, "enrich", json!({
        "sql": format!("SELECT aws_lambda('{arn}', *).verdict AS v FROM 'l/+'"),
        "awsIotSqlVersion": "2016-03-23",
        "actions": [
            { "lambda": { "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:store:live" } },
            { "republish": { "topic": "out", "roleArn": ROLE } },
        ],
    })).await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut watcher = fleet.client(&dev, "watcher", Version::V311).await;
    watcher.subscribe(&[("out", 1)]).await.unwrap();
    let mut c = fleet.client(&dev, "c", Version::V311).await;
    c.publish("l/1", r#"{"n":1}"#, 1, false).await.unwrap();
    let first = seen.recv().await.unwrap();
    assert_eq!(first.path, "/fn/enrich", "aws_lambda() is called first");
    assert_eq!(
        serde_json::from_slice::<Value>(&first.body).unwrap(),
        json!({ "n": 1 })
    );
    assert_eq!(
        body(&watcher.next_message().await.unwrap()),
        json!({ "v": "ok" })
    );
    let second = seen.recv().await.unwrap();
    assert_eq!(
        second.path, "/fn/store",
        "the alias is not part of the name"
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&second.body).unwrap(),
        json!({ "v": "ok" })
    );
}

#[tokio::test]
async fn in_process_functions_answer_aws_lambda_and_take_lambda_actions() {
    let (tx, mut stored) = tokio::sync::mpsc::unbounded_channel();
    let mock = MockIotCore::builder()
        .function("enrich", |event| Ok(json!({ "verdict": event["n"] })))
        .function("store", move |event| {
            let _ = tx.send(event);
            Ok(json!({}))
        })
        .start()
        .await
        .unwrap();
    let mut fleet = Fleet::on(mock).await;
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:enrich";
    rule(&fleet, "inproc", json!({
        "sql": format!("SELECT aws_lambda('{arn}', *).verdict AS v FROM 'p/+'"),
        "awsIotSqlVersion": "2016-03-23",
        "actions": [{ "lambda": { "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:store" } }],
    })).await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut c = fleet.client(&dev, "c", Version::V311).await;
    c.publish("p/1", r#"{"n":7}"#, 1, false).await.unwrap();
    assert_eq!(stored.recv().await.unwrap(), json!({ "v": 7 }));
}

#[tokio::test]
async fn aws_actions_are_sent_signed_as_the_sdk_sends_them() {
    let (addr, mut seen) = hook(200, "<SendMessageResponse/>").await;
    let mut fleet =
        fleet_of(MockIotCore::builder().aws_endpoint_url(format!("http://{addr}"))).await;
    let queue = format!("http://{addr}/123456789012/telemetry");
    rule(&fleet, "to_sqs", json!({
        "sql": "SELECT temp FROM 'q/+'",
        "actions": [{ "sqs": { "queueUrl": queue, "roleArn": ROLE } },
                    { "dynamoDBv2": { "putItem": { "tableName": "Telemetry" }, "roleArn": ROLE } }],
    })).await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut c = fleet.client(&dev, "c", Version::V311).await;
    c.publish("q/1", r#"{"temp":7}"#, 1, false).await.unwrap();
    let mut calls = [seen.recv().await.unwrap(), seen.recv().await.unwrap()];
    calls.sort_by_key(|s| s.header("x-amz-target").is_some());
    let sqs = &calls[0];
    let auth = sqs.header("authorization").unwrap();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=test/"),
        "{auth}"
    );
    assert!(
        auth.contains(&format!("/{}/sqs/aws4_request", crate::support::REGION)),
        "{auth}"
    );
    let form: Vec<(String, String)> = form_urlencoded::parse(&sqs.body).into_owned().collect();
    assert!(form.contains(&("Action".into(), "SendMessage".into())));
    assert!(form.contains(&("MessageBody".into(), r#"{"temp":7}"#.into())));
    let ddb = &calls[1];
    assert_eq!(
        ddb.header("x-amz-target"),
        Some("DynamoDB_20120810.PutItem")
    );
    let put: Value = serde_json::from_slice(&ddb.body).unwrap();
    assert_eq!(
        put,
        json!({ "TableName": "Telemetry", "Item": { "temp": { "N": "7" } } })
    );
}

#[tokio::test]
async fn https_endpoints_are_reached_when_their_ca_is_trusted() {
    let ca = iotmock_testkit::TestCa::new("webhook CA");
    let (addr, mut seen) = https_hook(200, "", &ca).await;
    let base = format!("https://localhost:{}", addr.port());
    let secure = json!({
        "sql": "SELECT * FROM 's/+'",
        "actions": [{ "http": { "url": format!("{base}/in"), "confirmationUrl": base,
            "auth": { "sigv4": { "signingRegion": "eu-west-1", "serviceName": "execute-api", "roleArn": ROLE } } } }],
        "errorAction": { "republish": { "topic": "errors", "roleArn": ROLE } },
    });
    let trusting = MockIotCore::builder()
        .auto_confirm_destinations(true)
        .action_ca_pem(ca.pem().as_bytes())
        .unwrap();
    let mut fleet = Fleet::on(trusting.start().await.unwrap()).await;
    rule(&fleet, "secure", secure.clone()).await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut c = fleet.client(&dev, "c", Version::V311).await;
    c.publish("s/1", r#"{"n":1}"#, 1, false).await.unwrap();
    let got = seen.recv().await.unwrap();
    assert_eq!(got.path, "/in");
    assert_eq!(got.body, br#"{"n":1}"#);
    let auth = got.header("authorization").unwrap_or_default();
    assert!(
        auth.contains("/eu-west-1/execute-api/aws4_request"),
        "{auth}"
    );

    let plain = MockIotCore::builder().auto_confirm_destinations(true);
    let mut stranger = Fleet::on(plain.start().await.unwrap()).await;
    rule(&stranger, "secure", secure).await;
    let dev = stranger.device("dev", Some(ALLOW_ALL)).await;
    let mut watcher = stranger.client(&dev, "watcher", Version::V311).await;
    watcher.subscribe(&[("errors", 1)]).await.unwrap();
    let mut c = stranger.client(&dev, "c", Version::V311).await;
    c.publish("s/1", r#"{"n":2}"#, 1, false).await.unwrap();
    let error = body(&watcher.next_message().await.unwrap());
    let why = error["failures"][0]["errorMessage"].as_str().unwrap();
    assert!(why.contains("TLS"), "{why}");
    assert!(
        seen.try_recv().is_err(),
        "an endpoint whose CA is not trusted is never sent the message"
    );
}

#[tokio::test]
async fn http_batching_posts_json_arrays_per_topic_by_size_and_time() {
    let (addr, mut seen) = hook(200, "").await;
    let mut fleet = fleet_of(MockIotCore::builder().auto_confirm_destinations(true)).await;
    let http = |config: Value| {
        json!({ "sql": "SELECT n FROM 'b/+'", "actions": [{ "http": {
            "url": format!("http://{addr}/batch"),
            "confirmationUrl": format!("http://{addr}/"),
            "enableBatching": true,
            "batchConfig": config,
        }}]})
    };
    let refused = fleet
        .api
        .post("/rules/toobig", http(json!({ "maxBatchSize": 11 })))
        .await;
    refused.err(400, "InvalidRequestException");
    let refused = fleet
        .api
        .post("/rules/unknown", http(json!({ "maxBatch": 2 })))
        .await;
    refused.err(400, "InvalidRequestException");
    rule(
        &fleet,
        "batched",
        http(json!({ "maxBatchSize": 3, "maxBatchOpenMs": 200 })),
    )
    .await;
    let dev = fleet.device("dev", Some(ALLOW_ALL)).await;
    let mut c = fleet.client(&dev, "batcher", Version::V311).await;
    for n in 1..=4 {
        c.publish("b/one", format!(r#"{{"n":{n}}}"#), 1, false)
            .await
            .unwrap();
    }
    c.publish("b/two", r#"{"n":5}"#, 1, false).await.unwrap();
    let mut bodies = Vec::new();
    for _ in 0..3 {
        let got = seen.recv().await.unwrap();
        assert_eq!(got.header("content-type"), Some("application/json"));
        bodies.push(serde_json::from_slice::<Value>(&got.body).unwrap());
    }
    assert_eq!(
        bodies[0],
        json!([{ "n": 1 }, { "n": 2 }, { "n": 3 }]),
        "a full batch goes at once"
    );
    bodies[1..].sort_by_key(|b| b[0]["n"].as_i64());
    assert_eq!(
        bodies[1],
        json!([{ "n": 4 }]),
        "the rest goes when its time is up"
    );
    assert_eq!(
        bodies[2],
        json!([{ "n": 5 }]),
        "another topic is another batch"
    );
}
