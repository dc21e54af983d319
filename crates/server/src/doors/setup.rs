//! The doors' settings on the [`Builder`] and their start, and their addresses on the
//! running [`MockIotCore`].

use super::{Doors, Kind, Parts};
use crate::core::{Builder, MockIotCore};
use anyhow::{Context, Result};
use iotmock_api::ApiState;
use iotmock_broker::BrokerCore;
use iotmock_broker::tls::{ALPN_PORT_443, ClientCert, Minter, config_for};
use iotmock_model::{IotError, IotResult};
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// Where the doors listen (`None`: closed). In process both are open on ephemeral ports.
#[derive(Debug, Clone)]
pub struct DoorAddrs {
    pub port_443: Option<SocketAddr>,
    pub https: Option<SocketAddr>,
    /// `--sigv4-credentials`: WebSocket URLs signed with other keys are refused.
    pub secrets: super::Secrets,
    /// Whether an address that is taken falls back to a free port (with a warning) instead
    /// of failing the start: the command line's defaults, which the user did not choose.
    pub fallback: bool,
}

impl Default for DoorAddrs {
    fn default() -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            port_443: Some(any),
            https: Some(any),
            secrets: super::Secrets::default(),
            fallback: false,
        }
    }
}

/// Binds `addr`; when it is taken and `fallback` is set, a free port on the same address.
async fn bind(addr: SocketAddr, fallback: bool, what: &str) -> Result<TcpListener> {
    match TcpListener::bind(addr).await {
        Ok(listener) => Ok(listener),
        Err(e) if fallback => {
            let free = SocketAddr::new(addr.ip(), 0);
            let listener = TcpListener::bind(free)
                .await
                .with_context(|| format!("binding {what} on {free}"))?;
            let got = listener.local_addr()?;
            tracing::warn!(wanted = %addr, error = %e, serving = %got, "{what}: its default address is taken; serving on a free port instead");
            Ok(listener)
        }
        Err(e) => Err(e).with_context(|| format!("binding {what} on {addr}")),
    }
}

impl Builder {
    /// AWS's port-443 listener (ALPN dispatch: MQTT or HTTPS with a client certificate, MQTT
    /// over WebSocket with SigV4, the HTTPS API); `None` closes it.
    pub fn port_443_addr(mut self, addr: Option<SocketAddr>) -> Self {
        self.doors.port_443 = addr;
        self
    }

    /// AWS's 8443: HTTPS publish with a client certificate; `None` closes it.
    pub fn https_addr(mut self, addr: Option<SocketAddr>) -> Self {
        self.doors.https = addr;
        self
    }

    /// Verifies the signature of MQTT-over-WebSocket URLs with these secret keys (a key not
    /// among them is refused); without any, signatures are not checked.
    pub fn sigv4_credentials(mut self, secrets: super::Secrets) -> Self {
        self.doors.secrets = secrets;
        self
    }

    /// Whether a door whose address is taken moves to a free port instead of failing.
    pub fn door_fallback(mut self, fallback: bool) -> Self {
        self.doors.fallback = fallback;
        self
    }

    pub(crate) async fn start_doors(
        &self,
        (identity, root_pem, minter): (&iotmock_pki::ServerIdentity, &str, &Minter),
        core: &BrokerCore,
        api: ApiState,
    ) -> Result<Doors> {
        let (cert, key) = (&identity.certificate_pem, &identity.private_key_pem);
        let mut listeners = Vec::new();
        if let Some(addr) = self.doors.port_443 {
            let mint = Some(minter.clone());
            let tls = config_for(
                (cert, key, root_pem),
                ALPN_PORT_443,
                mint,
                ClientCert::Optional,
            )
            .context("configuring TLS for port 443")?;
            let listener = bind(addr, self.doors.fallback, "the port-443 listener").await?;
            listeners.push((listener, tls, Kind::Port443));
        }
        if let Some(addr) = self.doors.https {
            let mint = Some(minter.clone());
            let tls = config_for((cert, key, root_pem), &[], mint, ClientCert::Required)
                .context("configuring TLS for HTTPS")?;
            let listener = bind(addr, self.doors.fallback, "HTTPS").await?;
            listeners.push((listener, tls, Kind::Https));
        }
        let parts = |stopped| Parts {
            core: core.clone(),
            api,
            default_region: self.region.clone(),
            secrets: self.doors.secrets.clone(),
            stopped,
        };
        Doors::start(listeners, self.broker.io_threads, parts).context("starting the doors")
    }
}

impl MockIotCore {
    /// The port-443 listener's address (ALPN dispatch, MQTT over WebSocket), when open.
    pub fn port_443_addr(&self) -> Option<SocketAddr> {
        self.doors.as_ref().and_then(|d| d.port_443)
    }

    /// Sets (or replaces) the IAM policy `name` of `access_key`: a SigV4 caller with that key
    /// may then do what its IAM policies allow (every IoT action while it has none).
    pub fn put_iam_policy(&self, access_key: &str, name: &str, document: &str) -> IotResult<()> {
        self.registry_write()?
            .put_iam_policy(access_key, name, document)
    }

    /// Says `access_key`'s credentials stand for the Cognito identity `identity_id` (whose
    /// attached IoT policies must then allow too); `None` undoes it.
    pub fn bind_cognito_identity(
        &self,
        access_key: &str,
        identity_id: Option<&str>,
    ) -> IotResult<()> {
        self.registry_write()?
            .bind_identity(access_key, identity_id)
    }

    fn registry_write(
        &self,
    ) -> IotResult<std::sync::RwLockWriteGuard<'_, iotmock_registry::Registry>> {
        self.registry
            .write()
            .map_err(|_| IotError::internal("registry lock poisoned"))
    }

    /// The HTTPS (8443) listener's address, when open.
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.doors.as_ref().and_then(|d| d.https)
    }
}
