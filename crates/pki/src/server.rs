//! The broker's server certificate, and the deliberately wrong ones a device must refuse
//! (Device Advisor's TLS cases): signed by a CA the device does not trust, naming another
//! host, expired, or padded well past the usual size.

use crate::PkiError;
use crate::issue::{MockCa, ServerIdentity, at_epoch, issue_err, random_serial};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    PKCS_ECDSA_P256_SHA256,
};

/// Which server certificate the broker presents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ServerCertKind {
    /// Issued by the mock root for the endpoint's names.
    #[default]
    Standard,
    /// As `Standard`, padded with extra names to at least [`LARGE_CERT_BYTES`] of DER (AWS's
    /// production chain is about 4 KB; Device Advisor's large certificate is about 20% more).
    Large,
    /// For the right names, but signed by a CA the device was never given.
    Untrusted,
    /// Signed by the mock root, for a host name the device did not ask for.
    WrongName,
    /// Signed by the mock root for the right names, but expired a day ago.
    Expired,
}

/// The DER size the large certificate reaches at least.
pub const LARGE_CERT_BYTES: usize = 5 * 1024;

/// The host name the wrong-name certificate is issued for.
pub const WRONG_NAME: &str = "not-this-endpoint.iotmock.invalid";

const DAY: i64 = 86_400;

fn params(names: &[String], now: i64) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::new(names.to_vec()).map_err(issue_err)?;
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        names.first().map(String::as_str).unwrap_or("localhost"),
    );
    params.distinguished_name = dn;
    params.not_before = at_epoch(now - 3600);
    params.not_after = at_epoch(now + 365 * DAY);
    params.serial_number = Some(random_serial()?);
    params.use_authority_key_identifier_extension = true;
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    Ok(params)
}

/// A self-signed CA nobody was told to trust.
fn rogue_ca(now: i64) -> Result<(String, Issuer<'static, KeyPair>), PkiError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(issue_err)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "iotmock Untrusted CA");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.not_before = at_epoch(now - 3600);
    params.not_after = at_epoch(now + 365 * DAY);
    params.serial_number = Some(random_serial()?);
    let cert = params.self_signed(&key).map_err(issue_err)?;
    let pem = cert.pem();
    let issuer = Issuer::from_ca_cert_pem(&pem, key).map_err(issue_err)?;
    Ok((pem, issuer))
}

impl MockCa {
    /// A P-256 server certificate for the broker, valid for the given DNS names and IPs.
    pub fn issue_server(&self, names: &[String], now: i64) -> Result<ServerIdentity, PkiError> {
        self.issue_server_kind(names, now, ServerCertKind::Standard)
    }

    /// A server certificate of the given kind (the chain in `certificate_pem`, leaf first).
    pub fn issue_server_kind(
        &self,
        names: &[String],
        now: i64,
        kind: ServerCertKind,
    ) -> Result<ServerIdentity, PkiError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(issue_err)?;
        let certificate_pem = match kind {
            ServerCertKind::Standard => self.sign(params(names, now)?, &key)?,
            ServerCertKind::Large => self.sign(padded(names, now)?, &key)?,
            ServerCertKind::WrongName => self.sign(params(&[WRONG_NAME.into()], now)?, &key)?,
            ServerCertKind::Expired => {
                let mut p = params(names, now)?;
                p.not_before = at_epoch(now - 365 * DAY);
                p.not_after = at_epoch(now - DAY);
                self.sign(p, &key)?
            }
            ServerCertKind::Untrusted => {
                let (ca_pem, rogue) = rogue_ca(now)?;
                let leaf = params(names, now)?
                    .signed_by(&key, &rogue)
                    .map_err(issue_err)?;
                format!("{}{ca_pem}", leaf.pem())
            }
        };
        Ok(ServerIdentity {
            certificate_pem,
            private_key_pem: key.serialize_pem(),
        })
    }

    fn sign(&self, params: CertificateParams, key: &KeyPair) -> Result<String, PkiError> {
        let cert = params.signed_by(key, &self.issuer).map_err(issue_err)?;
        Ok(cert.pem())
    }
}

/// The names padded with more until the certificate reaches [`LARGE_CERT_BYTES`].
fn padded(names: &[String], now: i64) -> Result<CertificateParams, PkiError> {
    let mut all = names.to_vec();
    // Each extra name adds its length plus a few bytes of DER.
    let mut n = 0;
    while all.iter().map(|s| s.len() + 4).sum::<usize>() < LARGE_CERT_BYTES {
        n += 1;
        all.push(format!("padding-{n:04}.large-certificate.iotmock.invalid"));
    }
    params(&all, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_certificate_chain_pem;

    fn ca() -> MockCa {
        MockCa::generate(1_700_000_000).expect("root")
    }

    #[test]
    fn each_kind_is_what_it_says() {
        let ca = ca();
        let now = 1_700_000_000;
        let names = vec!["localhost".to_string()];
        let root = crate::parse_certificate_pem(ca.cert_pem(), "root").expect("root");
        let chain = |kind| {
            let id = ca.issue_server_kind(&names, now, kind).expect("issue");
            parse_certificate_chain_pem(&id.certificate_pem, "chain").expect("parse")
        };
        let standard = chain(ServerCertKind::Standard);
        assert!(standard[0].is_signed_by(&root) && standard[0].is_valid_at(now));
        let large = chain(ServerCertKind::Large);
        assert!(
            large[0].der.len() >= LARGE_CERT_BYTES,
            "{}",
            large[0].der.len()
        );
        assert!(large[0].der.len() > standard[0].der.len() * 5);
        let expired = chain(ServerCertKind::Expired);
        assert!(expired[0].is_signed_by(&root) && !expired[0].is_valid_at(now));
        let untrusted = chain(ServerCertKind::Untrusted);
        assert_eq!(untrusted.len(), 2);
        assert!(!untrusted[0].is_signed_by(&root) && untrusted[0].is_signed_by(&untrusted[1]));
    }
}
