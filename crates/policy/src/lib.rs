//! AWS IoT policy documents. [`PolicyDocument::parse`] applies the IAM grammar AWS IoT uses
//! and returns typed statements, or a [`MalformedPolicy`] that says which rule the text broke.
//! Evaluation is pure: no clock, no registry, no I/O.

mod document;

pub use document::{Condition, Effect, MalformedPolicy, PolicyDocument, Statement, StringOrList};

/// AWS's limit on a policy document: 2048 characters not counting whitespace.
pub const MAX_POLICY_CHARS: usize = 2048;
