//! AWS IoT policy documents. [`PolicyDocument::parse`] applies the IAM grammar AWS IoT uses
//! and returns typed statements, or a [`MalformedPolicy`] that says which rule the text broke.
//! [`evaluate`] is pure: the union of a principal's policies against one action and resource,
//! with `${...}` variables from a [`Vars`] source; explicit Deny beats Allow beats no match.

mod condition;
mod document;
mod evaluate;
mod pattern;

pub use document::{Condition, Effect, MalformedPolicy, PolicyDocument, Statement, StringOrList};
pub use evaluate::{Decision, NamedPolicy, Request, StatementRef, evaluate, statement_applies};
pub use pattern::{NoVars, Vars, glob};

/// AWS's limit on a policy document: 2048 characters not counting whitespace.
pub const MAX_POLICY_CHARS: usize = 2048;

#[cfg(test)]
mod tests;
