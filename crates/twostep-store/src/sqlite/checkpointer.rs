//! Folding the write-ahead log back into the database file, off the
//! writer's path.
//!
//! Left to itself, SQLite checkpoints inside whichever commit pushes the log
//! past 1000 pages, and the appends of that group then wait for the database
//! file to be written and fsynced as well. Here the writer turns that off and
//! nudges this thread every [`CHECKPOINT_EVERY`] events instead. Its passive
//! checkpoints never block the writer or the readers.

use std::path::Path;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use rusqlite::Connection;

use super::rows::db_error;
use super::schema;
use crate::StoreError;

/// Events appended between two checkpoints (roughly a thousand log pages).
pub(super) const CHECKPOINT_EVERY: usize = 1_000;

/// The checkpointing thread, with its own connection.
pub(super) struct Checkpointer {
    nudge: SyncSender<()>,
    thread: JoinHandle<()>,
}

impl Checkpointer {
    /// Opens a connection to `path` and starts the thread.
    pub(super) fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = schema::open_checkpointer(path)?;
        // One pending nudge is enough: nudges during a checkpoint coalesce.
        let (nudge, nudges) = sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("twostep-sqlite-checkpointer".into())
            .spawn(move || {
                while nudges.recv().is_ok() {
                    if let Err(err) = checkpoint(&conn) {
                        tracing::warn!(%err, "a sqlite checkpoint failed; the next one will retry");
                    }
                }
            })
            .map_err(|err| {
                StoreError::Unavailable(format!("cannot start the checkpointer thread: {err}"))
            })?;
        Ok(Self { nudge, thread })
    }

    /// Asks for a checkpoint soon; never blocks.
    pub(super) fn nudge(&self) {
        let _ = self.nudge.try_send(());
    }

    /// Waits for the current checkpoint, if any, and closes the connection.
    pub(super) fn stop(self) {
        drop(self.nudge);
        if self.thread.join().is_err() {
            tracing::error!("the sqlite checkpointer thread panicked");
        }
    }
}

fn checkpoint(conn: &Connection) -> Result<(), StoreError> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        .map_err(db_error)
}
