//! Fleet provisioning by claim, as devices reach it over MQTT: `$aws/certificates/create/{fmt}`
//! (a key pair and certificate), `$aws/certificates/create-from-csr/{fmt}` (a certificate for
//! the device's CSR) and `$aws/provisioning-templates/{name}/provision/{fmt}` (RegisterThing:
//! run the template for the certificate behind an ownership token). Answers go to the
//! requester alone on `.../accepted` or `.../rejected`, in the request's format (`json` or
//! `cbor`). Certificates are issued PENDING_ACTIVATION with a one-hour ownership token; one
//! never provisioned within the hour is deleted by [`FleetService::expire_tokens`].

mod codec;
mod reject;
#[cfg(test)]
mod tests;

pub use codec::Format;
pub use reject::Rejection;

use bytes::Bytes;
use iotmock_mqtt::Publish;
use iotmock_registry::Registry;
use iotmock_session::{Reply, Service, ServiceRequest};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

/// How long an ownership token is good for.
pub const TOKEN_LIFETIME_MS: i64 = 60 * 60 * 1000;

/// An ownership token: the certificate it stands for, where, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    region: String,
    cert_id: String,
    expires_ms: i64,
}

/// The service on the broker's seam.
pub struct FleetService {
    registry: Arc<RwLock<Registry>>,
    tokens: Mutex<BTreeMap<String, Token>>,
    default_region: String,
}

/// A request, by its topic.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Request {
    CreateKeys,
    CreateFromCsr,
    Provision(String),
}

/// `(request, format)` for a request topic; `None` for answers and anything else.
fn parse(topic: &str) -> Option<(Request, Format)> {
    let parts: Vec<&str> = topic.split('/').collect();
    let (req, fmt) = match parts.as_slice() {
        ["$aws", "certificates", "create", fmt] => (Request::CreateKeys, fmt),
        ["$aws", "certificates", "create-from-csr", fmt] => (Request::CreateFromCsr, fmt),
        ["$aws", "provisioning-templates", name, "provision", fmt] => {
            (Request::Provision(name.to_string()), fmt)
        }
        _ => return None,
    };
    Some((req, Format::parse(fmt)?))
}

fn answer(topic: &str, suffix: &str, fmt: Format, doc: &Value) -> Reply {
    let m = Publish::new(format!("{topic}/{suffix}"), fmt.encode(doc), 0, false);
    Reply::ToRequester(m)
}

impl FleetService {
    pub fn new(registry: Arc<RwLock<Registry>>, default_region: &str) -> Self {
        Self {
            registry,
            tokens: Mutex::default(),
            default_region: default_region.to_string(),
        }
    }

    fn registry(&self) -> Result<std::sync::RwLockWriteGuard<'_, Registry>, Rejection> {
        self.registry
            .write()
            .map_err(|_| Rejection::internal("the registry is unavailable"))
    }

    fn tokens(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Token>> {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A certificate (from a CSR, or with a fresh key) and its ownership token. The key and
    /// certificate are made before the registry's write lock is taken.
    fn create(&self, region: &str, csr: Option<&str>, now_ms: i64) -> Result<Value, Rejection> {
        let (ca, now_secs) = self
            .registry
            .read()
            .map_err(|_| Rejection::internal("the registry is unavailable"))?
            .issuer();
        let (pem, key) = iotmock_registry::issue_for_provisioning(&ca, now_secs, csr)
            .map_err(|e| Rejection::from_csr(csr.is_some(), e))?;
        let registered = self
            .registry()?
            .register_for_provisioning(region, &pem)
            .map_err(|e| Rejection::from_csr(csr.is_some(), e))?;
        let token = format!(
            "{}{}",
            iotmock_registry::random_uuid().replace('-', ""),
            iotmock_registry::random_uuid().replace('-', "")
        );
        let record = Token {
            region: region.to_string(),
            cert_id: registered.id.clone(),
            expires_ms: now_ms + TOKEN_LIFETIME_MS,
        };
        self.tokens().insert(token.clone(), record);
        let mut doc = json!({
            "certificateId": registered.id,
            "certificatePem": pem,
            "certificateOwnershipToken": token,
        });
        if let Some(key) = key {
            doc["privateKey"] = json!(key);
        }
        Ok(doc)
    }

    /// RegisterThing over MQTT.
    fn provision(
        &self,
        region: &str,
        name: &str,
        body: &Value,
        now_ms: i64,
    ) -> Result<Value, Rejection> {
        let token = body
            .get("certificateOwnershipToken")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if token.is_empty() {
            return Err(Rejection::token(
                "Certificate ownership token cannot be empty.",
            ));
        }
        let record = self.tokens().get(token).cloned();
        let Some(record) = record.filter(|t| t.expires_ms > now_ms && t.region == region) else {
            return Err(Rejection::token(
                "Certificate ownership token is invalid or expired (tokens last one hour).",
            ));
        };
        let parameters = string_map(body.get("parameters"))?;
        let mut registry = self.registry()?;
        let template = registry
            .describe_template(region, name)
            .map_err(|_| Rejection::not_found(name))?
            .clone();
        if !template.enabled {
            return Err(Rejection::disabled(name));
        }
        let done = registry
            .provision(
                region,
                (name, template.body()),
                &parameters,
                &record.cert_id,
                BTreeMap::new(),
            )
            .map_err(|e| Rejection::provisioning(name, &e.message))?;
        drop(registry);
        self.tokens().remove(token);
        let mut doc = json!({ "deviceConfiguration": done.device_configuration });
        if let Some(thing) = done.thing_name {
            doc["thingName"] = json!(thing);
        }
        Ok(doc)
    }

    /// Expires ownership tokens; a certificate never provisioned is deleted. Returns how many
    /// certificates were deleted.
    pub fn expire_tokens(&self, now_ms: i64) -> usize {
        let expired: Vec<Token> = {
            let mut tokens = self.tokens();
            let gone: Vec<String> = tokens
                .iter()
                .filter(|(_, t)| t.expires_ms <= now_ms)
                .map(|(k, _)| k.clone())
                .collect();
            gone.iter().filter_map(|k| tokens.remove(k)).collect()
        };
        let Ok(mut registry) = self.registry.write() else {
            return 0;
        };
        let mut deleted = 0;
        for t in expired {
            if registry
                .expire_unprovisioned(&t.region, &t.cert_id)
                .unwrap_or(false)
            {
                tracing::info!(cert = %t.cert_id, "ownership token expired: the unprovisioned certificate was deleted");
                deleted += 1;
            }
        }
        deleted
    }

    fn answer_request(
        &self,
        request: &ServiceRequest<'_>,
        req: Request,
        fmt: Format,
    ) -> Result<Value, Rejection> {
        let region = request.region.unwrap_or(&self.default_region);
        let body = fmt
            .decode(request.payload)
            .map_err(|e| Rejection::payload(fmt, &e))?;
        match req {
            Request::CreateKeys => self.create(region, None, request.now_ms),
            Request::CreateFromCsr => {
                let csr = body
                    .get("certificateSigningRequest")
                    .and_then(Value::as_str);
                let csr = csr.ok_or_else(|| {
                    Rejection::invalid_csr("certificateSigningRequest is missing")
                })?;
                self.create(region, Some(csr), request.now_ms)
            }
            Request::Provision(name) => self.provision(region, &name, &body, request.now_ms),
        }
    }
}

/// `parameters`: a map of strings (numbers and booleans are taken as their text).
fn string_map(v: Option<&Value>) -> Result<BTreeMap<String, String>, Rejection> {
    let Some(v) = v else {
        return Ok(BTreeMap::new());
    };
    let map = v
        .as_object()
        .ok_or_else(|| Rejection::parameters("parameters must be a map of strings"))?;
    map.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            Value::Number(n) => Ok((k.clone(), n.to_string())),
            Value::Bool(b) => Ok((k.clone(), b.to_string())),
            _ => Err(Rejection::parameters(&format!(
                "parameter {k} must be a string"
            ))),
        })
        .collect()
}

impl Service for FleetService {
    fn name(&self) -> &'static str {
        "fleet"
    }

    fn tick(&self, now_ms: i64) {
        self.expire_tokens(now_ms);
    }

    /// Requests beyond the queue: 429 `Throttling` on `.../rejected`, in the request's format.
    fn throttled(&self, request: &ServiceRequest<'_>) -> Vec<Reply> {
        let Some((_, fmt)) = parse(request.topic) else {
            return Vec::new();
        };
        let r = Rejection::throttled();
        vec![answer(request.topic, "rejected", fmt, &r.document())]
    }

    fn filters(&self) -> Vec<String> {
        vec![
            "$aws/certificates/create/+".into(),
            "$aws/certificates/create-from-csr/+".into(),
            "$aws/provisioning-templates/+/provision/+".into(),
        ]
    }

    fn handle(&self, request: &ServiceRequest<'_>) -> Vec<Reply> {
        let Some((req, fmt)) = parse(request.topic) else {
            return Vec::new();
        };
        match self.answer_request(request, req, fmt) {
            Ok(doc) => vec![answer(request.topic, "accepted", fmt, &doc)],
            Err(r) => {
                tracing::warn!(
                    client = request.client_id.unwrap_or("-"),
                    topic = request.topic,
                    code = r.error_code,
                    "provisioning request rejected: {}",
                    r.message
                );
                vec![answer(request.topic, "rejected", fmt, &r.document())]
            }
        }
    }
}

/// The payload bytes of an answer, for tests and tools.
pub fn payload_of(reply: &Reply) -> (&str, &Bytes) {
    match reply {
        Reply::ToRequester(m) | Reply::ToSubscribers(m) => (m.topic.as_str(), &m.payload),
    }
}
