//! `--auth custom` (and the Custom_Auth_* cases): the case's mock gets an unsigned default
//! authorizer whose function, run in-process, admits the device's username and password with
//! the case's policies; the device connects to the port-443 listener with ALPN `mqtt`.

use crate::MockIotCore;
use anyhow::{Context, Result};
use iotmock_advisor::Config;
use serde_json::{Value, json};

/// The function's name (and the authorizer's).
pub(super) const FUNCTION: &str = "iotmock-advisor-auth";
/// The credentials the device is given.
pub(super) const USERNAME: &str = "advisor-device";
pub(super) const PASSWORD: &str = "iotmock-advisor-secret";

/// The authorizer's function: the device's password admits it as principal `advisor` with
/// the case's policies (refreshed hourly, ended daily unless a case says otherwise).
pub(super) fn function(config: &Config) -> impl Fn(Value) -> Result<Value, String> + use<> {
    let policies: Vec<String> = config.policies.iter().map(|(_, d)| d.clone()).collect();
    move |event: Value| {
        use base64::Engine;
        let password = event["protocolData"]["mqtt"]["password"]
            .as_str()
            .and_then(|p| base64::engine::general_purpose::STANDARD.decode(p).ok());
        if password.as_deref() != Some(PASSWORD.as_bytes()) {
            return Ok(json!({ "isAuthenticated": false }));
        }
        Ok(json!({
            "isAuthenticated": true,
            "principalId": "advisor",
            "policyDocuments": policies,
            "refreshAfterInSeconds": 3600,
            "disconnectAfterInSeconds": 86_400,
        }))
    }
}

/// Creates the authorizer and makes it the default.
pub(super) fn authorizer(mock: &MockIotCore) -> Result<()> {
    let region = mock.region().to_string();
    let arn = format!(
        "arn:aws:iot:{region}:{}:authorizer/{FUNCTION}",
        mock.account_id()
    );
    let function_arn = format!(
        "arn:aws:lambda:{region}:{}:function:{FUNCTION}",
        mock.account_id()
    );
    let fields = iotmock_authorizer::Fields {
        function_arn: Some(function_arn),
        signing_disabled: Some(true),
        ..Default::default()
    };
    let now = mock.now_millis();
    mock.authorizers()
        .change(|b| {
            b.create(&region, FUNCTION, arn, fields, now)?;
            b.set_default(&region, FUNCTION).map(|_| ())
        })
        .context("creating the advisor's custom authorizer")
}
