//! The SigV4 presigned query of MQTT over WebSocket (`GET /mqtt?X-Amz-...`), as AWS IoT
//! accepts it: `X-Amz-Algorithm=AWS4-HMAC-SHA256`, `X-Amz-Credential=AKID/yyyymmdd/region/
//! iotdevicegateway/aws4_request` (`iotdata` too), `X-Amz-Date`, `X-Amz-SignedHeaders`,
//! `X-Amz-Signature`, an optional `X-Amz-Expires`, and `X-Amz-Security-Token` (appended after
//! signing by the AWS SDKs, or signed). What is checked here is the URL's form, its time and
//! its region; whether the signature is right needs the secret key (the adapter's job).

/// The signing names AWS IoT's WebSocket endpoint takes.
pub const SERVICES: &[&str] = &["iotdevicegateway", "iotdata"];
/// How far `X-Amz-Date` may be ahead of the mock's clock (SigV4's usual 15 minutes).
pub const SKEW_MS: i64 = 15 * 60 * 1000;
/// The longest `X-Amz-Expires` SigV4 takes (7 days).
pub const MAX_EXPIRES_SECS: u64 = 7 * 24 * 3600;

/// A well-formed presigned query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presigned {
    pub access_key: String,
    pub region: String,
    pub service: String,
    /// `X-Amz-Date`, as sent.
    pub amz_date: String,
    /// `X-Amz-Date` as ms since the epoch.
    pub signed_at_ms: i64,
    pub expires_secs: Option<u64>,
    pub signed_headers: String,
    pub signature: String,
    pub token: Option<String>,
}

/// Why a presigned URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PresignRefusal {
    #[error("the presigned URL has no {0}")]
    Missing(&'static str),
    #[error("the presigned URL's {param} is malformed: {why}")]
    Malformed { param: &'static str, why: String },
    #[error(
        "the URL expired at {expired_ms} (ms since the epoch); signed at {amz_date} for {secs} s"
    )]
    Expired {
        expired_ms: i64,
        amz_date: String,
        secs: u64,
    },
    #[error("the URL is signed at {amz_date}, more than 15 minutes ahead of the server's clock")]
    Future { amz_date: String },
    #[error("the URL is signed for region {scope}, but this endpoint is in {endpoint}")]
    WrongRegion { scope: String, endpoint: String },
}

fn get<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The presigned query, `None` when the URL carries no `X-Amz-*` parameter at all (not a
/// SigV4 URL: a custom authorizer's).
pub fn parse(query: &[(String, String)]) -> Result<Option<Presigned>, PresignRefusal> {
    if !query.iter().any(|(k, _)| k.starts_with("X-Amz-")) {
        return Ok(None);
    }
    let need = |name: &'static str| get(query, name).ok_or(PresignRefusal::Missing(name));
    let algorithm = need("X-Amz-Algorithm")?;
    if algorithm != "AWS4-HMAC-SHA256" {
        return Err(malformed(
            "X-Amz-Algorithm",
            format!("'{algorithm}' is not AWS4-HMAC-SHA256"),
        ));
    }
    let credential = need("X-Amz-Credential")?;
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key, date, region, service, "aws4_request"] = parts.as_slice() else {
        return Err(malformed(
            "X-Amz-Credential",
            format!("'{credential}' is not AKID/yyyymmdd/region/service/aws4_request"),
        ));
    };
    if access_key.is_empty() || region.is_empty() || service.is_empty() {
        return Err(malformed(
            "X-Amz-Credential",
            format!("'{credential}' has an empty part"),
        ));
    }
    let amz_date = need("X-Amz-Date")?;
    let signed_at_ms = parse_amz_date(amz_date).ok_or_else(|| {
        malformed(
            "X-Amz-Date",
            format!("'{amz_date}' is not yyyymmddThhmmssZ"),
        )
    })?;
    if !amz_date.starts_with(date) || date.len() != 8 {
        return Err(malformed(
            "X-Amz-Credential",
            format!("its date {date} is not the date of X-Amz-Date {amz_date}"),
        ));
    }
    let signature = need("X-Amz-Signature")?;
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(malformed(
            "X-Amz-Signature",
            "not 64 hex digits".to_string(),
        ));
    }
    let expires_secs = match get(query, "X-Amz-Expires") {
        None => None,
        Some(text) => Some(
            text.parse::<u64>()
                .ok()
                .filter(|s| (1..=MAX_EXPIRES_SECS).contains(s))
                .ok_or_else(|| {
                    malformed(
                        "X-Amz-Expires",
                        format!("'{text}' is not 1..=604800 seconds"),
                    )
                })?,
        ),
    };
    Ok(Some(Presigned {
        access_key: access_key.to_string(),
        region: region.to_string(),
        service: service.to_string(),
        amz_date: amz_date.to_string(),
        signed_at_ms,
        expires_secs,
        signed_headers: need("X-Amz-SignedHeaders")?.to_string(),
        signature: signature.to_string(),
        token: get(query, "X-Amz-Security-Token").map(str::to_string),
    }))
}

fn malformed(param: &'static str, why: impl Into<String>) -> PresignRefusal {
    PresignRefusal::Malformed {
        param,
        why: why.into(),
    }
}

/// Whether the URL may be used now at an endpoint of `endpoint_region`.
pub fn check(p: &Presigned, now_ms: i64, endpoint_region: &str) -> Result<(), PresignRefusal> {
    if p.region != endpoint_region {
        return Err(PresignRefusal::WrongRegion {
            scope: p.region.clone(),
            endpoint: endpoint_region.to_string(),
        });
    }
    if p.signed_at_ms - now_ms > SKEW_MS {
        return Err(PresignRefusal::Future {
            amz_date: p.amz_date.clone(),
        });
    }
    if let Some(secs) = p.expires_secs {
        let expired_ms = p
            .signed_at_ms
            .saturating_add(i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000));
        if now_ms > expired_ms {
            return Err(PresignRefusal::Expired {
                expired_ms,
                amz_date: p.amz_date.clone(),
                secs,
            });
        }
    }
    Ok(())
}

/// `yyyymmddThhmmssZ` as ms since the epoch.
pub fn parse_amz_date(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    let valid = (1..=12).contains(&m) && (1..=31).contains(&d) && hh < 24 && mm < 60 && ss < 61;
    valid.then(|| {
        (iotmock_model::days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss) * 1000
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn good() -> Vec<(String, String)> {
        query(&[
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            (
                "X-Amz-Credential",
                "AKIDEXAMPLE/20261207/us-east-1/iotdevicegateway/aws4_request",
            ),
            ("X-Amz-Date", "20261207T010203Z"),
            ("X-Amz-SignedHeaders", "host"),
            ("X-Amz-Signature", &"a".repeat(64)),
            ("X-Amz-Security-Token", "tok/en+=="),
        ])
    }

    #[test]
    fn the_sdk_form_parses_and_is_checked_for_time_and_region() {
        let p = parse(&good()).unwrap().unwrap();
        assert_eq!(p.access_key, "AKIDEXAMPLE");
        assert_eq!(p.token.as_deref(), Some("tok/en+=="));
        assert_eq!(p.signed_at_ms, 1_796_605_323_000);
        assert!(
            check(&p, p.signed_at_ms + 3_600_000, "us-east-1").is_ok(),
            "no expiry: SDK v1"
        );
        assert!(matches!(
            check(&p, p.signed_at_ms, "eu-west-1"),
            Err(PresignRefusal::WrongRegion { .. })
        ));
        assert!(matches!(
            check(&p, p.signed_at_ms - SKEW_MS - 1, "us-east-1"),
            Err(PresignRefusal::Future { .. })
        ));
        let mut q = good();
        q.push(("X-Amz-Expires".into(), "60".into()));
        let p = parse(&q).unwrap().unwrap();
        assert!(check(&p, p.signed_at_ms + 60_000, "us-east-1").is_ok());
        assert!(matches!(
            check(&p, p.signed_at_ms + 60_001, "us-east-1"),
            Err(PresignRefusal::Expired { .. })
        ));
    }

    #[test]
    fn each_missing_or_malformed_parameter_is_named() {
        assert_eq!(parse(&query(&[("other", "x")])), Ok(None));
        for name in [
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Date",
            "X-Amz-Signature",
            "X-Amz-SignedHeaders",
        ] {
            let q: Vec<_> = good().into_iter().filter(|(k, _)| k != name).collect();
            assert_eq!(parse(&q), Err(PresignRefusal::Missing(name)), "{name}");
        }
        for (name, bad) in [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA1"),
            (
                "X-Amz-Credential",
                "AKID/20261207/us-east-1/iotdevicegateway",
            ),
            (
                "X-Amz-Credential",
                "AKID/20261206/us-east-1/iotdevicegateway/aws4_request",
            ),
            ("X-Amz-Date", "2026-12-07T01:02:03Z"),
            ("X-Amz-Signature", "xyz"),
        ] {
            let q: Vec<_> = good()
                .into_iter()
                .map(|(k, v)| {
                    if k == name {
                        (k, bad.to_string())
                    } else {
                        (k, v)
                    }
                })
                .collect();
            assert!(
                matches!(parse(&q), Err(PresignRefusal::Malformed { .. })),
                "{name}={bad}"
            );
        }
    }

    proptest! {
        #[test]
        fn any_query_is_parsed_or_refused_without_panicking(
            pairs in proptest::collection::vec(("X-Amz-[A-Za-z]{0,12}", ".{0,80}"), 0..8)
        ) {
            let _ = parse(&pairs);
        }

        #[test]
        fn dates_round_trip_through_the_civil_calendar(days in 0i64..200_000, secs in 0i64..86_400) {
            let ms = (days * 86_400 + secs) * 1000;
            // Rebuild the text from the day count by stepping the calendar.
            let (y, m, d) = iotmock_model::civil_from_days(days);
            let text = format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", secs / 3600, secs / 60 % 60, secs % 60);
            prop_assert_eq!(parse_amz_date(&text), Some(ms));
        }
    }
}
