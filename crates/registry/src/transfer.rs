//! Certificate transfer between accounts (§2.2): TransferCertificate and Cancel on the source,
//! Accept and Reject on behalf of the target. One registry holds one account, so the moves that
//! span two accounts are split into a half on each registry; the caller runs both halves.

use crate::records::{CertRecord, Op, TransferRecord};
use crate::{Registry, validate};
use iotmock_model::{CertStatus, ErrorCode, IotError, IotResult};

/// AWS's limit on `transferMessage` and `rejectReason`.
const MAX_REASON: usize = 128;

/// Whether `value` is a 12-digit AWS account id.
pub fn is_account_id(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit())
}

fn reason(field: &str, value: Option<&str>) -> IotResult<Option<String>> {
    match value {
        Some(v) if v.chars().count() > MAX_REASON => Err(IotError::invalid(format!(
            "{field} must be at most {MAX_REASON} characters"
        ))),
        other => Ok(other.map(str::to_string)),
    }
}

fn not_pending(id: &str) -> IotError {
    IotError::invalid(format!("The certificate {id} is not pending transfer"))
}

/// Checks a `certificateId` path parameter (64 hex digits).
pub fn check_cert_id(id: &str) -> IotResult<()> {
    validate::cert_id("certificateId", id)
}

/// The answer for a transfer that was already accepted.
pub fn transfer_completed(id: &str) -> IotError {
    IotError::new(
        ErrorCode::TransferAlreadyCompleted,
        format!("The transfer of certificate {id} is already complete"),
    )
}

impl Registry {
    /// TransferCertificate: an INACTIVE (or otherwise not ACTIVE) certificate with no policies
    /// and no things becomes PENDING_TRANSFER to `target`. Returns the certificate's ARN.
    pub fn transfer_certificate(
        &mut self,
        region: &str,
        id: &str,
        target: Option<&str>,
        message: Option<&str>,
    ) -> IotResult<String> {
        let target = validate::required("targetAwsAccount", target)?;
        if !is_account_id(target) {
            return Err(IotError::invalid(
                "targetAwsAccount must be a 12-digit AWS account id",
            ));
        }
        if target == self.account() {
            return Err(IotError::invalid(
                "A certificate cannot be transferred to the account that owns it",
            ));
        }
        let message = reason("transferMessage", message)?;
        let mut cert = self.describe_certificate(region, id)?.clone();
        self.check_transferable(region, &cert)?;
        cert.transfer = Some(TransferRecord {
            target: target.to_string(),
            message,
            transfer_date: Some(self.now()),
            ..TransferRecord::default()
        });
        let arn = self.arn(region).cert(&cert.id);
        self.put_status(cert, CertStatus::PendingTransfer)?;
        Ok(arn)
    }

    fn check_transferable(&self, region: &str, cert: &CertRecord) -> IotResult<()> {
        match cert.status {
            CertStatus::Active => {
                return Err(IotError::cert_state(format!(
                    "The certificate must be deactivated (not ACTIVE) before it is transferred. Id: {}",
                    cert.id
                )));
            }
            CertStatus::PendingTransfer => {
                return Err(IotError::cert_state(format!(
                    "The certificate {} is already pending transfer",
                    cert.id
                )));
            }
            _ => {}
        }
        let arn = self.arn(region).cert(&cert.id);
        let state = self.state(region);
        if !state.policies_of(&arn).is_empty() {
            return Err(IotError::new(
                ErrorCode::TransferConflict,
                "You can't transfer the certificate because authorization policies are still attached.",
            ));
        }
        if !state.things_of(&arn).is_empty() {
            return Err(IotError::new(
                ErrorCode::TransferConflict,
                "You can't transfer the certificate because things are still attached.",
            ));
        }
        Ok(())
    }

    /// CancelCertificateTransfer, on the source account: PENDING_TRANSFER becomes INACTIVE.
    pub fn cancel_certificate_transfer(&mut self, region: &str, id: &str) -> IotResult<()> {
        let cert = self.describe_certificate(region, id)?.clone();
        if cert.status != CertStatus::PendingTransfer {
            return Err(not_pending(&cert.id));
        }
        self.put_status(cert, CertStatus::Inactive)
    }

    /// The certificate `id` of this account when it is pending transfer to `target`.
    pub fn pending_transfer(&self, region: &str, id: &str, target: &str) -> Option<&CertRecord> {
        let cert = self.describe_certificate(region, id).ok()?;
        cert.is_offered_to(target).then_some(cert)
    }

    /// RejectCertificateTransfer's source half: the certificate returns to this account INACTIVE,
    /// with the target's reason.
    pub fn reject_certificate_transfer(
        &mut self,
        region: &str,
        id: &str,
        target: &str,
        reject_reason: Option<&str>,
    ) -> IotResult<()> {
        let reject_reason = reason("rejectReason", reject_reason)?;
        let mut cert = self
            .pending_transfer(region, id, target)
            .ok_or_else(|| not_pending(id))?
            .clone();
        if let Some(t) = cert.transfer.as_mut() {
            t.reject_reason = reject_reason;
            t.reject_date = Some(self.now());
        }
        self.put_status(cert, CertStatus::Inactive)
    }

    /// AcceptCertificateTransfer's source half: the certificate leaves this account. Returns the
    /// record for the target to [`Registry::receive_certificate`].
    pub fn release_certificate(
        &mut self,
        region: &str,
        id: &str,
        target: &str,
    ) -> IotResult<CertRecord> {
        let cert = self
            .pending_transfer(region, id, target)
            .ok_or_else(|| not_pending(id))?
            .clone();
        // Attachments made while the transfer was pending go with the certificate: they
        // do not outlive it in this account.
        let arn = self.arn(region).cert(&cert.id);
        let state = self.state(region);
        let mut ops: Vec<Op> = state
            .policies_of(&arn)
            .into_iter()
            .map(|policy| {
                Op::Detach(crate::records::PolicyAttachment {
                    region: region.to_string(),
                    policy,
                    target: arn.clone(),
                })
            })
            .collect();
        ops.extend(state.things_of(&arn).into_iter().map(|(thing, exclusive)| {
            Op::DetachThing(crate::records::ThingPrincipal {
                region: region.to_string(),
                thing,
                principal: arn.clone(),
                exclusive,
            })
        }));
        ops.push(Op::DelCert {
            region: region.to_string(),
            id: cert.id.clone(),
        });
        self.commit(ops)?;
        Ok(cert)
    }

    /// Checks that `cert` could be received here, before the source releases it.
    pub fn check_receivable(&self, region: &str, id: &str) -> IotResult<()> {
        match self.state(region).certs.get(&id.to_ascii_lowercase()) {
            Some(c) if c.previous_owner.is_some() => Err(transfer_completed(id)),
            Some(_) => Err(IotError::already_exists(
                "The certificate is already provisioned or registered",
                id,
                &self.arn(region).cert(id),
            )),
            None => Ok(()),
        }
    }

    /// AcceptCertificateTransfer's target half: the certificate joins this account, INACTIVE
    /// unless `set_active`.
    pub fn receive_certificate(
        &mut self,
        mut cert: CertRecord,
        from: &str,
        set_active: bool,
    ) -> IotResult<()> {
        self.check_receivable(&cert.region, &cert.id)?;
        cert.previous_owner = Some(from.to_string());
        if let Some(t) = cert.transfer.as_mut() {
            t.accept_date = Some(self.now());
        }
        let status = if set_active {
            CertStatus::Active
        } else {
            CertStatus::Inactive
        };
        self.put_status(cert, status)
    }

    /// The account certificate `id` came from, when it came to this account by an accepted
    /// transfer.
    pub fn previous_owner(&self, region: &str, id: &str) -> Option<&str> {
        let cert = self.describe_certificate(region, id).ok()?;
        cert.previous_owner.as_deref()
    }

    /// Puts back a certificate released by [`Registry::release_certificate`] when the target
    /// could not store it.
    pub fn restore_certificate(&mut self, cert: CertRecord) -> IotResult<()> {
        self.commit(vec![Op::PutCert(cert)])
    }
}
