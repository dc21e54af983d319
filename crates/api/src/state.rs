//! What every request handler shares: the account's registry, the services' handles, the
//! data plane, and the API's limits.

use crate::request::ApiRequest;
use iotmock_registry::Registry;
use std::sync::{Arc, RwLock};

/// What every request handler shares.
#[derive(Clone)]
pub struct ApiState {
    /// The registry of the account the request acts as (see [`crate::accounts`]).
    pub registry: Arc<RwLock<Registry>>,
    pub accounts: Arc<crate::accounts::Accounts>,
    /// The trust anchor devices use, served at `GET /iotmock/AmazonRootCA1.pem`.
    pub root_ca_pem: Arc<str>,
    /// Region for requests that carry no SigV4 credential scope.
    pub default_region: Arc<str>,
    /// The broker, for the iot-data operations.
    pub data: Option<Arc<dyn crate::DataPlane>>,
    /// Device Shadow, shared with the broker's MQTT face.
    pub shadows: Option<Arc<iotmock_shadow::ShadowService>>,
    /// Jobs, shared with the broker's MQTT face.
    pub jobs: Option<Arc<iotmock_jobs::JobsService>>,
    /// The rules engine of the default account.
    pub rules: Option<Arc<iotmock_rules::RulesService>>,
    /// The custom authorizers of the default account.
    pub authorizers: Option<Arc<iotmock_authorizer::Authorizers>>,
    /// Fleet indexing of the default account.
    pub index: Option<Arc<iotmock_index::IndexService>>,
    /// Device Defender's metrics reports of the default account.
    pub defender: Option<Arc<iotmock_defender::DefenderService>>,
    /// Registry events of the default account.
    pub events: Option<Arc<iotmock_events::EventsService>>,
    /// Pages served beside the API on its port (the console), when on.
    pub pages: Option<Arc<dyn crate::Pages>>,
    /// What a topic rule operation on a rule that does not exist answers.
    pub rules_not_found: iotmock_model::ErrorCode,
    pub limits: ApiLimits,
}

impl ApiState {
    /// This state as the account `req` acts as. Another account than the default has its own
    /// registry and no data plane: its devices never reach this mock's broker.
    pub fn for_request(&self, req: &ApiRequest) -> ApiState {
        let other = req
            .access_key
            .as_deref()
            .filter(|key| *key != self.accounts.default_id())
            .and_then(|key| self.accounts.existing(key));
        match other {
            Some(registry) => ApiState {
                registry,
                data: None,
                shadows: None,
                jobs: None,
                rules: None,
                authorizers: None,
                index: None,
                defender: None,
                events: None,
                ..self.clone()
            },
            None => self.clone(),
        }
    }
}

/// How long a client may take, and how many may be connected at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiLimits {
    /// From connecting (or the previous answer) to the end of the request's headers.
    pub header_timeout: std::time::Duration,
    /// For the whole body, once the headers are in.
    pub body_timeout: std::time::Duration,
    /// Connections served at once; past it, a connection gets 503 and is closed.
    pub max_connections: usize,
}

impl Default for ApiLimits {
    fn default() -> Self {
        Self {
            header_timeout: std::time::Duration::from_secs(10),
            body_timeout: std::time::Duration::from_secs(10),
            max_connections: 4096,
        }
    }
}
