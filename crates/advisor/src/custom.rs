//! The custom-authorizer cases (the device authenticates with a username and password, or a
//! token, that the mock's authorizer function judges; the runner sets both up).
//! Custom_Auth_Connect: a CONNECT the authorizer admits, and the connection used.
//! Custom_Auth_Token_Refresh: once connected, the broker renews the grant (the function is
//! invoked again, as at `refreshAfterInSeconds`); the connection must stay up.
//! Custom_Auth_Reconnect_After_Disconnect: once connected, the grant lapses (as at
//! `disconnectAfterInSeconds`) and the broker closes the connection; the device must connect
//! again, through the authorizer.

use crate::cases::{Step, done, none};
use crate::{Act, Case, CaseId, Event, Timed, Verdict};

/// How long a connection must stay up after a refresh (or after CONNACK) to count as used.
const SETTLE_MS: i64 = 2000;

/// Where a custom-auth case stands.
#[derive(Debug, Clone, Default)]
pub(crate) struct Custom {
    /// The connection that got its CONNACK, and when.
    connected: Option<(u64, i64)>,
    /// When the case asked the broker to renew or end the grant.
    acted_at: Option<i64>,
    /// The connection the lapse closed.
    lapsed: Option<u64>,
}

impl Case {
    pub(crate) fn custom(&mut self, t: &Timed) -> Step {
        match &t.event {
            Event::Out {
                conn,
                packet,
                withheld: false,
            } if packet.kind == "CONNACK" => self.custom_connack(*conn, t.at_ms),
            Event::Closed { conn, reason } => self.custom_closed(*conn, reason),
            Event::In { conn, .. }
                if self.id == CaseId::CustomAuthConnect
                    && self.custom.connected.is_some_and(|(c, _)| c == *conn) =>
            {
                done(Verdict::pass(
                    "the authorizer admitted the CONNECT and the device used the connection",
                ))
            }
            Event::Tick => self.custom_tick(t.at_ms),
            _ => none(),
        }
    }

    fn custom_connack(&mut self, conn: u64, at: i64) -> Step {
        let first = self.custom.acted_at.is_none();
        self.custom.connected = Some((conn, at));
        match self.id {
            CaseId::CustomAuthRefresh if first => {
                self.custom.acted_at = Some(at);
                (vec![Act::RefreshGrant], None)
            }
            CaseId::CustomAuthReconnect if first => {
                self.custom.acted_at = Some(at);
                (vec![Act::LapseGrant], None)
            }
            CaseId::CustomAuthReconnect if self.custom.lapsed.is_some() => done(Verdict::pass(
                "the device connected again through the authorizer after the forced disconnect",
            )),
            _ => none(),
        }
    }

    fn custom_closed(&mut self, conn: u64, reason: &str) -> Step {
        let ours = self.custom.connected.is_some_and(|(c, _)| c == conn);
        if !ours {
            return none();
        }
        self.custom.connected = None;
        match self.id {
            CaseId::CustomAuthReconnect if self.custom.acted_at.is_some() => {
                self.custom.lapsed = Some(conn);
                none()
            }
            CaseId::CustomAuthRefresh => done(Verdict::fail(format!(
                "the connection closed after the authorizer's refresh ({reason})"
            ))),
            _ => none(),
        }
    }

    fn custom_tick(&mut self, now: i64) -> Step {
        let Some((_, since)) = self.custom.connected else {
            return none();
        };
        match self.id {
            CaseId::CustomAuthConnect if now >= since + SETTLE_MS => done(Verdict::pass(
                "the authorizer admitted the CONNECT and the connection stayed up",
            )),
            CaseId::CustomAuthRefresh
                if self.custom.acted_at.is_some_and(|at| now >= at + SETTLE_MS) =>
            {
                done(Verdict::pass(
                    "the connection stayed up through the authorizer's refresh",
                ))
            }
            _ => none(),
        }
    }

    pub(crate) fn custom_timed_out(&self) -> String {
        match (self.id, self.custom.lapsed) {
            (CaseId::CustomAuthReconnect, Some(_)) => {
                "the device did not connect again after the forced disconnect".into()
            }
            _ if self.custom.acted_at.is_none() => {
                "no CONNECT the custom authorizer admitted".into()
            }
            _ => format!("no sign that {}", self.id.summary()),
        }
    }
}

/// One of the custom-authorizer cases.
pub(crate) fn is_custom(id: CaseId) -> bool {
    matches!(
        id,
        CaseId::CustomAuthConnect | CaseId::CustomAuthRefresh | CaseId::CustomAuthReconnect
    )
}
