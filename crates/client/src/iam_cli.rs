//! `iotmock iam get|put-policy|delete-policy|set-identity|clear-identity`: the IAM policies
//! of an access key and the Cognito identity it stands for, for SigV4 callers of a running
//! mock (MQTT over WebSocket). Without a policy, an access key may do every IoT action.

use crate::api::{ApiError, call};
use clap::{Args, Subcommand};
use serde_json::Value;

#[derive(Debug, Subcommand)]
pub enum IamCmd {
    /// The access key's policies and Cognito identity.
    Get(Key),
    /// Set (or replace) one IAM policy of the access key.
    PutPolicy(PutPolicyArgs),
    /// Remove one IAM policy of the access key.
    DeletePolicy(PolicyArgs),
    /// The credentials stand for this Cognito identity (its attached IoT policies must allow too).
    SetIdentity(IdentityArgs),
    /// The credentials stand for an IAM user or role again.
    ClearIdentity(Key),
}

#[derive(Debug, Clone, Args)]
pub struct Key {
    #[command(flatten)]
    pub api: crate::shadow_cli::ApiUrl,
    /// The access key id (AWS_ACCESS_KEY_ID of the caller).
    #[arg(long)]
    pub access_key: String,
}

#[derive(Debug, Clone, Args)]
pub struct PolicyArgs {
    #[command(flatten)]
    pub key: Key,
    #[arg(long)]
    pub policy_name: String,
}

#[derive(Debug, Clone, Args)]
pub struct PutPolicyArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// The policy document: JSON text, or `file://path` as the aws CLI takes it.
    #[arg(long)]
    pub policy_document: String,
}

#[derive(Debug, Clone, Args)]
pub struct IdentityArgs {
    #[command(flatten)]
    pub key: Key,
    /// The Cognito identity id (`region:uuid`).
    #[arg(long)]
    pub identity_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum IamCliError {
    #[error("Error: cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("Error: the policy document is not JSON: {0}")]
    Document(serde_json::Error),
    #[error("Error: {0}")]
    Api(#[from] ApiError),
}

fn document(text: &str) -> Result<Value, IamCliError> {
    let text = match text.strip_prefix("file://") {
        Some(path) => std::fs::read_to_string(path).map_err(|source| IamCliError::Read {
            path: path.to_string(),
            source,
        })?,
        None => text.to_string(),
    };
    serde_json::from_str(&text).map_err(IamCliError::Document)
}

fn base(key: &Key) -> String {
    format!("/iotmock/iam/access-keys/{}", key.access_key)
}

/// Runs one command and prints the access key's state after it.
pub async fn run_iam(cmd: IamCmd) -> Result<(), IamCliError> {
    let (key, method, path, body) = match &cmd {
        IamCmd::Get(k) => (k, "GET", base(k), None),
        IamCmd::PutPolicy(a) => {
            let k = &a.policy.key;
            let path = format!("{}/policies/{}", base(k), a.policy.policy_name);
            (k, "PUT", path, Some(document(&a.policy_document)?))
        }
        IamCmd::DeletePolicy(a) => {
            let path = format!("{}/policies/{}", base(&a.key), a.policy_name);
            (&a.key, "DELETE", path, None)
        }
        IamCmd::SetIdentity(a) => {
            let body = serde_json::json!({ "identityId": a.identity_id });
            (
                &a.key,
                "PUT",
                format!("{}/identity", base(&a.key)),
                Some(body),
            )
        }
        IamCmd::ClearIdentity(k) => (k, "DELETE", format!("{}/identity", base(k)), None),
    };
    let answer = call(&key.api.endpoint_url, method, &path, body).await?;
    println!(
        "{}",
        serde_json::to_string_pretty(&answer).unwrap_or_default()
    );
    Ok(())
}
