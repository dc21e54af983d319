//! Topic rule destinations: where `http` actions may send (an HTTP URL prefix, confirmed by
//! its owner) and VPC destinations. An HTTP destination starts `IN_PROGRESS` and AWS POSTs a
//! confirmation to its URL carrying a token; `ConfirmTopicRuleDestination(token)` (or the
//! `enableUrl`) makes it `ENABLED`. Update moves `ENABLED` <-> `DISABLED`, and to
//! `IN_PROGRESS` to confirm again. Kept with the rules (`rules.db`).

use crate::book::BookError;
use crate::rule::RuleError;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The store kind of destination records.
pub const KIND_DESTINATION: &str = "topic_rule_destination";

pub const ENABLED: &str = "ENABLED";
pub const IN_PROGRESS: &str = "IN_PROGRESS";
pub const DISABLED: &str = "DISABLED";

/// One destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Destination {
    pub arn: String,
    pub region: String,
    pub status: String,
    pub confirmation_url: Option<String>,
    /// `vpcConfiguration` as given (a VPC destination).
    pub vpc: Option<Value>,
    /// The confirmation token of the last confirmation sent.
    pub token: String,
    pub created_at_ms: i64,
    pub last_updated_at_ms: i64,
    pub status_reason: Option<String>,
}

fn invalid(message: impl Into<String>) -> BookError {
    BookError::Rule(RuleError::Invalid(message.into()))
}

/// What CreateTopicRuleDestination makes of `destinationConfiguration`: an HTTP destination
/// starts `IN_PROGRESS` (or `ENABLED` when confirmations are skipped); a VPC one `ENABLED`.
pub fn from_configuration(
    config: &Value,
    (region, account): (&str, &str),
    (uuid, token): (&str, &str),
    now_ms: i64,
    auto_confirm: bool,
) -> Result<Destination, BookError> {
    let http = config.get("httpUrlConfiguration");
    let vpc = config.get("vpcConfiguration");
    let (kind, url, vpc) = match (http, vpc) {
        (Some(h), None) => {
            let url = h
                .get("confirmationUrl")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("httpUrlConfiguration.confirmationUrl is required"))?;
            check_url(url)?;
            ("http", Some(url.to_string()), None)
        }
        (None, Some(v)) => {
            for field in ["subnetIds", "vpcId", "roleArn"] {
                if v.get(field).is_none() {
                    return Err(invalid(format!("vpcConfiguration.{field} is required")));
                }
            }
            ("vpc", None, Some(v.clone()))
        }
        _ => {
            return Err(invalid(
                "destinationConfiguration needs exactly one of httpUrlConfiguration and vpcConfiguration",
            ));
        }
    };
    let status = if kind == "vpc" || auto_confirm {
        ENABLED
    } else {
        IN_PROGRESS
    };
    Ok(Destination {
        arn: format!("arn:aws:iot:{region}:{account}:ruledestination/{kind}/{uuid}"),
        region: region.to_string(),
        status: status.to_string(),
        confirmation_url: url,
        vpc,
        token: token.to_string(),
        created_at_ms: now_ms,
        last_updated_at_ms: now_ms,
        status_reason: None,
    })
}

/// An HTTPS URL of at most 2000 characters (plain HTTP is taken too, for local endpoints).
fn check_url(url: &str) -> Result<(), BookError> {
    let scheme = url.starts_with("https://") || url.starts_with("http://");
    if scheme && url.len() > "https://".len() && url.len() <= 2000 {
        Ok(())
    } else {
        Err(invalid(format!(
            "confirmationUrl '{url}' is not an HTTPS URL of at most 2000 characters"
        )))
    }
}

/// Whether UpdateTopicRuleDestination may take a destination from `from` to `to`.
pub fn check_transition(from: &str, to: &str) -> Result<(), BookError> {
    let allowed = match to {
        ENABLED => from == DISABLED || from == ENABLED,
        DISABLED => from == ENABLED || from == DISABLED,
        IN_PROGRESS => true,
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(invalid(format!(
            "A destination in status {from} cannot be set to {to} (ENABLED <-> DISABLED, or IN_PROGRESS to confirm again)"
        )))
    }
}

impl Destination {
    /// The confirmation AWS POSTs to `{confirmationUrl}/?confirmationToken={token}`.
    pub fn confirmation(&self) -> Value {
        json!({
            "arn": self.arn,
            "confirmationToken": self.token,
            "enableUrl": format!("https://iot.{}.amazonaws.com/confirmdestination/{}", self.region, self.token),
            "messageType": "DestinationConfirmation",
        })
    }

    /// `TopicRuleDestination`.
    pub fn to_json(&self) -> Value {
        let mut out = json!({
            "arn": self.arn,
            "status": self.status,
            "createdAt": self.created_at_ms as f64 / 1000.0,
            "lastUpdatedAt": self.last_updated_at_ms as f64 / 1000.0,
        });
        if let Some(reason) = &self.status_reason {
            out["statusReason"] = json!(reason);
        }
        if let Some(url) = &self.confirmation_url {
            out["httpUrlProperties"] = json!({ "confirmationUrl": url });
        }
        if let Some(vpc) = &self.vpc {
            out["vpcProperties"] = vpc.clone();
        }
        out
    }

    /// `TopicRuleDestinationSummary`.
    pub fn summary(&self) -> Value {
        let mut out = self.to_json();
        if let Some(url) = &self.confirmation_url {
            out["httpUrlSummary"] = json!({ "confirmationUrl": url });
        }
        if let Some(vpc) = &self.vpc {
            out["vpcDestinationSummary"] = vpc.clone();
        }
        if let Some(map) = out.as_object_mut() {
            map.remove("httpUrlProperties");
            map.remove("vpcProperties");
        }
        out
    }
}

/// The destination an `http` action needs, by AWS's rules: a static `url` without
/// `confirmationUrl` needs `url` itself; with one, `url` must start with it and it is the
/// destination; a templated `url` needs a `confirmationUrl`; a templated `confirmationUrl`
/// names destinations the user creates (`None`).
pub fn required_by(http: &Value) -> Result<Option<String>, BookError> {
    let url = http.get("url").and_then(Value::as_str).unwrap_or_default();
    let confirmation = http.get("confirmationUrl").and_then(Value::as_str);
    let templated = |s: &str| s.contains("${");
    match confirmation {
        None if templated(url) => Err(invalid(
            "an http action whose url has substitution templates needs a confirmationUrl",
        )),
        None => Ok(Some(url.to_string())),
        Some(c) if templated(c) => Ok(None),
        Some(c) if !templated(url) && !url.starts_with(c) => Err(invalid(format!(
            "the http action's url '{url}' must start with its confirmationUrl '{c}'"
        ))),
        Some(c) => Ok(Some(c.to_string())),
    }
}

/// The destinations a rule's `http` actions (and `http` error action) need; refuses a rule
/// whose actions break AWS's rules.
pub fn required_by_rule(payload: &Value) -> Result<Vec<String>, BookError> {
    let actions = payload.get("actions").and_then(Value::as_array);
    let error = payload.get("errorAction");
    let mut out = Vec::new();
    for action in actions.into_iter().flatten().chain(error) {
        if let Some(http) = action.get("http")
            && let Some(url) = required_by(http)?
            && !out.contains(&url)
        {
            out.push(url);
        }
    }
    Ok(out)
}

/// Whether `url` falls under a destination of `destinations` that is ENABLED.
pub fn covers<'a>(url: &str, mut destinations: impl Iterator<Item = &'a Destination>) -> bool {
    destinations.any(|d| {
        d.status == ENABLED
            && d.confirmation_url
                .as_deref()
                .is_some_and(|c| url.starts_with(c))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_destination_waits_for_its_confirmation_and_moves_as_aws_allows() {
        let config = json!({ "httpUrlConfiguration": { "confirmationUrl": "https://hooks.example.com/iot" } });
        let d =
            from_configuration(&config, ("us-east-1", "123"), ("u1", "t1"), 5_000, false).unwrap();
        assert_eq!(d.status, IN_PROGRESS);
        assert_eq!(d.arn, "arn:aws:iot:us-east-1:123:ruledestination/http/u1");
        assert_eq!(d.confirmation()["confirmationToken"], "t1");
        assert_eq!(
            d.to_json()["httpUrlProperties"]["confirmationUrl"],
            "https://hooks.example.com/iot"
        );
        assert!(d.summary().get("httpUrlSummary").is_some());
        let auto =
            from_configuration(&config, ("us-east-1", "123"), ("u2", "t2"), 0, true).unwrap();
        assert_eq!(auto.status, ENABLED);
        assert!(
            check_transition(IN_PROGRESS, ENABLED).is_err(),
            "only a confirmation enables"
        );
        assert!(check_transition(ENABLED, DISABLED).is_ok());
        assert!(check_transition(DISABLED, ENABLED).is_ok());
        assert!(check_transition(ENABLED, "ERROR").is_err());
        for bad in [
            json!({}),
            json!({ "httpUrlConfiguration": {} }),
            json!({ "vpcConfiguration": { "vpcId": "v" } }),
        ] {
            assert!(
                from_configuration(&bad, ("r", "a"), ("u", "t"), 0, false).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_http_action_needs_the_destination_aws_names() {
        use super::required_by;
        let need = |v: Value| required_by(&v).map_err(|_| ());
        let u = "https://a.test/x";
        assert_eq!(need(json!({ "url": u })), Ok(Some(u.to_string())));
        let c = json!({ "url": u, "confirmationUrl": "https://a.test/" });
        assert_eq!(need(c), Ok(Some("https://a.test/".to_string())));
        assert!(need(json!({ "url": "https://a.test/${topic()}" })).is_err());
        assert!(need(json!({ "url": u, "confirmationUrl": "https://b.test/" })).is_err());
        let t =
            json!({ "url": "https://a.test/${topic()}", "confirmationUrl": "https://${topic()}/" });
        assert_eq!(need(t), Ok(None));
    }
}
