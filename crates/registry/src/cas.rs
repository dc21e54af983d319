//! Registration codes and CA certificates: GetRegistrationCode, DeleteRegistrationCode,
//! RegisterCACertificate (with proof of possession), UpdateCACertificate,
//! DescribeCACertificate, ListCACertificates and DeleteCACertificate.

use crate::paging::{Page, PageRequest, paginate};
use crate::records::{CaRecord, Op, RegistrationCode};
use crate::{Registry, invalid_cert, random_hex, random_uuid, validate};
use iotmock_model::{
    AutoRegistrationStatus, CaStatus, CertificateMode, ErrorCode, IotError, IotResult,
};
use iotmock_pki::{CertInfo, parse_certificate_pem};

/// AWS's limit on CA certificates with one subject in an account.
const MAX_CAS_PER_SUBJECT: usize = 10;

/// RegisterCACertificate's input.
#[derive(Debug, Clone, Default)]
pub struct RegisterCa {
    pub ca_certificate: Option<String>,
    pub verification_certificate: Option<String>,
    pub set_as_active: bool,
    pub allow_auto_registration: bool,
    pub registration_config: Option<serde_json::Value>,
    pub certificate_mode: Option<String>,
}

impl Registry {
    /// GetRegistrationCode: the region's code, created on first use and stable until deleted.
    pub fn get_registration_code(&mut self, region: &str) -> IotResult<String> {
        if let Some(code) = &self.state(region).registration_code {
            return Ok(code.clone());
        }
        let code = random_hex(32);
        self.commit(vec![Op::PutCode(RegistrationCode {
            region: region.to_string(),
            code: code.clone(),
        })])?;
        Ok(code)
    }

    /// DeleteRegistrationCode: the next GetRegistrationCode mints a new one.
    pub fn delete_registration_code(&mut self, region: &str) -> IotResult<()> {
        if self.state(region).registration_code.is_none() {
            return Err(IotError::not_found(
                "No registration code exists for this account in this region",
            ));
        }
        self.commit(vec![Op::DelCode {
            region: region.to_string(),
        }])
    }

    /// RegisterCACertificate: checks the CA, the proof of possession (DEFAULT mode), the
    /// per-subject limit and duplicates, in that order, and changes nothing on refusal.
    pub fn register_ca_certificate(
        &mut self,
        region: &str,
        req: RegisterCa,
    ) -> IotResult<(String, String)> {
        let mode = match req.certificate_mode.as_deref() {
            None | Some("") => CertificateMode::Default,
            Some(m) => m.parse()?,
        };
        self.check_registration_config(region, req.registration_config.as_ref())?;
        let pem = validate::required("caCertificate", req.ca_certificate.as_deref())?;
        let ca = parse_certificate_pem(pem, "caCertificate").map_err(invalid_cert)?;
        self.check_ca_certificate(&ca)?;
        let verification = req
            .verification_certificate
            .as_deref()
            .filter(|v| !v.is_empty());
        match (mode, verification) {
            (CertificateMode::Default, None) => {
                return Err(IotError::invalid(
                    "The verificationCertificate field must not be empty when certificateMode is DEFAULT",
                ));
            }
            (CertificateMode::SniOnly, Some(_)) => {
                return Err(IotError::invalid(
                    "The verificationCertificate field must be empty when certificateMode is SNI_ONLY",
                ));
            }
            (CertificateMode::Default, Some(v)) => self.check_verification(region, &ca, v)?,
            (CertificateMode::SniOnly, None) => {}
        }
        self.check_ca_unique(region, &ca)?;
        let record = self.ca_record(region, &ca, &req, mode);
        let out = (self.arn(region).cacert(&ca.id), ca.id.clone());
        self.commit(vec![Op::PutCa(record)])?;
        Ok(out)
    }

    fn check_ca_certificate(&self, ca: &CertInfo) -> IotResult<()> {
        if !ca.is_ca {
            return Err(IotError::cert_validation(
                "The certificate is not a CA certificate: basicConstraints CA:TRUE is missing",
            ));
        }
        if !ca.is_valid_at(self.now_secs()) {
            return Err(IotError::cert_validation(
                "The CA certificate is expired or not yet valid",
            ));
        }
        Ok(())
    }

    fn check_verification(&self, region: &str, ca: &CertInfo, pem: &str) -> IotResult<()> {
        let ver = parse_certificate_pem(pem, "verificationCertificate").map_err(invalid_cert)?;
        let code = self.state(region).registration_code.as_deref();
        if code.is_none() || ver.common_name.as_deref() != code {
            return Err(IotError::new(
                ErrorCode::RegistrationCodeValidation,
                "The verification certificate's common name does not match the registration code \
                 of this account and region (call GetRegistrationCode)",
            ));
        }
        if !ver.signature_verifies_with(ca) {
            return Err(IotError::cert_validation(
                "The verification certificate is not signed by the private key of the CA certificate",
            ));
        }
        if !ver.is_valid_at(self.now_secs()) {
            return Err(IotError::cert_validation(
                "The verification certificate is expired or not yet valid",
            ));
        }
        Ok(())
    }

    fn check_ca_unique(&self, region: &str, ca: &CertInfo) -> IotResult<()> {
        let state = self.state(region);
        if state.cas.contains_key(&ca.id) {
            return Err(IotError::already_exists(
                format!("The CA certificate is already registered (id: {})", ca.id),
                &ca.id,
                &self.arn(region).cacert(&ca.id),
            ));
        }
        let subject = hex::encode(&ca.subject_raw);
        let same = state
            .cas
            .values()
            .filter(|c| c.subject_hex == subject)
            .count();
        if same >= MAX_CAS_PER_SUBJECT {
            return Err(IotError::new(
                ErrorCode::LimitExceeded,
                "Limit reached for number of CA Certificates with same subject",
            ));
        }
        Ok(())
    }

    fn ca_record(
        &self,
        region: &str,
        ca: &CertInfo,
        req: &RegisterCa,
        mode: CertificateMode,
    ) -> CaRecord {
        let now = self.now();
        CaRecord {
            region: region.to_string(),
            id: ca.id.clone(),
            pem: ca.pem(),
            status: if req.set_as_active {
                CaStatus::Active
            } else {
                CaStatus::Inactive
            },
            auto_registration: if req.allow_auto_registration {
                AutoRegistrationStatus::Enable
            } else {
                AutoRegistrationStatus::Disable
            },
            mode,
            registration_config: req.registration_config.clone(),
            created: now,
            modified: now,
            customer_version: 1,
            generation_id: random_uuid(),
            not_before: ca.not_before,
            not_after: ca.not_after,
            subject_hex: hex::encode(&ca.subject_raw),
            spki_hex: hex::encode(&ca.spki_raw),
        }
    }

    /// DescribeCACertificate.
    pub fn describe_ca_certificate(&self, region: &str, id: &str) -> IotResult<&CaRecord> {
        validate::cert_id("caCertificateId", id)?;
        self.state(region)
            .cas
            .get(&id.to_ascii_lowercase())
            .ok_or_else(|| IotError::not_found(format!("CA certificate {id} does not exist")))
    }

    /// UpdateCACertificate: status, auto-registration and registration config.
    pub fn update_ca_certificate(
        &mut self,
        region: &str,
        id: &str,
        new_status: Option<&str>,
        new_auto_registration: Option<&str>,
        registration_config: Option<serde_json::Value>,
        remove_auto_registration: bool,
    ) -> IotResult<()> {
        let status = new_status.map(str::parse::<CaStatus>).transpose()?;
        let auto = new_auto_registration
            .map(str::parse::<AutoRegistrationStatus>)
            .transpose()?;
        let mut ca = self.describe_ca_certificate(region, id)?.clone();
        if !remove_auto_registration {
            self.check_registration_config(region, registration_config.as_ref())?;
        }
        ca.status = status.unwrap_or(ca.status);
        ca.auto_registration = auto.unwrap_or(ca.auto_registration);
        if remove_auto_registration {
            ca.registration_config = None;
        } else if registration_config.is_some() {
            ca.registration_config = registration_config;
        }
        ca.modified = self.now();
        ca.customer_version += 1;
        ca.generation_id = random_uuid();
        self.commit(vec![Op::PutCa(ca)])
    }

    /// ListCACertificates, newest first unless `isAscendingOrder=true`.
    pub fn list_ca_certificates(
        &self,
        region: &str,
        req: &PageRequest,
        template_name: Option<&str>,
    ) -> IotResult<Page<&CaRecord>> {
        let items = self
            .state(region)
            .cas
            .values()
            .filter(|c| template_name.is_none_or(|t| template_of(c) == Some(t)))
            .map(|c| (format!("{:016}:{}", c.created, c.id), c))
            .collect();
        paginate(items, req, false, "pageSize")
    }

    /// DeleteCACertificate: refused while the CA is ACTIVE. Device certificates it signed stay.
    pub fn delete_ca_certificate(&mut self, region: &str, id: &str) -> IotResult<()> {
        let ca = self.describe_ca_certificate(region, id)?;
        if ca.status == CaStatus::Active {
            return Err(IotError::cert_state(format!(
                "CA certificate must be deactivated (not ACTIVE) before deletion. Id: {}",
                ca.id
            )));
        }
        let id = ca.id.clone();
        let untag = self.untag_all(region, &self.arn(region).cacert(&id));
        self.commit(vec![
            Op::DelCa {
                region: region.to_string(),
                id,
            },
            untag,
        ])
    }
}

fn template_of(ca: &CaRecord) -> Option<&str> {
    ca.registration_config
        .as_ref()?
        .get("templateName")?
        .as_str()
}
