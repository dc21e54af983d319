//! PEM input: certificates, chains and CSRs, with errors that say what was found instead.

use crate::{CertInfo, PkiError};

const CERT_TAG: &str = "CERTIFICATE";

fn blocks(text: &str, field: &str) -> Result<Vec<pem::Pem>, PkiError> {
    match pem::parse_many(text) {
        Ok(b) if !b.is_empty() => Ok(b),
        Ok(_) => Err(PkiError::NotPem {
            field: field.to_string(),
        }),
        Err(e) => Err(PkiError::BadCertificate {
            field: field.to_string(),
            reason: format!("malformed PEM ({e})"),
        }),
    }
}

/// The first certificate in `text`; `field` names the request member in error messages.
pub fn parse_certificate_pem(text: &str, field: &str) -> Result<CertInfo, PkiError> {
    let first = blocks(text, field)?.into_iter().next();
    let block = first.ok_or_else(|| PkiError::NotPem {
        field: field.to_string(),
    })?;
    certificate_from_block(&block, field)
}

/// Every certificate in `text`, in order (leaf first, as TLS and `cat cert ca` write them).
pub fn parse_certificate_chain_pem(text: &str, field: &str) -> Result<Vec<CertInfo>, PkiError> {
    blocks(text, field)?
        .iter()
        .map(|b| certificate_from_block(b, field))
        .collect()
}

fn certificate_from_block(block: &pem::Pem, field: &str) -> Result<CertInfo, PkiError> {
    if block.tag() != CERT_TAG {
        return Err(PkiError::WrongPemType {
            field: field.to_string(),
            found: block.tag().to_string(),
        });
    }
    CertInfo::from_der(block.contents(), field)
}

/// The DER of a PKCS#10 certificate signing request given as PEM.
pub fn parse_csr_pem(text: &str) -> Result<Vec<u8>, PkiError> {
    let block = pem::parse(text).map_err(|e| PkiError::BadCsr(format!("not PEM ({e})")))?;
    match block.tag() {
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => Ok(block.into_contents()),
        other => Err(PkiError::BadCsr(format!(
            "found a '{other}' PEM block where a CERTIFICATE REQUEST is expected"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_without_pem_is_refused_by_name() {
        let e = parse_certificate_pem("hello", "certificatePem").unwrap_err();
        assert!(e.to_string().contains("certificatePem is not PEM"), "{e}");
    }

    #[test]
    fn a_key_where_a_certificate_belongs_is_named() {
        let key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let e = parse_certificate_pem(key, "caCertificate").unwrap_err();
        assert_eq!(
            e.to_string(),
            "caCertificate holds a 'PRIVATE KEY' PEM block where a CERTIFICATE is expected"
        );
    }

    #[test]
    fn garbage_inside_a_certificate_block_is_refused() {
        let bad = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let e = parse_certificate_pem(bad, "certificatePem").unwrap_err();
        assert!(matches!(e, PkiError::BadCertificate { .. }), "{e}");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in ".{0,400}") {
            let _ = parse_certificate_chain_pem(&s, "x");
            let _ = parse_csr_pem(&s);
        }

        #[test]
        fn arbitrary_der_in_a_certificate_block_never_panics(der in proptest::collection::vec(0u8..=255, 0..600)) {
            let text = pem::encode(&pem::Pem::new("CERTIFICATE", der));
            let _ = parse_certificate_pem(&text, "x");
        }
    }
}
