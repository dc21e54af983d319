//! Presigned S3 GETs for job documents (`presignedUrlConfig`): signed with SigV4 in the query
//! string (dummy credentials, as every call the mock signs), pointed at `--aws-endpoint-url`
//! (path-style, so LocalStack or moto's S3 serve the object) when it is set, else at the URL
//! the document names.

use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings};
use aws_sigv4::sign::v4;
use std::time::{Duration, UNIX_EPOCH};

/// The bucket, key and region an S3 URL names (path-style or virtual-hosted).
pub fn s3_parts(url: &str) -> Option<(String, String, Option<String>)> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = host.split(':').next().unwrap_or(host);
    let labels: Vec<&str> = host.split('.').collect();
    let s3_at = labels
        .iter()
        .position(|l| *l == "s3" || l.starts_with("s3-"))?;
    let region = labels
        .get(s3_at + 1)
        .filter(|r| **r != "amazonaws")
        .map(|r| r.to_string());
    if s3_at == 0 {
        let (bucket, key) = path.split_once('/')?;
        return Some((bucket.to_string(), key.to_string(), region));
    }
    Some((labels[..s3_at].join("."), path.to_string(), region))
}

/// A presigned GET of `url` valid for `expires` seconds from `now_ms`.
pub fn presign_get(
    url: &str,
    endpoint: Option<&str>,
    default_region: &str,
    expires: i64,
    now_ms: i64,
) -> Option<String> {
    let (bucket, key, region) = s3_parts(url)?;
    let target = match endpoint {
        Some(e) => format!("{}/{bucket}/{key}", e.trim_end_matches('/')),
        None => url.to_string(),
    };
    let region = region.unwrap_or_else(|| default_region.to_string());
    let identity =
        aws_credential_types::Credentials::new("test", "test", None, None, "iotmock").into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(u64::try_from(expires).ok()?));
    let time = UNIX_EPOCH + Duration::from_millis(u64::try_from(now_ms).ok()?);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&region)
        .name("s3")
        .time(time)
        .settings(settings)
        .build()
        .ok()?
        .into();
    let host = target.split('/').nth(2)?.to_string();
    let headers = [("host", host.as_str())];
    let signable = SignableRequest::new(
        "GET",
        &target,
        headers.into_iter(),
        SignableBody::UnsignedPayload,
    )
    .ok()?;
    let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
        .ok()?
        .into_parts();
    let query: Vec<String> = instructions
        .params()
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::doors::sigv4::encode(v)))
        .collect();
    let joiner = if target.contains('?') { '&' } else { '?' };
    Some(format!("{target}{joiner}{}", query.join("&")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls_of_both_styles_name_their_bucket_key_and_region() {
        let parts = |u| s3_parts(u).unwrap();
        assert_eq!(
            parts("https://s3.amazonaws.com/b/k/f.bin"),
            ("b".into(), "k/f.bin".into(), None)
        );
        assert_eq!(
            parts("https://b.s3.eu-west-1.amazonaws.com/f.bin"),
            ("b".into(), "f.bin".into(), Some("eu-west-1".into()))
        );
        assert!(s3_parts("https://example.com/x").is_none());
    }

    #[test]
    fn a_presigned_url_carries_the_sigv4_query() {
        let url = presign_get(
            "https://s3.amazonaws.com/fw/v2.bin",
            Some("http://127.0.0.1:9"),
            "us-east-1",
            60,
            0,
        )
        .unwrap();
        assert!(url.starts_with("http://127.0.0.1:9/fw/v2.bin?"), "{url}");
        for p in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Expires=60",
            "X-Amz-Signature=",
            "X-Amz-Credential=test%2F19700101%2Fus-east-1%2Fs3%2Faws4_request",
        ] {
            assert!(url.contains(p), "{p} in {url}");
        }
    }
}
