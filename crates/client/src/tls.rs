//! The device's TLS configuration: trust the given root (the mock's AmazonRootCA1.pem, or
//! Amazon's), present the device certificate, aws-lc-rs as the only provider.

use crate::ClientError;
use crate::lenient::{Lenient, SkipChecks, aws_supported};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use std::sync::Arc;

/// What the device presents and trusts.
#[derive(Debug, Clone)]
pub struct TlsOptions {
    pub root_pem: String,
    /// Device certificate, optionally followed by its CA (as `deviceCertAndCACert.crt`).
    pub cert_pem: Option<String>,
    pub key_pem: Option<String>,
    pub alpn: Vec<Vec<u8>>,
    /// Keep TLS session resumption on (rustls' default); off forces full handshakes.
    pub resumption: bool,
    /// Restrict to TLS 1.2 only.
    pub tls12_only: bool,
    /// Offer only the cipher suites AWS IoT lists (rustls also offers ECDHE CHACHA20 ones).
    pub aws_cipher_suites: bool,
    /// Server-certificate checks to skip (none by default).
    pub skip_checks: SkipChecks,
}

impl TlsOptions {
    pub fn new(root_pem: impl Into<String>) -> Self {
        Self {
            root_pem: root_pem.into(),
            cert_pem: None,
            key_pem: None,
            alpn: Vec::new(),
            resumption: false,
            tls12_only: false,
            aws_cipher_suites: false,
            skip_checks: SkipChecks::default(),
        }
    }

    pub fn identity(mut self, cert_pem: impl Into<String>, key_pem: impl Into<String>) -> Self {
        self.cert_pem = Some(cert_pem.into());
        self.key_pem = Some(key_pem.into());
        self
    }
}

/// Presents one certificate chain whatever the server asks. Unlike `with_client_auth_cert`, it
/// does not re-parse the leaf with webpki, so X.509 v1 device certificates (which AWS accepts)
/// can be presented.
#[derive(Debug)]
struct Presents(Arc<rustls::sign::CertifiedKey>);

impl rustls::client::ResolvesClientCert for Presents {
    fn resolve(
        &self,
        _: &[&[u8]],
        _: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

fn provider_keys() -> &'static dyn rustls::crypto::KeyProvider {
    rustls::crypto::aws_lc_rs::default_provider().key_provider
}

fn config_err(e: impl std::fmt::Display) -> ClientError {
    ClientError::Config(e.to_string())
}

/// The device's certificate chain and key, checked before any connection: both PEM, and the
/// key the one the certificate names.
fn identity(cert: &str, key: &str) -> Result<rustls::sign::CertifiedKey, ClientError> {
    let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| config_err(format!("the certificate is not PEM: {e}")))?;
    if chain.is_empty() {
        return Err(config_err("the certificate holds no PEM CERTIFICATE block"));
    }
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
        .map_err(|e| config_err(format!("the private key is not a PEM private key: {e}")))?;
    let signer = provider_keys()
        .load_private_key(key)
        .map_err(|e| config_err(format!("the private key cannot be used: {e}")))?;
    let certified = rustls::sign::CertifiedKey::new(chain, signer);
    match certified.keys_match() {
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => Err(
            config_err("the private key does not belong to the certificate"),
        ),
        // Keys that cannot be compared (an unusual algorithm) are left to the handshake.
        _ => Ok(certified),
    }
}

/// Builds a rustls client configuration from [`TlsOptions`].
pub fn client_config(opts: &TlsOptions) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    if opts.aws_cipher_suites {
        provider.cipher_suites.retain(aws_supported);
    }
    let provider = Arc::new(provider);
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(opts.root_pem.as_bytes()) {
        roots.add(cert.map_err(config_err)?).map_err(config_err)?;
    }
    let versions: &[&rustls::SupportedProtocolVersion] = if opts.tls12_only {
        &[&rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(config_err)?;
    let builder = if opts.skip_checks.any() {
        let inner =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(config_err)?;
        let lenient = Lenient {
            inner,
            skip: opts.skip_checks,
        };
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(lenient))
    } else {
        builder.with_root_certificates(roots)
    };
    let mut config = match (&opts.cert_pem, &opts.key_pem) {
        (Some(cert), Some(key)) => {
            let certified = identity(cert, key)?;
            builder.with_client_cert_resolver(Arc::new(Presents(Arc::new(certified))))
        }
        _ => builder.with_no_client_auth(),
    };
    config.alpn_protocols = opts.alpn.clone();
    if !opts.resumption {
        config.resumption = rustls::client::Resumption::disabled();
    }
    Ok(Arc::new(config))
}
