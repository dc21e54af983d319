//! The mock's root CA (the devices' `AmazonRootCA1.pem`) and what it issues: device
//! certificates for CreateKeysAndCertificate and CreateCertificateFromCsr, and the broker's
//! server certificate. Keys are RSA-2048 where AWS uses RSA-2048.

use crate::PkiError;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_RSA_SHA256, RsaKeySize, SerialNumber,
};
use std::time::Duration;
use time::OffsetDateTime;
use x509_parser::prelude::FromDer;

pub(crate) fn issue_err(e: impl std::fmt::Display) -> PkiError {
    PkiError::Issue(e.to_string())
}

/// The mock root CA: its certificate and the key that signs everything the mock issues.
pub struct MockCa {
    cert_pem: String,
    key_pem: String,
    pub(crate) issuer: Issuer<'static, KeyPair>,
}

/// A key pair and certificate minted for a device, as CreateKeysAndCertificate returns them.
#[derive(Debug, Clone)]
pub struct IssuedKeys {
    pub certificate_pem: String,
    /// PKCS#1 `-----BEGIN RSA PRIVATE KEY-----`, as AWS returns it.
    pub private_key_pem: String,
    /// SubjectPublicKeyInfo `-----BEGIN PUBLIC KEY-----`.
    pub public_key_pem: String,
}

/// A server certificate and its private key (PKCS#8 PEM).
#[derive(Debug, Clone)]
pub struct ServerIdentity {
    pub certificate_pem: String,
    pub private_key_pem: String,
}

/// AWS-issued device certificates expire at the end of 2049 (UTC).
fn aws_not_after() -> OffsetDateTime {
    rcgen::date_time_ymd(2049, 12, 31) + Duration::from_secs(86_399)
}

pub(crate) fn at_epoch(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub(crate) fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 20];
    aws_lc_rs::rand::fill(&mut bytes).map_err(issue_err)?;
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

fn root_name() -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "US");
    dn.push(DnType::OrganizationName, "iotmock");
    dn.push(DnType::CommonName, "iotmock Root CA 1");
    dn
}

impl MockCa {
    /// Mints a fresh RSA-2048 root, valid from `now` for 25 years.
    pub fn generate(now: i64) -> Result<Self, PkiError> {
        let key =
            KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048).map_err(issue_err)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = root_name();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = at_epoch(now - 3600);
        params.not_after = at_epoch(now + 25 * 365 * 86_400);
        params.serial_number = Some(random_serial()?);
        let cert = params.self_signed(&key).map_err(issue_err)?;
        let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
        Self::from_pem(&cert_pem, &key_pem)
    }

    /// Loads a root saved by [`MockCa::cert_pem`] and [`MockCa::key_pem`].
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let key = KeyPair::from_pem(key_pem).map_err(issue_err)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key).map_err(issue_err)?;
        Ok(Self {
            cert_pem: cert_pem.to_string(),
            key_pem: key_pem.to_string(),
            issuer,
        })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    fn device_params(
        &self,
        subject: DistinguishedName,
        now: i64,
    ) -> Result<CertificateParams, PkiError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = subject;
        params.not_before = at_epoch(now - 60);
        params.not_after = aws_not_after();
        params.serial_number = Some(random_serial()?);
        params.use_authority_key_identifier_extension = true;
        Ok(params)
    }

    /// CreateKeysAndCertificate: an RSA-2048 key pair and a certificate for it.
    pub fn issue_keys_and_certificate(&self, now: i64) -> Result<IssuedKeys, PkiError> {
        self.issue_keys_until(now, None)
    }

    /// An RSA-2048 key pair and a certificate for it valid until `not_after` (epoch seconds;
    /// `None`: AWS's 2049-12-31), as CreateProvisioningClaim's short-lived claim certificate.
    pub fn issue_keys_until(
        &self,
        now: i64,
        not_after: Option<i64>,
    ) -> Result<IssuedKeys, PkiError> {
        let key =
            KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048).map_err(issue_err)?;
        let mut subject = DistinguishedName::new();
        subject.push(DnType::CommonName, "AWS IoT Certificate");
        let mut params = self.device_params(subject, now)?;
        if let Some(end) = not_after {
            params.not_after = at_epoch(end);
        }
        let cert = params.signed_by(&key, &self.issuer).map_err(issue_err)?;
        Ok(IssuedKeys {
            certificate_pem: cert.pem(),
            private_key_pem: pkcs1_pem(key.serialized_der())?,
            public_key_pem: key.public_key_pem(),
        })
    }

    /// CreateCertificateFromCsr: the CSR's subject and public key, signed by the mock root.
    /// The CSR is read with x509-parser, so any extension requests it carries are accepted.
    pub fn issue_from_csr(&self, csr_der: &[u8], now: i64) -> Result<String, PkiError> {
        use x509_parser::certification_request::X509CertificationRequest;
        let (_, csr) = X509CertificationRequest::from_der(csr_der)
            .map_err(|e| PkiError::BadCsr(e.to_string()))?;
        let info = &csr.certification_request_info;
        if let Some(why) = crate::cert::key_kind(&info.subject_pki).refusal() {
            let why = why.replace("The certificate's", "The request's");
            return Err(PkiError::BadCsr(why));
        }
        let p521 = || {
            crate::cert::p521_verifies(
                &info.subject_pki,
                &csr.signature_algorithm,
                info.raw,
                &csr.signature_value.data,
            )
        };
        csr.verify_signature()
            .or_else(|e| if p521() { Ok(()) } else { Err(e) })
            .map_err(|e| PkiError::BadCsr(format!("its signature does not verify ({e})")))?;
        let spki = rcgen::SubjectPublicKeyInfo::from_der(info.subject_pki.raw)
            .map_err(|e| PkiError::BadCsr(format!("unsupported public key ({e})")))?;
        let subject = copy_name(&info.subject);
        let cert = self
            .device_params(subject, now)?
            .signed_by(&spki, &self.issuer)
            .map_err(issue_err)?;
        Ok(cert.pem())
    }
}

/// Copies a parsed X.509 name into rcgen's form, attribute by attribute.
fn copy_name(name: &x509_parser::x509::X509Name<'_>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for attr in name.iter_attributes() {
        let Some(arcs) = attr.attr_type().iter() else {
            continue;
        };
        let arcs: Vec<u64> = arcs.collect();
        if let Ok(value) = attr.as_str() {
            dn.push(DnType::from_oid(&arcs), value);
        }
    }
    dn
}

/// Unwraps PKCS#8 `PrivateKeyInfo` to the PKCS#1 `RSAPrivateKey` inside it, as PEM.
fn pkcs1_pem(pkcs8_der: &[u8]) -> Result<String, PkiError> {
    use x509_parser::der_parser::parse_der;
    let (_, info) = parse_der(pkcs8_der).map_err(issue_err)?;
    let items = info.as_sequence().map_err(issue_err)?;
    let key = items
        .get(2)
        .ok_or_else(|| issue_err("PKCS#8 key without a privateKey member"))?
        .as_slice()
        .map_err(issue_err)?;
    Ok(pem::encode_config(
        &pem::Pem::new("RSA PRIVATE KEY", key.to_vec()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CertInfo, parse_certificate_pem};

    const NOW: i64 = 1_800_000_000;

    fn root() -> MockCa {
        MockCa::generate(NOW).expect("root")
    }

    #[test]
    fn keys_and_certificate_are_rsa_and_signed_by_the_root() {
        let ca = root();
        let keys = ca.issue_keys_and_certificate(NOW).expect("issue");
        assert!(
            keys.private_key_pem
                .starts_with("-----BEGIN RSA PRIVATE KEY-----")
        );
        assert!(
            keys.public_key_pem
                .starts_with("-----BEGIN PUBLIC KEY-----")
        );
        let leaf = parse_certificate_pem(&keys.certificate_pem, "c").expect("leaf");
        let root = parse_certificate_pem(ca.cert_pem(), "r").expect("root");
        assert!(leaf.is_signed_by(&root));
        assert_eq!(leaf.common_name.as_deref(), Some("AWS IoT Certificate"));
        assert_eq!(leaf.not_after, 2_524_607_999);
        assert!(root.is_ca && !leaf.is_ca);
    }

    #[test]
    fn a_saved_root_reloads_and_keeps_signing() {
        let ca = root();
        let again = MockCa::from_pem(ca.cert_pem(), ca.key_pem()).expect("reload");
        let keys = again.issue_keys_and_certificate(NOW).expect("issue");
        let leaf = parse_certificate_pem(&keys.certificate_pem, "c").expect("leaf");
        let root: CertInfo = parse_certificate_pem(ca.cert_pem(), "r").expect("root");
        assert!(leaf.is_signed_by(&root));
    }

    #[test]
    fn csr_subject_and_key_are_kept() {
        let ca = root();
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "device-7");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Acme");
        let csr = params.serialize_request(&key).expect("csr");
        let pem = ca.issue_from_csr(csr.der(), NOW).expect("issue");
        let leaf = parse_certificate_pem(&pem, "c").expect("leaf");
        assert_eq!(leaf.common_name.as_deref(), Some("device-7"));
        assert!(leaf.subject.contains("O=Acme"), "{}", leaf.subject);
        assert_eq!(
            leaf.spki_raw,
            pem::parse(key.public_key_pem())
                .expect("spki")
                .into_contents()
        );
    }

    #[test]
    fn a_csr_that_is_not_der_is_refused() {
        let e = root().issue_from_csr(b"nope", NOW).unwrap_err();
        assert!(matches!(e, PkiError::BadCsr(_)));
    }
}
