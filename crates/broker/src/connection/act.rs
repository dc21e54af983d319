//! Carrying out the session core's actions on a connection: encoded into the write batch,
//! routed, subscribed, or the end. No action is held across a wait, so the serving future
//! every connection's task holds stays small.

use super::Conn;
use crate::observe::{PacketSeen, Seen};
use iotmock_mqtt::{Packet, encode_delivery};
use iotmock_session::{Action, End};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// How far [`Conn::act`] carried an action.
enum Acted {
    Done,
    /// Encoded into the batch (written once it is full, or at the flush).
    Written,
    /// The fault plan delays this answer.
    Late(Box<Packet>, Duration),
    /// The connection is lost (encoding failed).
    Lost,
    End(End),
}

impl<S: AsyncRead + AsyncWrite> Conn<S> {
    /// Carries out the core's actions in order; `Some` when the connection ends.
    pub(super) async fn perform(&mut self, mut actions: Vec<Action>) -> Option<End> {
        self.perform_all(&mut actions).await
    }

    /// Carries out and removes every action in `actions` (the buffer stays for reuse). No
    /// action is held across a wait (the future stays small: every connection's task holds
    /// one while it waits); a delayed answer, which must be, waits in a box of its own.
    pub(super) async fn perform_all(&mut self, actions: &mut Vec<Action>) -> Option<End> {
        for action in actions.drain(..) {
            match self.act(action) {
                Acted::Done => {}
                Acted::Written => {
                    if let Some(end) = self.flush_if_full().await {
                        return Some(end);
                    }
                }
                Acted::Late(packet, delay) => {
                    let late = Box::pin(self.link.send_late(&packet, delay)).await;
                    if late.is_err() {
                        return Some(self.lost().await);
                    }
                }
                Acted::Lost => return Some(self.lost().await),
                Acted::End(end) => return Some(end),
            }
        }
        None
    }

    /// Carries out one action as far as it goes without waiting.
    fn act(&mut self, action: Action) -> Acted {
        match action {
            Action::Deliver(d) => {
                self.details.messages_out.fetch_add(1, Ordering::Relaxed);
                if let Some(t) = &self.link.tap {
                    let packet = Packet::Publish(d.packet());
                    t.record(Seen::Out {
                        packet: PacketSeen::of(&packet),
                        withheld: false,
                    });
                }
                match encode_delivery(&d, self.link.version, &mut self.link.out) {
                    Ok(_) => Acted::Written,
                    Err(_) => Acted::Lost,
                }
            }
            Action::Send(packet) => match self.link.queue(&packet) {
                Ok(None) => Acted::Written,
                Ok(Some(delay)) => Acted::Late(Box::new(packet), delay),
                Err(_) => Acted::Lost,
            },
            a @ (Action::Route(_) | Action::Event(_) | Action::Will(_)) => {
                self.route(a);
                Acted::Done
            }
            Action::Subscribe { filter, qos } => {
                self.subscribed(&filter, qos);
                Acted::Done
            }
            Action::Unsubscribe { filter } => {
                self.shared
                    .hub
                    .unsubscribe(self.session.client_id(), &filter);
                Acted::Done
            }
            Action::Close(end) => Acted::End(end),
        }
    }
}
