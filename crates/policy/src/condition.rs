//! Condition operators: String*, Numeric*, Date*, Bool, Arn*, IpAddress, Null, with the
//! `...IfExists` suffix and the `ForAllValues:` / `ForAnyValue:` set prefixes.

use crate::Condition;
use crate::pattern::{Vars, compile, matches, substitute};
use std::net::IpAddr;

/// Every operator the grammar accepts (before `IfExists` and set prefixes).
pub const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnNotEquals",
    "ArnLike",
    "ArnNotLike",
    "Null",
];

/// Splits `ForAnyValue:StringLikeIfExists` into (set prefix, base operator, if-exists).
pub fn split_operator(op: &str) -> Option<(Option<&str>, &str, bool)> {
    let (set, rest) = match op.split_once(':') {
        Some((s @ ("ForAllValues" | "ForAnyValue"), r)) => (Some(s), r),
        Some(_) => return None,
        None => (None, op),
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(b) if b != "Null" => (b, true),
        _ => (rest, false),
    };
    OPERATORS.contains(&base).then_some((set, base, if_exists))
}

fn negated(base: &str) -> bool {
    base.contains("Not")
}

fn num(s: &str) -> Option<f64> {
    s.trim().parse().ok()
}

/// Epoch seconds from a number or an RFC 3339 / ISO 8601 UTC date.
fn date(s: &str) -> Option<f64> {
    if let Some(n) = num(s) {
        return Some(n);
    }
    let t = time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
        .ok()?;
    Some(t.unix_timestamp() as f64)
}

fn cidr(value: &str, block: &str) -> bool {
    let (net, bits) = block.split_once('/').unwrap_or((block, ""));
    let (Ok(ip), Ok(net)) = (value.parse::<IpAddr>(), net.parse::<IpAddr>()) else {
        return false;
    };
    let (a, b, max): (u128, u128, u32) = match (ip, net) {
        (IpAddr::V4(x), IpAddr::V4(y)) => (u32::from(x).into(), u32::from(y).into(), 32),
        (IpAddr::V6(x), IpAddr::V6(y)) => (x.into(), y.into(), 128),
        _ => return false,
    };
    let bits: u32 = if bits.is_empty() {
        max
    } else {
        bits.parse().unwrap_or(u32::MAX)
    };
    if bits > max {
        return false;
    }
    let shift = max - bits;
    shift >= 128 || (a >> shift) == (b >> shift)
}

/// Whether one context value satisfies the (positive form of the) operator for one policy value.
fn test_one(base: &str, have: &str, want: &str) -> bool {
    let positive = base.replace("Not", "");
    match positive.as_str() {
        "StringEquals" | "BinaryEquals" | "ArnEquals" => have == want,
        "StringEqualsIgnoreCase" => have.eq_ignore_ascii_case(want),
        "StringLike" | "ArnLike" => {
            compile(want, &crate::pattern::NoVars).is_some_and(|p| matches(&p, have, false))
        }
        "NumericEquals" => num(have).zip(num(want)).is_some_and(|(a, b)| a == b),
        "NumericLessThan" => num(have).zip(num(want)).is_some_and(|(a, b)| a < b),
        "NumericLessThanEquals" => num(have).zip(num(want)).is_some_and(|(a, b)| a <= b),
        "NumericGreaterThan" => num(have).zip(num(want)).is_some_and(|(a, b)| a > b),
        "NumericGreaterThanEquals" => num(have).zip(num(want)).is_some_and(|(a, b)| a >= b),
        "DateEquals" => date(have).zip(date(want)).is_some_and(|(a, b)| a == b),
        "DateLessThan" => date(have).zip(date(want)).is_some_and(|(a, b)| a < b),
        "DateLessThanEquals" => date(have).zip(date(want)).is_some_and(|(a, b)| a <= b),
        "DateGreaterThan" => date(have).zip(date(want)).is_some_and(|(a, b)| a > b),
        "DateGreaterThanEquals" => date(have).zip(date(want)).is_some_and(|(a, b)| a >= b),
        "Bool" => have.eq_ignore_ascii_case(want),
        "IpAddress" => cidr(have, want),
        _ => false,
    }
}

/// One context value against every policy value: any match for positive operators, none for
/// negated ones.
fn value_passes(base: &str, have: &str, wants: &[String]) -> bool {
    let any = wants.iter().any(|w| test_one(base, have, w));
    if negated(base) { !any } else { any }
}

/// Evaluates one condition; `false` when it does not hold or cannot be evaluated.
pub fn holds(cond: &Condition, vars: &dyn Vars) -> bool {
    let Some((set, base, if_exists)) = split_operator(&cond.operator) else {
        return false;
    };
    let have = vars.get(&cond.key).filter(|v| !v.is_empty());
    if base == "Null" {
        let want_null = cond.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
        return want_null == have.is_none();
    }
    let Some(wants) = cond
        .values
        .iter()
        .map(|v| substitute(v, vars))
        .collect::<Option<Vec<_>>>()
    else {
        return false;
    };
    let Some(have) = have else {
        return if_exists || set == Some("ForAllValues");
    };
    match set {
        Some("ForAllValues") => have.iter().all(|h| value_passes(base, h, &wants)),
        Some(_) => have.iter().any(|h| value_passes(base, h, &wants)),
        None => value_passes(base, &have[0], &wants),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn ctx(pairs: &[(&str, &[&str])]) -> HashMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    fn cond(op: &str, key: &str, values: &[&str]) -> Condition {
        Condition {
            operator: op.into(),
            key: key.into(),
            values: values.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn operator_table() {
        let c = ctx(&[
            ("iot:ClientId", &["dev-1"]),
            ("iot:Connection.Thing.IsAttached", &["true"]),
            ("aws:SourceIp", &["10.1.2.3"]),
            ("n", &["5"]),
            ("iot:ConnectAttributes", &["PersistentConnect", "LastWill"]),
            ("d", &["2030-01-01T00:00:00Z"]),
        ]);
        let cases: &[(Condition, bool)] = &[
            (cond("StringEquals", "iot:ClientId", &["dev-1"]), true),
            (
                cond("StringEquals", "iot:ClientId", &["dev-2", "dev-1"]),
                true,
            ),
            (cond("StringNotEquals", "iot:ClientId", &["dev-1"]), false),
            (cond("StringLike", "iot:ClientId", &["dev-?"]), true),
            (cond("StringNotLike", "iot:ClientId", &["x*"]), true),
            (
                cond("StringEqualsIgnoreCase", "iot:ClientId", &["DEV-1"]),
                true,
            ),
            (
                cond("Bool", "iot:Connection.Thing.IsAttached", &["true"]),
                true,
            ),
            (
                cond("Bool", "iot:Connection.Thing.IsAttached", &["false"]),
                false,
            ),
            (cond("IpAddress", "aws:SourceIp", &["10.0.0.0/8"]), true),
            (cond("NotIpAddress", "aws:SourceIp", &["10.0.0.0/8"]), false),
            (cond("NumericLessThan", "n", &["6"]), true),
            (cond("NumericGreaterThanEquals", "n", &["6"]), false),
            (
                cond("DateGreaterThan", "d", &["2029-12-31T00:00:00Z"]),
                true,
            ),
            (cond("StringEquals", "missing", &["x"]), false),
            (cond("StringEqualsIfExists", "missing", &["x"]), true),
            (cond("Null", "missing", &["true"]), true),
            (cond("Null", "iot:ClientId", &["true"]), false),
            (
                cond(
                    "ForAllValues:StringEquals",
                    "iot:ConnectAttributes",
                    &["PersistentConnect"],
                ),
                false,
            ),
            (
                cond(
                    "ForAllValues:StringEquals",
                    "iot:ConnectAttributes",
                    &["PersistentConnect", "LastWill"],
                ),
                true,
            ),
            (
                cond(
                    "ForAnyValue:StringEquals",
                    "iot:ConnectAttributes",
                    &["LastWill"],
                ),
                true,
            ),
            (cond("ForAllValues:StringEquals", "missing", &["x"]), true),
            (
                cond("StringEquals", "iot:ClientId", &["${iot:ClientId}"]),
                true,
            ),
            (
                cond("StringEquals", "iot:ClientId", &["${iot:Nope}"]),
                false,
            ),
            (cond("Bogus", "iot:ClientId", &["x"]), false),
        ];
        for (c0, want) in cases {
            assert_eq!(holds(c0, &c), *want, "{c0:?}");
        }
    }

    #[test]
    fn operator_names_parse() {
        assert_eq!(
            split_operator("ForAnyValue:StringLikeIfExists"),
            Some((Some("ForAnyValue"), "StringLike", true))
        );
        assert_eq!(split_operator("Null"), Some((None, "Null", false)));
        assert_eq!(split_operator("Maybe:StringLike"), None);
        assert_eq!(split_operator("StringSortOf"), None);
    }
}
