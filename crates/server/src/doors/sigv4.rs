//! Strict mode for MQTT over WebSocket (`--sigv4-credentials AKID:SECRET[,...]`): the
//! presigned URL's signature is recomputed from the query the client sent and compared. The
//! canonical request is SigV4's for a presigned `GET /mqtt` (the client's own parameters
//! minus the signature, sorted and RFC 3986-encoded; the headers `X-Amz-SignedHeaders` names,
//! as the request carries them: `host` for most clients, more for some), tried
//! with the session token left out of it (AWS IoT's rule: the SDKs append it after signing)
//! and inside it, and with the empty payload's hash and `UNSIGNED-PAYLOAD`. The signing key
//! and the HMAC are the AWS SDK's own (`aws-sigv4`).

use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
use iotmock_session::presign::Presigned;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

/// Secret keys by access key id.
#[derive(Debug, Clone, Default)]
pub struct Secrets(HashMap<String, String>);

impl Secrets {
    /// `AKID:SECRET[,AKID:SECRET...]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut keys = HashMap::new();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, secret) = pair
                .split_once(':')
                .filter(|(k, s)| !k.is_empty() && !s.is_empty())
                .ok_or_else(|| format!("'{pair}' is not ACCESS_KEY_ID:SECRET_ACCESS_KEY"))?;
            keys.insert(key.to_string(), secret.to_string());
        }
        Ok(Self(keys))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Whether the URL's signature is right for the request whose headers `header` reads
/// (by lower-case name); `Err` says why not.
pub fn verify(
    secrets: &Secrets,
    p: &Presigned,
    header: &dyn Fn(&str) -> Option<String>,
    query: &[(String, String)],
) -> Result<(), String> {
    let secret = secrets.0.get(&p.access_key).ok_or_else(|| {
        format!(
            "the access key {} is not one of --sigv4-credentials",
            p.access_key
        )
    })?;
    let time = UNIX_EPOCH + Duration::from_millis(u64::try_from(p.signed_at_ms).unwrap_or(0));
    let key = generate_signing_key(secret, time, &p.region, &p.service);
    let scope = format!(
        "{}/{}/{}/aws4_request",
        &p.amz_date[..8.min(p.amz_date.len())],
        p.region,
        p.service
    );
    let headers = canonical_headers(&p.signed_headers, header);
    for token_signed in [false, true] {
        for payload in [EMPTY_SHA256, "UNSIGNED-PAYLOAD"] {
            let canonical = canonical_request(query, &headers, token_signed, payload);
            let digest = hex(&Sha256::digest(canonical.as_bytes()));
            let to_sign = format!("AWS4-HMAC-SHA256\n{}\n{scope}\n{digest}", p.amz_date);
            if calculate_signature(&key, to_sign.as_bytes()) == p.signature.to_ascii_lowercase() {
                return Ok(());
            }
        }
    }
    Err("the signature does not match the request (SignatureDoesNotMatch)".into())
}

/// `name:value` lines for each signed header (values trimmed, inner runs of spaces folded),
/// and the signed-header list itself.
fn canonical_headers(signed: &str, header: &dyn Fn(&str) -> Option<String>) -> (String, String) {
    let mut names: Vec<String> = signed
        .split(';')
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    names.sort();
    let mut out = String::new();
    for name in &names {
        let value = header(name).unwrap_or_default();
        let folded = value.split_whitespace().collect::<Vec<_>>().join(" ");
        out.push_str(&format!("{name}:{folded}\n"));
    }
    (out, names.join(";"))
}

fn canonical_request(
    query: &[(String, String)],
    (headers, signed): &(String, String),
    token_signed: bool,
    payload: &str,
) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .filter(|(k, _)| k != "X-Amz-Signature")
        .filter(|(k, _)| token_signed || k != "X-Amz-Security-Token")
        .map(|(k, v)| (encode(k), encode(v)))
        .collect();
    pairs.sort();
    let query = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    format!("GET\n/mqtt\n{query}\n{headers}\n{signed}\n{payload}")
}

/// RFC 3986 percent-encoding, as SigV4 wants it (unreserved: letters, digits, `-_.~`).
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's documented example of a presigned URL (S3 GET, the same algorithm), with the
    /// path and payload IoT uses swapped in: the signature is computed by the SDK's signer
    /// and must verify, and a changed secret must not.
    #[test]
    fn a_url_signed_by_the_sdk_signer_verifies() {
        use aws_sigv4::http_request::{
            SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
        };
        use aws_sigv4::sign::v4;
        let identity =
            aws_credential_types::Credentials::new("AKIDTEST", "s3cr3t", None, None, "t").into();
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(3600));
        let time = UNIX_EPOCH + Duration::from_secs(1_796_605_323);
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("iotdevicegateway")
            .time(time)
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let url = "https://localhost:4443/mqtt";
        let signable = SignableRequest::new(
            "GET",
            url,
            [("host", "localhost:4443")].into_iter(),
            SignableBody::Bytes(&[]),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let query: Vec<(String, String)> = instructions
            .params()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let presigned = iotmock_session::presign::parse(&query).unwrap().unwrap();
        let secrets = Secrets::parse("AKIDTEST:s3cr3t").unwrap();
        let host = |name: &str| (name == "host").then(|| "localhost:4443".to_string());
        assert_eq!(verify(&secrets, &presigned, &host, &query), Ok(()));
        let wrong = Secrets::parse("AKIDTEST:other").unwrap();
        assert!(verify(&wrong, &presigned, &host, &query).is_err());
        let elsewhere = |name: &str| (name == "host").then(|| "elsewhere:4443".to_string());
        assert!(verify(&secrets, &presigned, &elsewhere, &query).is_err());
        assert!(Secrets::parse("nocolon").is_err());
    }
}
