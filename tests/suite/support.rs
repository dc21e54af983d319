//! A minimal restJson1 client over hyper, shaped like the AWS CLI's requests.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use iotmock::MockIotCore;
use serde_json::Value;
use std::net::SocketAddr;
use tokio::net::TcpStream;

pub const REGION: &str = "ap-northeast-1";

/// One answer: status, `x-amzn-ErrorType` (without the colon), and the JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub error_type: Option<String>,
    pub request_id: Option<String>,
    pub body: Value,
    pub raw: Vec<u8>,
}

impl Answer {
    /// Asserts success and returns the body.
    #[track_caller]
    pub fn ok(self) -> Value {
        assert_eq!(self.status, 200, "expected success, got {self:?}");
        self.body
    }

    /// Asserts an AWS error and returns its message.
    #[track_caller]
    pub fn err(self, status: u16, name: &str) -> String {
        assert_eq!(
            (self.status, self.error_type.as_deref()),
            (status, Some(name)),
            "{self:?}"
        );
        self.body["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// Talks to one mock, signing nothing but naming `region` in the SigV4 credential scope.
#[derive(Clone)]
pub struct Api {
    pub addr: SocketAddr,
    pub region: String,
    /// The SigV4 signing name in the credential scope (`iot` unless set).
    pub service: String,
    /// The SigV4 access key id sent (`test` unless another account is wanted).
    pub access_key: String,
}

pub async fn mock() -> (MockIotCore, Api) {
    let mock = MockIotCore::builder().start().await.expect("mock starts");
    let api = Api::new(mock.api_addr(), REGION);
    (mock, api)
}

/// Percent-encodes a path label the way botocore does (only `-._~` unescaped).
pub fn label(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Api {
    pub fn new(addr: SocketAddr, region: &str) -> Self {
        Self {
            addr,
            region: region.to_string(),
            service: "iot".into(),
            access_key: "test".into(),
        }
    }

    /// The same API, signed with `access_key` (a 12-digit id acts as that account).
    pub fn with_access_key(&self, access_key: &str) -> Self {
        Self {
            access_key: access_key.to_string(),
            ..self.signed_for(&self.service)
        }
    }

    /// The same API, signed for another service (e.g. `iot-jobs-data`).
    pub fn signed_for(&self, service: &str) -> Self {
        Self {
            service: service.to_string(),
            access_key: self.access_key.clone(),
            ..Self::new(self.addr, &self.region)
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Answer {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        self.raw(method, path, headers, bytes).await
    }

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Answer {
        self.try_raw(method, path, headers, body)
            .await
            .expect("the mock answers")
    }

    /// Sends one request; `Err` when the mock did not answer (it was killed, say).
    pub async fn try_raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Answer, String> {
        let stream = TcpStream::connect(self.addr)
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={}/20261128/{}/{}/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
            self.access_key, self.region, self.service
        );
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string())
            .header("authorization", auth);
        if !body.is_empty() {
            req = req.header("content-type", "application/json");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = sender
            .send_request(req.body(Full::new(Bytes::from(body))).expect("request"))
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let header = |n: &str| {
            resp.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let error_type = header("x-amzn-errortype").map(|t| t.trim_end_matches(':').to_string());
        let request_id = header("x-amzn-requestid");
        let raw = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes()
            .to_vec();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            error_type,
            request_id,
            body,
            raw,
        })
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call("GET", path, &[], None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call("POST", path, &[], Some(body)).await
    }

    /// Registers `ca` (ACTIVE unless `active` is false) with its proof of possession; returns its id.
    pub async fn register_ca(&self, ca: &iotmock_testkit::TestCa, active: bool) -> String {
        let code = self.get("/registrationcode").await.ok()["registrationCode"]
            .as_str()
            .unwrap()
            .to_string();
        let ver = ca.verification_cert(&code);
        let body = serde_json::json!({ "caCertificate": ca.pem(), "verificationCertificate": ver.cert_pem });
        let out = self
            .post(&format!("/cacertificate?setAsActive={active}"), body)
            .await
            .ok();
        out["certificateId"].as_str().unwrap().to_string()
    }

    /// RegisterCertificate (ACTIVE) under a registered CA; returns (id, arn).
    pub async fn register_cert(&self, cert_pem: &str) -> (String, String) {
        let body = serde_json::json!({ "certificatePem": cert_pem });
        let out = self
            .post("/certificate/register?setAsActive=true", body)
            .await
            .ok();
        (
            out["certificateId"].as_str().unwrap().into(),
            out["certificateArn"].as_str().unwrap().into(),
        )
    }

    /// CreateKeysAndCertificate (ACTIVE); returns (id, arn).
    pub async fn create_cert(&self) -> (String, String) {
        let out = self
            .call("POST", "/keys-and-certificate?setAsActive=true", &[], None)
            .await
            .ok();
        (
            out["certificateId"].as_str().unwrap().into(),
            out["certificateArn"].as_str().unwrap().into(),
        )
    }

    pub async fn create_policy(&self, name: &str) -> Value {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#;
        self.post(
            &format!("/policies/{name}"),
            serde_json::json!({ "policyDocument": doc }),
        )
        .await
        .ok()
    }
}

/// A mock on a manual clock the test advances.
pub async fn clocked_mock() -> (MockIotCore, std::sync::Arc<iotmock::ManualClock>) {
    clocked_mock_with(iotmock_broker::BrokerSettings::default()).await
}

/// A mock with `settings` on a manual clock the test advances.
pub async fn clocked_mock_with(
    settings: iotmock_broker::BrokerSettings,
) -> (MockIotCore, std::sync::Arc<iotmock::ManualClock>) {
    let clock = std::sync::Arc::new(iotmock::ManualClock::starting_now());
    let mock = MockIotCore::builder()
        .clock(clock.clone())
        .broker_settings(settings)
        .start()
        .await
        .expect("starts");
    (mock, clock)
}
