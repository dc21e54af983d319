//! Deciding a connection: pick the authorizer (named, or the default), find the token, check
//! its signature against the authorizer's keys (a bad one refuses without invoking the
//! function), invoke the function through the adapter's [`Functions`] and validate its answer.

use crate::book::AuthorizerBook;
use crate::presented::{Presented, SIGNATURE_KEY};
use crate::record::AuthorizerRecord;
use crate::verdict::{Answer, Verdict, read_answer};
use base64::Engine;
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;

/// What invoking a function yields: its answer's body, or why there is none (timed out,
/// failed, answered 5xx).
pub type Invoked = Pin<Box<dyn Future<Output = Result<Vec<u8>, String>> + Send>>;

/// Runs functions (the adapter's: a webhook, a closure, Lambda on LocalStack).
pub trait Functions: Send + Sync {
    fn invoke(&self, function_arn: &str, event: Vec<u8>) -> Invoked;
}

/// Why a connection was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No authorizer to use (none named and no default, unknown, or INACTIVE).
    NoAuthorizer(String),
    /// Signing is on and the token or its signature is missing or does not verify.
    BadSignature { authorizer: String, why: String },
    /// The function answered `isAuthenticated: false`.
    NotAuthenticated { authorizer: String, answer: String },
    /// The function failed, timed out, or answered something AWS would not take.
    Failed {
        authorizer: String,
        why: String,
        answer: Option<String>,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NoAuthorizer(why) => write!(f, "custom auth: {why}"),
            Refusal::BadSignature { authorizer, why } => write!(
                f,
                "authorizer {authorizer}: {why}; the function was not invoked"
            ),
            Refusal::NotAuthenticated { authorizer, answer } => write!(
                f,
                "authorizer {authorizer}: the function answered isAuthenticated false ({answer})"
            ),
            Refusal::Failed {
                authorizer,
                why,
                answer,
            } => match answer {
                Some(a) => write!(f, "authorizer {authorizer}: {why} (answer: {a})"),
                None => write!(f, "authorizer {authorizer}: {why}"),
            },
        }
    }
}

/// One invocation to make, prepared under the book's lock and run without it.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub authorizer: String,
    pub authorizer_arn: String,
    pub function_arn: String,
    pub event: Value,
}

/// A connection the function authenticated.
#[derive(Debug, Clone)]
pub struct Decision {
    pub authorizer: String,
    pub authorizer_arn: String,
    pub verdict: Verdict,
}

/// Decodes a signature as devices send it (standard base64; URL-safe and unpadded forms too).
fn decode_signature(sig: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
    let sig = sig.trim().replace(' ', "+");
    STANDARD
        .decode(&sig)
        .or_else(|_| URL_SAFE.decode(&sig))
        .or_else(|_| URL_SAFE_NO_PAD.decode(&sig))
        .ok()
}

/// Picks the authorizer and checks the token's signature; `Ok` is the invocation to run.
pub fn prepare(
    book: &AuthorizerBook,
    region: &str,
    presented: &Presented,
) -> Result<Invocation, Refusal> {
    let (record, token, signature) = credentials(book, region, presented)?;
    invocation(record, token, signature, presented)
}

/// The authorizer a connection uses (the one it names, or the default) and the token and
/// signature it presents to it.
pub fn credentials<'b>(
    book: &'b AuthorizerBook,
    region: &str,
    presented: &Presented,
) -> Result<(&'b AuthorizerRecord, Option<String>, Option<String>), Refusal> {
    let named = presented.authorizer_name();
    let record = book
        .pick(region, named.as_deref())
        .map_err(Refusal::NoAuthorizer)?;
    let token = record
        .token_key_name
        .as_deref()
        .and_then(|k| presented.value(k));
    Ok((record, token, presented.value(SIGNATURE_KEY)))
}

/// TestInvokeAuthorizer: the authorizer `name` with this token and signature.
pub fn prepare_test(
    book: &AuthorizerBook,
    region: &str,
    name: &str,
    (token, signature): (Option<String>, Option<String>),
    presented: &Presented,
) -> Result<Invocation, Refusal> {
    let record = book
        .get(region, name)
        .map_err(|e| Refusal::NoAuthorizer(e.message))?;
    invocation(record, token, signature, presented)
}

fn invocation(
    record: &AuthorizerRecord,
    token: Option<String>,
    signature: Option<String>,
    presented: &Presented,
) -> Result<Invocation, Refusal> {
    let bad = |why: String| Refusal::BadSignature {
        authorizer: record.name.clone(),
        why,
    };
    let verified = if record.signing_disabled {
        false
    } else {
        let key_name = record.token_key_name.as_deref().unwrap_or_default();
        let token = token
            .as_deref()
            .ok_or_else(|| bad(format!("the token ({key_name}) is missing")))?;
        let sig = signature.ok_or_else(|| {
            bad(format!(
                "the token's signature ({SIGNATURE_KEY}) is missing"
            ))
        })?;
        let sig = decode_signature(&sig)
            .ok_or_else(|| bad("the token's signature is not base64".to_string()))?;
        if !record
            .keys()
            .iter()
            .any(|k| k.verifies(token.as_bytes(), &sig))
        {
            return Err(bad(
                "the token's signature does not verify with any of the authorizer's public keys"
                    .to_string(),
            ));
        }
        true
    };
    Ok(Invocation {
        authorizer: record.name.clone(),
        authorizer_arn: record.arn.clone(),
        function_arn: record.function_arn.clone(),
        event: presented.event(token.as_deref(), verified),
    })
}

impl Invocation {
    /// Invokes the function and validates its answer.
    pub async fn run(self, functions: &dyn Functions) -> Result<Decision, Refusal> {
        let body = serde_json::to_vec(&self.event).unwrap_or_default();
        let failed = |why: String, answer: Option<String>| Refusal::Failed {
            authorizer: self.authorizer.clone(),
            why,
            answer,
        };
        let answer = functions
            .invoke(&self.function_arn, body)
            .await
            .map_err(|why| {
                failed(
                    format!("the function {} failed: {why}", self.function_arn),
                    None,
                )
            })?;
        let shown = || {
            String::from_utf8_lossy(&answer)
                .chars()
                .take(512)
                .collect::<String>()
        };
        match read_answer(&answer) {
            Ok(Answer::Authenticated(verdict)) => Ok(Decision {
                authorizer: self.authorizer.clone(),
                authorizer_arn: self.authorizer_arn.clone(),
                verdict,
            }),
            Ok(Answer::Refused) => Err(Refusal::NotAuthenticated {
                authorizer: self.authorizer.clone(),
                answer: shown(),
            }),
            Err(why) => Err(failed(format!("invalid answer: {why}"), Some(shown()))),
        }
    }
}
