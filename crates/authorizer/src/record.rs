//! One custom authorizer as CreateAuthorizer makes it and UpdateAuthorizer changes it, with
//! the model's name rules and AWS's semantics: signing is on unless `signingDisabled`, and
//! then a token key name and RSA keys of at least 2,048 bits are required; `signingDisabled`
//! never changes after creation.

use iotmock_model::{IotError, IotResult};
use iotmock_pki::TokenKey;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// An authorizer's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    #[serde(rename = "ACTIVE")]
    Active,
    #[serde(rename = "INACTIVE")]
    Inactive,
}

impl Status {
    pub fn parse(text: &str) -> IotResult<Self> {
        match text {
            "ACTIVE" => Ok(Status::Active),
            "INACTIVE" => Ok(Status::Inactive),
            other => Err(IotError::invalid(format!(
                "status must be ACTIVE or INACTIVE, not '{other}'"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "ACTIVE",
            Status::Inactive => "INACTIVE",
        }
    }
}

/// A custom authorizer, as kept in the state dir.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizerRecord {
    pub region: String,
    pub name: String,
    pub arn: String,
    pub function_arn: String,
    pub token_key_name: Option<String>,
    /// Key name -> PEM public key.
    pub public_keys: BTreeMap<String, String>,
    pub status: Status,
    pub signing_disabled: bool,
    pub caching_for_http: bool,
    pub created_ms: i64,
    pub modified_ms: i64,
}

/// The members of a CreateAuthorizer or UpdateAuthorizer body.
#[derive(Debug, Default)]
pub struct Fields {
    pub function_arn: Option<String>,
    pub token_key_name: Option<String>,
    pub public_keys: Option<BTreeMap<String, String>>,
    pub status: Option<Status>,
    pub signing_disabled: Option<bool>,
    pub caching_for_http: Option<bool>,
}

fn text(body: &Value, key: &str) -> IotResult<Option<String>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(IotError::invalid(format!("{key} must be a string"))),
    }
}

fn flag(body: &Value, key: &str) -> IotResult<Option<bool>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(IotError::invalid(format!("{key} must be a boolean"))),
    }
}

impl Fields {
    /// Reads a request body's members (shapes checked here, values by [`check`]).
    pub fn from_json(body: &Value) -> IotResult<Self> {
        let public_keys = match body.get("tokenSigningPublicKeys") {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) => Some(
                map.iter()
                    .map(|(k, v)| match v {
                        Value::String(pem) => Ok((k.clone(), pem.clone())),
                        _ => Err(IotError::invalid(format!(
                            "tokenSigningPublicKeys.{k} must be a PEM string"
                        ))),
                    })
                    .collect::<IotResult<_>>()?,
            ),
            Some(_) => {
                return Err(IotError::invalid(
                    "tokenSigningPublicKeys must be a map of key names to PEM public keys",
                ));
            }
        };
        Ok(Self {
            function_arn: text(body, "authorizerFunctionArn")?,
            token_key_name: text(body, "tokenKeyName")?,
            public_keys,
            status: text(body, "status")?
                .map(|s| Status::parse(&s))
                .transpose()?,
            signing_disabled: flag(body, "signingDisabled")?,
            caching_for_http: flag(body, "enableCachingForHttp")?,
        })
    }
}

/// `[\w=,@-]+`, 1 to 128 characters.
pub fn check_name(name: &str) -> IotResult<()> {
    let ok = (1..=128).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "_=,@-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(IotError::invalid(format!(
            "authorizerName '{name}' must be 1 to 128 characters of letters, digits and _=,@-"
        )))
    }
}

fn check_token_key_name(name: &str) -> IotResult<()> {
    let ok = (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(IotError::invalid(format!(
            "tokenKeyName '{name}' must be 1 to 128 characters of letters, digits, _ and -"
        )))
    }
}

fn check_keys(keys: &BTreeMap<String, String>) -> IotResult<()> {
    for (name, pem) in keys {
        let ok = (1..=128).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":_-".contains(&b));
        if !ok {
            return Err(IotError::invalid(format!(
                "tokenSigningPublicKeys: key name '{name}' must be 1 to 128 characters of letters, digits and :_-"
            )));
        }
        if pem.len() > 5120 {
            return Err(IotError::invalid(format!(
                "tokenSigningPublicKeys.{name} is longer than 5120 characters"
            )));
        }
        TokenKey::from_pem(pem)
            .map_err(|e| IotError::invalid(format!("tokenSigningPublicKeys.{name}: {e}")))?;
    }
    Ok(())
}

impl AuthorizerRecord {
    /// A new authorizer from CreateAuthorizer's body (`arn` already made).
    pub fn create(region: &str, name: &str, arn: String, f: Fields, now: i64) -> IotResult<Self> {
        check_name(name)?;
        let function_arn = f
            .function_arn
            .ok_or_else(|| IotError::invalid("authorizerFunctionArn is required"))?;
        let record = Self {
            region: region.to_string(),
            name: name.to_string(),
            arn,
            function_arn,
            token_key_name: f.token_key_name,
            public_keys: f.public_keys.unwrap_or_default(),
            status: f.status.unwrap_or(Status::Active),
            signing_disabled: f.signing_disabled.unwrap_or(false),
            caching_for_http: f.caching_for_http.unwrap_or(false),
            created_ms: now,
            modified_ms: now,
        };
        record.check()?;
        Ok(record)
    }

    /// UpdateAuthorizer: the members given replace the ones kept.
    pub fn update(&self, f: Fields, now: i64) -> IotResult<Self> {
        if f.signing_disabled
            .is_some_and(|s| s != self.signing_disabled)
        {
            return Err(IotError::invalid(
                "signingDisabled cannot be changed after the authorizer is created",
            ));
        }
        let mut next = self.clone();
        if let Some(v) = f.function_arn {
            next.function_arn = v;
        }
        if let Some(v) = f.token_key_name {
            next.token_key_name = Some(v);
        }
        if let Some(v) = f.public_keys {
            next.public_keys = v;
        }
        if let Some(v) = f.status {
            next.status = v;
        }
        if let Some(v) = f.caching_for_http {
            next.caching_for_http = v;
        }
        next.modified_ms = now;
        next.check()?;
        Ok(next)
    }

    fn check(&self) -> IotResult<()> {
        if self.function_arn.is_empty() || self.function_arn.len() > 2048 {
            return Err(IotError::invalid(
                "authorizerFunctionArn must be 1 to 2048 characters",
            ));
        }
        if let Some(name) = &self.token_key_name {
            check_token_key_name(name)?;
        }
        check_keys(&self.public_keys)?;
        if !self.signing_disabled {
            if self.token_key_name.is_none() {
                return Err(IotError::invalid(
                    "tokenKeyName is required when signing is enabled (signingDisabled is false)",
                ));
            }
            if self.public_keys.is_empty() {
                return Err(IotError::invalid(
                    "tokenSigningPublicKeys is required when signing is enabled (signingDisabled is false)",
                ));
            }
        }
        Ok(())
    }

    /// The public keys, parsed (each was checked when stored).
    pub fn keys(&self) -> Vec<TokenKey> {
        self.public_keys
            .values()
            .filter_map(|pem| TokenKey::from_pem(pem).ok())
            .collect()
    }

    /// `{authorizerName, authorizerArn}`.
    pub fn summary(&self) -> Value {
        json!({ "authorizerName": self.name, "authorizerArn": self.arn })
    }

    /// AuthorizerDescription.
    pub fn description(&self) -> Value {
        let secs = |ms: i64| ms as f64 / 1000.0;
        let mut d = json!({
            "authorizerName": self.name,
            "authorizerArn": self.arn,
            "authorizerFunctionArn": self.function_arn,
            "tokenSigningPublicKeys": self.public_keys,
            "status": self.status.as_str(),
            "creationDate": secs(self.created_ms),
            "lastModifiedDate": secs(self.modified_ms),
            "signingDisabled": self.signing_disabled,
            "enableCachingForHttp": self.caching_for_http,
        });
        if let (Some(name), Some(map)) = (&self.token_key_name, d.as_object_mut()) {
            map.insert("tokenKeyName".into(), json!(name));
        }
        d
    }
}
