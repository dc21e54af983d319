//! A state dir that cannot be written (a read-only mount): each database is copied into
//! memory, migrated there, and made query-only, so the mock serves what the state dir holds
//! and every write is refused as [`crate::Fault::ReadOnly`]. A write-ahead log left beside a
//! file (a killed process, or one whose handles were still open at exit) holds committed
//! writes but cannot be read in place (SQLite needs to create its index next to it), so the
//! file and its log are read from a copy in the temp dir; where no copy can be made, the file
//! alone is read through SQLite's `immutable` mode, with a warning naming what was left out.

use rusqlite::{Connection, OpenFlags};
use std::path::Path;

/// Whether files can be created in `dir`.
pub fn dir_writable(dir: &Path) -> bool {
    let probe = dir.join(".iotmock-write-probe");
    let made = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)
        .is_ok();
    if made {
        let _ = std::fs::remove_file(&probe);
    }
    made
}

/// An in-memory copy of the database at `path` (empty when there is none).
pub fn snapshot(path: &Path) -> Result<Connection, rusqlite::Error> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_in_memory_with_flags(flags)?;
    if !path.exists() {
        return Ok(conn);
    }
    let copy = WalCopy::of(path);
    let uri = match &copy {
        Some(copy) => format!("file:{}", copy.db.display()),
        None => format!("file:{}?immutable=1", path.display()),
    };
    conn.execute("ATTACH DATABASE ?1 AS src", [uri])?;
    let schema: Vec<(String, String, String)> = {
        let mut stmt = conn.prepare(
            "SELECT type, name, sql FROM src.sqlite_master
             WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY type = 'index'",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (kind, name, sql) in &schema {
        conn.execute_batch(sql)?;
        if kind == "table" {
            let quoted = name.replace('"', "\"\"");
            conn.execute(
                &format!("INSERT INTO main.\"{quoted}\" SELECT * FROM src.\"{quoted}\""),
                [],
            )?;
        }
    }
    let version: i64 = conn.query_row("PRAGMA src.user_version", [], |r| r.get(0))?;
    conn.pragma_update(None, "user_version", version)?;
    conn.execute("DETACH DATABASE src", [])?;
    Ok(conn)
}

/// A copy of a database and its write-ahead log in a fresh temp dir, removed on drop.
struct WalCopy {
    dir: std::path::PathBuf,
    db: std::path::PathBuf,
}

impl WalCopy {
    /// The copy, when `path` has a non-empty log beside it (none is needed otherwise).
    fn of(path: &Path) -> Option<Self> {
        let wal = sibling(path, "-wal");
        if !std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
            return None;
        }
        match Self::make(path, &wal) {
            Ok(copy) => Some(copy),
            Err(err) => {
                tracing::warn!(file = %path.display(), %err, "the write-ahead log beside this file cannot be copied to the temp dir: serving the file without the writes it holds");
                None
            }
        }
    }

    fn make(path: &Path, wal: &Path) -> std::io::Result<Self> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("iotmock-ro-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let copy = Self {
            db: dir.join("db"),
            dir,
        };
        std::fs::copy(path, &copy.db)?;
        std::fs::copy(wal, sibling(&copy.db, "-wal"))?;
        Ok(copy)
    }
}

impl Drop for WalCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn sibling(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_holds_the_writes_still_in_the_write_ahead_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let live = crate::sqlite::open_durable(&path).unwrap();
        live.execute_batch("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('kept');")
            .unwrap();
        assert!(
            sibling(&path, "-wal").metadata().unwrap().len() > 0,
            "the log holds them"
        );
        let copy = snapshot(&path).unwrap();
        let v: String = copy.query_row("SELECT v FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(v, "kept");
        drop(live);
    }
}
