//! Opening the database file and keeping its schema current.
//!
//! The schema version lives in `PRAGMA user_version`; [`MIGRATIONS`] holds
//! one script per version, applied in order, each in its own transaction.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::rows::db_error;
use crate::StoreError;

/// How long a connection waits for a lock held by another connection (another
/// process sharing the file, or a checkpoint) before giving up.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The writer's page cache: 64 MiB (SQLite reads a negative size as KiB).
const WRITER_CACHE_SIZE: i64 = -64 * 1024;

/// Migration `i` brings the schema from version `i` to version `i + 1`.
const MIGRATIONS: &[&str] = &[
    // Version 1. `position` is the rowid: the global order. `recorded_at` is
    // RFC 3339 in UTC with nanoseconds; `data` and `metadata` are JSON text.
    "CREATE TABLE events (
        position       INTEGER PRIMARY KEY,
        event_id       TEXT    NOT NULL UNIQUE,
        stream         TEXT    NOT NULL,
        version        INTEGER NOT NULL,
        event_type     TEXT    NOT NULL,
        schema_version INTEGER NOT NULL,
        recorded_at    TEXT    NOT NULL,
        data           TEXT    NOT NULL,
        metadata       TEXT    NOT NULL,
        UNIQUE (stream, version)
    );",
];

/// Opens (or creates) the file for writing, durably: WAL, and an fsync on
/// every commit.
pub(super) fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(|err| opening(path, err))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db_error)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(db_error)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!(
            "{} cannot use write-ahead logging (journal mode stays {mode})",
            path.display()
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(db_error)?;
    // Index pages stay in memory instead of being read again for each append.
    conn.pragma_update(None, "cache_size", WRITER_CACHE_SIZE)
        .map_err(db_error)?;
    Ok(conn)
}

/// Opens the file read-only, for the reader pool.
pub(super) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|err| opening(path, err))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db_error)?;
    Ok(conn)
}

/// Applies every migration the file has not seen yet.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_error)?;
        let current: i64 = tx
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(db_error)?;
        let next = usize::try_from(current)
            .map_err(|_| StoreError::Corrupt(format!("negative schema version {current}")))?;
        if next > MIGRATIONS.len() {
            return Err(StoreError::Unavailable(format!(
                "the database has schema version {next}, newer than this build knows ({})",
                MIGRATIONS.len()
            )));
        }
        let Some(script) = MIGRATIONS.get(next) else {
            return Ok(());
        };
        tx.execute_batch(script).map_err(db_error)?;
        tx.pragma_update(None, "user_version", current + 1)
            .map_err(db_error)?;
        tx.commit().map_err(db_error)?;
        tracing::info!(
            schema_version = current + 1,
            "migrated the sqlite event store"
        );
    }
}

fn opening(path: &Path, err: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("cannot open {}: {err}", path.display()))
}
