//! X.509 for iotmock: parsing PEM and DER into [`CertInfo`], certificate ids, issuer and
//! signature checks (X.509 v1 included, as AWS accepts them), and issuance of certificates by
//! the mock's own root CA. No sockets, no clock: callers pass the time.

mod cert;
mod issue;
mod pemio;
mod server;
mod token;

pub use cert::{CertInfo, KeyKind, key_kind};
pub use issue::{IssuedKeys, MockCa, ServerIdentity};
pub use pemio::{parse_certificate_chain_pem, parse_certificate_pem, parse_csr_pem};
pub use server::{LARGE_CERT_BYTES, ServerCertKind, WRONG_NAME};
pub use token::{MIN_TOKEN_KEY_BITS, TokenKey, TokenSigner};

/// Why a certificate, key or CSR could not be read or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkiError {
    #[error("{field} is not PEM: no '-----BEGIN CERTIFICATE-----' block found")]
    NotPem { field: String },
    #[error("{field} holds a '{found}' PEM block where a CERTIFICATE is expected")]
    WrongPemType { field: String, found: String },
    #[error("{field} is not a valid X.509 certificate: {reason}")]
    BadCertificate { field: String, reason: String },
    #[error("The certificate signing request is not valid: {0}")]
    BadCsr(String),
    #[error("certificate issuance failed: {0}")]
    Issue(String),
}
