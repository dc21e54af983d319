//! A state dir that cannot be written (a read-only mount): each database is copied into
//! memory through SQLite's `immutable` mode (a WAL file cannot be read where its index cannot
//! be created), migrated there, and made query-only, so the mock serves what the state dir
//! holds and every write is refused as [`crate::Fault::ReadOnly`].

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
    let uri = format!("file:{}?immutable=1", path.display());
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
