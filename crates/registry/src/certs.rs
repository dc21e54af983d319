//! Device certificates: RegisterCertificate, RegisterCertificateWithoutCA,
//! CreateKeysAndCertificate, CreateCertificateFromCsr, UpdateCertificate, DescribeCertificate,
//! ListCertificates, ListCertificatesByCA and DeleteCertificate.

use crate::paging::{Page, PageRequest, paginate};
use crate::records::{CaRecord, CertRecord, Op, PolicyAttachment};
use crate::{Registry, invalid_cert, random_uuid, validate};
use iotmock_model::{CaStatus, CertStatus, CertificateMode, ErrorCode, IotError, IotResult};
use iotmock_pki::{CertInfo, IssuedKeys, parse_certificate_pem, parse_csr_pem};

const NO_CA: &str = "No CA certificate exists for the given certificate";

/// What a registering or creating call returns: the new certificate's ARN and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub arn: String,
    pub id: String,
}

/// An RSA-2048 key pair and its certificate from the mock root, as CreateKeysAndCertificate
/// returns them.
pub fn mint_keys(ca: &iotmock_pki::MockCa, now: i64) -> IotResult<IssuedKeys> {
    ca.issue_keys_and_certificate(now)
        .map_err(|e| IotError::internal(e.to_string()))
}

/// CreateKeysAndCertificate's answer.
#[derive(Debug, Clone)]
pub struct CreatedKeys {
    pub registered: Registered,
    pub keys: IssuedKeys,
}

/// The status a registering call asked for: `status` if given, else `setAsActive`.
fn initial_status(status: Option<&str>, set_as_active: bool) -> IotResult<CertStatus> {
    let status = match status.filter(|s| !s.is_empty()) {
        None if set_as_active => return Ok(CertStatus::Active),
        None => return Ok(CertStatus::Inactive),
        Some(s) => s.parse::<CertStatus>()?,
    };
    match status {
        CertStatus::Active | CertStatus::Inactive | CertStatus::Revoked => Ok(status),
        other => Err(IotError::cert_state(format!(
            "Not allowed to register certificate with {other} status"
        ))),
    }
}

impl Registry {
    pub(crate) fn cert_record(
        &self,
        region: &str,
        cert: &CertInfo,
        status: CertStatus,
        ca: Option<&CaRecord>,
    ) -> CertRecord {
        let now = self.now();
        CertRecord {
            region: region.to_string(),
            id: cert.id.clone(),
            pem: cert.pem(),
            status,
            ca_id: ca.map(|c| c.id.clone()),
            mode: ca.map_or(CertificateMode::Default, |c| c.mode),
            created: now,
            modified: now,
            customer_version: 1,
            generation_id: random_uuid(),
            not_before: cert.not_before,
            not_after: cert.not_after,
            previous_owner: None,
            transfer: None,
            claim_template: None,
        }
    }

    fn check_not_registered(&self, region: &str, cert: &CertInfo) -> IotResult<()> {
        if self.state(region).certs.contains_key(&cert.id) {
            return Err(IotError::already_exists(
                "The certificate is already provisioned or registered",
                &cert.id,
                &self.arn(region).cert(&cert.id),
            ));
        }
        Ok(())
    }

    fn check_validity(&self, cert: &CertInfo) -> IotResult<()> {
        if let Some(refusal) = cert.key.refusal() {
            return Err(IotError::cert_validation(refusal));
        }
        if cert.is_valid_at(self.now_secs()) {
            Ok(())
        } else {
            Err(IotError::cert_validation(
                "The certificate is expired or not yet valid",
            ))
        }
    }

    /// The registered CA that issued `cert`: named by `ca_pem`, or found by issuer subject.
    fn issuing_ca(
        &self,
        region: &str,
        cert: &CertInfo,
        ca_pem: Option<&str>,
    ) -> IotResult<(CaRecord, CertInfo)> {
        let state = self.state(region);
        let candidates: Vec<&CaRecord> = match ca_pem.filter(|p| !p.is_empty()) {
            Some(pem) => {
                let given = parse_certificate_pem(pem, "caCertificatePem").map_err(invalid_cert)?;
                state.cas.get(&given.id).into_iter().collect()
            }
            None => {
                let issuer = hex::encode(&cert.issuer_raw);
                state
                    .cas
                    .values()
                    .filter(|c| c.subject_hex == issuer)
                    .collect()
            }
        };
        let first = candidates
            .first()
            .ok_or_else(|| IotError::cert_state(NO_CA))?;
        if candidates
            .iter()
            .any(|c| c.spki_hex == first.spki_hex && c.id != first.id)
        {
            return Err(IotError::new(
                ErrorCode::CertificateConflict,
                "Unable to verify the CA certificate used to sign the device certificate you are \
                 attempting to register. This happens when you have registered more than one CA \
                 certificate that has the same subject field and public key.",
            ));
        }
        let parsed: Vec<(CaRecord, CertInfo)> = candidates
            .into_iter()
            .filter_map(|c| Some(((*c).clone(), parse_certificate_pem(&c.pem, "ca").ok()?)))
            .collect();
        let signer = parsed.iter().position(|(_, info)| cert.is_signed_by(info));
        match signer {
            Some(i) => Ok(parsed
                .into_iter()
                .nth(i)
                .ok_or_else(|| IotError::cert_state(NO_CA))?),
            None => Err(IotError::cert_validation(
                "The certificate is not signed by the given CA certificate",
            )),
        }
    }

    /// RegisterCertificate: the issuing CA must be registered (406) and have signed it (400)
    /// and be ACTIVE (406); only then are expiry and duplicates checked.
    pub fn register_certificate(
        &mut self,
        region: &str,
        pem: Option<&str>,
        ca_pem: Option<&str>,
        set_as_active: bool,
        status: Option<&str>,
    ) -> IotResult<Registered> {
        let pem = validate::required("certificatePem", pem)?;
        let status = initial_status(status, set_as_active)?;
        let cert = parse_certificate_pem(pem, "certificatePem").map_err(invalid_cert)?;
        let (ca, _) = self.issuing_ca(region, &cert, ca_pem)?;
        if ca.status != CaStatus::Active {
            return Err(IotError::cert_state(format!(
                "The CA certificate must be active before you can register any client certificates it has signed. CA certificate id: {}",
                ca.id
            )));
        }
        self.check_validity(&cert)?;
        self.check_not_registered(region, &cert)?;
        let record = self.cert_record(region, &cert, status, Some(&ca));
        self.insert_cert(region, record)
    }

    /// RegisterCertificateWithoutCA: any certificate, recorded as SNI_ONLY without a CA.
    pub fn register_certificate_without_ca(
        &mut self,
        region: &str,
        pem: Option<&str>,
        status: Option<&str>,
    ) -> IotResult<Registered> {
        let pem = validate::required("certificatePem", pem)?;
        let status = initial_status(status, false)?;
        let cert = parse_certificate_pem(pem, "certificatePem").map_err(invalid_cert)?;
        self.check_validity(&cert)?;
        self.check_not_registered(region, &cert)?;
        let mut record = self.cert_record(region, &cert, status, None);
        record.mode = CertificateMode::SniOnly;
        self.insert_cert(region, record)
    }

    fn insert_cert(&mut self, region: &str, record: CertRecord) -> IotResult<Registered> {
        let out = Registered {
            arn: self.arn(region).cert(&record.id),
            id: record.id.clone(),
        };
        self.commit(vec![Op::PutCert(record)])?;
        Ok(out)
    }

    fn insert_issued(
        &mut self,
        region: &str,
        pem: &str,
        set_as_active: bool,
    ) -> IotResult<Registered> {
        let status = if set_as_active {
            CertStatus::Active
        } else {
            CertStatus::Inactive
        };
        self.insert_issued_as(region, pem, status)
    }

    /// Records a certificate the mock root issued, with this status.
    pub(crate) fn insert_issued_as(
        &mut self,
        region: &str,
        pem: &str,
        status: CertStatus,
    ) -> IotResult<Registered> {
        let cert = parse_certificate_pem(pem, "certificatePem")
            .map_err(|e| IotError::internal(format!("issued certificate unreadable: {e}")))?;
        let record = self.cert_record(region, &cert, status, None);
        self.insert_cert(region, record)
    }

    /// CreateKeysAndCertificate: an RSA-2048 key pair and a certificate from the mock root.
    pub fn create_keys_and_certificate(
        &mut self,
        region: &str,
        set_as_active: bool,
    ) -> IotResult<CreatedKeys> {
        let (ca, now) = self.issuer();
        let keys = mint_keys(&ca, now)?;
        self.register_created_keys(region, keys, set_as_active)
    }

    /// Registers keys minted by [`mint_keys`] (outside the registry lock: RSA key generation
    /// takes tens of milliseconds, and CONNECTs read the registry meanwhile).
    pub fn register_created_keys(
        &mut self,
        region: &str,
        keys: IssuedKeys,
        set_as_active: bool,
    ) -> IotResult<CreatedKeys> {
        let registered = self.insert_issued(region, &keys.certificate_pem, set_as_active)?;
        Ok(CreatedKeys { registered, keys })
    }

    /// CreateCertificateFromCsr: the CSR's subject and key, signed by the mock root.
    pub fn create_certificate_from_csr(
        &mut self,
        region: &str,
        csr_pem: Option<&str>,
        set_as_active: bool,
    ) -> IotResult<(Registered, String)> {
        let csr_pem = validate::required("certificateSigningRequest", csr_pem)?;
        let pem = self.sign_csr(csr_pem)?;
        let registered = self.insert_issued(region, &pem, set_as_active)?;
        Ok((registered, pem))
    }

    /// A certificate from the mock root for the CSR's subject and key.
    pub(crate) fn sign_csr(&self, csr_pem: &str) -> IotResult<String> {
        let der = parse_csr_pem(csr_pem).map_err(|e| IotError::invalid(e.to_string()))?;
        self.mock_ca()
            .issue_from_csr(&der, self.now_secs())
            .map_err(|e| IotError::invalid(e.to_string()))
    }

    /// DescribeCertificate.
    pub fn describe_certificate(&self, region: &str, id: &str) -> IotResult<&CertRecord> {
        validate::cert_id("certificateId", id)?;
        self.state(region)
            .certs
            .get(&id.to_ascii_lowercase())
            .ok_or_else(|| IotError::not_found(format!("The certificate {id} does not exist")))
    }

    /// UpdateCertificate with AWS's transition rules; returns the status it replaced.
    pub fn update_certificate(
        &mut self,
        region: &str,
        id: &str,
        new_status: Option<&str>,
    ) -> IotResult<CertStatus> {
        let new = validate::required("newStatus", new_status)?.parse::<CertStatus>()?;
        let cert = self.describe_certificate(region, id)?.clone();
        let old = cert.status;
        check_transition(&cert.id, old, new)?;
        if old == new {
            return Ok(old);
        }
        self.put_status(cert, new)?;
        Ok(old)
    }

    /// Stores `cert` with `status`: a new version (modified, customerVersion, generationId).
    pub(crate) fn put_status(&mut self, mut cert: CertRecord, status: CertStatus) -> IotResult<()> {
        cert.status = status;
        cert.modified = self.now();
        cert.customer_version += 1;
        cert.generation_id = random_uuid();
        self.commit(vec![Op::PutCert(cert)])
    }

    /// ListCertificates, newest first unless `isAscendingOrder=true`.
    pub fn list_certificates(
        &self,
        region: &str,
        req: &PageRequest,
        ca_id: Option<&str>,
    ) -> IotResult<Page<&CertRecord>> {
        if let Some(ca) = ca_id {
            validate::cert_id("caCertificateId", ca)?;
        }
        let ca_id = ca_id.map(str::to_ascii_lowercase);
        let items = self
            .state(region)
            .certs
            .values()
            .filter(|c| ca_id.is_none() || c.ca_id == ca_id)
            .filter(|c| c.claim_template.is_none())
            .map(|c| (c.list_key(), c))
            .collect();
        paginate(items, req, false, "pageSize")
    }

    /// DeleteCertificate: not ACTIVE, no things attached, and no policies unless forced.
    pub fn delete_certificate(&mut self, region: &str, id: &str, force: bool) -> IotResult<()> {
        let cert = self.describe_certificate(region, id)?;
        let arn = self.arn(region).cert(&cert.id);
        if cert.status == CertStatus::Active {
            return Err(IotError::cert_state(format!(
                "Certificate must be deactivated (not ACTIVE) before deletion. Id: {}",
                cert.id
            )));
        }
        if cert.status == CertStatus::PendingTransfer {
            return Err(IotError::cert_state(format!(
                "Certificate is PENDING_TRANSFER; cancel the transfer before deletion. Id: {}",
                cert.id
            )));
        }
        let state = self.state(region);
        if !state.things_of(&arn).is_empty() {
            return Err(IotError::delete_conflict(format!(
                "Things must be detached before deletion (arn: {arn})"
            )));
        }
        let policies = state.policies_of(&arn);
        if !policies.is_empty() && !force {
            return Err(IotError::delete_conflict(format!(
                "Certificate policies must be detached before deletion (arn: {arn})"
            )));
        }
        let mut ops: Vec<Op> = policies
            .into_iter()
            .map(|policy| {
                Op::Detach(PolicyAttachment {
                    region: region.to_string(),
                    policy,
                    target: arn.clone(),
                })
            })
            .collect();
        ops.push(Op::DelCert {
            region: region.to_string(),
            id: cert.id.clone(),
        });
        self.commit(ops)
    }
}

/// §2.2: REVOKED is final, PENDING_* cannot be set, PENDING_TRANSFER leaves only by transfer.
fn check_transition(id: &str, old: CertStatus, new: CertStatus) -> IotResult<()> {
    use CertStatus::*;
    match (old, new) {
        (_, PendingActivation | PendingTransfer | RegisterInactive) => Err(IotError::cert_state(
            format!("The certificate status cannot be set to {new}. Id: {id}"),
        )),
        (Revoked, Revoked) => Ok(()),
        (Revoked, _) => Err(IotError::cert_state(format!(
            "Certificate is REVOKED and cannot be set to {new}. Id: {id}"
        ))),
        (PendingTransfer, _) => Err(IotError::cert_state(format!(
            "Certificate is PENDING_TRANSFER; accept, reject or cancel the transfer first. Id: {id}"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_follow_the_status_table() {
        use CertStatus::*;
        let ok = |a, b| check_transition("x", a, b).is_ok();
        assert!(ok(Active, Inactive) && ok(Inactive, Active) && ok(Active, Revoked));
        assert!(ok(PendingActivation, Active) && ok(Active, Active));
        assert!(!ok(Revoked, Active) && !ok(Revoked, Inactive) && ok(Revoked, Revoked));
        assert!(!ok(Active, PendingTransfer) && !ok(Inactive, PendingActivation));
        assert!(!ok(PendingTransfer, Active));
    }

    #[test]
    fn initial_status_prefers_the_explicit_status() {
        assert_eq!(initial_status(None, false).ok(), Some(CertStatus::Inactive));
        assert_eq!(initial_status(None, true).ok(), Some(CertStatus::Active));
        assert_eq!(
            initial_status(Some("REVOKED"), true).ok(),
            Some(CertStatus::Revoked)
        );
        let e = initial_status(Some("PENDING_ACTIVATION"), false).unwrap_err();
        assert_eq!(
            e.message,
            "Not allowed to register certificate with PENDING_ACTIVATION status"
        );
        assert_eq!(e.code, ErrorCode::CertificateState);
        assert_eq!(
            initial_status(Some("BOGUS"), false).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
    }
}
