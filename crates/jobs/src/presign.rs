//! `presignedUrlConfig`: placeholders `${aws:iot:s3-presigned-url:URL}` in a job document are
//! replaced, each time the document is handed out, by a presigned GET of that S3 URL valid for
//! `expiresInSec`. Signing is the adapter's (it knows the endpoint and the time): it registers
//! a [`Presigner`] with [`crate::Jobs::set_presigner`]; without one the placeholder becomes
//! the bare URL.

use std::sync::Arc;

const PLACEHOLDER: &str = "${aws:iot:s3-presigned-url:";

/// Presigns a GET of an S3 URL for `expires` seconds at `now_ms`; `None` when it cannot.
pub type PresignFn = dyn Fn(&str, i64, i64) -> Option<String> + Send + Sync;

/// A [`PresignFn`] that jobs can hold (compared and printed as a marker only).
#[derive(Clone)]
pub struct Presigner(pub Arc<PresignFn>);

/// The signer is not part of a job's value: any two compare equal.
impl PartialEq for Presigner {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for Presigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Presigner")
    }
}

/// The document with every placeholder replaced (by `sign`'s URL, else the bare URL).
pub fn substitute(document: &str, expires: i64, now_ms: i64, sign: Option<&Presigner>) -> String {
    let mut out = String::with_capacity(document.len());
    let mut rest = document;
    while let Some(at) = rest.find(PLACEHOLDER) {
        let after = &rest[at + PLACEHOLDER.len()..];
        let Some(end) = after.find('}') else {
            break;
        };
        let url = &after[..end];
        out.push_str(&rest[..at]);
        let signed = sign.and_then(|s| (s.0)(url, expires, now_ms));
        out.push_str(&json_escape_free(signed.as_deref().unwrap_or(url)));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// A URL as it may sit inside a JSON string (presigned URLs hold no quotes or backslashes, but
/// an endpoint given by the user might).
fn json_escape_free(url: &str) -> String {
    url.replace('\\', "%5C").replace('"', "%22")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_presigned_urls_or_bare_ones() {
        let doc = r#"{"url":"${aws:iot:s3-presigned-url:https://s3.amazonaws.com/b/k}","n":1}"#;
        assert_eq!(
            substitute(doc, 60, 0, None),
            r#"{"url":"https://s3.amazonaws.com/b/k","n":1}"#
        );
        let sign = Presigner(Arc::new(|url: &str, exp: i64, _| {
            Some(format!("{url}?X-Amz-Expires={exp}"))
        }));
        assert_eq!(
            substitute(doc, 60, 0, Some(&sign)),
            r#"{"url":"https://s3.amazonaws.com/b/k?X-Amz-Expires=60","n":1}"#
        );
        let open = "${aws:iot:s3-presigned-url:https://x";
        assert_eq!(
            substitute(open, 60, 0, None),
            open,
            "unterminated: left as is"
        );
    }
}
