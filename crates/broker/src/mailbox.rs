//! A connection's mailbox: deliveries on a bounded queue (a full one discards, as AWS
//! discards excess), and control notices (taken over, re-check the principal, DeleteConnection)
//! as flags beside it, which are never lost to a full queue and never take more room than the
//! flags themselves: a slow subscriber is still taken over, disconnected or re-checked at once.

use crate::hub::Outbound;
use atomic_waker::AtomicWaker;
use iotmock_session::queued_size;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use tokio::sync::mpsc;

/// The bound on what waits for one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bound {
    /// Bytes of deliveries (as `queued_size` counts them) for one connection.
    pub bytes: usize,
    /// For all connections together.
    pub total: usize,
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
        if before < size {
            // Never below zero, whatever went wrong in the counting.
            self.bytes.store(0, Ordering::Release);
        }
        // Drained: a new episode of discards, if there was one, starts over.
        if before <= size && self.over_since.load(Ordering::Relaxed) != 0 {
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

/// What any connection may always have queued, whatever the others hold: a client that keeps
/// up is never refused because others fell behind.
pub(crate) const FLOOR: usize = 64 * 1024;

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

/// The control side of a mailbox. Posting sets a flag and wakes the connection; waiting costs
/// an atomic load and a waker check per wake-up (no lock), since the connection polls it every
/// time it wakes for anything else.
#[derive(Debug, Default)]
pub(crate) struct Control {
    flags: AtomicU8,
    /// DeleteConnection's arguments, with the flag.
    disconnect: Mutex<(bool, bool)>,
    waker: AtomicWaker,
    kill_waker: AtomicWaker,
}

const TAKEN_OVER: u8 = 1;
const RECHECK: u8 = 2;
const DISCONNECT: u8 = 4;
/// Closes the connection at once, whatever it is doing (even waiting on a socket that does
/// not drain): a client that stayed over its bound past the grace period.
const KILL: u8 = 8;

impl Control {
    fn post(&self, flag: u8) {
        self.flags.fetch_or(flag, Ordering::AcqRel);
        self.waker.wake();
    }

    pub fn take_over(&self) {
        self.post(TAKEN_OVER);
    }

    pub fn recheck(&self) {
        self.post(RECHECK);
    }

    pub fn disconnect(&self, clean_session: bool, prevent_will: bool) {
        *self.disconnect.lock().unwrap_or_else(|p| p.into_inner()) = (clean_session, prevent_will);
        self.post(DISCONNECT);
    }

    /// Asks the connection to close now, as too slow.
    pub fn kill(&self) {
        if self.flags.fetch_or(KILL, Ordering::AcqRel) & KILL == 0 {
            self.kill_waker.wake();
        }
    }

    /// Waits until the connection is asked to close as too slow.
    pub fn killed(&self) -> Wait<'_, ()> {
        Wait::new(self, &self.kill_waker, |c| {
            (c.flags.load(Ordering::Acquire) & KILL != 0).then_some(())
        })
    }

    /// Takes the notices waiting now (none: all false).
    pub fn take(&self) -> Notices {
        let flags = self.flags.fetch_and(KILL, Ordering::AcqRel);
        let disconnect = (flags & DISCONNECT != 0)
            .then(|| *self.disconnect.lock().unwrap_or_else(|p| p.into_inner()));
        Notices {
            taken_over: flags & TAKEN_OVER != 0,
            disconnect,
            recheck: flags & RECHECK != 0,
        }
    }

    /// Waits for notices and takes them all.
    pub fn next(&self) -> Wait<'_, Notices> {
        Wait::new(self, &self.waker, |c| {
            (c.flags.load(Ordering::Acquire) & !KILL != 0).then(|| c.take())
        })
    }
}

/// A wait on a [`Control`]: it registers its task's waker once (and again only if the task's
/// waker changes), so the many polls a busy connection makes cost one atomic load each.
pub(crate) struct Wait<'a, T> {
    control: &'a Control,
    waker: &'a AtomicWaker,
    ready: fn(&Control) -> Option<T>,
    seen: Option<Waker>,
}

impl<'a, T> Wait<'a, T> {
    fn new(control: &'a Control, waker: &'a AtomicWaker, ready: fn(&Control) -> Option<T>) -> Self {
        Self {
            control,
            waker,
            ready,
            seen: None,
        }
    }
}

impl<T> Future for Wait<'_, T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        if !self.seen.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            self.waker.register(cx.waker());
            self.seen = Some(cx.waker().clone());
        }
        match (self.ready)(self.control) {
            Some(t) => Poll::Ready(t),
            None => Poll::Pending,
        }
    }
}

/// The sending side of a connection's mailbox.
#[derive(Debug, Clone)]
pub(crate) struct Mailbox {
    pub tx: mpsc::Sender<Outbound>,
    pub control: Arc<Control>,
    pub load: Arc<Load>,
    /// Bytes queued for all connections.
    pub total: Arc<AtomicUsize>,
}

impl Mailbox {
    /// A mailbox whose delivery queue holds `depth` items, counting into `total`, and its
    /// receiving side.
    pub fn new(depth: usize, total: Arc<AtomicUsize>) -> (Self, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(depth);
        let control = Arc::new(Control::default());
        let load = Arc::new(Load::default());
        (
            Self {
                tx,
                control,
                load,
                total,
            },
            rx,
        )
    }

    /// A delivery of `size` bytes left the queue.
    pub fn taken(&self, size: usize) {
        self.load.taken(size);
        self.total.fetch_sub(size, Ordering::AcqRel);
    }

    fn fits(&self, queued: usize, size: usize, bound: Bound) -> bool {
        let after = queued.saturating_add(size);
        after <= FLOOR
            || queued == 0
            || (after <= bound.bytes
                && self.total.load(Ordering::Acquire).saturating_add(size) <= bound.total)
    }

    /// Queues a delivery within `bound`; false when it was discarded (over the bound, or the
    /// queue is full or gone). The first discard of an episode is logged; a connection over
    /// its bound for longer than the grace period is closed.
    pub fn offer(&self, item: Outbound, bound: Bound, now_ms: i64, client_id: &str) -> bool {
        let size = size_of(&item);
        let load = &self.load;
        let queued = load.bytes.load(Ordering::Acquire);
        if self.fits(queued, size, bound) {
            load.bytes.fetch_add(size, Ordering::AcqRel);
            self.total.fetch_add(size, Ordering::AcqRel);
            if self.tx.try_send(item).is_ok() {
                return true;
            }
            load.bytes.fetch_sub(size, Ordering::AcqRel);
            self.total.fetch_sub(size, Ordering::AcqRel);
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

    fn message(size: usize) -> Outbound {
        let payload = bytes::Bytes::from(vec![0u8; size - 64 - 1]);
        Outbound::Deliver(
            Arc::new(iotmock_mqtt::Publish::new("t", payload, 0, false)),
            0,
        )
    }

    #[test]
    fn the_total_bound_spares_a_client_under_the_floor() {
        let total = Arc::new(AtomicUsize::new(0));
        let bound = Bound {
            bytes: 1024 * 1024,
            total: 100 * 1024,
            grace_ms: 1000,
        };
        let (slow, _slow_rx) = Mailbox::new(10_000, total.clone());
        let (quick, _quick_rx) = Mailbox::new(10_000, total.clone());
        let accepted = (0..200)
            .filter(|_| slow.offer(message(1024), bound, 0, "slow"))
            .count();
        assert_eq!(accepted, 100, "the slow client fills the total");
        assert!(slow.load.discarded() > 0);
        let spared = (0..200)
            .filter(|_| quick.offer(message(1024), bound, 0, "quick"))
            .count();
        assert_eq!(spared, 64, "another client still gets its floor");
        slow.taken(1024);
        assert_eq!(
            total.load(Ordering::Acquire),
            163 * 1024,
            "taking gives back to the total"
        );
    }

    #[tokio::test]
    async fn notices_reach_a_connection_whose_queue_is_full() {
        let (mailbox, _rx) = Mailbox::new(1, Arc::default());
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
