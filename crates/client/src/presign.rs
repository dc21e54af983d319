//! The presigned URL of MQTT over WebSocket, as the AWS SDKs build it: SigV4 query
//! authentication of `GET /mqtt` for the signing name `iotdevicegateway`, `host` the only
//! signed header, the session token appended after signing (AWS IoT's rule). Signed with the
//! AWS SDK's own signer (`aws-sigv4`).

use aws_sigv4::http_request::{
    SessionTokenMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use std::time::{Duration, SystemTime};

/// AWS credentials, as the usual environment variables carry them.
#[derive(Debug, Clone)]
pub struct AwsCredentials {
    pub access_key: String,
    pub secret_key: String,
    pub session_token: Option<String>,
}

impl AwsCredentials {
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`; `None` without
    /// the first two.
    pub fn from_env() -> Option<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Some(Self {
            access_key: var("AWS_ACCESS_KEY_ID")?,
            secret_key: var("AWS_SECRET_ACCESS_KEY")?,
            session_token: var("AWS_SESSION_TOKEN"),
        })
    }
}

/// `/mqtt?X-Amz-...` for `host` (as the `Host` header will carry it: `name` or `name:port`)
/// in `region`, signed at `now`, valid for `expires`.
pub fn mqtt_path(
    host: &str,
    region: &str,
    creds: &AwsCredentials,
    now: SystemTime,
    expires: Duration,
) -> Result<String, String> {
    let identity = aws_credential_types::Credentials::new(
        &creds.access_key,
        &creds.secret_key,
        None,
        None,
        "iotmock",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(expires);
    settings.session_token_mode = SessionTokenMode::Exclude;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("iotdevicegateway")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let url = format!("https://{host}/mqtt");
    let headers = [("host", host)];
    let signable = SignableRequest::new("GET", &url, headers.into_iter(), SignableBody::Bytes(&[]))
        .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in instructions.params() {
        query.append_pair(k, v);
    }
    if let Some(token) = &creds.session_token {
        query.append_pair("X-Amz-Security-Token", token);
    }
    Ok(format!("/mqtt?{}", query.finish()))
}

/// The `Host` a WebSocket upgrade to `name` on `port` carries, as its signature names it:
/// `name:port`, the port left out when it is 443.
pub fn host(name: &str, port: &str) -> String {
    match port {
        "443" => name.to_string(),
        port => format!("{name}:{port}"),
    }
}

/// [`mqtt_path`] for `name` on `port`, signed now (the host's clock: the command line's
/// tools sign for the moment they connect), valid for an hour.
pub fn mqtt_path_now(
    name: &str,
    port: &str,
    region: &str,
    creds: &AwsCredentials,
) -> Result<String, String> {
    #[allow(clippy::disallowed_methods)]
    let now = SystemTime::now();
    mqtt_path(
        &host(name, port),
        region,
        creds,
        now,
        Duration::from_secs(3600),
    )
}
