//! The data directory holds the event store (argon2id hashes, e-mail
//! addresses, mobile numbers), the read models, the service secret and, by
//! default, the file outbox (codes and tokens in clear): only the service's
//! own user may enter it.

use std::path::Path;

use anyhow::Context;

/// Permission bits of the data directory: owner only.
#[cfg(unix)]
const PRIVATE: u32 = 0o700;

/// Creates `dir` (and any missing parent) with mode 0700, or tightens an
/// existing `dir` to 0700, saying so in the log.
pub fn create_private(dir: &Path) -> anyhow::Result<()> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, PRIVATE);
    match builder.create(dir) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => {
            tighten(dir)
        }
        Err(error) => Err(error).with_context(|| format!("creating {}", dir.display())),
    }
}

#[cfg(unix)]
fn tighten(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;

    let mode = std::fs::metadata(dir)
        .with_context(|| format!("reading the permissions of {}", dir.display()))?
        .permissions()
        .mode()
        & 0o777;
    if mode & !PRIVATE == 0 {
        return Ok(());
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(PRIVATE)).with_context(|| {
        format!(
            "{} is open to other users (mode {mode:o}) and could not be restricted to 0700",
            dir.display()
        )
    })?;
    tracing::warn!(
        data_dir = %dir.display(),
        was = %format!("{mode:o}"),
        "the data directory was open to other users; its mode is now 0700"
    );
    Ok(())
}

#[cfg(not(unix))]
fn tighten(_dir: &Path) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    use super::*;

    /// A fresh directory under the system's temporary directory, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "twostep-data-dir-{name}-{}-{:?}",
                std::process::id(),
                std::time::SystemTime::now()
            ));
            Self(path)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).map_or(0, |m| m.permissions().mode() & 0o777)
    }

    #[test]
    fn a_new_data_directory_is_private() {
        let scratch = Scratch::new("new");
        let dir = scratch.0.join("nested").join("data");
        assert!(create_private(&dir).is_ok());
        assert_eq!(mode(&dir), 0o700);
    }

    #[test]
    fn an_open_data_directory_is_tightened() {
        let scratch = Scratch::new("open");
        assert!(std::fs::create_dir_all(&scratch.0).is_ok());
        assert!(
            std::fs::set_permissions(&scratch.0, std::fs::Permissions::from_mode(0o755)).is_ok()
        );
        assert!(create_private(&scratch.0).is_ok());
        assert_eq!(mode(&scratch.0), 0o700);
    }

    #[test]
    fn a_file_in_the_way_is_an_error() {
        let scratch = Scratch::new("file");
        assert!(std::fs::write(&scratch.0, b"not a directory").is_ok());
        assert!(create_private(&scratch.0).is_err());
        let _ = std::fs::remove_file(&scratch.0);
    }
}
