//! A connection's mailbox: deliveries on a bounded queue (a full one discards, as AWS
//! discards excess), and control notices (taken over, re-check the principal, DeleteConnection)
//! as flags beside it, which are never lost to a full queue and never take more room than the
//! flags themselves: a slow subscriber is still taken over, disconnected or re-checked at once.

use crate::hub::Outbound;
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, mpsc};

/// The control notices waiting for a connection.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Notices {
    /// Another connection took this client id over.
    pub taken_over: bool,
    /// DeleteConnection: `(clean_session, prevent_will)`.
    pub disconnect: Option<(bool, bool)>,
    /// A registry change concerns this connection: re-check its principal.
    pub recheck: bool,
}

/// The control side of a mailbox.
#[derive(Debug, Default)]
pub(crate) struct Control {
    notify: Notify,
    notices: Mutex<Notices>,
}

impl Control {
    fn post(&self, f: impl FnOnce(&mut Notices)) {
        f(&mut self.notices.lock().unwrap_or_else(|p| p.into_inner()));
        self.notify.notify_one();
    }

    pub fn take_over(&self) {
        self.post(|n| n.taken_over = true);
    }

    pub fn recheck(&self) {
        self.post(|n| n.recheck = true);
    }

    pub fn disconnect(&self, clean_session: bool, prevent_will: bool) {
        self.post(|n| n.disconnect = Some((clean_session, prevent_will)));
    }

    /// Takes the notices waiting now (none: all false).
    pub fn take(&self) -> Notices {
        std::mem::take(&mut *self.notices.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Waits for notices and takes them all.
    pub async fn next(&self) -> Notices {
        loop {
            self.notify.notified().await;
            let taken = self.take();
            if taken != Notices::default() {
                return taken;
            }
        }
    }
}

/// The sending side of a connection's mailbox.
#[derive(Debug, Clone)]
pub(crate) struct Mailbox {
    pub tx: mpsc::Sender<Outbound>,
    pub control: Arc<Control>,
}

impl Mailbox {
    /// A mailbox whose delivery queue holds `depth` items, and its receiving side.
    pub fn new(depth: usize) -> (Self, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(depth);
        let control = Arc::new(Control::default());
        (Self { tx, control }, rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn notices_reach_a_connection_whose_queue_is_full() {
        let (mailbox, _rx) = Mailbox::new(1);
        let msg = std::sync::Arc::new(iotmock_mqtt::Publish::new(
            "t",
            bytes::Bytes::new(),
            0,
            false,
        ));
        assert!(
            mailbox
                .tx
                .try_send(Outbound::Deliver(msg.clone(), 0))
                .is_ok()
        );
        assert!(
            mailbox.tx.try_send(Outbound::Deliver(msg, 0)).is_err(),
            "full"
        );
        mailbox.control.recheck();
        mailbox.control.take_over();
        mailbox.control.recheck();
        let notices = mailbox.control.next().await;
        assert_eq!(
            notices,
            Notices {
                taken_over: true,
                disconnect: None,
                recheck: true
            }
        );
    }
}
