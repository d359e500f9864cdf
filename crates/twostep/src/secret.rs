//! The service secret, one loader for `serve` and the commands that need the
//! same keys (`audit checkpoint`, `audit verify`): `--secret`/`TWOSTEP_SECRET`,
//! else the hex in `DATA_DIR/secret.key`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rand::Rng;

/// Where the generated secret is kept.
pub fn secret_path(data_dir: &Path) -> PathBuf {
    data_dir.join("secret.key")
}

/// The secret from the flag, else from `DATA_DIR/secret.key`, generating and
/// writing one (owner-only) if the file is missing. For `serve`.
pub fn load_or_create(flag: Option<&str>, data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = load_existing(flag, data_dir)? {
        return Ok(secret);
    }
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    write_private(&secret_path(data_dir), hex::encode(secret).as_bytes())?;
    Ok(secret.to_vec())
}

/// The secret from the flag, else from `DATA_DIR/secret.key`; an error if
/// neither is there. For commands that must use the service's own key.
pub fn load(flag: Option<&str>, data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    load_existing(flag, data_dir)?.with_context(|| {
        format!(
            "no service secret: set TWOSTEP_SECRET (or --secret) or point --data-dir at the directory holding secret.key ({} is missing)",
            secret_path(data_dir).display()
        )
    })
}

fn load_existing(flag: Option<&str>, data_dir: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    if let Some(secret) = flag {
        return Ok(Some(secret.as_bytes().to_vec()));
    }
    let path = secret_path(data_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => hex::decode(text.trim())
            .map(Some)
            .with_context(|| format!("{} is not hex", path.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
    }
}

fn write_private(path: &Path, content: &[u8]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(content)?;
    file.sync_all()?;
    Ok(())
}
