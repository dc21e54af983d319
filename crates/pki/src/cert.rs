//! [`CertInfo`]: the facts about one certificate that the registry and broker need, owned.

use crate::PkiError;
use x509_parser::prelude::{FromDer, X509Certificate};

/// One parsed certificate, owning its DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub der: Vec<u8>,
    /// certificateId: lowercase hex SHA-256 of the DER.
    pub id: String,
    /// Subject and issuer as raw DER names (compared byte for byte to find issuers).
    pub subject_raw: Vec<u8>,
    pub issuer_raw: Vec<u8>,
    /// Subject and issuer as `CN=..., O=...` text, for logs and messages.
    pub subject: String,
    pub issuer: String,
    pub common_name: Option<String>,
    /// Validity window, seconds since the epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// basicConstraints CA:TRUE.
    pub is_ca: bool,
    /// X.509 version as written in the certificate (0 = v1, 2 = v3).
    pub version: u32,
    pub serial_hex: String,
    pub spki_raw: Vec<u8>,
    /// Subject and issuer attributes by AWS's policy-variable names (`CommonName`, ...), in
    /// order, then the alternative names (`AlternativeName.DNSName`, ...).
    pub subject_attrs: Vec<(String, String)>,
    pub issuer_attrs: Vec<(String, String)>,
    /// The subject's key: what AWS's registration rules look at.
    pub key: KeyKind,
}

/// A certificate's public key, as far as registration rules care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    Rsa {
        bits: usize,
    },
    /// `P-256`, `P-384`, `P-521`, or the curve's OID.
    Ec {
        curve: String,
    },
    /// Any other algorithm, by OID.
    Other(String),
}

impl KeyKind {
    /// Why AWS IoT refuses a device certificate with this key, if it does: RSA keys under 2048
    /// bits, EC keys off the NIST curves P-256, P-384 and P-521, and other algorithms.
    pub fn refusal(&self) -> Option<String> {
        match self {
            KeyKind::Rsa { bits } if *bits < 2048 => Some(format!(
                "The certificate's RSA key has {bits} bits; AWS IoT accepts RSA keys of 2048 bits or more"
            )),
            KeyKind::Ec { curve } if !["P-256", "P-384", "P-521"].contains(&curve.as_str()) => {
                Some(format!(
                    "The certificate's EC key is on curve {curve}; AWS IoT accepts P-256, P-384 and P-521"
                ))
            }
            KeyKind::Other(oid) => Some(format!(
                "The certificate's key algorithm ({oid}) is not one AWS IoT accepts (RSA or ECDSA)"
            )),
            _ => None,
        }
    }
}

/// The kind of key an X.509 SubjectPublicKeyInfo holds.
pub fn key_kind(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> KeyKind {
    use x509_parser::public_key::PublicKey;
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => KeyKind::Rsa {
            bits: rsa.key_size(),
        },
        Ok(PublicKey::EC(_)) => {
            let oid = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string())
                .unwrap_or_default();
            let curve = match oid.as_str() {
                "1.2.840.10045.3.1.7" => "P-256".to_string(),
                "1.3.132.0.34" => "P-384".to_string(),
                "1.3.132.0.35" => "P-521".to_string(),
                _ => oid,
            };
            KeyKind::Ec { curve }
        }
        _ => KeyKind::Other(spki.algorithm.algorithm.to_id_string()),
    }
}

/// The attribute names AWS IoT's `iot:Certificate.Subject.*` variables use, by OID.
fn aws_attribute_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CommonName",
        "2.5.4.6" => "Country",
        "2.5.4.10" => "Organization",
        "2.5.4.11" => "OrganizationalUnit",
        "2.5.4.8" => "State",
        "2.5.4.7" => "Locality",
        "2.5.4.5" => "SerialNumber",
        "2.5.4.12" => "Title",
        "2.5.4.4" => "Surname",
        "2.5.4.42" => "GivenName",
        "2.5.4.43" => "Initials",
        "2.5.4.65" => "Pseudonym",
        "2.5.4.44" => "GenerationQualifier",
        "2.5.4.46" => "DistinguishedNameQualifier",
        _ => return None,
    })
}

fn attributes(name: &x509_parser::x509::X509Name<'_>) -> Vec<(String, String)> {
    name.iter_attributes()
        .filter_map(|a| {
            let key = aws_attribute_name(&a.attr_type().to_id_string())?;
            Some((key.to_string(), a.as_str().ok()?.to_string()))
        })
        .collect()
}

/// The alternative names of a subjectAltName or issuerAltName extension, by AWS's variable
/// names (`AlternativeName.DNSName`, `.RFC822Name`, `.UniformResourceIdentifier`,
/// `.IPAddress`, `.DirectoryName`).
fn alt_names(names: &[x509_parser::extensions::GeneralName<'_>]) -> Vec<(String, String)> {
    use x509_parser::extensions::GeneralName as G;
    names
        .iter()
        .filter_map(|n| {
            let (kind, value) = match n {
                G::DNSName(v) => ("DNSName", (*v).to_string()),
                G::RFC822Name(v) => ("RFC822Name", (*v).to_string()),
                G::URI(v) => ("UniformResourceIdentifier", (*v).to_string()),
                G::DirectoryName(dn) => ("DirectoryName", dn.to_string()),
                G::IPAddress(bytes) => ("IPAddress", ip_text(bytes)?),
                _ => return None,
            };
            Some((format!("AlternativeName.{kind}"), value))
        })
        .collect()
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes)
            .ok()
            .map(|b| std::net::Ipv4Addr::from(b).to_string()),
        16 => <[u8; 16]>::try_from(bytes)
            .ok()
            .map(|b| std::net::Ipv6Addr::from(b).to_string()),
        _ => None,
    }
}

/// ECDSA over P-521 with SHA-512, which x509-parser's verifier does not take: whether `key`
/// (a P-521 public key) signed `message` (a DER ECDSA signature), under the algorithm
/// `ecdsa-with-SHA512`.
pub fn p521_verifies(
    key: &x509_parser::x509::SubjectPublicKeyInfo<'_>,
    algorithm: &x509_parser::x509::AlgorithmIdentifier<'_>,
    message: &[u8],
    signature: &[u8],
) -> bool {
    use aws_lc_rs::signature::{ECDSA_P521_SHA512_ASN1, UnparsedPublicKey};
    let sha512 = algorithm.algorithm.to_id_string() == "1.2.840.10045.4.3.4";
    let p521 = matches!(key_kind(key), KeyKind::Ec { curve } if curve == "P-521");
    let point = &key.subject_public_key.data;
    sha512
        && p521
        && UnparsedPublicKey::new(&ECDSA_P521_SHA512_ASN1, point)
            .verify(message, signature)
            .is_ok()
}

/// Named values: `(variable name, value)`.
type Named = Vec<(String, String)>;

/// The certificate's subject and issuer alternative names.
fn alternative_names(cert: &X509Certificate<'_>) -> (Named, Named) {
    use x509_parser::extensions::ParsedExtension as P;
    let (mut subject, mut issuer) = (Vec::new(), Vec::new());
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            P::SubjectAlternativeName(san) => subject.extend(alt_names(&san.general_names)),
            P::IssuerAlternativeName(ian) => issuer.extend(alt_names(&ian.general_names)),
            _ => {}
        }
    }
    (subject, issuer)
}

impl CertInfo {
    /// Parses one DER certificate; `field` names the input in error messages.
    pub fn from_der(der: &[u8], field: &str) -> Result<Self, PkiError> {
        let bad = |reason: String| PkiError::BadCertificate {
            field: field.to_string(),
            reason,
        };
        let (rest, cert) = X509Certificate::from_der(der).map_err(|e| bad(e.to_string()))?;
        if !rest.is_empty() {
            return Err(bad(format!(
                "{} trailing bytes after the certificate",
                rest.len()
            )));
        }
        let tbs = &cert.tbs_certificate;
        let (subject_alt, issuer_alt) = alternative_names(&cert);
        let mut subject_attrs = attributes(&tbs.subject);
        subject_attrs.extend(subject_alt);
        let mut issuer_attrs = attributes(&tbs.issuer);
        issuer_attrs.extend(issuer_alt);
        Ok(CertInfo {
            der: der.to_vec(),
            id: iotmock_model::certificate_id(der),
            subject_raw: tbs.subject.as_raw().to_vec(),
            issuer_raw: tbs.issuer.as_raw().to_vec(),
            subject: tbs.subject.to_string(),
            issuer: tbs.issuer.to_string(),
            common_name: tbs
                .subject
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .map(str::to_string),
            not_before: tbs.validity.not_before.timestamp(),
            not_after: tbs.validity.not_after.timestamp(),
            is_ca: cert.is_ca(),
            version: tbs.version.0,
            serial_hex: hex::encode(tbs.raw_serial()),
            spki_raw: tbs.subject_pki.raw.to_vec(),
            subject_attrs,
            issuer_attrs,
            key: key_kind(&tbs.subject_pki),
        })
    }

    /// The certificate as PEM, 64-column base64, `\n` line ends.
    pub fn pem(&self) -> String {
        pem::encode_config(
            &pem::Pem::new("CERTIFICATE", self.der.clone()),
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        )
    }

    /// True when `issuer`'s subject is this certificate's issuer and its key verifies the
    /// signature. Works for X.509 v1 certificates, which webpki refuses.
    pub fn is_signed_by(&self, issuer: &CertInfo) -> bool {
        self.issuer_raw == issuer.subject_raw && self.signature_verifies_with(issuer)
    }

    /// True when `issuer`'s public key verifies this certificate's signature (names not compared).
    pub fn signature_verifies_with(&self, issuer: &CertInfo) -> bool {
        let (Ok((_, me)), Ok((_, ca))) = (
            X509Certificate::from_der(&self.der),
            X509Certificate::from_der(&issuer.der),
        ) else {
            return false;
        };
        me.verify_signature(Some(ca.public_key())).is_ok()
            || p521_verifies(
                ca.public_key(),
                &me.signature_algorithm,
                me.tbs_certificate.as_ref(),
                &me.signature_value.data,
            )
    }

    /// True when `now` (seconds since the epoch) lies inside the validity window.
    pub fn is_valid_at(&self, now: i64) -> bool {
        self.not_before <= now && now <= self.not_after
    }
}

#[cfg(test)]
mod tests {
    use super::CertInfo;
    use rcgen::{CertificateParams, KeyPair, SanType};

    #[test]
    fn alternative_names_are_read_by_aws_variable_names() {
        let mut params = CertificateParams::new(vec!["dev.example.com".to_string()]).unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress("10.1.2.3".parse().unwrap()));
        params
            .subject_alt_names
            .push(SanType::Rfc822Name("ops@example.com".try_into().unwrap()));
        params
            .subject_alt_names
            .push(SanType::URI("urn:device:7".try_into().unwrap()));
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let info = CertInfo::from_der(cert.der(), "cert").unwrap();
        let has = |k: &str, v: &str| info.subject_attrs.contains(&(k.to_string(), v.to_string()));
        assert!(has("AlternativeName.DNSName", "dev.example.com"));
        assert!(has("AlternativeName.IPAddress", "10.1.2.3"));
        assert!(has("AlternativeName.RFC822Name", "ops@example.com"));
        assert!(has(
            "AlternativeName.UniformResourceIdentifier",
            "urn:device:7"
        ));
    }
}
