//! A connection's delivery queue: bounded in items, many senders (the hub's routing on any
//! thread) and one receiver (the connection). It allocates nothing until the first delivery
//! and gives the room a burst grew back whenever the connection has drained it and waits, so
//! an idle connection holds a few words and at most a few slots for it (tokio's mpsc keeps
//! its first 32-slot block and its cache-padded channel state for the connection's life). When the receiver is gone, sends
//! are refused, and what was left is handed to the connection's end ([`Receiver::close`]).

use atomic_waker::AtomicWaker;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

/// Slots kept while the receiver waits.
const KEEP: usize = 8;

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Items queued (changed under the lock; read without it).
    len: AtomicUsize,
    waker: AtomicWaker,
    depth: usize,
}

struct State<T> {
    items: VecDeque<T>,
    closed: bool,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pop(&self) -> Option<T> {
        let mut state = self.lock();
        let item = state.items.pop_front();
        self.len.store(state.items.len(), Ordering::Release);
        item
    }
}

/// The sending side (cloned for every sender).
pub(crate) struct Sender<T>(Arc<Shared<T>>);

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("depth", &self.0.depth)
            .finish()
    }
}

/// The receiving side.
pub(crate) struct Receiver<T>(Arc<Shared<T>>);

/// A queue of at most `depth` items.
pub(crate) fn channel<T>(depth: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            closed: false,
        }),
        len: AtomicUsize::new(0),
        waker: AtomicWaker::new(),
        depth,
    });
    (Sender(shared.clone()), Receiver(shared))
}

impl<T> Sender<T> {
    /// Queues `item`; it comes back when the queue is full or its receiver is gone.
    pub fn try_send(&self, item: T) -> Result<(), T> {
        let mut state = self.0.lock();
        if state.closed || state.items.len() >= self.0.depth {
            return Err(item);
        }
        state.items.push_back(item);
        self.0.len.store(state.items.len(), Ordering::Release);
        drop(state);
        self.0.waker.wake();
        Ok(())
    }
}

impl<T> Receiver<T> {
    /// The next item, if one waits (an empty queue is seen without taking the lock).
    pub fn try_recv(&mut self) -> Option<T> {
        if self.len() == 0 {
            return None;
        }
        self.0.pop()
    }

    /// How many items wait.
    pub fn len(&self) -> usize {
        self.0.len.load(Ordering::Acquire)
    }

    /// Waits for the next item.
    pub fn recv(&mut self) -> Recv<'_, T> {
        Recv(self)
    }

    /// Refuses every later send and returns what was still queued.
    pub fn close(&mut self) -> Vec<T> {
        let mut state = self.0.lock();
        state.closed = true;
        self.0.len.store(0, Ordering::Release);
        std::mem::take(&mut state.items).into()
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        drop(self.close());
    }
}

/// [`Receiver::recv`]'s future.
pub(crate) struct Recv<'a, T>(&'a mut Receiver<T>);

impl<T> Future for Recv<'_, T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let shared = &self.0.0;
        shared.waker.register(cx.waker());
        let mut state = shared.lock();
        match state.items.pop_front() {
            Some(item) => {
                shared.len.store(state.items.len(), Ordering::Release);
                Poll::Ready(item)
            }
            None => {
                // Drained and about to wait: room grown by a burst goes back until the next
                // delivery (a few slots stay, or every delivery would allocate them again).
                if state.items.capacity() > KEEP {
                    state.items = VecDeque::new();
                }
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_refuses_and_a_closed_one_hands_back_what_it_held() {
        let (tx, mut rx) = channel(2);
        assert!(tx.try_send(1).is_ok());
        assert!(tx.clone().try_send(2).is_ok());
        assert_eq!(tx.try_send(3), Err(3), "full");
        assert_eq!(rx.len(), 2);
        assert_eq!(rx.try_recv(), Some(1));
        assert_eq!(rx.close(), vec![2], "what was left");
        assert_eq!(tx.try_send(4), Err(4), "closed");
        drop(rx);
        assert_eq!(tx.try_send(5), Err(5), "gone");
    }

    #[tokio::test]
    async fn a_waiting_receiver_is_woken_and_keeps_no_room_while_it_waits() {
        let (tx, mut rx) = channel(64);
        for i in 0..40 {
            assert!(tx.try_send(i).is_ok());
        }
        for i in 0..40 {
            assert_eq!(rx.recv().await, i);
        }
        let waited =
            std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut rx.recv()).poll(cx).is_pending()))
                .await;
        assert!(waited, "nothing queued");
        assert!(rx.0.lock().items.capacity() <= KEEP, "room given back");
        let sender = std::thread::spawn(move || tx.try_send(7).is_ok());
        assert_eq!(rx.recv().await, 7, "woken by a send from another thread");
        assert!(sender.join().expect("sender thread"));
    }
}
