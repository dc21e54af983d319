//! Accounts other than the default one: each has its own registry, in `accounts/<id>.db` under
//! the state dir (or in memory), opened at start when configured or found on disk, and on first
//! use when a certificate transfer names it.

use crate::core::Builder;
use anyhow::{Context, Result};
use iotmock_api::accounts::{Accounts, Opener, SharedRegistry};
use iotmock_model::IotError;
use iotmock_pki::MockCa;
use iotmock_registry::{Clock, Registry, is_account_id};
use iotmock_store::{MemoryStore, SqliteStore, Store};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The state dir's folder of other accounts' registries.
const ACCOUNTS_DIR: &str = "accounts";

impl Builder {
    /// Further accounts this mock serves besides the default one (12-digit ids). A request
    /// signed with an access key id equal to one of them acts as that account. Accounts named
    /// as a certificate transfer's target are added on their own.
    pub fn accounts<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.other_accounts = ids.into_iter().map(Into::into).collect();
        self
    }

    pub(crate) fn accounts_table(
        &self,
        default: &SharedRegistry,
        ca: &Arc<MockCa>,
        clock: &Arc<dyn Clock>,
    ) -> Result<Arc<Accounts>> {
        let dir = self.state_dir_path().map(|d| d.join(ACCOUNTS_DIR));
        let opener = opener(
            dir.clone(),
            self.endpoint_config(),
            ca.clone(),
            clock.clone(),
        );
        let accounts = Accounts::with_opener(default.clone(), opener);
        let mut ids = self.other_accounts.clone();
        if let Some(dir) = &dir {
            ids.extend(stored_accounts(dir)?);
        }
        for id in ids {
            if !is_account_id(&id) {
                anyhow::bail!("{id} is not a 12-digit AWS account id");
            }
            accounts
                .open(&id)
                .map_err(|e| anyhow::anyhow!("opening account {id}: {}", e.message))?;
        }
        Ok(Arc::new(accounts))
    }
}

fn opener(
    dir: Option<PathBuf>,
    endpoint: iotmock_registry::EndpointConfig,
    ca: Arc<MockCa>,
    clock: Arc<dyn Clock>,
) -> Opener {
    Arc::new(move |id: &str| {
        let store: Box<dyn Store> = match &dir {
            Some(dir) => Box::new(open_store(dir, id).map_err(|e| {
                IotError::internal(format!(
                    "The registry of account {id} could not be opened: {e:#}"
                ))
            })?),
            None => Box::new(MemoryStore),
        };
        Registry::open(id, endpoint.clone(), store, clock.clone(), ca.clone()).map_err(|e| {
            IotError::internal(format!(
                "The registry of account {id} could not be loaded: {e}"
            ))
        })
    })
}

fn open_store(dir: &Path, id: &str) -> Result<SqliteStore> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("{id}.db"));
    SqliteStore::open(&path).with_context(|| format!("opening {}", path.display()))
}

/// The account ids with a registry file under `dir`.
fn stored_accounts(dir: &Path) -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut ids = Vec::new();
    for entry in entries {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if let Some(id) = name.strip_suffix(".db").filter(|id| is_account_id(id)) {
            ids.push(id.to_string());
        }
    }
    Ok(ids)
}
