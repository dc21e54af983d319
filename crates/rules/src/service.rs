//! The rules engine on the broker's service seam: it hears every message whose topic a
//! rule's FROM matches (and Basic Ingest), on its own worker, runs the rules, republishes
//! through its outbox, hands other actions to the [`Runner`] the adapter gives it (or records
//! them when there is none), runs error actions, and keeps the action log.

use crate::book::{BookError, RuleBook};
use crate::engine::{Failure, Firing, Invocation, error_invocation, fire, rules_for};
use crate::later::{Job, Origin};
use crate::log::{ActionLog, Entry, Outcome};
use crate::republish::{Guard, republish};
use crate::sql::{Abort, Env, Evaluation, Message, Properties, SqlVersion, Value as SqlValue};
use iotmock_session::{Outbox, Outlet, Reply, Service, ServiceRequest};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};

/// What the rules need from the rest of the mock (the adapter implements it).
pub trait Outside: Send + Sync {
    fn new_uuid(&self) -> String;
    fn rand(&self) -> f64;
    fn thing_shadow(
        &self,
        region: &str,
        thing: &str,
        shadow: Option<&str>,
    ) -> Result<SqlValue, String>;
    fn registry_data(&self, region: &str, api: &str, thing: &str) -> Result<SqlValue, String>;
    fn lambda(&self, function_arn: &str, input: &SqlValue) -> Result<SqlValue, String>;
    /// `get_dynamodb`: the item as plain JSON. No back end by default.
    fn dynamodb_item(
        &self,
        region: &str,
        table: &str,
        key: &[(String, SqlValue)],
    ) -> Result<SqlValue, String> {
        let _ = (region, key);
        Err(format!("no DynamoDB back end to read table '{table}'"))
    }
    /// `get_secret`: the secret's string, or the base64 of its binary. No back end by default.
    fn secret(&self, region: &str, secret_id: &str, binary: bool) -> Result<String, String> {
        let _ = (region, binary);
        Err(format!("no Secrets Manager back end to read '{secret_id}'"))
    }
}

/// Carries out actions that leave the mock (http, lambda, AWS services), off the rules'
/// worker; it must call the job's `done` exactly once.
pub trait Runner: Send + Sync {
    /// Whether it sends this action anywhere (an action it does not take is recorded at once
    /// as `captured`).
    fn takes(&self, invocation: &Invocation) -> bool;
    fn run(&self, job: Job);
    /// POSTs a destination's confirmation (`url`, headers, JSON body) off the worker, then
    /// calls `done` with how it went. Without it, confirmations are recorded only.
    fn confirm(&self, post: Post, done: Box<dyn FnOnce(Result<(), String>) + Send>) {
        let _ = post;
        done(Err("confirmations are not sent".into()));
    }
}

/// An HTTP POST the rules engine asks the adapter to make.
#[derive(Debug, Clone)]
pub struct Post {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// An [`Env`] for one message of one region.
struct RegionEnv<'a> {
    outside: &'a dyn Outside,
    region: &'a str,
}

impl Env for RegionEnv<'_> {
    fn new_uuid(&self) -> String {
        self.outside.new_uuid()
    }
    fn rand(&self) -> f64 {
        self.outside.rand()
    }
    fn thing_shadow(&self, thing: &str, shadow: Option<&str>) -> Result<SqlValue, String> {
        self.outside.thing_shadow(self.region, thing, shadow)
    }
    fn registry_data(&self, api: &str, thing: &str) -> Result<SqlValue, String> {
        self.outside.registry_data(self.region, api, thing)
    }
    fn lambda(&self, function_arn: &str, input: &SqlValue) -> Result<SqlValue, String> {
        self.outside.lambda(function_arn, input)
    }
    fn dynamodb_item(&self, table: &str, key: &[(String, SqlValue)]) -> Result<SqlValue, String> {
        self.outside.dynamodb_item(self.region, table, key)
    }
    fn secret(&self, secret_id: &str, binary: bool) -> Result<String, String> {
        self.outside.secret(self.region, secret_id, binary)
    }
}

pub struct RulesService {
    book: RwLock<RuleBook>,
    outlet: Outlet,
    pub(crate) log: Mutex<ActionLog>,
    evaluations: Mutex<crate::log::EvaluationLog>,
    tracing_on: std::sync::atomic::AtomicBool,
    guard: Mutex<Guard>,
    pub(crate) outside: Arc<dyn Outside>,
    /// HTTP destinations are created ENABLED, with no confirmation to wait for.
    pub(crate) auto_confirm: std::sync::atomic::AtomicBool,
    pub(crate) runner: Option<Arc<dyn Runner>>,
    account: String,
    default_region: String,
    /// Itself, for the outcomes of actions that finish later.
    pub(crate) me: Weak<RulesService>,
    /// (region, URL prefix) of the ENABLED destinations, where http actions may send.
    pub(crate) enabled: Mutex<Vec<(String, String)>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl RulesService {
    /// Deletes every rule and destination and forgets the action log and the evaluations
    /// (iotmock's reset). The broker's filters follow.
    pub fn reset(&self) -> Result<(), iotmock_store::StoreError> {
        self.book
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .reset()?;
        lock(&self.log).clear();
        *lock(&self.evaluations) = crate::log::EvaluationLog::default();
        lock(&self.enabled).clear();
        self.outlet.refresh_filters("rules");
        Ok(())
    }

    pub fn new(
        book: RuleBook,
        outside: Arc<dyn Outside>,
        runner: Option<Arc<dyn Runner>>,
        account: &str,
        default_region: &str,
    ) -> Arc<Self> {
        let service = Arc::new_cyclic(|me| Self {
            me: me.clone(),
            enabled: Mutex::default(),
            book: RwLock::new(book),
            outlet: Outlet::default(),
            log: Mutex::new(ActionLog::default()),
            evaluations: Mutex::default(),
            tracing_on: Default::default(),
            guard: Mutex::new(Guard::default()),
            outside,
            auto_confirm: Default::default(),
            runner,
            account: account.to_string(),
            default_region: default_region.to_string(),
        });
        service.read(|book| service.refresh_enabled(book));
        service
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    /// Keeps (or stops keeping) every evaluation, matched or not, for
    /// [`RulesService::evaluations`]: the advisor's rule trace.
    pub fn trace_evaluations(&self, on: bool) {
        lock(&self.evaluations).set(on);
        self.tracing_on
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether evaluations are being kept.
    pub fn tracing_evaluations(&self) -> bool {
        self.tracing_on.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The evaluations kept since tracing was turned on (the newest 1,000).
    pub fn evaluations(&self) -> Vec<crate::log::Evaluation> {
        lock(&self.evaluations).entries()
    }

    fn traced(&self, rule: &str, msg: &Message<'_>, not_matched: Option<String>) {
        if self.tracing_on.load(std::sync::atomic::Ordering::Relaxed) {
            lock(&self.evaluations).push(crate::log::Evaluation {
                time_ms: msg.now_ms,
                rule: rule.to_string(),
                topic: msg.topic.to_string(),
                not_matched,
            });
        }
    }

    /// Reads the rules.
    pub fn read<T>(&self, f: impl FnOnce(&RuleBook) -> T) -> T {
        f(&self.book.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Changes the rules; the filters the broker routes to this service follow.
    pub fn change<T>(
        &self,
        f: impl FnOnce(&mut RuleBook) -> Result<T, BookError>,
    ) -> Result<T, BookError> {
        let mut book = self.book.write().unwrap_or_else(|p| p.into_inner());
        let out = f(&mut book);
        if out.is_ok() {
            self.refresh_enabled(&book);
            drop(book);
            self.outlet.refresh_filters(self.name());
        }
        out
    }

    /// The action log, oldest first (of `rule` only when given).
    pub fn actions(&self, rule: Option<&str>) -> Vec<Entry> {
        lock(&self.log).entries(rule)
    }

    pub fn clear_actions(&self) {
        lock(&self.log).clear();
    }

    /// Runs every rule that sees `msg` in `region` (Basic Ingest included).
    pub fn process(&self, region: &str, msg: &Message<'_>, full_topic: &str) {
        let skip = lock(&self.guard).arrived(full_topic, msg.payload);
        let Some(skip) = skip else {
            tracing::warn!(
                topic = full_topic,
                "rules: a republish loop was cut after 8 rounds"
            );
            return;
        };
        let book = self.book.read().unwrap_or_else(|p| p.into_inner());
        let rules = rules_for(&book, region, full_topic);
        if rules.is_empty() {
            return;
        }
        // Parsed once for every rule the message reaches.
        let root = crate::sql::parse_payload(msg.payload);
        // One trace id per message, as AWS's `traceid()` and `cloudwatchTraceId`.
        let trace = msg.trace_id.is_none().then(|| self.outside.new_uuid());
        for (rule, topic) in rules {
            if skip.iter().any(|s| s == rule.name()) {
                continue;
            }
            let seen = Message {
                topic,
                parsed: Some(&root),
                trace_id: trace.as_deref().or(msg.trace_id),
                ..*msg
            };
            let env = RegionEnv {
                outside: &*self.outside,
                region,
            };
            self.run_rule(rule, &seen, &env, &skip);
        }
    }

    fn run_rule(
        &self,
        rule: &crate::rule::CompiledRule,
        msg: &Message<'_>,
        env: &RegionEnv<'_>,
        chain: &[String],
    ) {
        let mut failures = match fire(rule, msg, env) {
            Firing::Filtered { why } => {
                tracing::debug!(rule = rule.name(), topic = msg.topic, %why, "rule not matched");
                self.traced(rule.name(), msg, Some(why));
                return;
            }
            Firing::Aborted(abort) => {
                self.traced(rule.name(), msg, Some(format!("stopped: {abort}")));
                vec![aborted(&abort)]
            }
            Firing::Matched {
                invocations,
                failed,
                ..
            } => {
                self.traced(rule.name(), msg, None);
                let mut failures = failed;
                for inv in invocations {
                    let at = (msg, env.region, chain);
                    if let Err(e) = self.carry_out(rule.name(), &inv, at, false) {
                        failures.push(Failure::of(&inv, e));
                    }
                }
                failures
            }
        };
        if failures.is_empty() {
            return;
        }
        failures.dedup();
        match error_invocation(rule, msg, &failures, env) {
            None => {}
            Some(Ok(inv)) => {
                if let Err(e) = self.carry_out(rule.name(), &inv, (msg, env.region, chain), true) {
                    tracing::warn!(rule = rule.name(), error = %e, "the rule's error action failed too");
                }
            }
            Some(Err((_, abort))) => {
                tracing::warn!(rule = rule.name(), error = %abort, "the rule's error action could not be resolved");
            }
        }
    }

    /// Carries out one action and records it in the log (an action the runner takes is
    /// recorded when it finishes; `Ok` then says only that it was handed over).
    fn carry_out(
        &self,
        rule: &str,
        inv: &Invocation,
        (msg, region, chain): (&Message<'_>, &str, &[String]),
        error_action: bool,
    ) -> Result<(), String> {
        let url = inv.params.get("url").and_then(serde_json::Value::as_str);
        let result = match (inv.kind.member, &self.runner) {
            ("http", _) if !self.may_send(region, url.unwrap_or_default()) => Err(format!(
                "no ENABLED topic rule destination covers {} (confirm its destination with ConfirmTopicRuleDestination, or start the mock with --auto-confirm-destinations)",
                url.unwrap_or_default()
            )),
            ("republish", _) => {
                republish(inv, &self.outlet, region, rule, chain, &self.guard).map(|()| true)
            }
            (_, None) => Ok(false),
            (_, Some(runner)) if !runner.takes(inv) => Ok(false),
            (_, Some(runner)) => {
                let me = self.me.clone();
                let origin = Origin::of(msg, region);
                let (name, later) = (rule.to_string(), inv.clone());
                runner.run(Job {
                    rule: rule.to_string(),
                    region: region.to_string(),
                    topic: msg.topic.to_string(),
                    invocation: inv.clone(),
                    done: Box::new(move |result| {
                        if let Some(service) = me.upgrade() {
                            service.finished(&name, &later, &origin, result, error_action);
                        }
                    }),
                });
                return Ok(());
            }
        };
        self.record(rule, inv, msg.now_ms, &result);
        result.map(|_| ())
    }

    /// Logs an action's outcome (debug) and keeps it in the action log.
    fn record(&self, rule: &str, inv: &Invocation, time_ms: i64, result: &Result<bool, String>) {
        let outcome = Outcome::of(result);
        tracing::debug!(rule, action = inv.kind.member, ?outcome, "rule action");
        lock(&self.log).push(Entry::new(rule, inv, time_ms, outcome));
    }
}

impl RulesService {
    /// An action the runner took has finished: it is recorded, and a failure runs the rule's
    /// error action (one error document per failed action: they finish one by one).
    fn finished(
        &self,
        rule: &str,
        inv: &Invocation,
        origin: &Origin,
        result: Result<bool, String>,
        error_action: bool,
    ) {
        self.record(rule, inv, origin.now_ms, &result);
        let Err(e) = result else {
            return;
        };
        if error_action {
            tracing::warn!(rule, error = %e, "the rule's error action failed too");
            return;
        }
        let book = self.book.read().unwrap_or_else(|p| p.into_inner());
        let Ok(compiled) = book.get(&origin.region, rule) else {
            return;
        };
        let properties = Properties::default();
        let msg = origin.message(&properties);
        let env = RegionEnv {
            outside: &*self.outside,
            region: &origin.region,
        };
        let failures = [Failure::of(inv, e)];
        if let Some(Ok(error)) = error_invocation(compiled, &msg, &failures, &env) {
            let at = (&msg, origin.region.as_str(), &[][..]);
            if let Err(e) = self.carry_out(rule, &error, at, true) {
                tracing::warn!(rule, error = %e, "the rule's error action failed too");
            }
        }
    }
}

/// A statement tried on one message (`POST /iotmock/rules/evaluate`, `iotmock rules test`).
pub struct Trial<'a> {
    pub sql: &'a str,
    pub version: Option<&'a str>,
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub client_id: Option<&'a str>,
    pub region: &'a str,
    pub now_ms: i64,
}

impl RulesService {
    /// What `trial.sql` makes of the message (see [`try_statement`]).
    pub fn evaluate(&self, trial: &Trial<'_>) -> Result<serde_json::Value, crate::RuleError> {
        try_statement(trial, &*self.outside, &self.account)
    }
}

/// What `trial.sql` makes of the message: whether FROM matches its topic, the SELECT output,
/// or which part of WHERE was false or Undefined. Nothing is run.
pub fn try_statement(
    trial: &Trial<'_>,
    outside: &dyn Outside,
    account: &str,
) -> Result<serde_json::Value, crate::RuleError> {
    {
        use crate::RuleError;
        let version = SqlVersion::parse(trial.version).map_err(RuleError::Invalid)?;
        let statement =
            crate::sql::parse(trial.sql, version).map_err(|e| RuleError::Sql(e.message))?;
        let topic_matches = statement
            .topic_filter()
            .is_none_or(|f| iotmock_mqtt::topic::matches(f, trial.topic));
        let properties = Properties::default();
        let msg = Message {
            topic: trial.topic,
            payload: trial.payload,
            client_id: trial.client_id,
            principal: None,
            account,
            now_ms: trial.now_ms,
            source_ip: None,
            trace_id: None,
            properties: &properties,
            parsed: None,
        };
        let env = RegionEnv {
            outside,
            region: trial.region,
        };
        let mut answer = serde_json::json!({ "topicMatches": topic_matches });
        let fields = match crate::sql::evaluate(&statement, &msg, &env) {
            Err(abort) => serde_json::json!({ "matched": false, "aborted": abort.to_string() }),
            Ok(Evaluation::Filtered { why }) => {
                serde_json::json!({ "matched": false, "where": why })
            }
            Ok(Evaluation::Matched { output, .. }) => {
                let bytes = output.to_bytes();
                let shown = serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_else(|_| {
                    use base64::Engine as _;
                    serde_json::json!({ "base64": base64::engine::general_purpose::STANDARD.encode(&bytes) })
                });
                serde_json::json!({ "matched": true, "output": shown })
            }
        };
        if let (Some(a), serde_json::Value::Object(f)) = (answer.as_object_mut(), fields) {
            a.extend(f);
        }
        Ok(answer)
    }
}

fn aborted(abort: &Abort) -> Failure {
    Failure {
        failed_action: abort.function.clone(),
        failed_resource: String::new(),
        error_message: abort.message.clone(),
    }
}

impl Service for RulesService {
    fn name(&self) -> &'static str {
        "rules"
    }

    fn filters(&self) -> Vec<String> {
        let book = self.book.read().unwrap_or_else(|p| p.into_inner());
        let mut filters: Vec<String> = book
            .enabled()
            .filter_map(|r| r.topic_pattern().map(str::to_string))
            .filter(|f| iotmock_mqtt::topic::validate_filter(f).is_ok())
            .collect();
        filters.push(format!("{}#", crate::engine::BASIC_INGEST));
        filters.sort();
        filters.dedup();
        filters
    }

    fn attach(&self, outbox: Arc<dyn Outbox>) {
        self.outlet.attach(outbox);
    }

    fn handle(&self, request: &ServiceRequest<'_>) -> Vec<Reply> {
        let region = request.region.unwrap_or(&self.default_region);
        let properties = request.properties.map(properties_of).unwrap_or_default();
        let source_ip = request.source_ip.map(|ip| ip.to_string());
        let msg = Message {
            topic: request.topic,
            payload: request.payload,
            client_id: request.client_id,
            principal: request.principal,
            account: &self.account,
            now_ms: request.now_ms,
            source_ip: source_ip.as_deref(),
            trace_id: None,
            properties: &properties,
            parsed: None,
        };
        self.process(region, &msg, request.topic);
        Vec::new()
    }
}

/// The SQL's view of a message's MQTT 5 properties.
fn properties_of(p: &iotmock_mqtt::PublishProperties) -> Properties {
    Properties {
        payload_format_utf8: p.payload_format_indicator.map(|f| f == 1),
        content_type: p.content_type.clone(),
        response_topic: p.response_topic.clone(),
        correlation_data: p.correlation_data.as_ref().map(|b| b.to_vec()),
        user_properties: p.user_properties.clone(),
    }
}
