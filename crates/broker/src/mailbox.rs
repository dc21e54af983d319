//! A connection's mailbox: deliveries on a bounded queue (a full one discards, as AWS
//! discards excess), and control notices (taken over, re-check the principal, DeleteConnection)
//! as flags beside it, which are never lost to a full queue and never take more room than the
//! flags themselves: a slow subscriber is still taken over, disconnected or re-checked at once.

use crate::hub::Outbound;
use iotmock_session::queued_size;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, mpsc};

/// The bound on what waits for one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bound {
    /// Bytes of deliveries (as `queued_size` counts them).
    pub bytes: usize,
    /// How long a connection may stay over it before it is closed as too slow.
    pub grace_ms: i64,
}

/// What waits in a connection's delivery queue, in bytes, and since when it is over its bound.
#[derive(Debug, Default)]
pub(crate) struct Load {
    bytes: AtomicUsize,
    /// When the queue first refused a delivery (0: it has not, since it last drained).
    over_since: AtomicI64,
    discarded: AtomicU64,
    logged: AtomicBool,
}

impl Load {
    /// A delivery of `size` bytes left the queue.
    pub fn taken(&self, size: usize) {
        let before = self.bytes.fetch_sub(size, Ordering::AcqRel);
        if before <= size {
            self.bytes.store(0, Ordering::Release);
            self.over_since.store(0, Ordering::Release);
            self.logged.store(false, Ordering::Release);
        }
    }

    /// Bytes queued now.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Acquire)
    }

    /// Deliveries discarded since the connection started.
    pub fn discarded(&self) -> u64 {
        self.discarded.load(Ordering::Relaxed)
    }
}

/// The bytes an item counts against the bound.
pub(crate) fn size_of(item: &Outbound) -> usize {
    match item {
        Outbound::Deliver(m, _) => queued_size(m),
        Outbound::Redeliver(s) => queued_size(&s.message),
    }
}

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
    /// Closes the connection at once, whatever it is doing (even waiting on a socket that does
    /// not drain): a client that stayed over its bound past the grace period.
    kill: Notify,
    killed: AtomicBool,
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

    /// Asks the connection to close now, as too slow.
    pub fn kill(&self) {
        if !self.killed.swap(true, Ordering::AcqRel) {
            self.kill.notify_one();
        }
    }

    /// Waits until the connection is asked to close as too slow.
    pub async fn killed(&self) {
        self.kill.notified().await;
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
    pub load: Arc<Load>,
}

impl Mailbox {
    /// A mailbox whose delivery queue holds `depth` items, and its receiving side.
    pub fn new(depth: usize) -> (Self, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(depth);
        let control = Arc::new(Control::default());
        let load = Arc::new(Load::default());
        (Self { tx, control, load }, rx)
    }

    /// Queues a delivery within `bound`; false when it was discarded (over the bound, or the
    /// queue is full or gone). The first discard of an episode is logged; a connection over
    /// its bound for longer than the grace period is closed.
    pub fn offer(&self, item: Outbound, bound: Bound, now_ms: i64, client_id: &str) -> bool {
        let size = size_of(&item);
        let load = &self.load;
        let queued = load.bytes.load(Ordering::Acquire);
        if queued.saturating_add(size) <= bound.bytes || queued == 0 {
            load.bytes.fetch_add(size, Ordering::AcqRel);
            if self.tx.try_send(item).is_ok() {
                return true;
            }
            load.bytes.fetch_sub(size, Ordering::AcqRel);
        }
        load.discarded.fetch_add(1, Ordering::Relaxed);
        let since =
            match load
                .over_since
                .compare_exchange(0, now_ms, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => now_ms,
                Err(at) => at,
            };
        if !load.logged.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                client_id,
                queued_bytes = queued,
                limit_bytes = bound.bytes,
                "deliveries discarded: the client reads too slowly and its queue is full (logged once until it drains)"
            );
        }
        if now_ms.saturating_sub(since) > bound.grace_ms {
            tracing::warn!(
                client_id,
                grace_ms = bound.grace_ms,
                "closing a client that stayed over its queue bound past the grace period"
            );
            self.control.kill();
        }
        false
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
