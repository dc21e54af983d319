//! Where the registry's records live between runs: an embedded SQLite database in the state
//! dir, or nowhere (in-process handles). The registry writes through this trait and answers a
//! mutating call only after [`Store::commit`] has returned.

use std::path::Path;

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

#[derive(Debug, thiserror::Error)]
#[error("registry store: {0}")]
pub struct StoreError(pub String);

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(e.to_string())
    }
}

pub trait Store: Send {
    /// Every stored record as (kind, JSON value), in insertion order.
    fn load(&mut self) -> Result<Vec<(String, String)>, StoreError>;
    /// Writes all changes in one transaction; durable when this returns Ok.
    fn commit(&mut self, changes: &[Change]) -> Result<(), StoreError>;
}

/// Keeps nothing: the registry's memory is the only copy.
#[derive(Debug, Default)]
pub struct MemoryStore;

impl Store for MemoryStore {
    fn load(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(Vec::new())
    }

    fn commit(&mut self, _changes: &[Change]) -> Result<(), StoreError> {
        Ok(())
    }
}

/// SQLite in WAL mode with `synchronous=FULL`: a commit survives a crash the moment it returns.
pub struct SqliteStore {
    conn: rusqlite::Connection,
}

/// Opens an SQLite database for durable writes: WAL, `synchronous=FULL`, a 5 s busy timeout.
pub fn open_durable(path: &Path) -> Result<rusqlite::Connection, rusqlite::Error> {
    let conn = rusqlite::Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = open_durable(path)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS records (
                 kind  TEXT NOT NULL,
                 key   TEXT NOT NULL,
                 value TEXT NOT NULL,
                 PRIMARY KEY (kind, key)
             );",
        )?;
        Ok(Self { conn })
    }
}

impl Store for SqliteStore {
    fn load(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT kind, value FROM records ORDER BY rowid")?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn commit(&mut self, changes: &[Change]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for change in changes {
            match change {
                Change::Put { kind, key, value } => tx.execute(
                    "INSERT INTO records (kind, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value",
                    (kind, key, value),
                )?,
                Change::Delete { kind, key } => tx.execute(
                    "DELETE FROM records WHERE kind = ?1 AND key = ?2",
                    (kind, key),
                )?,
            };
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_keeps_puts_and_forgets_deletes_across_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.db");
        let mut s = SqliteStore::open(&path).expect("open");
        let put = |k: &str, v: &str| Change::Put {
            kind: "cert",
            key: k.into(),
            value: v.into(),
        };
        s.commit(&[put("a", "1"), put("b", "2")]).expect("commit");
        s.commit(&[
            put("a", "3"),
            Change::Delete {
                kind: "cert",
                key: "b".into(),
            },
        ])
        .expect("commit");
        drop(s);
        let mut again = SqliteStore::open(&path).expect("reopen");
        assert_eq!(
            again.load().expect("load"),
            vec![("cert".into(), "3".into())]
        );
    }
}
