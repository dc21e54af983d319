//! Where load identities come from: certificate files given on the command line (any
//! MQTT-over-TLS broker, mosquitto included), or N devices registered through the mock's API
//! (ECDSA P-256 from a CSR, or RSA-2048 from CreateKeysAndCertificate) with an allow-all policy.

use crate::api::{ApiError, call};
use crate::tls::TlsOptions;
use serde_json::json;
use std::path::{Path, PathBuf};

/// Why registering, saving or loading device identities failed.
#[derive(Debug, thiserror::Error)]
pub enum DevicesError {
    /// Reading or writing the certs dir.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A call to the mock's API failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Generating a device's ECDSA key pair failed.
    #[error("cannot generate a device key: {0}")]
    KeyGen(#[source] rcgen::Error),
    /// Building the PEM certificate signing request failed.
    #[error("cannot build the certificate signing request: {0}")]
    Csr(#[source] rcgen::Error),
}

/// Key type of registered devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyType {
    Ec,
    Rsa,
}

const POLICY: &str = "iotmock-load-allow-all";
const POLICY_DOC: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#;

/// The mock's trust anchor, served by its API.
pub async fn root_ca(api: &str) -> Result<String, ApiError> {
    crate::api::get_text(api, "/iotmock/AmazonRootCA1.pem").await
}

/// Saves registered identities to `dir` (`device-N.crt`, `device-N.key`, `ca.pem`), so later
/// runs reuse them (and a device deactivated between runs shows up under its refusal).
pub fn save(dir: &Path, ids: &[TlsOptions]) -> Result<(), DevicesError> {
    std::fs::create_dir_all(dir).map_err(|source| DevicesError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    if let Some(first) = ids.first() {
        write(dir.join("ca.pem"), &first.root_pem)?;
    }
    for (i, id) in ids.iter().enumerate() {
        write(
            dir.join(format!("device-{i}.crt")),
            id.cert_pem.as_deref().unwrap_or_default(),
        )?;
        write(
            dir.join(format!("device-{i}.key")),
            id.key_pem.as_deref().unwrap_or_default(),
        )?;
    }
    Ok(())
}

fn write(path: PathBuf, contents: &str) -> Result<(), DevicesError> {
    std::fs::write(&path, contents).map_err(|source| DevicesError::Io { path, source })
}

/// Identities saved by [`save`], in order; empty when `dir` holds none.
pub fn load(dir: &Path) -> Result<Vec<TlsOptions>, DevicesError> {
    let Ok(root) = std::fs::read_to_string(dir.join("ca.pem")) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for i in 0.. {
        let (crt, key) = (
            dir.join(format!("device-{i}.crt")),
            dir.join(format!("device-{i}.key")),
        );
        let (Ok(crt), Ok(key)) = (std::fs::read_to_string(crt), std::fs::read_to_string(key))
        else {
            break;
        };
        out.push(TlsOptions::new(root.clone()).identity(crt, key));
    }
    Ok(out)
}

async fn register_one(
    api: &str,
    key_type: KeyType,
) -> Result<(String, String, String), DevicesError> {
    let (out, key_pem) = match key_type {
        KeyType::Rsa => {
            let out = call(api, "POST", "/keys-and-certificate?setAsActive=true", None).await?;
            let key = out["keyPair"]["PrivateKey"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            (out, key)
        }
        KeyType::Ec => {
            let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
                .map_err(DevicesError::KeyGen)?;
            let mut params = rcgen::CertificateParams::default();
            params.distinguished_name = rcgen::DistinguishedName::new();
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, "iotmock load device");
            let csr = params
                .serialize_request(&key)
                .and_then(|c| c.pem())
                .map_err(DevicesError::Csr)?;
            let out = call(
                api,
                "POST",
                "/certificates?setAsActive=true",
                Some(json!({ "certificateSigningRequest": csr })),
            )
            .await?;
            (out, key.serialize_pem())
        }
    };
    let cert = out["certificatePem"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let arn = out["certificateArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    Ok((cert, key_pem, arn))
}

/// Registers `n` ACTIVE devices with an allow-all policy; returns their TLS identities.
pub async fn register(
    api: &str,
    n: usize,
    key_type: KeyType,
    root_pem: &str,
) -> Result<Vec<TlsOptions>, DevicesError> {
    match call(
        api,
        "POST",
        &format!("/policies/{POLICY}"),
        Some(json!({ "policyDocument": POLICY_DOC })),
    )
    .await
    {
        // 409: the policy exists already (an earlier run created it).
        Ok(_) => {}
        Err(e) if e.status() == Some(hyper::StatusCode::CONFLICT) => {}
        Err(e) => return Err(e.into()),
    }
    let mut out = Vec::with_capacity(n);
    let bar = registration_bar(n);
    for _ in 0..n {
        bar.inc(1);
        let (cert, key, arn) = register_one(api, key_type).await?;
        call(
            api,
            "PUT",
            &format!("/target-policies/{POLICY}"),
            Some(json!({ "target": arn })),
        )
        .await?;
        out.push(TlsOptions::new(root_pem).identity(cert, key));
    }
    bar.finish_and_clear();
    Ok(out)
}

/// A bar with the devices registered so far and the time left, on a terminal only.
fn registration_bar(n: usize) -> indicatif::ProgressBar {
    use std::io::IsTerminal as _;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(n as u64);
    let template = "{bar:30} {pos}/{len} devices registered, {per_sec}, ETA {eta}";
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}
