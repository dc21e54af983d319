//! What the broker keeps durably, as AWS does: retained messages and persistent sessions
//! (subscriptions, queued QoS 1 messages, expiry). On a state dir they live in SQLite
//! (`broker.db`, WAL, synchronous=FULL), written before the broker answers the write that
//! caused them; in-process handles keep them in memory only. Messages are stored as encoded
//! MQTT 5 PUBLISH packets, so every property survives.

use bytes::BytesMut;
use iotmock_mqtt::{Packet, Publish, Version, decode_within, encode};
use iotmock_session::Stored;
use std::path::Path;
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("broker store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("broker store: a stored message does not decode: {0}")]
    Decode(String),
    #[error("broker store: {0}")]
    Schema(String),
}

/// A persistent session as stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionRecord {
    pub client_id: String,
    /// How long it outlives its connection.
    pub keep_ms: i64,
    /// When it expires (`None` while a connection holds it).
    pub expires_ms: Option<i64>,
    pub subscriptions: Vec<(String, u8)>,
    pub queue: Vec<Stored>,
}

/// A retained message as stored.
#[derive(Debug, Clone)]
pub struct RetainedRecord {
    pub message: Arc<Publish>,
    pub updated_ms: i64,
}

/// Where retained messages and persistent sessions are kept.
pub trait BrokerStore: Send + Sync {
    fn put_retained(&self, r: &RetainedRecord) -> Result<(), StoreError>;
    fn delete_retained(&self, topic: &str) -> Result<(), StoreError>;
    /// Writes the session row (subscriptions, expiry), leaving its queue as it is.
    fn put_session(&self, s: &SessionRecord) -> Result<(), StoreError>;
    fn delete_session(&self, client_id: &str) -> Result<(), StoreError>;
    fn enqueue(&self, client_id: &str, kept: &[Stored]) -> Result<(), StoreError>;
    fn clear_queue(&self, client_id: &str) -> Result<(), StoreError>;
    /// Replaces the session's queue with `kept` in one transaction (at disconnect: what the
    /// connection held, instead of what was written while it was live).
    fn replace_queue(&self, client_id: &str, kept: &[Stored]) -> Result<(), StoreError> {
        self.clear_queue(client_id)?;
        self.enqueue(client_id, kept)
    }
    /// Keeps only the newest `keep` queued messages of the session.
    fn trim_queue(&self, _client_id: &str, _keep: usize) -> Result<(), StoreError> {
        Ok(())
    }
    fn load(&self) -> Result<(Vec<RetainedRecord>, Vec<SessionRecord>), StoreError>;
}

/// Keeps nothing: the hub's memory is the only copy.
#[derive(Debug, Default)]
pub struct NoStore;

impl BrokerStore for NoStore {
    fn put_retained(&self, _: &RetainedRecord) -> Result<(), StoreError> {
        Ok(())
    }
    fn delete_retained(&self, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
    fn put_session(&self, _: &SessionRecord) -> Result<(), StoreError> {
        Ok(())
    }
    fn delete_session(&self, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
    fn enqueue(&self, _: &str, _: &[Stored]) -> Result<(), StoreError> {
        Ok(())
    }
    fn clear_queue(&self, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
    fn load(&self) -> Result<(Vec<RetainedRecord>, Vec<SessionRecord>), StoreError> {
        Ok((Vec::new(), Vec::new()))
    }
}

/// The file name in the state dir.
pub const DATABASE: &str = "broker.db";

pub struct SqliteBrokerStore {
    conn: Mutex<rusqlite::Connection>,
}

/// `broker.db`'s schema, version by version (the first release wrote version 1's tables
/// without a version).
const SCHEMA: &[iotmock_store::Migration] = &["
CREATE TABLE IF NOT EXISTS retained (
    topic TEXT PRIMARY KEY, packet BLOB NOT NULL, expires_ms INTEGER, updated_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    client_id TEXT PRIMARY KEY, keep_ms INTEGER NOT NULL, expires_ms INTEGER,
    subscriptions TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT, client_id TEXT NOT NULL, packet BLOB NOT NULL,
    expires_ms INTEGER, qos INTEGER NOT NULL, pkid INTEGER);
CREATE INDEX IF NOT EXISTS queue_client ON queue (client_id, id);
CREATE TABLE IF NOT EXISTS quarantine (
    source TEXT NOT NULL, key TEXT NOT NULL, content BLOB, why TEXT NOT NULL);"];

/// Moves what cannot be read out of the way: the row's content goes to `quarantine` with why,
/// and a warning names it. Opening goes on.
fn quarantine(
    conn: &rusqlite::Connection,
    (source, key): (&str, &str),
    content: &[u8],
    why: &str,
) -> Result<(), StoreError> {
    tracing::warn!(
        store = DATABASE,
        table = source,
        key,
        reason = why,
        "a stored row cannot be read; it was moved to the quarantine table and the rest opened"
    );
    conn.execute(
        "INSERT INTO quarantine (source, key, content, why) VALUES (?1, ?2, ?3, ?4)",
        (source, key, content, why),
    )?;
    Ok(())
}

/// The message as MQTT 5 PUBLISH bytes (a packet id of 1 stands in for none).
fn to_packet(p: &Publish) -> Result<Vec<u8>, StoreError> {
    let mut buf = BytesMut::new();
    let stored = Publish {
        pkid: 1,
        dup: false,
        ..p.clone()
    };
    encode(&Packet::Publish(stored), Version::V5, &mut buf)
        .map_err(|e| StoreError::Decode(e.to_string()))?;
    Ok(buf.to_vec())
}

fn from_packet(bytes: &[u8], expires_ms: Option<i64>) -> Result<Arc<Publish>, StoreError> {
    let mut buf = BytesMut::from(bytes);
    // Whatever the encoder wrote decodes: no limit but MQTT's own.
    match decode_within(&mut buf, Version::V5, iotmock_mqtt::MAX_ENCODABLE) {
        Ok(Some(Packet::Publish(p))) => Ok(Arc::new(Publish {
            pkid: 0,
            expires_ms,
            ..p
        })),
        other => Err(StoreError::Decode(format!("{other:?}"))),
    }
}

impl SqliteBrokerStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = iotmock_store::open_migrated(path, DATABASE, SCHEMA)
            .map_err(|e| StoreError::Schema(e.message))?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn queue_of(conn: &rusqlite::Connection, client_id: &str) -> Result<Vec<Stored>, StoreError> {
        let mut stmt = conn.prepare(
            "SELECT id, packet, expires_ms, qos, pkid FROM queue WHERE client_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([client_id], |r| {
            let packet: Vec<u8> = r.get(1)?;
            Ok((r.get(0)?, packet, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
        let (mut out, mut bad) = (Vec::new(), Vec::new());
        for row in rows {
            let (id, packet, expires, qos, pkid): (i64, Vec<u8>, Option<i64>, u8, Option<u16>) =
                row?;
            match from_packet(&packet, expires) {
                Ok(message) => out.push(Stored { message, qos, pkid }),
                Err(e) => bad.push((id, packet, e.to_string())),
            }
        }
        for (id, packet, why) in bad {
            quarantine(conn, ("queue", client_id), &packet, &why)?;
            conn.execute("DELETE FROM queue WHERE id = ?1", [id])?;
        }
        Ok(out)
    }

    fn load_sessions(conn: &rusqlite::Connection) -> Result<Vec<SessionRecord>, StoreError> {
        let mut stmt =
            conn.prepare("SELECT client_id, keep_ms, expires_ms, subscriptions FROM sessions")?;
        let rows = stmt.query_map([], |r| {
            let subs: String = r.get(3)?;
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, subs))
        })?;
        let rows: Vec<(String, i64, Option<i64>, String)> = rows.collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for (client_id, keep_ms, expires_ms, subs) in rows {
            let subscriptions = serde_json::from_str(&subs).unwrap_or_else(|e| {
                let why = format!("subscriptions do not read: {e}; the session keeps none");
                let _ = quarantine(conn, ("sessions", &client_id), subs.as_bytes(), &why);
                Vec::new()
            });
            let queue = Self::queue_of(conn, &client_id)?;
            out.push(SessionRecord {
                client_id,
                keep_ms,
                expires_ms,
                subscriptions,
                queue,
            });
        }
        Ok(out)
    }

    fn load_retained(conn: &rusqlite::Connection) -> Result<Vec<RetainedRecord>, StoreError> {
        let mut stmt =
            conn.prepare("SELECT topic, packet, expires_ms, updated_ms FROM retained")?;
        let rows = stmt.query_map([], |r| {
            let packet: Vec<u8> = r.get(1)?;
            Ok((r.get(0)?, packet, r.get(2)?, r.get(3)?))
        })?;
        let rows: Vec<(String, Vec<u8>, Option<i64>, i64)> = rows.collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for (topic, packet, expires, updated_ms) in rows {
            match from_packet(&packet, expires) {
                Ok(message) => out.push(RetainedRecord {
                    message,
                    updated_ms,
                }),
                Err(e) => {
                    quarantine(conn, ("retained", &topic), &packet, &e.to_string())?;
                    conn.execute("DELETE FROM retained WHERE topic = ?1", [&topic])?;
                }
            }
        }
        Ok(out)
    }
}

/// Appends `kept` to the session's queue within `tx`.
fn insert_queued(
    tx: &rusqlite::Transaction<'_>,
    client_id: &str,
    kept: &[Stored],
) -> Result<(), StoreError> {
    for k in kept {
        let packet = to_packet(&k.message)?;
        tx.execute(
            "INSERT INTO queue (client_id, packet, expires_ms, qos, pkid)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            (client_id, packet, k.message.expires_ms, k.qos, k.pkid),
        )?;
    }
    Ok(())
}

impl BrokerStore for SqliteBrokerStore {
    fn put_retained(&self, r: &RetainedRecord) -> Result<(), StoreError> {
        let packet = to_packet(&r.message)?;
        self.conn().execute(
            "INSERT INTO retained (topic, packet, expires_ms, updated_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (topic) DO UPDATE SET packet = excluded.packet,
               expires_ms = excluded.expires_ms, updated_ms = excluded.updated_ms",
            (&r.message.topic, packet, r.message.expires_ms, r.updated_ms),
        )?;
        Ok(())
    }

    fn delete_retained(&self, topic: &str) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM retained WHERE topic = ?1", [topic])?;
        Ok(())
    }

    fn put_session(&self, s: &SessionRecord) -> Result<(), StoreError> {
        let subs = serde_json::to_string(&s.subscriptions).unwrap_or_else(|_| "[]".into());
        self.conn().execute(
            "INSERT INTO sessions (client_id, keep_ms, expires_ms, subscriptions)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (client_id) DO UPDATE SET keep_ms = excluded.keep_ms,
               expires_ms = excluded.expires_ms, subscriptions = excluded.subscriptions",
            (&s.client_id, s.keep_ms, s.expires_ms, subs),
        )?;
        Ok(())
    }

    fn delete_session(&self, client_id: &str) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM sessions WHERE client_id = ?1", [client_id])?;
        tx.execute("DELETE FROM queue WHERE client_id = ?1", [client_id])?;
        tx.commit()?;
        Ok(())
    }

    fn enqueue(&self, client_id: &str, kept: &[Stored]) -> Result<(), StoreError> {
        if kept.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        insert_queued(&tx, client_id, kept)?;
        tx.commit()?;
        Ok(())
    }

    fn clear_queue(&self, client_id: &str) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM queue WHERE client_id = ?1", [client_id])?;
        Ok(())
    }

    fn replace_queue(&self, client_id: &str, kept: &[Stored]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM queue WHERE client_id = ?1", [client_id])?;
        insert_queued(&tx, client_id, kept)?;
        tx.commit()?;
        Ok(())
    }

    fn trim_queue(&self, client_id: &str, keep: usize) -> Result<(), StoreError> {
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        self.conn().execute(
            "DELETE FROM queue WHERE client_id = ?1 AND id NOT IN
               (SELECT id FROM queue WHERE client_id = ?1 ORDER BY id DESC LIMIT ?2)",
            (client_id, keep),
        )?;
        Ok(())
    }

    fn load(&self) -> Result<(Vec<RetainedRecord>, Vec<SessionRecord>), StoreError> {
        let conn = self.conn();
        Ok((Self::load_retained(&conn)?, Self::load_sessions(&conn)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_and_retained_messages_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(DATABASE);
        let store = SqliteBrokerStore::open(&path).expect("open");
        let mut props = iotmock_mqtt::empty_properties();
        props.content_type = Some("application/json".into());
        let msg = Arc::new(Publish {
            properties: Some(props),
            expires_ms: Some(99),
            ..Publish::new("a/b", bytes::Bytes::from_static(b"{}"), 1, true)
        });
        let retained = RetainedRecord {
            message: msg.clone(),
            updated_ms: 7,
        };
        store.put_retained(&retained).expect("retain");
        let session = SessionRecord {
            client_id: "c".into(),
            keep_ms: 1000,
            expires_ms: Some(5),
            subscriptions: vec![("a/+".into(), 1)],
            queue: Vec::new(),
        };
        store.put_session(&session).expect("session");
        let kept = Stored {
            message: msg.clone(),
            qos: 1,
            pkid: Some(4),
        };
        store
            .enqueue("c", std::slice::from_ref(&kept))
            .expect("enqueue");
        drop(store);
        let again = SqliteBrokerStore::open(&path).expect("reopen");
        let (r, s) = again.load().expect("load");
        assert_eq!(r[0].message, msg);
        assert_eq!(s[0].queue, vec![kept]);
        assert_eq!(s[0].subscriptions, session.subscriptions);
        again.delete_session("c").expect("delete");
        assert!(again.load().expect("load").1.is_empty());
    }
}
