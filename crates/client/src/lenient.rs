//! Server-certificate checks a test device can be told to skip (to show that a conformance
//! runner catches a device that accepts an unknown CA, a wrong host name or an expired
//! certificate), and the cipher suites AWS IoT supports.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, SignatureScheme};
use std::sync::Arc;

/// Server-certificate checks to skip (all off: verify everything).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SkipChecks {
    /// Accept a certificate no trusted CA signed.
    pub issuer: bool,
    /// Accept a certificate for another host name.
    pub name: bool,
    /// Accept an expired certificate.
    pub expiry: bool,
}

impl SkipChecks {
    pub fn any(self) -> bool {
        self.issuer || self.name || self.expiry
    }

    fn skips(self, e: &CertificateError) -> bool {
        match e {
            CertificateError::UnknownIssuer => self.issuer,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                self.name
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => self.expiry,
            _ => false,
        }
    }
}

/// The standard verifier, except for the failures `skip` names. A certificate with an
/// unknown issuer cannot be checked further, so skipping the issuer accepts it outright.
#[derive(Debug)]
pub(crate) struct Lenient {
    pub inner: Arc<dyn ServerCertVerifier>,
    pub skip: SkipChecks,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let checked =
            self.inner
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now);
        match checked {
            Err(Error::InvalidCertificate(e)) if self.skip.skips(&e) => {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The TLS 1.2 suites AWS IoT does not list (the ECDHE CHACHA20-POLY1305 ones rustls offers).
pub(crate) fn aws_supported(suite: &rustls::SupportedCipherSuite) -> bool {
    !matches!(
        suite.suite(),
        rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
            | rustls::CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    )
}
