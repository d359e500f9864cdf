//! Which event store a command works on: `--store` and `--store-url`, shared
//! by `serve` and every command that reads the log.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::ValueEnum;
use twostep_store::EventStore;
use twostep_store::chain::ChainedStore;
use twostep_store::kurrentdb::{KurrentStore, STREAM_PREFIXES};
use twostep_store::postgres::PostgresStore;
use twostep_store::sqlite::SqliteStore;

/// The event store adapters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// The embedded store: `DATA_DIR/events.sqlite3` (the default).
    Sqlite,
    /// PostgreSQL at `--store-url postgres://…`.
    Postgres,
    /// EventStoreDB/KurrentDB at `--store-url kurrentdb://…` (or `esdb://…`).
    Kurrentdb,
}

/// Where the events are.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// Directory of the embedded event store, read models, secret and default outbox.
    #[arg(long, env = "TWOSTEP_DATA_DIR", default_value = "./twostep-data")]
    pub data_dir: PathBuf,
    /// Event store adapter.
    #[arg(long, env = "TWOSTEP_STORE", value_enum, default_value = "sqlite")]
    pub store: StoreKind,
    /// Connection string of the postgres or kurrentdb store (unused by sqlite).
    #[arg(long, env = "TWOSTEP_STORE_URL", hide_env_values = true)]
    pub store_url: Option<String>,
}

impl StoreArgs {
    /// The embedded store's file.
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("events.sqlite3")
    }

    /// Opens (connects to) the chosen store, wrapped in the hash chain
    /// ([`ChainedStore`]) so every event appended through it is linked. The
    /// data directory must exist.
    pub async fn open(&self) -> anyhow::Result<Arc<dyn EventStore>> {
        let adapter = match (self.store, self.store_url.as_deref()) {
            (StoreKind::Sqlite, Some(_)) => {
                bail!(
                    "--store-url is for --store postgres or kurrentdb; sqlite lives in --data-dir"
                )
            }
            (StoreKind::Sqlite, None) => open_sqlite(&self.sqlite_path()),
            (StoreKind::Postgres | StoreKind::Kurrentdb, None) => {
                bail!(
                    "--store {} needs --store-url (or TWOSTEP_STORE_URL)",
                    self.label()
                )
            }
            (StoreKind::Postgres, Some(url)) => open_postgres(url).await,
            (StoreKind::Kurrentdb, Some(url)) => {
                let store = KurrentStore::connect(url, STREAM_PREFIXES)
                    .await
                    .context("connecting to the kurrentdb event store")?;
                Ok(Arc::new(store) as Arc<dyn EventStore>)
            }
        }?;
        Ok(Arc::new(ChainedStore::new(adapter)))
    }

    /// Opens the chosen store for commands that only read the log: the
    /// embedded store is then opened without its writer lock, so they run
    /// while `twostep serve` works on the same data directory.
    pub async fn open_read_only(&self) -> anyhow::Result<Arc<dyn EventStore>> {
        if self.store == StoreKind::Sqlite && self.store_url.is_none() {
            let store = SqliteStore::open_read_only(&self.sqlite_path())
                .context("opening the embedded event store")?;
            return Ok(Arc::new(store));
        }
        self.open().await
    }

    /// Refuses a shared store without a shared secret: instances behind one
    /// load balancer must key codes alike, or a code issued by one instance
    /// fails on another. A per-data-directory generated secret only suits the
    /// embedded store, which one process serves.
    pub fn require_shared_secret(&self, secret_given: bool) -> anyhow::Result<()> {
        if self.store != StoreKind::Sqlite && !secret_given {
            bail!(
                "--store {} is shared by several instances: give them all the same \
                 TWOSTEP_SECRET (or --secret), at least 32 bytes; a secret generated \
                 into each --data-dir would make codes issued by one instance fail on another",
                self.label()
            );
        }
        Ok(())
    }

    /// `sqlite`, `postgres` or `kurrentdb`.
    pub fn label(&self) -> &'static str {
        match self.store {
            StoreKind::Sqlite => "sqlite",
            StoreKind::Postgres => "postgres",
            StoreKind::Kurrentdb => "kurrentdb",
        }
    }
}

fn open_sqlite(path: &Path) -> anyhow::Result<Arc<dyn EventStore>> {
    let store = SqliteStore::open(path).context("opening the embedded event store")?;
    Ok(Arc::new(store))
}

async fn open_postgres(url: &str) -> anyhow::Result<Arc<dyn EventStore>> {
    let store = PostgresStore::open(url)
        .await
        .context("opening the postgres event store")?;
    tracing::info!(store = %store.label(), "connected to the postgres event store");
    Ok(Arc::new(store))
}
