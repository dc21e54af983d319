//! Where iotmock keeps what AWS keeps between runs. Cores write through [`Store`] and answer a
//! mutating call only after [`Store::commit`] returned; in-process handles use [`MemoryStore`].
//! With the `sqlite` feature, [`SqliteStore`] keeps records in a file of the state dir that
//! always reopens: its schema is versioned and migrated on open ([`migrate`]), and a row its
//! reader cannot read is moved to a quarantine table with a warning naming it
//! ([`load_with`]), never a refusal to start.

#[cfg(feature = "sqlite")]
mod readonly;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "sqlite")]
pub use sqlite::{
    Migration, SqliteStore, checkpoint_dir, migrate, open_durable, open_migrated, schema_version,
};

/// One row written or removed; `value` is the record as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Put {
        kind: &'static str,
        key: String,
        value: String,
    },
    Delete {
        kind: &'static str,
        key: String,
    },
}

/// One stored row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub kind: String,
    pub key: String,
    pub value: String,
}

/// Why the store refused: the adapters answer a full disk and a read-only state dir each in
/// its own way (500 and 503), with the store's message.
#[derive(Debug, thiserror::Error)]
#[error("store: {message}")]
pub struct StoreError {
    pub message: String,
    pub fault: Fault,
}

/// What kind of refusal a [`StoreError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The disk (or the state dir's file system) is full.
    Full,
    /// The state dir cannot be written (a read-only mount, permissions).
    ReadOnly,
    Other,
}

impl StoreError {
    pub fn other(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            fault: Fault::Other,
        }
    }
}

#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode as C;
        let fault = match e.sqlite_error_code() {
            Some(C::DiskFull) => Fault::Full,
            Some(C::ReadOnly) => Fault::ReadOnly,
            _ => Fault::Other,
        };
        Self {
            message: e.to_string(),
            fault,
        }
    }
}

pub trait Store: Send {
    /// Every stored row, in insertion order.
    fn load(&mut self) -> Result<Vec<Row>, StoreError>;
    /// Writes all changes in one transaction; durable when this returns Ok.
    fn commit(&mut self, changes: &[Change]) -> Result<(), StoreError>;
    /// Moves a row that cannot be read out of the records, into quarantine with `why`.
    fn quarantine(&mut self, row: &Row, why: &str) -> Result<(), StoreError>;
    /// Deletes every record (a reset); durable when this returns Ok.
    fn clear(&mut self) -> Result<(), StoreError> {
        Err(StoreError::other("this store cannot be cleared"))
    }
}

/// Empties a store shared behind a mutex (a service's reset), a poisoned lock included.
pub fn clear_shared(store: &std::sync::Mutex<Box<dyn Store>>) -> Result<(), StoreError> {
    store.lock().unwrap_or_else(|p| p.into_inner()).clear()
}

/// Keeps nothing: the core's memory is the only copy.
#[derive(Debug, Default)]
pub struct MemoryStore;

impl Store for MemoryStore {
    fn load(&mut self) -> Result<Vec<Row>, StoreError> {
        Ok(Vec::new())
    }

    fn commit(&mut self, _changes: &[Change]) -> Result<(), StoreError> {
        Ok(())
    }

    fn quarantine(&mut self, _row: &Row, _why: &str) -> Result<(), StoreError> {
        Ok(())
    }

    fn clear(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// What [`load_with`]'s reader makes of a row.
pub enum Read<T> {
    /// A record.
    Record(T),
    /// A row of a kind this reader does not own (another core's, in a shared file).
    Skip,
}

/// Loads every row through `read`. A row `read` refuses is moved to quarantine with a warning
/// naming the file (`what`), its kind, key and the reason; loading goes on.
pub fn load_with<T>(
    store: &mut dyn Store,
    what: &str,
    mut read: impl FnMut(&Row) -> Result<Read<T>, String>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for row in store.load()? {
        match read(&row) {
            Ok(Read::Record(t)) => out.push(t),
            Ok(Read::Skip) => {}
            Err(why) => {
                tracing::warn!(store = what, kind = %row.kind, key = %row.key, reason = %why,
                    "a stored record cannot be read; it was moved to the quarantine table and the rest opened");
                match store.quarantine(&row, &why) {
                    Err(e) if e.fault == Fault::ReadOnly => {
                        tracing::warn!(store = what, key = %row.key, "the state dir is read-only: the unreadable row stays where it is");
                    }
                    other => other?,
                }
            }
        }
    }
    Ok(out)
}
