//! Security_Device_Policies: the policies attached to the device's certificate must not grant
//! with wildcards. A wildcard action, `NotAction`/`NotResource` under Allow, or a resource that
//! is `*` or a whole resource type (`...:topic/*`) fails; a narrower `*` (inside a name, beside
//! a policy variable) warns. Region and account wildcards are allowed.

use crate::{Outcome, Verdict};
use iotmock_policy::{Effect, PolicyDocument, Statement};

/// One finding: how bad, and what.
type Finding = (Outcome, String);

/// Judges the attached policies, `(name, document)`.
pub fn judge_policies(policies: &[(String, String)]) -> Verdict {
    if policies.is_empty() {
        return Verdict::fail("no policy is attached to the device certificate");
    }
    let mut findings = Vec::new();
    for (name, text) in policies {
        match PolicyDocument::parse(text) {
            Ok(doc) => findings.extend(
                doc.statements
                    .iter()
                    .filter(|s| s.effect == Effect::Allow)
                    .flat_map(statement)
                    .map(|(o, what)| (o, format!("policy {name}: {what}"))),
            ),
            Err(e) => findings.push((Outcome::Fail, format!("policy {name} is malformed: {e}"))),
        }
    }
    let worst = findings.iter().map(|(o, _)| *o).max_by_key(|o| rank(*o));
    let listed: Vec<&str> = findings.iter().map(|(_, w)| w.as_str()).collect();
    match worst {
        None => Verdict::pass(format!(
            "{} attached {} grant without wildcards",
            policies.len(),
            if policies.len() == 1 {
                "policy"
            } else {
                "policies"
            }
        )),
        Some(outcome) => Verdict {
            outcome,
            reason: listed.join("; "),
        },
    }
}

fn rank(o: Outcome) -> u8 {
    match o {
        Outcome::Pass => 0,
        Outcome::Warn => 1,
        Outcome::Fail => 2,
    }
}

fn statement(s: &Statement) -> Vec<Finding> {
    let mut out = Vec::new();
    if s.actions.negated {
        out.push((
            Outcome::Fail,
            "Allow with NotAction grants every other action".into(),
        ));
    }
    if s.resources.negated {
        out.push((
            Outcome::Fail,
            "Allow with NotResource grants every other resource".into(),
        ));
    }
    for a in s.actions.patterns.iter().filter(|a| a.contains(['*', '?'])) {
        out.push((Outcome::Fail, format!("action '{a}' is a wildcard")));
    }
    out.extend(s.resources.patterns.iter().filter_map(|r| resource(r)));
    out
}

/// A wildcard resource: all of a type (or everything) fails, a narrower one warns. Region and
/// account wildcards are not counted: a policy written for the mock must match its account.
fn resource(r: &str) -> Option<Finding> {
    let rest = match r.splitn(6, ':').collect::<Vec<_>>().as_slice() {
        [_, _, _, _, _, rest] => (*rest).to_string(),
        _ => r.to_string(),
    };
    if !rest.contains(['*', '?']) {
        return None;
    }
    let whole = rest.split_once('/').is_none_or(|(_, name)| name == "*");
    Some(if whole {
        (
            Outcome::Fail,
            format!("resource '{r}' grants every resource of its kind"),
        )
    } else {
        (Outcome::Warn, format!("resource '{r}' uses a wildcard"))
    })
}
