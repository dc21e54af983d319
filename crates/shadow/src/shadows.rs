//! Every shadow of the account, by region and key: get, update, delete and list, with the
//! documents AWS answers. Deleted shadows keep their version for a while (a tombstone), so a
//! re-created shadow continues it.

use crate::delta::{delta, delta_metadata};
use crate::document::{Document, metadata, present, request_metadata};
use crate::request::{read_token, read_update};
use crate::{ShadowError, ShadowKey, ShadowSettings};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};

/// One shadow as stored: its document, and when it was deleted (a tombstone).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub region: String,
    pub key: ShadowKey,
    pub doc: Document,
    pub deleted_ms: Option<i64>,
}

/// What an accepted update publishes.
#[derive(Debug, Clone, PartialEq)]
pub struct Updated {
    pub accepted: Value,
    pub documents: Value,
    pub delta: Option<Value>,
    pub entry: Entry,
}

/// What an accepted delete answers, and the tombstone to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Deleted {
    pub accepted: Value,
    pub entry: Entry,
}

#[derive(Debug, Default)]
pub struct Shadows {
    entries: BTreeMap<(String, ShadowKey), Entry>,
    settings: ShadowSettings,
    /// Requests in the current one-second window, per shadow (throttling).
    windows: HashMap<(String, ShadowKey), (i64, u32)>,
}

fn with_token(mut doc: Value, token: Option<&str>) -> Value {
    if let Some(t) = token {
        doc["clientToken"] = json!(t);
    }
    doc
}

/// Merges one section of an update into `section` and its metadata.
fn merge_section(
    section: &mut Option<Value>,
    meta: &mut Option<Value>,
    patch: Option<&Value>,
    ts: i64,
) {
    match patch {
        None => {}
        Some(Value::Null) => {
            *section = None;
            *meta = None;
        }
        Some(p) => {
            let mut merged = section.take().unwrap_or_else(|| json!({}));
            json_patch::merge(&mut merged, p);
            *meta = Some(metadata(&merged, Some(p), meta.as_ref(), ts));
            *section = Some(merged);
        }
    }
}

impl Shadows {
    /// Forgets every shadow (iotmock's reset).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.windows.clear();
    }

    pub fn new(settings: ShadowSettings) -> Self {
        let (entries, windows) = (BTreeMap::new(), HashMap::new());
        Self {
            entries,
            settings,
            windows,
        }
    }

    /// AWS's request rate per shadow, when throttling is on: 429 beyond 20 a second.
    pub fn admit_request(
        &mut self,
        region: &str,
        key: &ShadowKey,
        now_ms: i64,
    ) -> Result<(), ShadowError> {
        if !self.settings.throttle {
            return Ok(());
        }
        if self.windows.len() > 100_000 {
            self.windows.retain(|_, (start, _)| now_ms - *start < 1000);
        }
        let w = self
            .windows
            .entry((region.to_string(), key.clone()))
            .or_insert((now_ms, 0));
        if now_ms - w.0 >= 1000 {
            *w = (now_ms, 0);
        }
        w.1 += 1;
        if w.1 > crate::REQUESTS_PER_SECOND {
            return Err(ShadowError::new(429, "Too Many Requests"));
        }
        Ok(())
    }

    /// The stored entry of a shadow (live or a tombstone).
    pub fn entry(&self, region: &str, key: &ShadowKey) -> Option<&Entry> {
        self.entries.get(&(region.to_string(), key.clone()))
    }

    /// Drops an entry (undoing a change the store refused).
    pub fn forget(&mut self, region: &str, key: &ShadowKey) {
        self.entries.remove(&(region.to_string(), key.clone()));
    }

    /// Loads a stored entry.
    pub fn restore(&mut self, entry: Entry) {
        self.entries
            .insert((entry.region.clone(), entry.key.clone()), entry);
    }

    fn not_found(&self, key: &ShadowKey, token: Option<&str>) -> ShadowError {
        let name = match (&key.name, self.settings.named_404_with_thing) {
            (None, _) => key.thing.clone(),
            (Some(n), true) => format!("{}~{n}", key.thing),
            (Some(n), false) => n.clone(),
        };
        ShadowError::new(404, format!("No shadow exists with name: '{name}'")).with_token(token)
    }

    /// The live shadow, if any.
    fn live(&self, region: &str, key: &ShadowKey) -> Option<&Entry> {
        let e = self.entries.get(&(region.to_string(), key.clone()))?;
        e.deleted_ms.is_none().then_some(e)
    }

    /// The version a re-created shadow continues from (0 when none or forgotten).
    fn base_version(&self, region: &str, key: &ShadowKey, now_ms: i64) -> u64 {
        let Some(e) = self.entries.get(&(region.to_string(), key.clone())) else {
            return 0;
        };
        match e.deleted_ms {
            None => e.doc.version,
            Some(t) if now_ms - t < self.settings.tombstone_ms => e.doc.version,
            Some(_) => 0,
        }
    }

    /// GetThingShadow / `get`: the document with its delta.
    pub fn get(
        &self,
        region: &str,
        key: &ShadowKey,
        payload: &[u8],
        now_ms: i64,
    ) -> Result<Value, ShadowError> {
        let token = read_token(payload)?;
        let e = self
            .live(region, key)
            .ok_or_else(|| self.not_found(key, token.as_deref()))?;
        let mut state = e.doc.state();
        if let Some(d) = present(&e.doc.desired).and_then(|d| delta(d, e.doc.reported.as_ref())) {
            state["delta"] = d;
        }
        let doc = json!({
            "state": state,
            "metadata": e.doc.metadata(),
            "version": e.doc.version,
            "timestamp": now_ms.div_euclid(1000),
        });
        Ok(with_token(doc, token.as_deref()))
    }

    /// UpdateThingShadow / `update`.
    pub fn update(
        &mut self,
        region: &str,
        key: &ShadowKey,
        payload: &[u8],
        now_ms: i64,
    ) -> Result<Updated, ShadowError> {
        let req = read_update(payload, self.settings.max_depth)?;
        let token = req.client_token.as_deref();
        let previous = self.live(region, key).map(|e| e.doc.clone());
        let current = self.base_version(region, key, now_ms);
        if req.version.is_some_and(|v| v != current) {
            return Err(ShadowError::new(409, "Version conflict").with_token(token));
        }
        let ts = now_ms.div_euclid(1000);
        let mut doc = previous.clone().unwrap_or_default();
        let sections = req.state.as_object();
        let (d, r) = match sections {
            Some(s) => (s.get("desired"), s.get("reported")),
            None => (Some(&Value::Null), Some(&Value::Null)),
        };
        merge_section(&mut doc.desired, &mut doc.desired_meta, d, ts);
        merge_section(&mut doc.reported, &mut doc.reported_meta, r, ts);
        if doc.size() > self.settings.max_document_bytes {
            let msg = "The payload exceeds the maximum size allowed";
            return Err(ShadowError::new(413, msg).with_token(token));
        }
        doc.version = current + 1;
        let entry = Entry {
            region: region.into(),
            key: key.clone(),
            doc,
            deleted_ms: None,
        };
        let out = self.answers(&req.state, previous.as_ref(), &entry.doc, ts, token);
        self.entries
            .insert((region.to_string(), key.clone()), entry.clone());
        let (accepted, documents, delta) = out;
        Ok(Updated {
            accepted,
            documents,
            delta,
            entry,
        })
    }

    /// `update/accepted`, `update/documents` and (when non-empty) `update/delta`.
    fn answers(
        &self,
        state: &Value,
        previous: Option<&Document>,
        doc: &Document,
        ts: i64,
        token: Option<&str>,
    ) -> (Value, Value, Option<Value>) {
        let mut meta = Map::new();
        for section in ["desired", "reported"] {
            if let Some(p) = state.get(section) {
                meta.insert(section.into(), request_metadata(p, ts));
            }
        }
        let accepted =
            json!({ "state": state, "metadata": meta, "version": doc.version, "timestamp": ts });
        let mut documents = json!({ "current": doc.snapshot(), "timestamp": ts });
        if let Some(p) = previous {
            documents["previous"] = p.snapshot();
        }
        let delta = present(&doc.desired).and_then(|d| delta(d, doc.reported.as_ref())).map(|d| {
            let metadata = delta_metadata(&d, doc.desired_meta.as_ref());
            let body = json!({ "state": d, "metadata": metadata, "version": doc.version, "timestamp": ts });
            with_token(body, token)
        });
        (
            with_token(accepted, token),
            with_token(documents, token),
            delta,
        )
    }

    /// DeleteThingShadow / `delete`: answers the current version (not incremented) and keeps
    /// a tombstone.
    pub fn delete(
        &mut self,
        region: &str,
        key: &ShadowKey,
        payload: &[u8],
        now_ms: i64,
    ) -> Result<Deleted, ShadowError> {
        let token = read_token(payload).ok().flatten();
        let e = self
            .live(region, key)
            .ok_or_else(|| self.not_found(key, token.as_deref()))?;
        let version = e.doc.version;
        let doc = Document {
            version,
            ..Document::default()
        };
        let entry = Entry {
            region: region.into(),
            key: key.clone(),
            doc,
            deleted_ms: Some(now_ms),
        };
        self.entries
            .insert((region.to_string(), key.clone()), entry.clone());
        let accepted = json!({ "version": version, "timestamp": now_ms.div_euclid(1000) });
        Ok(Deleted {
            accepted: with_token(accepted, token.as_deref()),
            entry,
        })
    }

    /// Every live shadow of `region` with its delta.
    pub fn all_live(&self, region: &str) -> Vec<(ShadowKey, Document, Option<Value>)> {
        let live = self.entries.values().filter(|e| e.deleted_ms.is_none());
        live.filter(|e| e.region == region)
            .map(|e| {
                let delta = e
                    .doc
                    .desired
                    .as_ref()
                    .and_then(|d| crate::delta::delta(d, e.doc.reported.as_ref()));
                (e.key.clone(), e.doc.clone(), delta)
            })
            .collect()
    }

    /// ListNamedShadowsForThing: the live named shadows of `thing`, by name.
    pub fn list_named(&self, region: &str, thing: &str) -> Vec<String> {
        let live = self.entries.values().filter(|e| e.deleted_ms.is_none());
        let named = live.filter(|e| e.region == region && e.key.thing == thing);
        named.filter_map(|e| e.key.name.clone()).collect()
    }
}
