//! Test support: [`TestCa`] mints the certificates a customer brings to AWS IoT (their own CA,
//! the verification certificate for the registration code, device certificates), in memory.
//! Panics are acceptable here: this crate only runs inside tests.
#![allow(clippy::unwrap_used)]
// Test certificates are valid around the host's real time, which the mock reads too.
#![allow(clippy::disallowed_methods)]

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use time::{Duration, OffsetDateTime};

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct Minted {
    pub cert_pem: String,
    pub key_pem: String,
}

/// A customer CA with its key (ECDSA P-256, fast to mint).
pub struct TestCa {
    pub minted: Minted,
    issuer: Issuer<'static, KeyPair>,
}

fn name(cn: &str, org: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, org);
    dn.push(DnType::CommonName, cn);
    dn
}

fn leaf_params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(cn, "iotmock tests");
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(365);
    params
}

impl TestCa {
    /// A self-signed CA (basicConstraints CA:TRUE) with the given common name.
    pub fn new(cn: &str) -> Self {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = leaf_params(cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        let minted = Minted {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        };
        let issuer = Issuer::new(params, key);
        Self { minted, issuer }
    }

    pub fn pem(&self) -> &str {
        &self.minted.cert_pem
    }

    /// A leaf signed by this CA, valid for a year from an hour ago.
    pub fn leaf(&self, cn: &str) -> Minted {
        self.leaf_with(leaf_params(cn))
    }

    /// A TLS server's certificate for `host` (its subjectAltName), signed by this CA.
    pub fn server_leaf(&self, host: &str) -> Minted {
        let mut params = leaf_params(host);
        params.subject_alt_names = vec![rcgen::SanType::DnsName(host.try_into().unwrap())];
        self.leaf_with(params)
    }

    /// A leaf signed by this CA whose validity ended a day ago.
    pub fn expired_leaf(&self, cn: &str) -> Minted {
        let mut params = leaf_params(cn);
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(30);
        params.not_after = now - Duration::days(1);
        self.leaf_with(params)
    }

    /// The proof-of-possession certificate: CN = registration code, signed by this CA.
    pub fn verification_cert(&self, registration_code: &str) -> Minted {
        self.leaf(registration_code)
    }

    /// A leaf signed by this CA with a key for `alg` (P-384, P-521, RSA ...).
    pub fn leaf_on(&self, cn: &str, alg: &'static rcgen::SignatureAlgorithm) -> Minted {
        let key = match alg == &rcgen::PKCS_RSA_SHA256 {
            true => KeyPair::generate_rsa_for(alg, rcgen::RsaKeySize::_2048).unwrap(),
            false => KeyPair::generate_for(alg).unwrap(),
        };
        let cert = leaf_params(cn).signed_by(&key, &self.issuer).unwrap();
        Minted {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    fn leaf_with(&self, params: CertificateParams) -> Minted {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Minted {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// A self-signed, non-CA certificate.
pub fn self_signed(cn: &str) -> Minted {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = leaf_params(cn).self_signed(&key).unwrap();
    Minted {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// A PEM certificate signing request for a fresh P-256 key.
pub fn csr(cn: &str) -> (String, String) {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let req = leaf_params(cn).serialize_request(&key).unwrap();
    (req.pem().unwrap(), key.serialize_pem())
}
