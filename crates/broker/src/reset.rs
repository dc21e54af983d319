//! Emptying the broker (iotmock's own reset): live connections are closed as DeleteConnection
//! closes them (their sessions dropped, no will), offline persistent sessions and their queued
//! messages are forgotten, and every retained message is deleted, in memory and in the store.

use crate::hub::{Hub, lock, write};

impl Hub {
    /// Closes every connection and forgets every session and retained message. Returns how
    /// many connections were asked to close.
    pub(crate) fn reset(&self) -> usize {
        let clients: Vec<(String, bool)> = self.clients.fold(Vec::new(), |mut acc, id, c| {
            acc.push((id.clone(), c.tx.is_some()));
            acc
        });
        let mut closed = 0;
        for (id, live) in clients {
            if live {
                closed += usize::from(self.disconnect(&id, true, true));
                continue;
            }
            let removed = self.clients.lock(&id).remove(&id);
            if removed.is_some_and(|c| c.tx.is_none()) {
                write(&self.subs).remove_client(id.as_str());
                self.stored("session", self.store.delete_session(&id));
                self.stored("session queue", self.store.clear_queue(&id));
            }
        }
        let topics: Vec<String> = std::mem::take(&mut *lock(&self.retained))
            .into_keys()
            .collect();
        for topic in topics {
            self.stored("retained message", self.store.delete_retained(&topic));
        }
        closed
    }
}
