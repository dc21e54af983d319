//! TestAuthorization: the broker's own decision, explained. The principal's policies (with
//! some added or skipped) are evaluated with the variables a connection with this client id
//! would have ([`Authz`]), on the resources asked about, and every policy is said to allow,
//! deny explicitly, or not apply.

use crate::authz::Authz;
use iotmock_policy::{Decision, NamedPolicy, Request, evaluate};
use iotmock_registry::Principal;
use std::sync::Arc;

/// One question: an action type (`PUBLISH`, `SUBSCRIBE`, `RECEIVE`, `CONNECT`) on resource
/// ARNs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthInfo {
    pub action_type: String,
    pub resources: Vec<String>,
}

/// AWS's `authDecision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AuthDecision {
    Allowed,
    ImplicitDeny,
    ExplicitDeny,
}

impl AuthDecision {
    pub fn name(self) -> &'static str {
        match self {
            AuthDecision::Allowed => "ALLOWED",
            AuthDecision::ImplicitDeny => "IMPLICIT_DENY",
            AuthDecision::ExplicitDeny => "EXPLICIT_DENY",
        }
    }

    pub fn of(d: &Decision) -> Self {
        match d {
            Decision::Allow(_) => AuthDecision::Allowed,
            Decision::ExplicitDeny(_) => AuthDecision::ExplicitDeny,
            Decision::ImplicitDeny => AuthDecision::ImplicitDeny,
        }
    }
}

/// The answer to one [`AuthInfo`]: the decision over all its resources, and the policies by
/// what they said (each named once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResult {
    pub info: AuthInfo,
    pub decision: AuthDecision,
    pub allowed: Vec<String>,
    pub explicit_deny: Vec<String>,
    pub implicit_deny: Vec<String>,
}

/// `iot:Publish` for `PUBLISH`, and so on; `None` for an unknown action type.
pub fn action_of(action_type: &str) -> Option<&'static str> {
    Some(match action_type {
        "PUBLISH" => "iot:Publish",
        "SUBSCRIBE" => "iot:Subscribe",
        "RECEIVE" => "iot:Receive",
        "CONNECT" => "iot:Connect",
        _ => return None,
    })
}

fn push(list: &mut Vec<String>, name: &str) {
    if !list.iter().any(|n| n == name) {
        list.push(name.to_string());
    }
}

/// Answers each question for `principal` (whose `policies` are the ones to evaluate), as a
/// connection with `client_id` would be judged.
pub fn explain(principal: Arc<Principal>, client_id: &str, infos: &[AuthInfo]) -> Vec<AuthResult> {
    let authz = Authz::new(principal.clone(), client_id, None, &[]);
    infos
        .iter()
        .map(|info| {
            let action = action_of(&info.action_type).unwrap_or_default();
            let mut out = AuthResult {
                info: info.clone(),
                decision: AuthDecision::Allowed,
                allowed: Vec::new(),
                explicit_deny: Vec::new(),
                implicit_deny: Vec::new(),
            };
            for resource in &info.resources {
                let req = Request { action, resource };
                let overall = authz.decide(&principal.policies, &req);
                out.decision = out.decision.max(AuthDecision::of(&overall));
                for p in &principal.policies {
                    let one = authz.decide(std::slice::from_ref(p), &req);
                    let list = match AuthDecision::of(&one) {
                        AuthDecision::Allowed => &mut out.allowed,
                        AuthDecision::ExplicitDeny => &mut out.explicit_deny,
                        AuthDecision::ImplicitDeny => &mut out.implicit_deny,
                    };
                    push(list, &p.name);
                }
            }
            if info.resources.is_empty() {
                out.decision = AuthDecision::ImplicitDeny;
            }
            out
        })
        .collect()
}

impl Authz {
    /// Evaluates `req` against `policies` with this connection's variables.
    pub fn decide(&self, policies: &[NamedPolicy], req: &Request<'_>) -> Decision {
        evaluate(policies, req, self.variables())
    }
}
