//! Typed Device Shadow helpers on the in-process handle, for tests: read a shadow, set
//! `desired` (devices get the same `update/accepted`, `update/delta` and `update/documents` as
//! from an HTTP update), and wait until a device reports a value.

use crate::MockIotCore;
use iotmock_shadow::{Op, ShadowError, ShadowKey};
use serde_json::{Value, json};
use std::time::Duration;

/// One shadow of a running mock.
pub struct ShadowHandle<'a> {
    mock: &'a MockIotCore,
    key: ShadowKey,
    region: Option<String>,
}

/// A wait that ran out.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the shadow did not report {path} = {want} within {waited:?} (last document: {last})")]
pub struct NotReported {
    pub path: String,
    pub want: Value,
    pub waited: Duration,
    pub last: Value,
}

impl MockIotCore {
    /// The classic shadow of `thing`.
    pub fn shadow(&self, thing: &str) -> ShadowHandle<'_> {
        ShadowHandle {
            mock: self,
            key: ShadowKey::classic(thing),
            region: None,
        }
    }

    /// A named shadow of `thing`.
    pub fn named_shadow(&self, thing: &str, name: &str) -> ShadowHandle<'_> {
        ShadowHandle {
            mock: self,
            key: ShadowKey::named(thing, name),
            region: None,
        }
    }
}

impl ShadowHandle<'_> {
    /// The same shadow in another region (devices use the region that registered their
    /// certificate; the handle defaults to the mock's region).
    pub fn in_region(mut self, region: &str) -> Self {
        self.region = Some(region.to_string());
        self
    }

    fn now(&self) -> i64 {
        let registry = self.mock.registry();
        let now = registry.read().map(|r| r.now_millis());
        now.unwrap_or_default()
    }

    fn request(&self, op: Op, payload: &[u8]) -> Result<Value, ShadowError> {
        let region = Some(self.region.as_deref().unwrap_or(self.mock.region()));
        // Updates devices had acknowledged are taken first.
        self.mock.broker().settle_service("shadow");
        let shadows = self.mock.shadows();
        shadows
            .request(region, &self.key, op, payload, self.now())
            .result
    }

    /// The document (`state`, `metadata`, `version`), or `None` when there is no shadow.
    pub fn get(&self) -> Option<Value> {
        self.request(Op::Get, b"").ok()
    }

    /// An update, as UpdateThingShadow sends it; returns the accepted document.
    pub fn update(&self, request: Value) -> Result<Value, ShadowError> {
        self.request(Op::Update, request.to_string().as_bytes())
    }

    /// Merges `state` into `desired`; returns the new version.
    pub fn set_desired(&self, state: Value) -> Result<u64, ShadowError> {
        let accepted = self.update(json!({ "state": { "desired": state } }))?;
        Ok(accepted["version"].as_u64().unwrap_or_default())
    }

    /// Deletes the shadow; returns its last version.
    pub fn delete(&self) -> Result<u64, ShadowError> {
        let accepted = self.request(Op::Delete, b"")?;
        Ok(accepted["version"].as_u64().unwrap_or_default())
    }

    /// Waits until `reported` holds `want` at `path` (keys joined by `.`), checking every
    /// 10 ms; returns the document.
    pub async fn wait_reported(
        &self,
        path: &str,
        want: Value,
        timeout: Duration,
    ) -> Result<Value, NotReported> {
        let started = tokio::time::Instant::now();
        let pointer = format!("/state/reported/{}", path.replace('.', "/"));
        loop {
            let doc = self.get().unwrap_or(Value::Null);
            if doc.pointer(&pointer) == Some(&want) {
                return Ok(doc);
            }
            if started.elapsed() >= timeout {
                let (path, waited) = (path.to_string(), timeout);
                return Err(NotReported {
                    path,
                    want,
                    waited,
                    last: doc,
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
