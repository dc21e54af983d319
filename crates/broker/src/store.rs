//! What the broker keeps durably, as AWS does: retained messages and persistent sessions
//! (subscriptions, queued QoS 1 messages, expiry). On a state dir they live in SQLite
//! (`broker.db`, WAL, synchronous=FULL), written before the broker answers the write that
//! caused them; in-process handles keep them in memory only. Messages are stored as encoded
//! MQTT 5 PUBLISH packets, so every property survives.

use bytes::BytesMut;
use iotmock_mqtt::{Packet, Publish, Version, decode, encode};
use iotmock_session::Stored;
use std::path::Path;
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("broker store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("broker store: a stored message does not decode: {0}")]
    Decode(String),
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

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS retained (
    topic TEXT PRIMARY KEY, packet BLOB NOT NULL, expires_ms INTEGER, updated_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    client_id TEXT PRIMARY KEY, keep_ms INTEGER NOT NULL, expires_ms INTEGER,
    subscriptions TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT, client_id TEXT NOT NULL, packet BLOB NOT NULL,
    expires_ms INTEGER, qos INTEGER NOT NULL, pkid INTEGER);
CREATE INDEX IF NOT EXISTS queue_client ON queue (client_id, id);";

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
    match decode(&mut buf, Version::V5) {
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
        let conn = iotmock_registry::open_durable(path)?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn queue_of(conn: &rusqlite::Connection, client_id: &str) -> Result<Vec<Stored>, StoreError> {
        let mut stmt = conn.prepare(
            "SELECT packet, expires_ms, qos, pkid FROM queue WHERE client_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([client_id], |r| {
            let packet: Vec<u8> = r.get(0)?;
            Ok((packet, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (packet, expires, qos, pkid): (Vec<u8>, Option<i64>, u8, Option<u16>) = row?;
            let message = from_packet(&packet, expires)?;
            out.push(Stored { message, qos, pkid });
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
        let mut out = Vec::new();
        for row in rows {
            let (client_id, keep_ms, expires_ms, subs): (String, i64, Option<i64>, String) = row?;
            let subscriptions = serde_json::from_str(&subs).unwrap_or_default();
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
        let mut stmt = conn.prepare("SELECT packet, expires_ms, updated_ms FROM retained")?;
        let rows = stmt.query_map([], |r| {
            let packet: Vec<u8> = r.get(0)?;
            Ok((packet, r.get(1)?, r.get(2)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (packet, expires, updated_ms): (Vec<u8>, Option<i64>, i64) = row?;
            let message = from_packet(&packet, expires)?;
            out.push(RetainedRecord {
                message,
                updated_ms,
            });
        }
        Ok(out)
    }
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
        for k in kept {
            let packet = to_packet(&k.message)?;
            tx.execute(
                "INSERT INTO queue (client_id, packet, expires_ms, qos, pkid)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                (client_id, packet, k.message.expires_ms, k.qos, k.pkid),
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn clear_queue(&self, client_id: &str) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM queue WHERE client_id = ?1", [client_id])?;
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
