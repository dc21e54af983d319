//! What admission asks of the broker: just-in-time registration, the CONNECT throttle, the
//! principal as the addressed region's registry knows it, and fresh client ids.

use crate::Shared;
use iotmock_model::CertStatus;
use iotmock_registry::Principal;
use iotmock_session::events;
use iotmock_session::{ConnectEnv, JustInTime, RegistryUnavailable};
use std::sync::Arc;

pub(crate) struct Env<'a> {
    pub shared: &'a Shared,
    pub leaf: &'a [u8],
    /// A SigV4 caller, whose principal the door decided (no certificate to register).
    pub iam: Option<&'a Arc<Principal>>,
    pub cert_id: &'a str,
    /// The region SNI named, if any.
    pub region: Option<&'a str>,
}

impl ConnectEnv for Env<'_> {
    /// JITR: an unknown certificate issued by an ACTIVE CA with auto-registration enabled is
    /// registered PENDING_ACTIVATION and the event published; a certificate still pending gets
    /// the event again. Either way the connection is refused; `Some` says why.
    fn just_in_time(&mut self) -> Option<JustInTime> {
        if self.iam.is_some() {
            return None;
        }
        let shared = self.shared;
        let (status, account) = {
            let registry = shared.registry.read().ok()?;
            let default = &shared.settings.default_region;
            let region = match self.region {
                Some(r) => Some(r.to_string()),
                None => registry.region_for(self.cert_id, default),
            };
            let status = region.and_then(|r| registry.certificate_status_in(&r, self.cert_id));
            (status, registry.account().to_string())
        };
        let now = shared.hub.now_ms();
        let cert_id = self.cert_id.to_string();
        let (ca, outcome) = match status {
            None => {
                let mut registry = shared.registry.write().ok()?;
                let ca_id = registry.auto_register(self.region, self.leaf)?.ca_id;
                (
                    Some(ca_id.clone()),
                    JustInTime::Registered { cert_id, ca_id },
                )
            }
            Some((CertStatus::PendingActivation, ca)) => (ca, JustInTime::Pending { cert_id }),
            Some(_) => return None,
        };
        if let Some(ca) = ca {
            let event = events::certificate_registered(self.cert_id, &ca, &account, now);
            shared.hub.publish(Arc::new(event), None);
        }
        Some(outcome)
    }

    fn connect_allowed(&mut self, client_id: &str) -> bool {
        self.shared.hub.connect_allowed(client_id)
    }

    fn account_connect_allowed(&mut self) -> bool {
        self.shared.hub.account_connect_allowed()
    }

    fn principal(&mut self) -> Result<Option<Arc<Principal>>, RegistryUnavailable> {
        if let Some(iam) = self.iam {
            return Ok(Some(iam.clone()));
        }
        self.shared.principal(self.region, self.cert_id)
    }

    fn fresh_client_id(&mut self) -> String {
        format!("iotmock-{}", iotmock_registry::random_hex(8))
    }
}
