//! Input constraints from the service model, refused with AWS's Coral-style message.

use iotmock_model::{IotError, IotResult};

fn violation(field: &str, value: &str, constraint: &str) -> IotError {
    IotError::invalid(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
    ))
}

/// certificateId / caCertificateId: 64 hex characters.
pub fn cert_id(field: &str, value: &str) -> IotResult<()> {
    if value.len() != 64 {
        return Err(violation(field, value, "Member must have length 64"));
    }
    if !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(violation(
            field,
            value,
            "Member must satisfy regular expression pattern: (0x)?[a-fA-F0-9]+",
        ));
    }
    Ok(())
}

fn name(
    field: &str,
    value: &str,
    max: usize,
    ok: fn(char) -> bool,
    pattern: &str,
) -> IotResult<()> {
    if value.is_empty() || value.chars().count() > max {
        return Err(violation(
            field,
            value,
            &format!("Member must have length between 1 and {max}"),
        ));
    }
    if !value.chars().all(ok) {
        return Err(violation(
            field,
            value,
            &format!("Member must satisfy regular expression pattern: {pattern}"),
        ));
    }
    Ok(())
}

/// policyName: 1-128 of `[\w+=,.@-]`.
pub fn policy_name(value: &str) -> IotResult<()> {
    name(
        "policyName",
        value,
        128,
        |c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c),
        "[\\w+=,.@-]+",
    )
}

/// thingName, thingTypeName, billingGroupName: 1-128 of `[a-zA-Z0-9:_-]`.
pub fn thing_name(field: &str, value: &str) -> IotResult<()> {
    name(
        field,
        value,
        128,
        |c| c.is_ascii_alphanumeric() || ":_-".contains(c),
        "[a-zA-Z0-9:_-]+",
    )
}

/// An attribute name (1-128 of `[a-zA-Z0-9_.,@/:#-]`) and value (0-800 of `[a-zA-Z0-9_.,@/:#=\[\]-]`).
pub fn attribute(key: &str, value: &str) -> IotResult<()> {
    name(
        "attributePayload.attributes.member.key",
        key,
        128,
        |c| c.is_ascii_alphanumeric() || "_.,@/:#-".contains(c),
        "[a-zA-Z0-9_.,@/:#-]+",
    )?;
    if value.chars().count() > 800
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.,@/:#=[]-".contains(c))
    {
        return Err(violation(
            "attributePayload.attributes.member.value",
            value,
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.,@/:#=\\[\\]-]*",
        ));
    }
    Ok(())
}

/// policyVersionId: decimal digits.
pub fn version_id(value: &str) -> IotResult<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(violation(
            "policyVersionId",
            value,
            "Member must satisfy regular expression pattern: [0-9]+",
        ));
    }
    value
        .parse()
        .map_err(|_| violation("policyVersionId", value, "Member must be a version number"))
}

/// A required string member that is present and not empty.
pub fn required<'a>(field: &str, value: Option<&'a str>) -> IotResult<&'a str> {
    match value {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(IotError::invalid(format!(
            "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_follow_the_model() {
        assert!(cert_id("certificateId", &"a".repeat(64)).is_ok());
        assert!(
            cert_id("certificateId", "abc")
                .unwrap_err()
                .message
                .contains("length 64")
        );
        assert!(cert_id("certificateId", &"g".repeat(64)).is_err());
        assert!(policy_name("a.b@c=d,e+f-g_h").is_ok());
        assert!(policy_name("a/b").is_err());
        assert!(thing_name("thingName", "dev:1_a-b").is_ok());
        assert!(thing_name("thingName", "dev 1").is_err());
        assert!(thing_name("thingName", &"x".repeat(129)).is_err());
        assert!(attribute("model", "a[1]=b").is_ok());
        assert!(attribute("mo del", "x").is_err());
        assert_eq!(version_id("12").ok(), Some(12));
        assert!(version_id("1a").is_err());
    }
}
