//! Devices for the broker tests: a customer CA registered through the API, device
//! certificates under it with a policy, and the client connecting over mutual TLS.

use crate::support::{Api, REGION};
use iotmock::MockIotCore;
use iotmock_client::{
    ClientError, ConnAck, ConnectOptions, DeviceClient, TlsOptions, Version, client_config,
};
use iotmock_testkit::{Minted, TestCa};
use serde_json::json;

pub const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#;

/// The mock, its API, and a registered ACTIVE customer CA.
pub struct Fleet {
    pub mock: MockIotCore,
    pub api: Api,
    pub ca: TestCa,
    policies: usize,
}

/// A registered device certificate.
#[derive(Clone)]
pub struct Device {
    pub minted: Minted,
    pub id: String,
    pub arn: String,
}

impl Fleet {
    pub async fn new() -> Self {
        Self::on(MockIotCore::builder().start().await.expect("mock starts")).await
    }

    /// A fleet on a mock whose broker runs with `settings`.
    pub async fn with_settings(settings: iotmock_broker::BrokerSettings) -> Self {
        let mock = MockIotCore::builder()
            .broker_settings(settings)
            .start()
            .await
            .expect("mock starts");
        Self::on(mock).await
    }

    /// A fleet on an already started mock.
    pub async fn on(mock: MockIotCore) -> Self {
        let api = Api::new(mock.api_addr(), REGION);
        let ca = TestCa::new("fleet root");
        api.register_ca(&ca, true).await;
        Self {
            mock,
            api,
            ca,
            policies: 0,
        }
    }

    /// Registers a device certificate; attaches `policy` (a JSON document) when given.
    pub async fn device(&mut self, cn: &str, policy: Option<&str>) -> Device {
        let minted = self.ca.leaf(cn);
        self.register(minted, policy).await
    }

    pub async fn register(&mut self, minted: Minted, policy: Option<&str>) -> Device {
        let out = self
            .api
            .post(
                "/certificate/register?setAsActive=true",
                json!({ "certificatePem": minted.cert_pem }),
            )
            .await
            .ok();
        let device = Device {
            minted,
            id: out["certificateId"].as_str().unwrap().into(),
            arn: out["certificateArn"].as_str().unwrap().into(),
        };
        if let Some(doc) = policy {
            self.attach(&device, doc).await;
        }
        device
    }

    pub async fn attach(&mut self, device: &Device, doc: &str) -> String {
        self.policies += 1;
        let name = format!("policy-{}", self.policies);
        self.api
            .post(
                &format!("/policies/{name}"),
                json!({ "policyDocument": doc }),
            )
            .await
            .ok();
        self.api
            .call(
                "PUT",
                &format!("/target-policies/{name}"),
                &[],
                Some(json!({ "target": device.arn })),
            )
            .await
            .ok();
        name
    }

    pub async fn set_status(&self, device: &Device, status: &str) {
        let a = self
            .api
            .call(
                "PUT",
                &format!("/certificates/{}?newStatus={status}", device.id),
                &[],
                None,
            )
            .await;
        assert_eq!(a.status, 200, "{a:?}");
    }

    pub fn tls(&self, minted: &Minted) -> TlsOptions {
        TlsOptions::new(self.mock.root_ca_pem())
            .identity(minted.cert_pem.clone(), minted.key_pem.clone())
    }

    pub fn options(&self, client_id: &str, version: Version) -> ConnectOptions {
        ConnectOptions::new(self.mock.mqtt_addr().to_string(), client_id).version(version)
    }

    pub async fn connect_with(
        &self,
        tls: TlsOptions,
        client_id: &str,
        version: Version,
    ) -> Result<(DeviceClient, ConnAck), ClientError> {
        DeviceClient::connect(
            client_config(&tls).expect("tls config"),
            &self.options(client_id, version),
        )
        .await
    }

    pub async fn connect(
        &self,
        device: &Device,
        client_id: &str,
        version: Version,
    ) -> Result<(DeviceClient, ConnAck), ClientError> {
        self.connect_with(self.tls(&device.minted), client_id, version)
            .await
    }

    pub async fn client(&self, device: &Device, client_id: &str, version: Version) -> DeviceClient {
        self.connect(device, client_id, version)
            .await
            .expect("admitted")
            .0
    }
}

/// Asserts AWS's refusal at CONNECT: 3.1.1 closes without CONNACK, 5 answers CONNACK 0x87.
#[track_caller]
pub fn assert_refused(result: Result<(DeviceClient, ConnAck), ClientError>, version: Version) {
    match (result, version) {
        (Err(ClientError::ClosedBeforeConnack), Version::V311) => {}
        (Err(ClientError::Refused(0x87)), Version::V5) => {}
        (Err(e), v) => panic!("{v:?}: wrong refusal: {e}"),
        (Ok(_), v) => panic!("{v:?}: admitted, expected a refusal"),
    }
}

pub const BOTH: [Version; 2] = [Version::V311, Version::V5];

/// The JSON payload of a message.
pub fn body(m: &iotmock_client::Publish) -> serde_json::Value {
    serde_json::from_slice(&m.payload).expect("json")
}

/// The next message on `topic` (others are skipped), as JSON.
pub async fn next_on(c: &mut DeviceClient, topic: &str) -> serde_json::Value {
    loop {
        let m = c.next_message().await.expect("a message");
        if m.topic == topic {
            return body(&m);
        }
    }
}
