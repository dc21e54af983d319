//! Helpers for tests that run the mock in-process: a device in one call, the retained message
//! on a topic, and waiting until a client is connected. The clock is advanced through
//! [`crate::ManualClock`] and [`MockIotCore::run_timers`].

use crate::MockIotCore;
use anyhow::{Context, Result};
use iotmock_broker::Seen;
use iotmock_registry::CreateThing;
use std::net::SocketAddr;
use std::time::Duration;

/// A provisioned device: everything an MQTT client needs to connect as it.
#[derive(Debug, Clone)]
pub struct TestDevice {
    pub thing_name: String,
    pub certificate_id: String,
    pub certificate_arn: String,
    pub certificate_pem: String,
    /// PKCS#1 PEM, as CreateKeysAndCertificate returns it.
    pub private_key_pem: String,
    /// The trust anchor (the mock's `AmazonRootCA1.pem`).
    pub root_ca_pem: String,
    pub mqtt_addr: SocketAddr,
}

impl TestDevice {
    /// What the device client needs: its certificate and key, the mock's root as trust anchor.
    pub fn tls_options(&self) -> iotmock_client::TlsOptions {
        iotmock_client::TlsOptions::new(self.root_ca_pem.clone())
            .identity(self.certificate_pem.clone(), self.private_key_pem.clone())
    }

    /// A rustls client configuration presenting the device's certificate and trusting the
    /// mock's root: hand it to any MQTT client (rumqttc:
    /// `Transport::tls_with_config(TlsConfiguration::Rustls(device.rustls_config()?))`,
    /// connecting to `localhost` and `mqtt_addr.port()`).
    pub fn rustls_config(&self) -> Result<std::sync::Arc<rustls::ClientConfig>> {
        iotmock_client::client_config(&self.tls_options()).map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Connects as this device with iotmock's own MQTT client (MQTT 3.1.1, clean session);
    /// `client_id` defaults to the thing name.
    pub async fn connect(&self, client_id: Option<&str>) -> Result<iotmock_client::DeviceClient> {
        let id = client_id.unwrap_or(&self.thing_name);
        let options = iotmock_client::ConnectOptions::new(self.mqtt_addr.to_string(), id);
        let (client, _) = iotmock_client::DeviceClient::connect(self.rustls_config()?, &options)
            .await
            .with_context(|| format!("{id} connecting as {}", self.thing_name))?;
        Ok(client)
    }
}

/// The policy a test device gets unless it is given one.
pub const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#;

impl MockIotCore {
    /// A thing, an ACTIVE AWS-issued certificate attached to it, and `policy` (allow-all when
    /// `None`) attached to the certificate, in one call.
    pub fn create_device(&self, thing: &str, policy: Option<&str>) -> Result<TestDevice> {
        let registry = self.registry();
        let mut reg = registry
            .write()
            .map_err(|_| anyhow::anyhow!("registry unavailable"))?;
        let region = self.region().to_string();
        reg.create_thing(&region, thing, CreateThing::default())?;
        let (ca, now) = reg.issuer();
        let keys = iotmock_registry::mint_keys(&ca, now)?;
        let created = reg.register_created_keys(&region, keys, true)?;
        let policy_name = format!("{thing}-policy");
        reg.create_policy(&region, &policy_name, Some(policy.unwrap_or(ALLOW_ALL)))
            .with_context(|| format!("policy {policy_name}"))?;
        let arn = created.registered.arn.clone();
        reg.attach_policy(&region, &policy_name, &arn)?;
        reg.attach_thing_principal(&region, thing, &arn, None)?;
        Ok(TestDevice {
            thing_name: thing.to_string(),
            certificate_id: created.registered.id,
            certificate_arn: arn,
            certificate_pem: created.keys.certificate_pem,
            private_key_pem: created.keys.private_key_pem,
            root_ca_pem: self.root_ca_pem().to_string(),
            mqtt_addr: self.mqtt_addr(),
        })
    }

    /// The retained message on `topic`: its payload and QoS.
    pub fn retained_message(&self, topic: &str) -> Option<(Vec<u8>, u8)> {
        self.broker()
            .retained(topic)
            .map(|m| (m.payload.to_vec(), m.qos))
    }

    /// Watches connections from now on; [`ConnectWatch::connected`] waits for a client id.
    /// (One watch at a time: a later one replaces it.)
    pub fn watch_connections(&self) -> ConnectWatch {
        ConnectWatch(self.broker().observe())
    }
}

/// Connection events, for waiting on a device.
pub struct ConnectWatch(tokio::sync::mpsc::UnboundedReceiver<iotmock_broker::Observed>);

impl ConnectWatch {
    /// Waits (up to `within`) until `client_id` got its CONNACK (an MQTT 5 refusal is a
    /// CONNACK too; the client's own result tells the two apart).
    pub async fn connected(&mut self, client_id: &str, within: Duration) -> Result<()> {
        let mut pending = std::collections::HashSet::new();
        let wait = async {
            while let Some(o) = self.0.recv().await {
                match o.seen {
                    Seen::Connect { client_id: c, .. } if c == client_id => {
                        pending.insert(o.conn);
                    }
                    Seen::Out {
                        packet,
                        withheld: false,
                    } if packet.kind == "CONNACK" && pending.contains(&o.conn) => {
                        return Ok(());
                    }
                    _ => {}
                }
            }
            Err(anyhow::anyhow!("the broker stopped"))
        };
        tokio::time::timeout(within, wait)
            .await
            .with_context(|| format!("{client_id} did not connect within {within:?}"))?
    }
}
