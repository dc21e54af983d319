//! A custom-auth connection's grant: decided before the session starts, renewed at
//! `refreshAfterInSeconds`, ended at `disconnectAfterInSeconds`.

use super::{Conn, Peer};
use crate::Shared;
use crate::custom::AuthClock;
use crate::link::Link;
use iotmock_mqtt::Connect;
use iotmock_registry::Principal;
use iotmock_session::{CloseReason, End};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

type Admitted = (Option<Arc<Principal>>, Option<AuthClock>);

/// The principal the connection stands for (the door's, or the custom authorizer's grant)
/// and the grant's clock; `None` when the authorizer refused (answered and closed here).
pub(super) async fn admit<S: AsyncRead + AsyncWrite>(
    link: &mut Link<S>,
    connect: &Connect,
    peer: &Peer,
    shared: &Arc<Shared>,
) -> Option<Admitted> {
    let Some(auth) = &peer.custom else {
        return Some((peer.iam.clone(), None));
    };
    match crate::custom::authenticate(auth, connect).await {
        Ok(grant) => {
            let clock = AuthClock::new(auth.clone(), &grant, shared.hub.now_ms());
            Some((Some(grant.principal), Some(clock)))
        }
        Err(reason) => {
            tracing::info!(peer = %peer.addr, client_id = %connect.client_id, %reason, "CONNECT refused by the custom authorizer");
            let answer = crate::custom::refusal(link.version, shared.settings.custom_auth_connack);
            if let Some(ack) = answer {
                let _ = link.send(&ack).await;
            }
            let _ = link.flush().await;
            let _ = link.wr.shutdown().await;
            link.closed("NOT_ADMITTED");
            None
        }
    }
}

impl<S: AsyncRead + AsyncWrite> Conn<S> {
    /// A custom authorizer's windows: past `disconnectAfterInSeconds` the connection closes
    /// (CUSTOMAUTH_TTL_EXPIRATION); past `refreshAfterInSeconds` the function is asked again
    /// and its answer replaces the policies (a refusal closes the connection).
    pub(super) async fn check_grant(&mut self) -> Option<End> {
        let clock = self.clock.as_ref()?;
        let now = self.now();
        let (renew, end) = clock.due(now);
        if !renew && !end {
            return None;
        }
        let actions = if end {
            self.session
                .log_close("the custom authorizer's disconnectAfterInSeconds passed");
            self.session.close(CloseReason::CustomAuthExpired, now)
        } else {
            let auth = clock.auth.clone();
            match auth.refresh().await {
                Ok(grant) => {
                    if let Some(c) = &mut self.clock {
                        c.renewed(&grant, now);
                    }
                    tracing::debug!(client_id = %self.session.client_id(), "custom authorizer grant refreshed");
                    self.session.principal_changed(Some(grant.principal), now)
                }
                Err(reason) => {
                    let why = format!("the custom authorizer refused the refresh: {reason}");
                    self.session.log_close(&why);
                    self.session.close(CloseReason::NotAuthorized, now)
                }
            }
        };
        self.perform(actions).await
    }
}
