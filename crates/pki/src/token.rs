//! Custom authorizers' token signing keys: an RSA public key (PEM) of at least 2,048 bits,
//! and the check AWS IoT makes before it invokes the authorizer's function: RSA PKCS #1 v1.5
//! with SHA-256 over the token's bytes.

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

/// The smallest RSA key AWS IoT takes for token signing.
pub const MIN_TOKEN_KEY_BITS: usize = 2048;

/// A token signing public key, checked and ready to verify signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenKey {
    /// The PKCS #1 RSAPublicKey (DER).
    rsa_der: Vec<u8>,
    pub bits: usize,
}

impl TokenKey {
    /// Reads a `PUBLIC KEY` (SubjectPublicKeyInfo) or `RSA PUBLIC KEY` (PKCS #1) PEM block.
    /// Refuses anything else, and RSA keys under [`MIN_TOKEN_KEY_BITS`].
    pub fn from_pem(text: &str) -> Result<Self, String> {
        let block = pem::parse(text.trim())
            .map_err(|e| format!("the token signing key is not a PEM public key: {e}"))?;
        let key = match block.tag() {
            "PUBLIC KEY" => Self::from_spki(block.contents())?,
            "RSA PUBLIC KEY" => Self::from_pkcs1(block.contents())?,
            other => {
                return Err(format!(
                    "the token signing key holds a '{other}' PEM block where a PUBLIC KEY is expected"
                ));
            }
        };
        if key.bits < MIN_TOKEN_KEY_BITS {
            return Err(format!(
                "the token signing key has {} bits; AWS IoT requires an RSA key of at least {MIN_TOKEN_KEY_BITS} bits",
                key.bits
            ));
        }
        Ok(key)
    }

    fn from_spki(der: &[u8]) -> Result<Self, String> {
        let (_, spki) = SubjectPublicKeyInfo::from_der(der)
            .map_err(|e| format!("the token signing key is not a public key: {e}"))?;
        match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => Ok(Self {
                rsa_der: spki.subject_public_key.data.to_vec(),
                bits: rsa.key_size(),
            }),
            _ => Err(
                "the token signing key is not an RSA key (AWS IoT signs tokens with RSA)".into(),
            ),
        }
    }

    fn from_pkcs1(der: &[u8]) -> Result<Self, String> {
        let (_, rsa) = x509_parser::public_key::RSAPublicKey::from_der(der)
            .map_err(|e| format!("the token signing key is not an RSA public key: {e}"))?;
        Ok(Self {
            rsa_der: der.to_vec(),
            bits: rsa.key_size(),
        })
    }

    /// Whether `signature` is this key's RSA-SHA256 signature of `token`.
    pub fn verifies(&self, token: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &self.rsa_der)
            .verify(token, signature)
            .is_ok()
    }
}

/// An RSA key pair that signs tokens as a device would (tests, the load generator, the
/// advisor's reference devices).
pub struct TokenSigner {
    pair: aws_lc_rs::rsa::KeyPair,
}

impl TokenSigner {
    /// A fresh 2,048-bit key.
    pub fn generate() -> Result<Self, String> {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .map_err(|e| format!("RSA key generation failed: {e}"))?;
        Ok(Self { pair })
    }

    /// Reads a PKCS #8 `PRIVATE KEY` PEM block.
    pub fn from_pem(text: &str) -> Result<Self, String> {
        let block = pem::parse(text.trim()).map_err(|e| format!("not a PEM private key: {e}"))?;
        let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(block.contents())
            .map_err(|e| format!("not a PKCS #8 RSA private key: {e}"))?;
        Ok(Self { pair })
    }

    /// The public key, as a `PUBLIC KEY` PEM block (what CreateAuthorizer takes).
    pub fn public_pem(&self) -> String {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::signature::KeyPair;
        let spki = self
            .pair
            .public_key()
            .as_der()
            .map(|d| d.as_ref().to_vec())
            .unwrap_or_default();
        pem::encode(&pem::Pem::new("PUBLIC KEY", spki))
    }

    /// The base64 RSA-SHA256 signature of `token` (what a device sends).
    pub fn sign(&self, token: &str) -> String {
        use base64::Engine;
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let mut sig = vec![0; self.pair.public_modulus_len()];
        let signed = self.pair.sign(
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            &rng,
            token.as_bytes(),
            &mut sig,
        );
        if signed.is_err() {
            return String::new();
        }
        base64::engine::general_purpose::STANDARD.encode(sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn a_signature_verifies_with_its_key_only() {
        let signer = TokenSigner::generate().expect("key");
        let key = TokenKey::from_pem(&signer.public_pem()).expect("public key");
        assert_eq!(key.bits, 2048);
        let sig = base64::engine::general_purpose::STANDARD
            .decode(signer.sign("allow"))
            .expect("base64");
        assert!(key.verifies(b"allow", &sig));
        assert!(!key.verifies(b"allow!", &sig));
        let other = TokenSigner::generate().expect("key");
        let other = TokenKey::from_pem(&other.public_pem()).expect("public key");
        assert!(!other.verifies(b"allow", &sig));
    }

    #[test]
    fn keys_that_are_not_rsa_public_keys_are_refused() {
        assert!(TokenKey::from_pem("not pem").is_err());
        let cert = crate::MockCa::generate(0).expect("ca");
        let err = TokenKey::from_pem(cert.cert_pem()).expect_err("a certificate");
        assert!(err.contains("CERTIFICATE"), "{err}");
    }
}
