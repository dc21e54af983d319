//! Evaluation: the union of a principal's policies against one request. Explicit Deny beats
//! Allow beats no match; the decision names the statement that decided it.

use crate::condition::holds;
use crate::pattern::{Vars, compile, matches};
use crate::{Effect, PolicyDocument, Statement, StringOrList};
use std::fmt;

/// One attached policy, already parsed.
#[derive(Debug, Clone)]
pub struct NamedPolicy {
    pub name: String,
    pub version: String,
    pub document: PolicyDocument,
}

/// The statement that decided, for logs: `policy/version#index (Sid)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRef {
    pub policy: String,
    pub version: String,
    pub index: usize,
    pub sid: Option<String>,
}

impl fmt::Display for StatementRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "policy {} version {} statement {}",
            self.policy, self.version, self.index
        )?;
        if let Some(sid) = &self.sid {
            write!(f, " (Sid {sid})")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow(StatementRef),
    ExplicitDeny(StatementRef),
    /// Nothing allows the request (default deny).
    ImplicitDeny,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Allow(s) => write!(f, "allowed by {s}"),
            Decision::ExplicitDeny(s) => write!(f, "explicitly denied by {s}"),
            Decision::ImplicitDeny => f.write_str("no statement allows"),
        }
    }
}

/// What is being asked: an action (`iot:Publish`) on a resource ARN.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub action: &'a str,
    pub resource: &'a str,
}

fn list_matches(
    list: &StringOrList,
    value: &str,
    vars: &dyn Vars,
    ignore_case: bool,
) -> Option<bool> {
    let mut any = false;
    for p in &list.patterns {
        if p == "*" {
            any = true;
            continue;
        }
        let pat = compile(p, vars)?;
        any |= matches(&pat, value, ignore_case);
    }
    Some(any != list.negated)
}

/// Whether `stmt` applies to `req`; `false` when one of its variables is unresolvable.
pub fn statement_applies(stmt: &Statement, req: &Request<'_>, vars: &dyn Vars) -> bool {
    list_matches(&stmt.actions, req.action, vars, true) == Some(true)
        && list_matches(&stmt.resources, req.resource, vars, false) == Some(true)
        && stmt.conditions.iter().all(|c| holds(c, vars))
}

/// Evaluates `req` against every statement of every policy.
pub fn evaluate(policies: &[NamedPolicy], req: &Request<'_>, vars: &dyn Vars) -> Decision {
    let mut allow = None;
    for p in policies {
        for (index, stmt) in p.document.statements.iter().enumerate() {
            if !statement_applies(stmt, req, vars) {
                continue;
            }
            let at = StatementRef {
                policy: p.name.clone(),
                version: p.version.clone(),
                index,
                sid: stmt.sid.clone(),
            };
            match stmt.effect {
                Effect::Deny => return Decision::ExplicitDeny(at),
                Effect::Allow => allow = allow.or(Some(at)),
            }
        }
    }
    allow.map_or(Decision::ImplicitDeny, Decision::Allow)
}
