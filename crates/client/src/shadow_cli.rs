//! `iotmock shadow get|update|delete|list`: Device Shadow over the iot-data HTTP API of a
//! running mock (the same calls `aws iot-data` makes), printing the answer as JSON.

use crate::api::{ApiError, call_in};
use clap::{Args, Subcommand};
use serde_json::Value;

#[derive(Debug, Subcommand)]
pub enum ShadowCmd {
    /// GetThingShadow: print the shadow document.
    Get(Target),
    /// UpdateThingShadow: send a state document, print the accepted one.
    Update(UpdateArgs),
    /// DeleteThingShadow.
    Delete(Target),
    /// ListNamedShadowsForThing.
    List(Endpoint),
}

/// Where a running mock's API is.
#[derive(Debug, Clone, Args)]
pub struct ApiUrl {
    /// The mock's API (`--endpoint-url` of the aws CLI).
    #[arg(
        long,
        env = "IOTMOCK_ENDPOINT_URL",
        default_value = "http://127.0.0.1:4580"
    )]
    pub endpoint_url: String,
}

#[derive(Debug, Clone, Args)]
pub struct Endpoint {
    #[command(flatten)]
    pub api: ApiUrl,
    /// The region whose shadows to use (default: the mock's).
    #[arg(long)]
    pub region: Option<String>,
    #[arg(long, short = 't')]
    pub thing_name: String,
}

#[derive(Debug, Clone, Args)]
pub struct Target {
    #[command(flatten)]
    pub endpoint: Endpoint,
    /// A named shadow (the classic shadow without it).
    #[arg(long, short = 'n')]
    pub shadow_name: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub target: Target,
    /// The request document, e.g. '{"state":{"desired":{"on":true}}}', or @FILE.
    #[arg(long, short = 'p')]
    pub payload: String,
}

/// Why a shadow command failed.
#[derive(Debug, thiserror::Error)]
pub enum ShadowCliError {
    #[error("Error: cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("Error: the payload is not JSON: {0}")]
    Payload(serde_json::Error),
    #[error("Error: {0}")]
    Api(#[from] ApiError),
}

fn path(t: &Target) -> String {
    let base = format!("/things/{}/shadow", t.endpoint.thing_name);
    match &t.shadow_name {
        Some(n) => format!("{base}?name={n}"),
        None => base,
    }
}

fn payload(p: &str) -> Result<Value, ShadowCliError> {
    let text = match p.strip_prefix('@') {
        Some(file) => std::fs::read_to_string(file).map_err(|source| ShadowCliError::Read {
            path: file.to_string(),
            source,
        })?,
        None => p.to_string(),
    };
    serde_json::from_str(&text).map_err(ShadowCliError::Payload)
}

/// Runs one shadow command and prints its answer.
pub async fn run_shadow(cmd: ShadowCmd) -> Result<(), ShadowCliError> {
    let (e, method, path, body) = match &cmd {
        ShadowCmd::Get(t) => (&t.endpoint, "GET", path(t), None),
        ShadowCmd::Delete(t) => (&t.endpoint, "DELETE", path(t), None),
        ShadowCmd::Update(u) => (
            &u.target.endpoint,
            "POST",
            path(&u.target),
            Some(payload(&u.payload)?),
        ),
        ShadowCmd::List(e) => {
            let p = format!(
                "/api/things/shadow/ListNamedShadowsForThing/{}",
                e.thing_name
            );
            (e, "GET", p, None)
        }
    };
    let answer = call_in(
        &e.api.endpoint_url,
        e.region.as_deref(),
        method,
        &path,
        body,
    )
    .await?;
    println!(
        "{}",
        serde_json::to_string_pretty(&answer).unwrap_or_default()
    );
    Ok(())
}
