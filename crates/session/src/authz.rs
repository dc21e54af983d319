//! Authorization of one connection: its principal's policies and the policy variables of the
//! connection (`iot:ClientId`, `iot:Certificate.*`, `iot:Connection.Thing.*`, `aws:SourceIp`),
//! evaluated per action. Pure: the connection refreshes it when the registry changes.

use iotmock_policy::{Decision, Request, evaluate};
use iotmock_registry::{AttachedThing, Principal};
use std::collections::HashMap;
use std::net::IpAddr;

/// How many actions there are (one decision cache each).
const ACTIONS: usize = 5;

/// The data-plane actions the broker checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Connect,
    Publish,
    RetainPublish,
    Subscribe,
    Receive,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Connect => "iot:Connect",
            Action::Publish => "iot:Publish",
            Action::RetainPublish => "iot:RetainPublish",
            Action::Subscribe => "iot:Subscribe",
            Action::Receive => "iot:Receive",
        }
    }

    fn resource_kind(self) -> &'static str {
        match self {
            Action::Connect => "client",
            Action::Subscribe => "topicfilter",
            _ => "topic",
        }
    }
}

/// A decision with the resource it was made on, for the refusal log.
#[derive(Debug, Clone)]
pub struct Checked {
    pub decision: Decision,
    pub resource: String,
}

#[derive(Debug, Clone)]
pub struct Authz {
    pub principal: std::sync::Arc<Principal>,
    vars: HashMap<String, Vec<String>>,
    /// Decisions already made on this connection (policies and variables are fixed until the
    /// registry changes, which builds a new `Authz`). Hashed with foldhash: every delivery
    /// looks its topic up here.
    cache: [HashMap<String, Checked, foldhash::quality::RandomState>; ACTIONS],
}

/// Decisions remembered per connection before the cache starts over.
const CACHE_LIMIT: usize = 4096;

/// Certificate values holding these characters are not substituted, as in AWS.
fn substitutable(v: &str) -> bool {
    !v.contains(['*', '$', '+', '?', '#']) && v.len() <= 1024
}

fn rfc3339(secs: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(secs).ok()?;
    t.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

fn cert_vars(vars: &mut HashMap<String, Vec<String>>, prefix: &str, attrs: &[(String, String)]) {
    let mut grouped: HashMap<&str, Vec<String>> = HashMap::new();
    for (k, v) in attrs {
        grouped.entry(k).or_default().push(v.clone());
    }
    for (k, values) in grouped {
        let usable: Vec<String> = values
            .into_iter()
            .filter(|v| substitutable(v))
            .take(5)
            .collect();
        for (i, v) in usable.iter().enumerate().skip(1) {
            vars.insert(format!("{prefix}.{k}.{i}"), vec![v.clone()]);
        }
        if let Some(first) = usable.first() {
            vars.insert(format!("{prefix}.{k}"), vec![first.clone()]);
            vars.insert(format!("{prefix}.{k}.List"), usable.clone());
        }
    }
}

/// The thing the connection speaks for: the exclusive one, else the one named like the client.
fn connection_thing<'a>(things: &'a [AttachedThing], client_id: &str) -> Option<&'a AttachedThing> {
    things
        .iter()
        .find(|t| t.exclusive)
        .or_else(|| things.iter().find(|t| t.name == client_id))
}

/// Every policy that decides for `principal`: its own, and a Cognito identity's.
fn all_policies(principal: &Principal) -> impl Iterator<Item = &iotmock_policy::NamedPolicy> {
    principal
        .policies
        .iter()
        .chain(principal.identity_policies.iter().flatten())
}

impl Authz {
    pub fn new(
        principal: std::sync::Arc<Principal>,
        client_id: &str,
        source_ip: Option<IpAddr>,
        connect_attributes: &[&str],
    ) -> Self {
        // Policies that read no variable (allow-all ones, say) spare building any.
        if !all_policies(&principal).any(|p| p.document.reads_variables()) {
            return Self {
                principal,
                vars: HashMap::new(),
                cache: Default::default(),
            };
        }
        let mut vars: HashMap<String, Vec<String>> = HashMap::new();
        let mut put = |k: &str, v: String| {
            vars.insert(k.to_string(), vec![v]);
        };
        put("iot:ClientId", client_id.to_string());
        if let Some(ip) = source_ip {
            put("aws:SourceIp", ip.to_string());
        }
        put(
            "iot:Certificate.SerialNumber",
            principal.cert.serial_hex.clone(),
        );
        if let Some(nb) = rfc3339(principal.cert.not_before) {
            put("iot:Certificate.Validity.NotBefore", nb);
        }
        if let Some(na) = rfc3339(principal.cert.not_after) {
            put("iot:Certificate.Validity.NotAfter", na);
        }
        let attached = principal.things.iter().any(|t| t.name == client_id);
        put("iot:Connection.Thing.IsAttached", attached.to_string());
        if let Some(thing) = connection_thing(&principal.things, client_id) {
            put("iot:Connection.Thing.ThingName", thing.name.clone());
            if let Some(ty) = &thing.type_name {
                put("iot:Connection.Thing.ThingTypeName", ty.clone());
            }
            for (k, v) in &thing.attributes {
                put(&format!("iot:Connection.Thing.Attributes[{k}]"), v.clone());
            }
        }
        cert_vars(
            &mut vars,
            "iot:Certificate.Subject",
            &principal.cert.subject_attrs,
        );
        cert_vars(
            &mut vars,
            "iot:Certificate.Issuer",
            &principal.cert.issuer_attrs,
        );
        let keys: Vec<String> = vars
            .keys()
            .filter(|k| k.starts_with("iot:Certificate."))
            .cloned()
            .collect();
        vars.insert("iot:Certificate.AvailableKeys".into(), keys);
        if !connect_attributes.is_empty() {
            vars.insert(
                "iot:ConnectAttributes".into(),
                connect_attributes.iter().map(|s| s.to_string()).collect(),
            );
        }
        // Keep only what the policies can read: an idle connection then holds no variables
        // at all under an allow-all policy, and a handful under a scoped one.
        let read = |k: &String| all_policies(&principal).any(|p| p.document.mentions(k));
        vars.retain(|k, _| read(k));
        vars.shrink_to_fit();
        Self {
            principal,
            vars,
            cache: Default::default(),
        }
    }

    /// The policy variables of this connection.
    pub fn variables(&self) -> &HashMap<String, Vec<String>> {
        &self.vars
    }

    /// Evaluates `action` on `name` (client id, topic or topic filter).
    pub fn check(&mut self, action: Action, name: &str) -> Checked {
        let slot = action as usize;
        if let Some(hit) = self.cache[slot].get(name) {
            return hit.clone();
        }
        let resource = self.principal.resource(action.resource_kind(), name);
        let request = Request {
            action: action.name(),
            resource: &resource,
        };
        let mut decision = evaluate(&self.principal.policies, &request, &self.vars);
        // A Cognito identity: its attached IoT policies must allow as well.
        if let Some(also) = &self.principal.identity_policies
            && decision.allowed()
        {
            let second = evaluate(also, &request, &self.vars);
            if !second.allowed() {
                decision = second;
            }
        }
        let checked = Checked { decision, resource };
        if action == Action::Connect {
            // Asked once per connection (a registry change builds a new `Authz`): not kept.
            return checked;
        }
        let cache = &mut self.cache[slot];
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(name.to_string(), checked.clone());
        checked
    }

    /// Whether `action` on `name` is allowed; a remembered decision costs no allocation (the
    /// per-message path). Refusals are then explained with [`Authz::check`].
    pub fn allows(&mut self, action: Action, name: &str) -> bool {
        match self.cache[action as usize].get(name) {
            Some(hit) => hit.decision.allowed(),
            None => self.check(action, name).decision.allowed(),
        }
    }

    /// Logs a refusal once, with everything a user needs to fix the policy.
    pub fn log_refusal(&self, action: Action, checked: &Checked, client_id: &str) {
        tracing::info!(
            certificate = %self.principal.cert_id,
            client_id,
            action = action.name(),
            resource = %checked.resource,
            reason = %checked.decision,
            "refused by policy"
        );
    }
}
