//! The read-model database: one SQLite file, apart from the event store.
//!
//! One write connection, shared by every projector behind a mutex, so that
//! each batch is one short transaction (no `SQLITE_BUSY` between projectors);
//! a small pool of read connections for queries, which WAL lets run while a
//! batch commits. All SQLite work runs on tokio's blocking threads.
//!
//! WAL checkpoints (copying committed pages into the main file) run on a
//! connection of their own, in the background, every few commits: the
//! writer never stalls on them, and the WAL stays small.
//!
//! Durability: `synchronous=NORMAL` in WAL mode. A commit is not fsynced, so
//! a power cut may lose the last batches — together with the checkpoint that
//! covers them, since both are in one transaction — and the projector simply
//! applies them again. Never half a batch, never a batch twice.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use twostep_store::Position;

use crate::ProjectionError;
use crate::projectors::Projector;
use crate::sql::{from_sql_int, to_sql_int};

/// Commits between two background WAL checkpoints.
const COMMITS_PER_CHECKPOINT: u32 = 4;

/// Idle read connections kept for the next query.
const MAX_IDLE_READERS: usize = 8;

/// How long a connection waits for a lock held by another process (e.g. a
/// `twostep projections rebuild` run beside a server) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Tables shared by every projector: one checkpoint row each, and the
/// version of the table layout each projector's rows were written with.
const SHARED_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS checkpoints (
    projector TEXT PRIMARY KEY,
    position  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS projector_layouts (
    projector TEXT PRIMARY KEY,
    layout    INTEGER NOT NULL
) WITHOUT ROWID;
";

/// The open read-model file.
pub(crate) struct Database {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    checkpointer: Mutex<Option<Connection>>,
    commits: AtomicU32,
    checkpointing: AtomicBool,
}

impl Database {
    /// Opens (creating if needed) the file, its shared tables and every
    /// projector's tables. A projector whose stored layout differs from this
    /// build's is dropped, to be rebuilt from position 0.
    pub(crate) fn open(path: &Path) -> Result<Database, ProjectionError> {
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder).map_err(|err| {
                ProjectionError::Io(format!("cannot create {}: {err}", folder.display()))
            })?;
        }
        let mut conn = Connection::open(path)?;
        configure(&conn)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(ProjectionError::Sqlite(format!(
                "the read-model file refused WAL mode (got {mode})"
            )));
        }
        // Checkpoints are the background checkpointer's job, not the writer's.
        // A WAL grown by a rebuild is cut back to 64 MiB when it restarts.
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;",
        )?;
        let tx = begin(&mut conn)?;
        tx.execute_batch(SHARED_SCHEMA)?;
        for projector in Projector::ALL {
            install(&tx, projector)?;
        }
        tx.commit()?;
        Ok(Database {
            path: path.to_owned(),
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            checkpointer: Mutex::new(None),
            commits: AtomicU32::new(0),
            checkpointing: AtomicBool::new(false),
        })
    }

    /// Runs `work` on the write connection, off the async threads.
    pub(crate) async fn write<T, F>(self: &Arc<Self>, work: F) -> Result<T, ProjectionError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, ProjectionError> + Send + 'static,
    {
        let db = Arc::clone(self);
        let written = blocking(move || {
            let mut conn = db.writer.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut conn)
        })
        .await?;
        self.committed();
        Ok(written)
    }

    /// Counts a commit, and every few commits starts a background WAL
    /// checkpoint (unless one is running).
    fn committed(self: &Arc<Self>) {
        let commits = self.commits.fetch_add(1, Ordering::Relaxed) + 1;
        if commits < COMMITS_PER_CHECKPOINT || self.checkpointing.swap(true, Ordering::AcqRel) {
            return;
        }
        self.commits.store(0, Ordering::Relaxed);
        let db = Arc::clone(self);
        drop(tokio::task::spawn_blocking(move || {
            if let Err(error) = db.checkpoint_wal() {
                tracing::warn!(%error, "a read-model WAL checkpoint failed; the next one will retry");
            }
            db.checkpointing.store(false, Ordering::Release);
        }));
    }

    /// Copies committed pages from the WAL into the file, as far as readers
    /// allow, without blocking the writer (`PASSIVE`).
    fn checkpoint_wal(&self) -> Result<(), ProjectionError> {
        let mut checkpointer = self
            .checkpointer
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let conn = match checkpointer.take() {
            Some(conn) => conn,
            None => {
                let conn = Connection::open(&self.path)?;
                configure(&conn)?;
                conn
            }
        };
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        *checkpointer = Some(conn);
        Ok(())
    }

    /// Runs `query` on a read connection, off the async threads.
    pub(crate) async fn read<T, F>(self: &Arc<Self>, query: F) -> Result<T, ProjectionError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, ProjectionError> + Send + 'static,
    {
        let db = Arc::clone(self);
        blocking(move || {
            let conn = db.checkout()?;
            let result = query(&conn);
            db.give_back(conn);
            result
        })
        .await
    }

    fn checkout(&self) -> Result<Connection, ProjectionError> {
        let idle = self
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(conn) => Ok(conn),
            None => {
                let conn = Connection::open(&self.path)?;
                configure(&conn)?;
                conn.execute_batch("PRAGMA query_only = ON")?;
                Ok(conn)
            }
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
    }
}

/// Starts a write transaction, taking the write lock at once: a deferred
/// one that read first could not upgrade (without waiting) if another
/// connection — another process on the same file, say — wrote meanwhile.
pub(crate) fn begin(conn: &mut Connection) -> Result<Transaction<'_>, ProjectionError> {
    Ok(conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
}

/// Runs blocking work on tokio's blocking pool.
pub(crate) async fn blocking<T, F>(work: F) -> Result<T, ProjectionError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ProjectionError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| ProjectionError::Worker(err.to_string()))?
}

fn configure(conn: &Connection) -> Result<(), ProjectionError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(64);
    // 64 MiB of page cache: the indexes of a rebuild stay in memory.
    conn.execute_batch("PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;")?;
    Ok(())
}

/// Creates a projector's tables, first dropping them (and its checkpoint)
/// if they were laid out by another build.
fn install(tx: &Transaction<'_>, projector: Projector) -> Result<(), ProjectionError> {
    let stored: Option<i64> = tx
        .query_row(
            "SELECT layout FROM projector_layouts WHERE projector = ?1",
            [projector.name()],
            |row| row.get(0),
        )
        .optional()?;
    let layout = i64::from(projector.layout());
    if stored.is_some_and(|stored| stored != layout) {
        tracing::warn!(
            projector = projector.name(),
            "read-model layout changed: dropping it to rebuild from the log"
        );
        drop_tables(tx, projector)?;
    }
    tx.execute_batch(projector.schema())?;
    tx.execute(
        "INSERT INTO projector_layouts (projector, layout) VALUES (?1, ?2)
         ON CONFLICT (projector) DO UPDATE SET layout = excluded.layout",
        (projector.name(), layout),
    )?;
    Ok(())
}

/// Drops a projector's tables and checkpoint, then creates empty tables.
pub(crate) fn reset(tx: &Transaction<'_>, projector: Projector) -> Result<(), ProjectionError> {
    drop_tables(tx, projector)?;
    tx.execute_batch(projector.schema())?;
    Ok(())
}

fn drop_tables(tx: &Transaction<'_>, projector: Projector) -> Result<(), ProjectionError> {
    for table in projector.tables() {
        tx.execute_batch(&format!("DROP TABLE IF EXISTS {table}"))?;
    }
    tx.execute(
        "DELETE FROM checkpoints WHERE projector = ?1",
        [projector.name()],
    )?;
    Ok(())
}

/// The global position of the last event `projector` applied (0: none).
pub(crate) fn checkpoint(
    conn: &Connection,
    projector: Projector,
) -> Result<Position, ProjectionError> {
    let stored: Option<i64> = conn
        .prepare_cached("SELECT position FROM checkpoints WHERE projector = ?1")?
        .query_row([projector.name()], |row| row.get(0))
        .optional()?;
    stored.map_or(Ok(0), |position| from_sql_int(position, "checkpoint"))
}

/// Records that `projector` applied everything up to `position`.
pub(crate) fn set_checkpoint(
    tx: &Transaction<'_>,
    projector: Projector,
    position: Position,
) -> Result<(), ProjectionError> {
    tx.prepare_cached(
        "INSERT INTO checkpoints (projector, position) VALUES (?1, ?2)
         ON CONFLICT (projector) DO UPDATE SET position = excluded.position",
    )?
    .execute((projector.name(), to_sql_int(position)))?;
    Ok(())
}
