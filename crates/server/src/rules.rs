//! The rules engine's place in the mock: its rules on `rules.db` in the state dir (or in
//! memory), and what its SQL reads from the rest of the mock: `get_thing_shadow` from the
//! shadow service, `get_registry_data` from the registry, a fresh UUID.

use crate::actions::ActionRunner;
use crate::core::Builder;
use anyhow::{Context, Result};
use iotmock_registry::Registry;
use iotmock_rules::sql::Value as SqlValue;
use iotmock_rules::{Outside, RuleBook, RulesService};
use iotmock_shadow::{Op, ShadowKey, ShadowService};
use serde_json::json;
use std::sync::{Arc, RwLock};

/// Where topic rules are kept in the state dir.
pub const RULES_DATABASE: &str = "rules.db";

/// The mock as the rules' SQL sees it.
struct MockOutside {
    registry: Arc<RwLock<Registry>>,
    shadows: Arc<ShadowService>,
    lambda_url: Option<String>,
    functions: crate::custom_auth::FunctionTable,
    handle: tokio::runtime::Handle,
    /// Where `get_dynamodb` and `get_secret` read (`--aws-endpoint-url`).
    aws_endpoint_url: Option<String>,
    trust: crate::actions::Trust,
}

impl MockOutside {
    /// Runs `call` on the mock's runtime and waits for it (the rules' worker is not on the
    /// runtime), up to AWS's 2 s for a function.
    fn wait<T: Send + 'static>(
        &self,
        what: &str,
        call: impl std::future::Future<Output = Result<T, String>> + Send + 'static,
    ) -> Result<T, String> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.handle.spawn(async move {
            let _ = tx.send(call.await);
        });
        rx.recv_timeout(crate::actions::FUNCTION_DEADLINE)
            .map_err(|_| format!("{what} did not answer within 2000 ms"))?
    }

    fn now_ms(&self) -> i64 {
        self.registry.read().map_or(0, |r| r.now_millis())
    }

    fn endpoint(&self, what: &str) -> Result<String, String> {
        self.aws_endpoint_url
            .clone()
            .ok_or_else(|| format!("no {what} back end: start the mock with --aws-endpoint-url"))
    }
}

impl Outside for MockOutside {
    fn new_uuid(&self) -> String {
        iotmock_registry::random_uuid()
    }

    fn rand(&self) -> f64 {
        let uuid = iotmock_registry::random_uuid().replace('-', "");
        let bits = u64::from_str_radix(&uuid[..13], 16).unwrap_or(0);
        bits as f64 / (1u64 << 52) as f64
    }

    fn thing_shadow(
        &self,
        region: &str,
        thing: &str,
        shadow: Option<&str>,
    ) -> Result<SqlValue, String> {
        let key = match shadow {
            Some(name) => ShadowKey::named(thing, name),
            None => ShadowKey::classic(thing),
        };
        let now = self
            .registry
            .read()
            .map_err(|_| "registry unavailable")?
            .now_millis();
        let got = self.shadows.request(Some(region), &key, Op::Get, b"", now);
        got.result
            .map(|doc| SqlValue::from_json(&doc))
            .map_err(|e| format!("No shadow for {thing}: {e}"))
    }

    fn registry_data(&self, region: &str, api: &str, thing: &str) -> Result<SqlValue, String> {
        let registry = self.registry.read().map_err(|_| "registry unavailable")?;
        let record = registry
            .describe_thing(region, thing)
            .map_err(|e| e.message.clone())?;
        let doc = match api {
            "DescribeThing" => json!({
                "thingName": record.name,
                "thingId": record.id,
                "thingArn": format!("arn:aws:iot:{region}:{}:thing/{}", registry.account(), record.name),
                "thingTypeName": record.type_name,
                "attributes": record.attributes,
                "version": record.version,
                "billingGroupName": record.billing_group,
            }),
            "ListThingGroupsForThing" => {
                let groups = registry
                    .groups_of_thing(region, thing)
                    .map_err(|e| e.message)?;
                let account = registry.account();
                let refs: Vec<_> = groups
                    .iter()
                    .map(|g| json!({ "groupName": g, "groupArn": format!("arn:aws:iot:{region}:{account}:thinggroup/{g}") }))
                    .collect();
                json!({ "thingGroups": refs })
            }
            other => return Err(format!("Unknown registry API {other}")),
        };
        Ok(SqlValue::from_json(&doc))
    }

    /// `aws_lambda()`: the in-process function of that name (`Builder::function`), else
    /// `POST --lambda-url/NAME`, answered within 2 s (AWS's limit).
    fn lambda(&self, function_arn: &str, input: &SqlValue) -> Result<SqlValue, String> {
        let body = input.to_json_text().into_bytes();
        let deadline = crate::actions::FUNCTION_DEADLINE;
        let answer = match (self.functions.get(function_arn), &self.lambda_url) {
            (Some(f), _) => self.wait(function_arn, crate::custom_auth::call(f, body, deadline))?,
            (None, Some(base)) => {
                let name = crate::actions::function_name(function_arn);
                let url = format!("{}/{name}", base.trim_end_matches('/'));
                self.wait(function_arn, async move {
                    crate::actions::post_json(&url, body).await
                })?
            }
            (None, None) => {
                return Err(format!(
                    "No function endpoint is configured to invoke {function_arn} (--lambda-url)"
                ));
            }
        };
        serde_json::from_slice(&answer)
            .map(|v| SqlValue::from_json(&v))
            .map_err(|e| format!("{function_arn} answered something that is not JSON: {e}"))
    }

    fn dynamodb_item(
        &self,
        region: &str,
        table: &str,
        key: &[(String, SqlValue)],
    ) -> Result<SqlValue, String> {
        let endpoint = self.endpoint("DynamoDB")?;
        let key: Vec<(String, serde_json::Value)> = key
            .iter()
            .map(|(k, v)| (k.clone(), v.to_serde().unwrap_or(serde_json::Value::Null)))
            .collect();
        let (trust, region_owned, table_owned) =
            (self.trust.clone(), region.to_string(), table.to_string());
        let at = self.now_ms();
        let item = self.wait("DynamoDB GetItem", async move {
            let scope = (region_owned.as_str(), at);
            crate::actions::lookups::get_item(&trust, &endpoint, scope, &table_owned, &key).await
        })?;
        Ok(SqlValue::from_json(&item))
    }

    fn secret(&self, region: &str, id: &str, binary: bool) -> Result<String, String> {
        let endpoint = self.endpoint("Secrets Manager")?;
        let (trust, region_owned, id_owned) =
            (self.trust.clone(), region.to_string(), id.to_string());
        let at = self.now_ms();
        self.wait("Secrets Manager GetSecretValue", async move {
            let scope = (region_owned.as_str(), at);
            crate::actions::lookups::get_secret(&trust, &endpoint, scope, &id_owned, binary).await
        })
    }
}

impl Builder {
    /// The rules engine of the default account, over `rules.db` or memory.
    pub(crate) fn open_rules(
        &self,
        registry: &Arc<RwLock<Registry>>,
        shadows: &Arc<ShadowService>,
        clock: &Arc<dyn iotmock_registry::Clock>,
    ) -> Result<Arc<RulesService>> {
        let book =
            RuleBook::open(self.store(RULES_DATABASE)?).context("loading the topic rules")?;
        let handle = tokio::runtime::Handle::current();
        let outside = Arc::new(MockOutside {
            registry: registry.clone(),
            shadows: shadows.clone(),
            lambda_url: self.endpoints.lambda_url.clone(),
            functions: self.functions.clone(),
            handle: handle.clone(),
            aws_endpoint_url: self.endpoints.aws_endpoint_url.clone(),
            trust: crate::actions::Trust::new(&self.endpoints.action_ca),
        });
        let runner = Arc::new(ActionRunner {
            handle,
            endpoints: self.endpoints.clone(),
            clock: clock.clone(),
            in_flight: Arc::new(tokio::sync::Semaphore::new(crate::actions::IN_FLIGHT)),
            account: self.account_id.clone(),
            functions: self.functions.clone(),
            trust: crate::actions::Trust::new(&self.endpoints.action_ca),
            batches: Default::default(),
        });
        let service =
            RulesService::new(book, outside, Some(runner), &self.account_id, &self.region);
        service.set_auto_confirm(self.endpoints.auto_confirm_destinations);
        Ok(service)
    }
}

/// What a topic rule operation on a rule that does not exist answers. AWS's model lists no
/// ResourceNotFoundException for GetTopicRule, Replace, Delete, Enable or Disable; the mock
/// answers UnauthorizedException unless told otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum RuleNotFound {
    #[default]
    Unauthorized,
    ResourceNotFound,
}

impl Builder {
    /// Rules' `lambda` actions and `aws_lambda()` call `POST BASE/NAME` with the event as the
    /// body (a 2xx body is the function's result).
    pub fn lambda_url(mut self, base: impl Into<String>) -> Self {
        self.endpoints.lambda_url = Some(base.into());
        self
    }

    /// Rules' AWS-service actions (sqs, sns, dynamoDB, kinesis, s3, ...) are sent here, signed
    /// with SigV4, as the AWS SDK sends them (LocalStack, moto's server, MiniStack).
    pub fn aws_endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoints.aws_endpoint_url = Some(url.into());
        self
    }

    /// Trusts the CAs in `pem` (besides the system's roots) for rules' `https://` endpoints:
    /// http actions, destination confirmations and AWS-service calls.
    pub fn action_ca_pem(mut self, pem: &[u8]) -> Result<Self> {
        use rustls::pki_types::{CertificateDer, pem::PemObject};
        let mut found = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.context("reading a CA certificate for rules' https endpoints")?;
            self.endpoints.action_ca.push(cert.to_vec());
            found += 1;
        }
        anyhow::ensure!(
            found > 0,
            "no PEM certificate found for rules' https endpoints"
        );
        Ok(self)
    }

    /// Creates topic rule destinations ENABLED, skipping the confirmation AWS asks of the
    /// endpoint's owner (which the mock otherwise records in the action log).
    pub fn auto_confirm_destinations(mut self, on: bool) -> Self {
        self.endpoints.auto_confirm_destinations = on;
        self
    }

    /// What an operation on a topic rule that does not exist answers.
    pub fn rule_not_found(mut self, answer: RuleNotFound) -> Self {
        self.rules_not_found = match answer {
            RuleNotFound::Unauthorized => iotmock_model::ErrorCode::Unauthorized,
            RuleNotFound::ResourceNotFound => iotmock_model::ErrorCode::ResourceNotFound,
        };
        self
    }
}

impl crate::MockIotCore {
    /// The rules engine.
    pub fn rules(&self) -> &Arc<RulesService> {
        &self.rules
    }

    /// The action log, oldest first: every action a rule ran (of `rule` only when given).
    pub fn actions(&self, rule: Option<&str>) -> Vec<iotmock_rules::log::Entry> {
        self.rules.actions(rule)
    }
}
