//! The writer thread and its group commit.
//!
//! One thread owns the only write connection. It waits for an append request,
//! drains whatever else is already queued (up to [`MAX_BATCH`]), and runs the
//! whole group in one `BEGIN IMMEDIATE` transaction: each request under its
//! own savepoint, so a refused request (wrong expected version, duplicate id)
//! rolls back alone. One `COMMIT` — one fsync — then answers every request of
//! the group; if that commit fails, every request of the group fails.
//!
//! Positions are assigned here, in commit order, so `read_all` never sees a
//! gap that fills in later.

use rusqlite::{Connection, TransactionBehavior};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::{mpsc, oneshot, watch};

use super::MAX_BATCH;
use super::append::{Append, append_one};
use super::heads::KnownHeads;
use super::rows::{self, db_error};
use crate::{AppendOutcome, Position, StoreError};

/// An append waiting for the writer, with where to send its answer.
pub(super) struct AppendRequest {
    /// What to append.
    pub(super) append: Append,
    /// Where the outcome goes once the group is committed.
    pub(super) reply: oneshot::Sender<Result<AppendOutcome, StoreError>>,
}

/// The writer thread's body: returns when every sender is gone, closing its
/// connection — the last one to the file, which folds the write-ahead log
/// back into the database.
pub(super) fn run(
    mut conn: Connection,
    mut queue: mpsc::Receiver<AppendRequest>,
    committed: watch::Sender<Position>,
    heads: &KnownHeads,
) {
    let mut group = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.blocking_recv() {
        group.push(first);
        while group.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        let (appends, replies): (Vec<_>, Vec<_>) =
            group.drain(..).map(|r| (r.append, r.reply)).unzip();
        let outcomes = commit_group(&mut conn, appends, &committed);
        for outcome in outcomes.iter().flatten() {
            if let Some(event) = outcome.recorded.first() {
                heads.record(&event.stream, outcome.stream_version);
            }
        }
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            // The caller may have given up waiting; the outcome stands anyway.
            let _ = reply.send(outcome);
        }
    }
    tracing::debug!("the sqlite writer thread stops: every store handle is gone");
}

/// Commits a group and announces the new head; one outcome per append.
fn commit_group(
    conn: &mut Connection,
    appends: Vec<Append>,
    committed: &watch::Sender<Position>,
) -> Vec<Result<AppendOutcome, StoreError>> {
    let requests = appends.len();
    match try_commit_group(conn, appends) {
        Ok((outcomes, head)) => {
            committed.send_if_modified(|last| {
                let moved = *last < head;
                *last = head.max(*last);
                moved
            });
            outcomes
        }
        Err(err) => {
            tracing::error!(%err, requests, "a sqlite group commit failed");
            (0..requests)
                .map(|_| {
                    Err(StoreError::Unavailable(format!(
                        "the commit of this append failed: {err}"
                    )))
                })
                .collect()
        }
    }
}

fn try_commit_group(
    conn: &mut Connection,
    appends: Vec<Append>,
) -> Result<(Vec<Result<AppendOutcome, StoreError>>, Position), StoreError> {
    let recorded_at = OffsetDateTime::now_utc();
    let stamp = recorded_at.format(&Rfc3339).map_err(|err| {
        StoreError::Unavailable(format!(
            "the clock reads {recorded_at}, not storable: {err}"
        ))
    })?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_error)?;
    let mut head = rows::head(&tx)?;
    let mut outcomes = Vec::with_capacity(appends.len());
    for append in appends {
        let mut next = head;
        match in_savepoint(&tx, |conn| {
            append_one(conn, append, &mut next, recorded_at, &stamp)
        })? {
            Ok(outcome) => {
                head = next;
                outcomes.push(Ok(outcome));
            }
            Err(err) => {
                if tx.is_autocommit() {
                    // SQLite abandoned the whole transaction (I/O error, disk
                    // full…): nothing of this group can commit any more.
                    return Err(err);
                }
                outcomes.push(Err(err));
            }
        }
    }
    tx.commit().map_err(db_error)?;
    Ok((outcomes, head))
}

/// Runs `body` under a savepoint: kept if it succeeds, rolled back if not.
/// The outer error is a failure of the savepoint itself. (Cached statements:
/// rusqlite's `Savepoint` would parse its SQL again for every append.)
fn in_savepoint<T>(
    conn: &Connection,
    body: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<Result<T, StoreError>, StoreError> {
    let run = |sql: &str| {
        conn.prepare_cached(sql)
            .and_then(|mut stmt| stmt.execute([]))
            .map_err(db_error)
    };
    run("SAVEPOINT append")?;
    let result = body(conn);
    if result.is_err() && !conn.is_autocommit() {
        run("ROLLBACK TO append")?;
    }
    if !conn.is_autocommit() {
        run("RELEASE append")?;
    }
    Ok(result)
}
