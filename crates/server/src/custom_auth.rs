//! Custom authorizers in the mock: the functions they invoke (a closure given to the builder,
//! else `--lambda-url BASE/NAME`, else Lambda Invoke on `--aws-endpoint-url`), each within
//! AWS's 5 s, and the connection-side adapter the broker asks at CONNECT and on refresh.

use iotmock_authorizer::{
    AuthorizerBook, Authorizers, Decision, Functions, Invoked, MqttData, Presented,
};
use iotmock_broker::{Authenticate, ConnectCredentials, Grant, Granted};
use iotmock_registry::{Clock, Principal};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where authorizers are kept in the state dir.
pub const AUTHORIZERS_DATABASE: &str = "authorizers.db";
/// AWS's limit on an authorizer function's run.
pub const AUTHORIZER_DEADLINE: Duration = Duration::from_secs(5);

/// A function run in-process: the event in, the answer out.
pub type FunctionFn = Arc<dyn Fn(Value) -> Result<Value, String> + Send + Sync>;

/// In-process functions by name.
#[derive(Clone, Default)]
pub struct FunctionTable(pub BTreeMap<String, FunctionFn>);

impl std::fmt::Debug for FunctionTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl FunctionTable {
    /// The in-process function of a Lambda ARN (or name), if one was given.
    pub(crate) fn get(&self, function_arn: &str) -> Option<FunctionFn> {
        self.0
            .get(crate::actions::function_name(function_arn))
            .cloned()
    }
}

/// Runs an in-process function off the runtime's threads, within `deadline`.
pub(crate) async fn call(
    f: FunctionFn,
    event: Vec<u8>,
    deadline: Duration,
) -> Result<Vec<u8>, String> {
    let event: Value = serde_json::from_slice(&event).map_err(|e| e.to_string())?;
    let run = tokio::task::spawn_blocking(move || f(event));
    match tokio::time::timeout(deadline, run).await {
        Ok(Ok(answer)) => answer.map(|v| v.to_string().into_bytes()),
        Ok(Err(e)) => Err(format!("the function panicked: {e}")),
        Err(_) => Err(format!("no answer within {deadline:?}")),
    }
}

/// The mock's functions.
pub(crate) struct MockFunctions {
    pub table: FunctionTable,
    pub endpoints: crate::actions::Endpoints,
    pub region: String,
    pub clock: Arc<dyn Clock>,
}

impl Functions for MockFunctions {
    fn invoke(&self, function_arn: &str, event: Vec<u8>) -> Invoked {
        let name = crate::actions::function_name(function_arn).to_string();
        let arn = function_arn.to_string();
        if let Some(f) = self.table.0.get(&name).cloned() {
            return Box::pin(call(f, event, AUTHORIZER_DEADLINE));
        }
        let (lambda_url, endpoint) = (
            self.endpoints.lambda_url.clone(),
            self.endpoints.aws_endpoint_url.clone(),
        );
        let (region, now) = (self.region.clone(), self.clock.now_millis());
        Box::pin(async move {
            let call = async {
                match (lambda_url, endpoint) {
                    (Some(base), _) => {
                        let url = format!("{}/{name}", base.trim_end_matches('/'));
                        crate::actions::post_json(&url, event).await
                    }
                    (None, Some(endpoint)) => {
                        crate::actions::aws::invoke_lambda(&endpoint, &region, &arn, event, now)
                            .await
                    }
                    (None, None) => Err(format!(
                        "no function endpoint is configured to invoke {arn} (--lambda-url, --aws-endpoint-url, or Builder::function)"
                    )),
                }
            };
            tokio::time::timeout(AUTHORIZER_DEADLINE, call)
                .await
                .unwrap_or_else(|_| Err(format!("no answer within {AUTHORIZER_DEADLINE:?}")))
        })
    }
}

/// The principal a decision grants: the function's principal id (what `principal()` reads)
/// and policies; lifecycle events name it as the authorizers are set to.
pub(crate) fn principal_of(
    authorizers: &Authorizers,
    (region, account): (&str, &str),
    decision: &Decision,
) -> Principal {
    let v = &decision.verdict;
    let mut p = Principal::iam(region, account, &v.principal_id, v.policies.clone());
    p.cert_arn = decision.authorizer_arn.clone();
    let format = authorizers.read(|b| b.event_principal);
    p.event_id = Some(format.of(&decision.authorizer, &v.principal_id));
    p
}

/// One connection's custom authorizer: what the door saw, completed by the CONNECT.
pub(crate) struct CustomConnection {
    pub authorizers: Arc<Authorizers>,
    pub region: String,
    pub account: String,
    pub presented: Mutex<Presented>,
}

impl std::fmt::Debug for CustomConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomConnection")
            .field("region", &self.region)
            .finish()
    }
}

impl CustomConnection {
    fn decide(self: Arc<Self>) -> Granted {
        Box::pin(async move {
            let presented = self
                .presented
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            let decision = self
                .authorizers
                .decide(&self.region, &presented)
                .await
                .map_err(|r| r.to_string())?;
            tracing::debug!(authorizer = %decision.authorizer, principal = %decision.verdict.principal_id, "custom authorizer granted");
            Ok(Grant {
                principal: Arc::new(principal_of(
                    &self.authorizers,
                    (&self.region, &self.account),
                    &decision,
                )),
                refresh_secs: decision.verdict.refresh_secs,
                disconnect_secs: decision.verdict.disconnect_secs,
            })
        })
    }
}

/// The broker's handle on one connection's authorizer.
#[derive(Debug, Clone)]
pub(crate) struct CustomAuth(pub Arc<CustomConnection>);

impl Authenticate for CustomAuth {
    fn connect(&self, c: ConnectCredentials) -> Granted {
        {
            let mut presented = self.0.presented.lock().unwrap_or_else(|p| p.into_inner());
            presented.mqtt = Some(MqttData {
                username: c.username,
                password: c.password,
                client_id: (!c.client_id.is_empty()).then_some(c.client_id),
            });
        }
        self.0.clone().decide()
    }

    fn refresh(&self) -> Granted {
        self.0.clone().decide()
    }
}

impl crate::MockIotCore {
    /// The custom authorizers (the API's; changed here, a test needs no HTTP round trip).
    pub fn authorizers(&self) -> &Arc<Authorizers> {
        &self.authorizers
    }
}

impl crate::core::Builder {
    /// Custom authorizers over `authorizers.db` or memory, invoking the mock's functions.
    pub(crate) fn open_authorizers(
        &self,
        clock: &Arc<dyn Clock>,
    ) -> anyhow::Result<Arc<Authorizers>> {
        use anyhow::Context;
        let mut book = AuthorizerBook::open(self.store(AUTHORIZERS_DATABASE)?)
            .context("loading the custom authorizers")?;
        book.delete_active = self.delete_active_authorizers;
        book.event_principal = self.event_principal;
        let functions = MockFunctions {
            table: self.functions.clone(),
            endpoints: self.endpoints.clone(),
            region: self.region.clone(),
            clock: clock.clone(),
        };
        Ok(Arc::new(Authorizers::new(book, Arc::new(functions))))
    }

    /// Runs `f` in-process as the function `name` (a Lambda ARN's function name): custom
    /// authorizers invoke it with AWS's event and read its answer.
    pub fn function(
        mut self,
        name: impl Into<String>,
        f: impl Fn(Value) -> Result<Value, String> + Send + Sync + 'static,
    ) -> Self {
        self.functions.0.insert(name.into(), Arc::new(f));
        self
    }

    /// What lifecycle events name a custom-auth connection by: `{authorizerName}:{principalId}`
    /// (the default) or the `principalId` alone (`principal()` in rules is the `principalId`).
    pub fn custom_auth_event_principal(
        mut self,
        format: iotmock_authorizer::EventPrincipal,
    ) -> Self {
        self.event_principal = format;
        self
    }

    /// Whether DeleteAuthorizer takes an ACTIVE authorizer (by default it must be INACTIVE).
    pub fn delete_active_authorizers(mut self, allow: bool) -> Self {
        self.delete_active_authorizers = allow;
        self
    }

    /// The key naming the report id in Device Defender's accepted answers (`reportId` unless
    /// set; AWS's documented example does not show a readable one).
    pub fn defender_report_id_key(mut self, key: impl Into<String>) -> Self {
        self.defender_report_id_key = key.into();
        self
    }

    /// Whether JITR registers certificates of SNI_ONLY CAs (AWS documents JITR for DEFAULT
    /// mode CAs; off unless set).
    pub fn jitr_sni_only(mut self, on: bool) -> Self {
        self.jitr_sni_only = on;
        self
    }
}
