//! The state dir: `registry.db` (SQLite) and the mock root CA (`AmazonRootCA1.pem` and its
//! key), minted on first start and reused after, so devices keep trusting the mock.

use anyhow::{Context, Result};
use iotmock_pki::MockCa;
use std::path::{Path, PathBuf};

pub const ROOT_CERT: &str = "AmazonRootCA1.pem";
pub const ROOT_KEY: &str = "AmazonRootCA1.key";
pub const DATABASE: &str = "registry.db";

/// Loads the root CA from `dir`, or mints and saves one.
pub fn load_or_create_root(dir: &Path, now: i64) -> Result<(MockCa, PathBuf)> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating state dir {}", dir.display()))?;
    let cert_path = dir.join(ROOT_CERT);
    let key_path = dir.join(ROOT_KEY);
    if cert_path.exists() && key_path.exists() {
        let cert = std::fs::read_to_string(&cert_path)
            .with_context(|| format!("reading {}", cert_path.display()))?;
        let key = std::fs::read_to_string(&key_path)
            .with_context(|| format!("reading {}", key_path.display()))?;
        let ca = MockCa::from_pem(&cert, &key)
            .with_context(|| format!("loading the root CA from {}", dir.display()))?;
        return Ok((ca, cert_path));
    }
    let ca = MockCa::generate(now).context("minting the root CA")?;
    write_private(&key_path, ca.key_pem())?;
    std::fs::write(&cert_path, ca.cert_pem())
        .with_context(|| format!("writing {}", cert_path.display()))?;
    Ok((ca, cert_path))
}

fn write_private(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}
