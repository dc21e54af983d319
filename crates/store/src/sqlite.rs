//! The SQLite store: WAL with `synchronous=FULL` (a commit survives a crash the moment it
//! returns), a schema version in `PRAGMA user_version` migrated forward on open, and a
//! `quarantine` table for rows that cannot be read.

use crate::{Change, Fault, Row, Store, StoreError};
use std::path::Path;

/// Opens an SQLite database for durable writes: WAL, `synchronous=FULL`, a 5 s busy timeout.
pub fn open_durable(path: &Path) -> Result<rusqlite::Connection, rusqlite::Error> {
    let conn = rusqlite::Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

/// Folds every write-ahead log of the `.db` files in `dir` into its database and empties it
/// (a clean shutdown leaves files that read alone, even while a handle is still open).
/// Returns the files whose log could not be emptied, with why.
pub fn checkpoint_dir(dir: &Path) -> Vec<(std::path::PathBuf, String)> {
    let mut failed = Vec::new();
    if !crate::readonly::dir_writable(dir) {
        return failed;
    }
    let files = std::fs::read_dir(dir).into_iter().flatten().flatten();
    for path in files.map(|e| e.path()) {
        if path.extension().is_none_or(|x| x != "db") {
            continue;
        }
        let done = rusqlite::Connection::open(&path).and_then(|conn| {
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                r.get::<_, i64>(0)
            })
        });
        match done {
            Ok(0) => {}
            Ok(_) => failed.push((path, "a reader held the log".to_string())),
            Err(e) => failed.push((path, e.to_string())),
        }
    }
    failed
}

/// One schema step: the SQL that takes a file from version `n - 1` to `n` (`n` is its place
/// in the list, from 1). Steps must accept a file that already has what they create (the
/// first release wrote no version, so a version-0 file may hold version 1's tables).
pub type Migration = &'static str;

/// The file's schema version (0: written before versions were kept, or new).
pub fn schema_version(conn: &rusqlite::Connection) -> Result<u32, rusqlite::Error> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

/// Brings the file to the last of `steps`, each step in its own transaction with its version.
/// A file newer than this build (a later release wrote it) is refused with both versions named.
pub fn migrate(
    conn: &mut rusqlite::Connection,
    what: &str,
    steps: &[Migration],
) -> Result<(), StoreError> {
    let at = schema_version(conn)?;
    let latest = u32::try_from(steps.len()).unwrap_or(u32::MAX);
    if at > latest {
        return Err(StoreError::other(format!(
            "{what} has schema version {at}, newer than this build's {latest}: a later release wrote it"
        )));
    }
    for (i, step) in steps.iter().enumerate().skip(at as usize) {
        let version = i64::try_from(i + 1).unwrap_or(i64::MAX);
        let tx = conn.transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(store = what, from = at, to = version, "schema migrated");
    }
    Ok(())
}

/// The records file's schema, version by version.
const RECORDS: &[Migration] = &["
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS quarantine (
    kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, why TEXT NOT NULL);"];

/// Records as (kind, key, JSON value) rows in one SQLite file.
pub struct SqliteStore {
    conn: rusqlite::Connection,
}

/// Opens the database at `path` at the last of `steps` (see [`migrate`]). In a state dir
/// that cannot be written, a migrated in-memory copy that refuses every write instead
/// (logged once per file).
pub fn open_migrated(
    path: &Path,
    what: &str,
    steps: &[Migration],
) -> Result<rusqlite::Connection, StoreError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if dir.is_none_or(crate::readonly::dir_writable) {
        let mut conn = open_durable(path)?;
        migrate(&mut conn, what, steps)?;
        return Ok(conn);
    }
    tracing::warn!(file = %path.display(), "the state dir is read-only: serving what this file holds; every write to it is refused");
    let mut conn = crate::readonly::snapshot(path)?;
    migrate(&mut conn, what, steps)?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = open_migrated(path, &path.display().to_string(), RECORDS)?;
        Ok(Self { conn })
    }

    /// Rows moved to quarantine, as (kind, key, why).
    pub fn quarantined(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT kind, key, why FROM quarantine ORDER BY rowid")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

/// A column read as text whatever SQLite holds there (a damaged row may hold a blob).
fn text(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<String> {
    use rusqlite::types::ValueRef;
    Ok(match row.get_ref(i)? {
        ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
        ValueRef::Integer(n) => n.to_string(),
        ValueRef::Real(x) => x.to_string(),
        ValueRef::Null => String::new(),
    })
}

impl Store for SqliteStore {
    fn load(&mut self) -> Result<Vec<Row>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT kind, key, value FROM records ORDER BY rowid")?;
        let rows = stmt.query_map([], |r| {
            Ok(Row {
                kind: text(r, 0)?,
                key: text(r, 1)?,
                value: text(r, 2)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn commit(&mut self, changes: &[Change]) -> Result<(), StoreError> {
        self.write(changes)
            .map_err(|e| classify(e, self.conn.path()))
    }

    fn quarantine(&mut self, row: &Row, why: &str) -> Result<(), StoreError> {
        self.move_to_quarantine(row, why)
    }

    fn clear(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM records", [])
            .map(|_| ())
            .map_err(|e| classify(e.into(), self.conn.path()))
    }
}

/// A write SQLite failed with an I/O error is a read-only state dir when the file cannot be
/// opened for writing any more (a file system remounted read-only, permissions taken away).
fn classify(e: StoreError, path: Option<&str>) -> StoreError {
    if e.fault != Fault::Other {
        return e;
    }
    let file = path.filter(|p| !p.is_empty());
    let writable = file.is_none_or(|p| std::fs::OpenOptions::new().append(true).open(p).is_ok());
    match writable {
        true => e,
        false => StoreError {
            fault: Fault::ReadOnly,
            ..e
        },
    }
}

impl SqliteStore {
    fn write(&mut self, changes: &[Change]) -> Result<(), StoreError> {
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

    fn move_to_quarantine(&mut self, row: &Row, why: &str) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO quarantine (kind, key, value, why) VALUES (?1, ?2, ?3, ?4)",
            (&row.kind, &row.key, &row.value, why),
        )?;
        tx.execute(
            "DELETE FROM records WHERE kind = ?1 AND key = ?2",
            (&row.kind, &row.key),
        )?;
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Read, load_with};

    fn put(k: &str, v: &str) -> Change {
        Change::Put {
            kind: "cert",
            key: k.into(),
            value: v.into(),
        }
    }

    #[test]
    fn sqlite_keeps_puts_and_forgets_deletes_across_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.db");
        let mut s = SqliteStore::open(&path).expect("open");
        s.commit(&[put("a", "1"), put("b", "2")]).expect("commit");
        let gone = Change::Delete {
            kind: "cert",
            key: "b".into(),
        };
        s.commit(&[put("a", "3"), gone]).expect("commit");
        drop(s);
        let mut again = SqliteStore::open(&path).expect("reopen");
        let rows = again.load().expect("load");
        let row = Row {
            kind: "cert".into(),
            key: "a".into(),
            value: "3".into(),
        };
        assert_eq!(rows, vec![row]);
    }

    #[test]
    fn an_unreadable_row_is_quarantined_and_the_rest_opens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.db");
        let mut s = SqliteStore::open(&path).expect("open");
        s.commit(&[put("a", "1"), put("b", "not a number"), put("c", "3")])
            .expect("commit");
        let read = |r: &Row| {
            r.value
                .parse::<u32>()
                .map(Read::Record)
                .map_err(|e| e.to_string())
        };
        let got = load_with(&mut s, "test", read).expect("opens");
        assert_eq!(got, vec![1, 3]);
        drop(s);
        let mut again = SqliteStore::open(&path).expect("reopen");
        assert_eq!(
            load_with(&mut again, "test", read).expect("opens"),
            vec![1, 3]
        );
        let q = again.quarantined().expect("quarantine");
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].1, "b");
    }

    #[test]
    fn a_file_from_before_versions_migrates_and_a_newer_one_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.db");
        {
            let conn = open_durable(&path).expect("open");
            conn.execute_batch(
                "CREATE TABLE records (kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
                 PRIMARY KEY (kind, key));
                 INSERT INTO records VALUES ('cert', 'a', '1');",
            )
            .expect("an unversioned file");
        }
        let mut s = SqliteStore::open(&path).expect("migrates");
        assert_eq!(schema_version(&s.conn).expect("version"), 1);
        assert_eq!(s.load().expect("load").len(), 1);
        s.conn
            .pragma_update(None, "user_version", 9)
            .expect("pretend a later release wrote it");
        drop(s);
        let err = SqliteStore::open(&path).err().expect("refused");
        assert!(err.message.contains("schema version 9"), "{err}");
    }
}
