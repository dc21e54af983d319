//! Connections a custom authorizer admits: the function decides at CONNECT (a refusal gets a
//! not-authorized CONNACK, then the close); its grant is renewed at `refreshAfterInSeconds`
//! and the connection is closed at `disconnectAfterInSeconds`, both on the broker's clock.
//! Such connections are kept in [`Timed`] so a test that moves a manual clock can wake them.

use crate::door::{Authenticate, ConnectCredentials, Grant};
use crate::mailbox::Control;
use iotmock_mqtt::reason::{V5, V311};
use iotmock_mqtt::{ConnAckProps, Connect, Packet, Version};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Asks a connection to act on its grant now, whatever the clock says (the advisor's
/// custom-auth cases): renew it, or end it.
#[derive(Debug, Default)]
pub(crate) struct Nudge {
    refresh: AtomicBool,
    lapse: AtomicBool,
}

impl Nudge {
    /// (refresh now, lapse now), each taken once.
    fn take(&self) -> (bool, bool) {
        (
            self.refresh.swap(false, Ordering::AcqRel),
            self.lapse.swap(false, Ordering::AcqRel),
        )
    }
}

/// Connections whose rights lapse on the clock, by connection id.
#[derive(Default)]
pub(crate) struct Timed(Mutex<HashMap<u64, Handles>>);

/// How to wake a connection, and what to tell it.
type Handles = (Arc<Control>, Arc<Nudge>);

impl Timed {
    pub fn add(&self, conn_id: u64, control: &Arc<Control>, nudge: &Arc<Nudge>) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(conn_id, (control.clone(), nudge.clone()));
    }

    /// Makes every such connection renew (`lapse` false) or end (true) its grant now.
    pub fn nudge_all(&self, lapse: bool) {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for (control, nudge) in map.values() {
            let flag = if lapse { &nudge.lapse } else { &nudge.refresh };
            flag.store(true, Ordering::Release);
            control.recheck();
        }
    }

    pub fn remove(&self, conn_id: u64) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&conn_id);
    }

    /// Asks each to look at the clock again (a re-check notice, which they read as that).
    pub fn wake_all(&self) {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for (control, _) in map.values() {
            control.recheck();
        }
    }
}

/// When a custom-auth connection's grant must be renewed, and when it ends.
pub(crate) struct AuthClock {
    pub auth: Arc<dyn Authenticate>,
    pub refresh_at: i64,
    pub disconnect_at: i64,
    pub nudge: Arc<Nudge>,
}

fn secs_to_ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

impl AuthClock {
    pub fn new(auth: Arc<dyn Authenticate>, grant: &Grant, now: i64) -> Self {
        Self {
            auth,
            refresh_at: now.saturating_add(secs_to_ms(grant.refresh_secs)),
            disconnect_at: now.saturating_add(secs_to_ms(grant.disconnect_secs)),
            nudge: Arc::default(),
        }
    }

    /// What is due at `now`: (renew, end). A nudge makes either due at once.
    pub fn due(&self, now: i64) -> (bool, bool) {
        let (refresh, lapse) = self.nudge.take();
        (
            refresh || now >= self.refresh_at,
            lapse || now >= self.disconnect_at,
        )
    }

    /// The next clock reading at which something is due.
    pub fn next(&self) -> i64 {
        self.refresh_at.min(self.disconnect_at)
    }

    /// A renewed grant: the next refresh is counted from now; the disconnect time stays.
    pub fn renewed(&mut self, grant: &Grant, now: i64) {
        self.refresh_at = now.saturating_add(secs_to_ms(grant.refresh_secs));
    }
}

/// What a refused CONNECT is answered with: a not-authorized CONNACK (3.1.1 code 5, MQTT 5
/// 0x87), or nothing when the broker is set to just close.
pub(crate) fn refusal(version: Version, connack: bool) -> Option<Packet> {
    connack.then(|| Packet::ConnAck {
        session_present: false,
        code: match version {
            Version::V5 => V5::NotAuthorized.code(),
            Version::V311 => V311::NotAuthorized.code(),
        },
        props: ConnAckProps::default(),
    })
}

/// Asks the authorizer about this CONNECT.
pub(crate) async fn authenticate(
    auth: &Arc<dyn Authenticate>,
    connect: &Connect,
) -> Result<Grant, String> {
    let credentials = ConnectCredentials {
        client_id: connect.client_id.clone(),
        username: connect.username.clone(),
        password: connect.password.clone(),
    };
    auth.connect(credentials).await
}
