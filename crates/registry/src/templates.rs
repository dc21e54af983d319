//! Provisioning templates: create, describe, list, update, delete, and their versions (at
//! most 5, one the default). Bodies are validated by the template language
//! (crates/provisioning) when they are stored, so a template that is stored can be run.

use crate::records::Op;
use crate::{Registry, validate};
use iotmock_model::{EpochMillis, ErrorCode, IotError, IotResult};
use iotmock_provisioning::Template;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The most versions a template keeps.
pub const MAX_TEMPLATE_VERSIONS: usize = 5;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateVersion {
    pub body: String,
    pub created: EpochMillis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateRecord {
    pub region: String,
    pub name: String,
    pub description: Option<String>,
    /// `FLEET_PROVISIONING` or `JITP`.
    pub kind: String,
    pub enabled: bool,
    pub role_arn: String,
    pub default_version: u64,
    pub next_version: u64,
    pub versions: BTreeMap<u64, TemplateVersion>,
    pub created: EpochMillis,
    pub modified: EpochMillis,
}

impl TemplateRecord {
    /// The default version's body.
    pub fn body(&self) -> &str {
        self.versions
            .get(&self.default_version)
            .map_or("", |v| v.body.as_str())
    }
}

/// CreateProvisioningTemplate's input.
#[derive(Debug, Clone, Default)]
pub struct NewTemplate {
    pub name: String,
    pub body: Option<String>,
    pub role_arn: Option<String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub kind: Option<String>,
    /// A `preProvisioningHook` was given (refused: no Lambda runs here).
    pub hook: bool,
}

/// UpdateProvisioningTemplate's input.
#[derive(Debug, Clone, Default)]
pub struct TemplateUpdate {
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub default_version: Option<u64>,
    pub role_arn: Option<String>,
    pub hook: bool,
}

fn missing(name: &str) -> IotError {
    IotError::not_found(format!("The provisioning template {name} does not exist"))
}

/// A template body AWS would store: within limits, and valid.
pub fn check_body(body: Option<&str>) -> IotResult<Template> {
    let body = validate::required("templateBody", body)?;
    Template::parse(body)
        .map_err(|e| IotError::invalid(format!("The provisioning template is invalid: {e}")))
}

fn check_name(name: &str) -> IotResult<()> {
    let ok = (1..=36).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        return Ok(());
    }
    Err(IotError::invalid(format!(
        "1 validation error detected: Value '{name}' at 'templateName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[0-9A-Za-z_-]+$ and have length between 1 and 36"
    )))
}

fn check_role(role: &str) -> IotResult<()> {
    if (20..=2048).contains(&role.len()) {
        return Ok(());
    }
    Err(IotError::invalid(
        "provisioningRoleArn must be between 20 and 2048 characters",
    ))
}

fn no_hook() -> IotError {
    IotError::invalid(
        "preProvisioningHook is not served: iotmock runs no Lambda functions, so a template with a pre-provisioning hook cannot be run; remove the hook",
    )
}

impl Registry {
    pub fn template_arn(&self, region: &str, name: &str) -> String {
        self.arn(region).resource("provisioningtemplate", name)
    }

    /// CreateProvisioningTemplate.
    pub fn create_template(&mut self, region: &str, t: NewTemplate) -> IotResult<TemplateRecord> {
        check_name(&t.name)?;
        check_body(t.body.as_deref())?;
        let role = validate::required("provisioningRoleArn", t.role_arn.as_deref())?;
        check_role(role)?;
        if t.hook {
            return Err(no_hook());
        }
        let kind = t.kind.unwrap_or_else(|| "FLEET_PROVISIONING".into());
        if kind != "FLEET_PROVISIONING" && kind != "JITP" {
            return Err(IotError::invalid(format!(
                "type must be FLEET_PROVISIONING or JITP, not {kind}"
            )));
        }
        if self.state(region).templates.contains_key(&t.name) {
            let arn = self.template_arn(region, &t.name);
            let msg = format!("Template with name {} already exists", t.name);
            return Err(IotError::already_exists(msg, &t.name, &arn));
        }
        let now = self.now();
        let body = t.body.unwrap_or_default();
        let record = TemplateRecord {
            region: region.to_string(),
            name: t.name,
            description: t.description,
            kind,
            enabled: t.enabled,
            role_arn: role.to_string(),
            default_version: 1,
            next_version: 2,
            versions: BTreeMap::from([(1, TemplateVersion { body, created: now })]),
            created: now,
            modified: now,
        };
        self.commit(vec![Op::PutTemplate(record.clone())])?;
        Ok(record)
    }

    pub fn describe_template(&self, region: &str, name: &str) -> IotResult<&TemplateRecord> {
        self.state(region)
            .templates
            .get(name)
            .ok_or_else(|| missing(name))
    }

    pub fn list_templates(&self, region: &str) -> Vec<&TemplateRecord> {
        self.state(region).templates.values().collect()
    }

    /// UpdateProvisioningTemplate.
    pub fn update_template(
        &mut self,
        region: &str,
        name: &str,
        u: TemplateUpdate,
    ) -> IotResult<()> {
        let mut t = self.describe_template(region, name)?.clone();
        if u.hook {
            return Err(no_hook());
        }
        if let Some(v) = u.default_version {
            if !t.versions.contains_key(&v) {
                return Err(IotError::not_found(format!(
                    "Version {v} of the provisioning template {name} does not exist"
                )));
            }
            t.default_version = v;
        }
        if let Some(role) = u.role_arn {
            check_role(&role)?;
            t.role_arn = role;
        }
        if let Some(d) = u.description {
            t.description = Some(d);
        }
        if let Some(e) = u.enabled {
            t.enabled = e;
        }
        t.modified = self.now();
        self.commit(vec![Op::PutTemplate(t)])
    }

    /// DeleteProvisioningTemplate: refused while a CA's JITP configuration names it.
    pub fn delete_template(&mut self, region: &str, name: &str) -> IotResult<()> {
        self.describe_template(region, name)?;
        let used = self.state(region).cas.values().any(|ca| {
            ca.registration_config
                .as_ref()
                .and_then(|c| c.get("templateName"))
                .and_then(serde_json::Value::as_str)
                == Some(name)
        });
        if used {
            return Err(IotError::delete_conflict(format!(
                "The provisioning template {name} is used by a CA certificate's registration config"
            )));
        }
        let untag = self.untag_all(region, &self.template_arn(region, name));
        let (region, name) = (region.to_string(), name.to_string());
        self.commit(vec![Op::DelTemplate { region, name }, untag])
    }

    /// CreateProvisioningTemplateVersion: returns the new version id.
    pub fn create_template_version(
        &mut self,
        region: &str,
        name: &str,
        body: Option<&str>,
        set_as_default: bool,
    ) -> IotResult<u64> {
        let mut t = self.describe_template(region, name)?.clone();
        check_body(body)?;
        if t.versions.len() >= MAX_TEMPLATE_VERSIONS {
            return Err(IotError::new(
                ErrorCode::VersionsLimitExceeded,
                format!(
                    "The provisioning template {name} already has {MAX_TEMPLATE_VERSIONS} versions; delete one first"
                ),
            ));
        }
        let id = t.next_version;
        let created = self.now();
        let body = body.unwrap_or_default().to_string();
        t.versions.insert(id, TemplateVersion { body, created });
        t.next_version += 1;
        if set_as_default {
            t.default_version = id;
        }
        t.modified = created;
        self.commit(vec![Op::PutTemplate(t)])?;
        Ok(id)
    }

    /// DeleteProvisioningTemplateVersion: never the default version.
    pub fn delete_template_version(
        &mut self,
        region: &str,
        name: &str,
        version: u64,
    ) -> IotResult<()> {
        let mut t = self.describe_template(region, name)?.clone();
        if !t.versions.contains_key(&version) {
            return Err(IotError::not_found(format!(
                "Version {version} of the provisioning template {name} does not exist"
            )));
        }
        if t.default_version == version {
            return Err(IotError::delete_conflict(
                "The default version of a provisioning template cannot be deleted",
            ));
        }
        t.versions.remove(&version);
        self.commit(vec![Op::PutTemplate(t)])
    }
}
