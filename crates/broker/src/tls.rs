//! TLS for the broker: the server certificate from the mock root, a mandatory client
//! certificate checked for possession here (its CertificateVerify signature, X.509 v1 leaves
//! included) and for identity at CONNECT against the live registry, and no session resumption,
//! so every connection presents its certificate again.

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime, pem::PemObject};
use rustls::server::NoServerSessionStorage;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use x509_parser::prelude::{FromDer, X509Certificate};

/// ALPN protocol of AWS's port-443 MQTT mode.
pub const ALPN_MQTT_CA: &[u8] = b"x-amzn-mqtt-ca";

/// Requires a client certificate and proves the client holds its key; who it is gets decided
/// at CONNECT, from the registry as it is then.
#[derive(Debug)]
struct PossessionVerifier {
    /// False on the port-443 listener: a client certificate is optional at the TLS layer
    /// there, and required by the routes that need one.
    mandatory: bool,
}

const SCHEMES: &[SignatureScheme] = &[
    SignatureScheme::ECDSA_NISTP256_SHA256,
    SignatureScheme::ECDSA_NISTP384_SHA384,
    SignatureScheme::ECDSA_NISTP521_SHA512,
    SignatureScheme::ED25519,
    SignatureScheme::RSA_PSS_SHA256,
    SignatureScheme::RSA_PSS_SHA384,
    SignatureScheme::RSA_PSS_SHA512,
    SignatureScheme::RSA_PKCS1_SHA256,
    SignatureScheme::RSA_PKCS1_SHA384,
    SignatureScheme::RSA_PKCS1_SHA512,
];

/// The verification algorithm for `scheme` with a key on `curve` (EC keys). In TLS 1.3 a
/// scheme names its curve; in TLS 1.2 it names only the hash, so a P-384 key may sign with
/// SHA-256 (and AWS accepts it).
fn algorithm(
    scheme: SignatureScheme,
    curve: Option<&str>,
    tls13: bool,
) -> Option<&'static dyn aws_lc_rs::signature::VerificationAlgorithm> {
    use aws_lc_rs::signature as s;
    let ec = |want: &str, same: &'static dyn aws_lc_rs::signature::VerificationAlgorithm| match (
        curve, tls13,
    ) {
        (Some(c), _) if c == want => Some(same),
        (_, true) => None,
        (Some("P-256"), false) => Some(ec_on_p256(scheme)?),
        (Some("P-384"), false) => Some(ec_on_p384(scheme)?),
        _ => None,
    };
    Some(match scheme {
        SignatureScheme::ECDSA_NISTP256_SHA256 => ec("P-256", &s::ECDSA_P256_SHA256_ASN1)?,
        SignatureScheme::ECDSA_NISTP384_SHA384 => ec("P-384", &s::ECDSA_P384_SHA384_ASN1)?,
        SignatureScheme::ECDSA_NISTP521_SHA512 => ec("P-521", &s::ECDSA_P521_SHA512_ASN1)?,
        SignatureScheme::ED25519 => &s::ED25519,
        SignatureScheme::RSA_PSS_SHA256 => &s::RSA_PSS_2048_8192_SHA256,
        SignatureScheme::RSA_PSS_SHA384 => &s::RSA_PSS_2048_8192_SHA384,
        SignatureScheme::RSA_PSS_SHA512 => &s::RSA_PSS_2048_8192_SHA512,
        SignatureScheme::RSA_PKCS1_SHA256 => &s::RSA_PKCS1_2048_8192_SHA256,
        SignatureScheme::RSA_PKCS1_SHA384 => &s::RSA_PKCS1_2048_8192_SHA384,
        SignatureScheme::RSA_PKCS1_SHA512 => &s::RSA_PKCS1_2048_8192_SHA512,
        _ => return None,
    })
}

/// A P-256 key signing with another hash (TLS 1.2).
fn ec_on_p256(
    scheme: SignatureScheme,
) -> Option<&'static dyn aws_lc_rs::signature::VerificationAlgorithm> {
    use aws_lc_rs::signature as s;
    match scheme {
        SignatureScheme::ECDSA_NISTP384_SHA384 => Some(&s::ECDSA_P256_SHA384_ASN1),
        _ => None,
    }
}

/// A P-384 key signing with another hash (TLS 1.2).
fn ec_on_p384(
    scheme: SignatureScheme,
) -> Option<&'static dyn aws_lc_rs::signature::VerificationAlgorithm> {
    use aws_lc_rs::signature as s;
    match scheme {
        SignatureScheme::ECDSA_NISTP256_SHA256 => Some(&s::ECDSA_P384_SHA256_ASN1),
        _ => None,
    }
}

fn verify(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
    tls13: bool,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    let bad = || rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature);
    let (_, parsed) = X509Certificate::from_der(cert.as_ref())
        .map_err(|_| rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding))?;
    // Only an ECDSA signature needs the key's curve; RSA and Ed25519 keys are not parsed.
    let ecdsa = matches!(
        dss.scheme,
        SignatureScheme::ECDSA_NISTP256_SHA256
            | SignatureScheme::ECDSA_NISTP384_SHA384
            | SignatureScheme::ECDSA_NISTP521_SHA512
    );
    let curve = match ecdsa.then(|| iotmock_pki::key_kind(parsed.public_key())) {
        Some(iotmock_pki::KeyKind::Ec { curve }) => Some(curve),
        _ => None,
    };
    let alg = algorithm(dss.scheme, curve.as_deref(), tls13).ok_or_else(bad)?;
    let key = parsed.public_key().subject_public_key.data.as_ref();
    aws_lc_rs::signature::UnparsedPublicKey::new(alg, key)
        .verify(message, dss.signature())
        .map(|()| HandshakeSignatureValid::assertion())
        .map_err(|_| bad())
}

impl ClientCertVerifier for PossessionVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    /// Any certificate is taken here: the CertificateVerify check that must follow parses it
    /// (refusing a malformed one) and proves possession of its key, so it is parsed once.
    fn verify_client_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify(message, cert, dss, false)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let pkcs1 = matches!(
            dss.scheme,
            SignatureScheme::RSA_PKCS1_SHA256
                | SignatureScheme::RSA_PKCS1_SHA384
                | SignatureScheme::RSA_PKCS1_SHA512
        );
        if pkcs1 {
            return Err(rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme.into());
        }
        verify(message, cert, dss, true)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        SCHEMES.to_vec()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }
}

/// Mints the server identity (certificate PEM, key PEM) for a region a client names in SNI.
pub type Minter = Arc<dyn Fn(&str) -> Option<(String, String)> + Send + Sync>;

/// Regional server identities made on first use, beyond this many, are not kept.
const MAX_REGIONS: usize = 64;

/// Answers each handshake with a certificate for the name the client asked for: the default
/// identity, or one minted for `*.iot.<region>...` when SNI names another region.
struct RegionalCerts {
    default: Arc<CertifiedKey>,
    root: Vec<CertificateDer<'static>>,
    mint: Option<Minter>,
    provider: Arc<CryptoProvider>,
    by_region: Mutex<HashMap<String, Arc<CertifiedKey>>>,
}

impl std::fmt::Debug for RegionalCerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegionalCerts").finish_non_exhaustive()
    }
}

fn certified(
    cert_pem: &str,
    key_pem: &str,
    root: &[CertificateDer<'static>],
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, rustls::Error> {
    let pem_err = |e| rustls::Error::General(format!("server identity: {e}"));
    let mut chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(pem_err)?;
    chain.extend(root.iter().cloned());
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(pem_err)?;
    let signer = provider.key_provider.load_private_key(key)?;
    Ok(Arc::new(CertifiedKey::new(chain, signer)))
}

impl RegionalCerts {
    fn regional(&self, region: &str) -> Option<Arc<CertifiedKey>> {
        let mut known = self.by_region.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = known.get(region) {
            return Some(k.clone());
        }
        let (cert, key) = (self.mint.as_ref()?)(region)?;
        let made = certified(&cert, &key, &self.root, &self.provider).ok()?;
        if known.len() < MAX_REGIONS {
            known.insert(region.to_string(), made.clone());
        }
        Some(made)
    }
}

/// The SNI of a ClientHello being caught on this thread: `None` while no catch runs,
/// `Some(None)` until the certificate resolver sees the hello.
type Catch = Option<Option<Option<String>>>;

thread_local! {
    static CATCH: std::cell::RefCell<Catch> = const { std::cell::RefCell::new(None) };
}

/// Runs `f`, which may process a ClientHello on this thread, and returns the SNI the
/// certificate resolver saw in it (`Some(None)`: a hello without SNI). For connections driven
/// with rustls's unbuffered API, which has no accessor for SNI.
pub(crate) fn catching_sni<T>(f: impl FnOnce() -> T) -> (T, Option<Option<String>>) {
    CATCH.with_borrow_mut(|c| *c = Some(None));
    let out = f();
    let caught = CATCH.with_borrow_mut(|c| c.take().flatten());
    (out, caught)
}

/// Keeps the SNI of `hello` for the catch in progress on this thread, if any.
fn catch(hello: &ClientHello<'_>) {
    CATCH.with_borrow_mut(|c| {
        if let Some(caught) = c {
            *caught = Some(hello.server_name().map(str::to_string));
        }
    });
}

impl ResolvesServerCert for RegionalCerts {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        catch(&hello);
        let regional = hello
            .server_name()
            .and_then(region_of_sni)
            .and_then(|r| self.regional(r));
        Some(regional.unwrap_or_else(|| self.default.clone()))
    }
}

/// The broker's rustls configuration (TLS 1.2 and 1.3, aws-lc-rs, no resumption). With
/// `mint`, a client naming another region's endpoint in SNI gets a certificate for it.
pub fn server_config(
    cert_pem: &str,
    key_pem: &str,
    root_pem: &str,
    alpn: &[&[u8]],
    mint: Option<Minter>,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    config_with((cert_pem, key_pem, root_pem), alpn, mint, true)
}

/// ALPN protocols of AWS's port 443, in the server's order of preference.
pub const ALPN_PORT_443: &[&[u8]] = &[ALPN_MQTT_CA, ALPN_HTTP_CA, ALPN_MQTT, b"http/1.1"];
/// ALPN of HTTPS publish with a client certificate on port 443.
pub const ALPN_HTTP_CA: &[u8] = b"x-amzn-http-ca";
/// ALPN of MQTT with a custom authorizer on port 443.
pub const ALPN_MQTT: &[u8] = b"mqtt";

/// Whether a listener requires a client certificate at the TLS layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientCert {
    Required,
    /// Port 443: WebSocket and SigV4 callers bring none; the routes that need one ask.
    Optional,
}

/// The configuration of a listener where a client certificate is `client` at the TLS
/// layer, with the same server identity.
pub fn config_for(
    (cert_pem, key_pem, root_pem): (&str, &str, &str),
    alpn: &[&[u8]],
    mint: Option<Minter>,
    client: ClientCert,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    config_with(
        (cert_pem, key_pem, root_pem),
        alpn,
        mint,
        client == ClientCert::Required,
    )
}

fn config_with(
    (cert_pem, key_pem, root_pem): (&str, &str, &str),
    alpn: &[&[u8]],
    mint: Option<Minter>,
    mandatory: bool,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let provider = Arc::new(aws_order(rustls::crypto::aws_lc_rs::default_provider()));
    let root: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(root_pem.as_bytes())
        .filter_map(Result::ok)
        .collect();
    let default = certified(cert_pem, key_pem, &root, &provider)?;
    let resolver = RegionalCerts {
        default,
        root,
        mint,
        provider: provider.clone(),
        by_region: Mutex::default(),
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(Arc::new(PossessionVerifier { mandatory }))
        .with_cert_resolver(Arc::new(resolver));
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config.ignore_client_order = true;
    Ok(Arc::new(config))
}

/// The server picks the suite, AES-128-GCM first as in AWS's security policies (their
/// recommended suite; its SHA-256 transcript and PRF are also the cheaper ones), then the
/// provider's order.
fn aws_order(mut provider: CryptoProvider) -> CryptoProvider {
    use rustls::CipherSuite as C;
    let first = |s: &rustls::SupportedCipherSuite| {
        matches!(
            s.suite(),
            C::TLS13_AES_128_GCM_SHA256
                | C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                | C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        )
    };
    provider.cipher_suites.sort_by_key(|s| !first(s));
    provider
}

/// The region an SNI host name addresses: `<prefix>-ats.iot.<region>.amazonaws.com` (or the
/// same under the configured domain). `None` for any other name.
pub fn region_of_sni(host: &str) -> Option<&str> {
    let labels: Vec<&str> = host.split('.').collect();
    let at = labels.iter().position(|l| *l == "iot")?;
    let region = *labels.get(at + 1)?;
    let plausible = at > 0
        && labels.len() > at + 2
        && region.contains('-')
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    plausible.then_some(region)
}

#[cfg(test)]
mod sni_tests {
    use super::region_of_sni;

    #[test]
    fn regions_from_sni() {
        let aws = "a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com";
        assert_eq!(region_of_sni(aws), Some("eu-west-1"));
        assert_eq!(
            region_of_sni("x-ats.iot.us-east-2.localhost"),
            Some("us-east-2")
        );
        assert_eq!(region_of_sni("localhost"), None);
        assert_eq!(region_of_sni("iot.us-east-1.amazonaws.com"), None);
        assert_eq!(region_of_sni("x.iot.us-east-1"), None);
    }
}
