//! CreateProvisioningClaim (fleet provisioning by trusted user): a claim certificate from the
//! mock root, ACTIVE, valid for 5 minutes, hidden from ListCertificates, whose only rights are
//! the fleet provisioning topics of its template (AWS's documented claim policy).

use crate::Registry;
use crate::certs::Registered;
use crate::records::Op;
use iotmock_model::{CertStatus, IotError, IotResult};
use iotmock_pki::{IssuedKeys, parse_certificate_pem};
use iotmock_policy::{NamedPolicy, PolicyDocument};

/// How long a claim certificate is valid (AWS: 5 minutes).
pub const CLAIM_SECONDS: i64 = 300;

/// A claim and when it expires (epoch seconds).
#[derive(Debug, Clone)]
pub struct Claim {
    pub registered: Registered,
    pub keys: IssuedKeys,
    pub expires_secs: i64,
}

/// The rights of a claim certificate for `template`.
pub fn claim_policy(template: &str) -> NamedPolicy {
    let provision = format!("$aws/provisioning-templates/{template}/provision/*");
    let doc = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Effect": "Allow", "Action": "iot:Connect", "Resource": "*" },
            { "Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
              "Resource": [
                  "arn:aws:iot:*:*:topic/$aws/certificates/create/*",
                  "arn:aws:iot:*:*:topic/$aws/certificates/create-from-csr/*",
                  format!("arn:aws:iot:*:*:topic/{provision}"),
              ] },
            { "Effect": "Allow", "Action": "iot:Subscribe",
              "Resource": [
                  "arn:aws:iot:*:*:topicfilter/$aws/certificates/create/*",
                  "arn:aws:iot:*:*:topicfilter/$aws/certificates/create-from-csr/*",
                  format!("arn:aws:iot:*:*:topicfilter/{provision}"),
              ] },
        ],
    });
    let document = PolicyDocument::parse(&doc.to_string()).unwrap_or(PolicyDocument {
        version: None,
        statements: Vec::new(),
    });
    NamedPolicy {
        name: format!("iotmock-provisioning-claim-{template}"),
        version: "1".into(),
        document,
    }
}

impl Registry {
    /// The checks CreateProvisioningClaim makes before any key is minted: the template
    /// exists, is enabled and is a FLEET_PROVISIONING template.
    pub fn claim_template(&self, region: &str, template: &str) -> IotResult<()> {
        let t = self.describe_template(region, template)?;
        if t.kind == "JITP" {
            return Err(IotError::invalid(format!(
                "The provisioning template {template} is a JITP template; claims are for FLEET_PROVISIONING templates"
            )));
        }
        if !t.enabled {
            return Err(IotError::invalid(format!(
                "The provisioning template {template} is disabled"
            )));
        }
        Ok(())
    }

    /// CreateProvisioningClaim with keys minted by [`iotmock_pki::MockCa::issue_keys_until`]
    /// (outside the registry lock). Claims that have expired are dropped first.
    pub fn create_provisioning_claim(
        &mut self,
        region: &str,
        template: &str,
        keys: IssuedKeys,
    ) -> IotResult<Claim> {
        self.claim_template(region, template)?;
        let cert = parse_certificate_pem(&keys.certificate_pem, "certificatePem")
            .map_err(|e| IotError::internal(format!("issued certificate unreadable: {e}")))?;
        let mut record = self.cert_record(region, &cert, CertStatus::Active, None);
        record.claim_template = Some(template.to_string());
        let now = self.now_secs();
        let mut ops: Vec<Op> = self
            .state(region)
            .certs
            .values()
            .filter(|c| c.claim_template.is_some() && c.not_after < now)
            .map(|c| Op::DelCert {
                region: region.to_string(),
                id: c.id.clone(),
            })
            .collect();
        let registered = Registered {
            arn: self.arn(region).cert(&record.id),
            id: record.id.clone(),
        };
        let expires_secs = record.not_after;
        ops.push(Op::PutCert(record));
        self.commit(ops)?;
        Ok(Claim {
            registered,
            keys,
            expires_secs,
        })
    }
}
