//! Moving projectors along the global order.
//!
//! A batch is applied to a projector inside one transaction that first reads
//! its checkpoint, applies only the events after it, and moves it to the
//! batch's last position. So a batch read twice (a retry, a catch-up racing a
//! follower) applies nothing twice; and a batch read after a checkpoint that
//! is no longer there (the projector was reset meanwhile) applies nothing and
//! sends the reader back to the stored checkpoint.

use std::sync::Arc;
use std::time::Duration;

use rusqlite::Transaction;
use twostep_store::{EventStore, Position, RecordedEvent};

use crate::ProjectionError;
use crate::batch::Batch;
use crate::db::{self, Database, blocking};
use crate::projectors::Projector;

/// Most events a catch-up applies in one transaction. Big, because a commit writes every page it dirtied, and the pages keyed by user (the
/// history's per-user index, lockout and code rows) are spread over the
/// whole file, so fewer, bigger commits write each of them less often.
pub(crate) const CATCH_UP_BATCH: usize = 10_000;

/// First wait after a failure; it doubles with each failure in a row.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Where a projector stands after a batch.
enum Applied {
    /// Its checkpoint is here (the batch's last position, or further).
    At(Position),
    /// Its checkpoint is before the batch (it was reset meanwhile): nothing
    /// was applied; read again from here.
    Behind(Position),
}

impl Applied {
    fn position(&self) -> Position {
        match self {
            Applied::At(position) | Applied::Behind(position) => *position,
        }
    }
}

/// Applies the events of `batch` that `projector` has not applied yet, and
/// moves its checkpoint, in `tx`.
fn apply_to(
    tx: &Transaction<'_>,
    projector: Projector,
    batch: &Batch,
) -> Result<Applied, ProjectionError> {
    let stored = db::checkpoint(tx, projector)?;
    if stored < batch.after {
        return Ok(Applied::Behind(stored));
    }
    let Some(last) = batch.last_position().filter(|last| *last > stored) else {
        return Ok(Applied::At(stored));
    };
    projector.apply(tx, batch, batch.first_after(stored))?;
    db::set_checkpoint(tx, projector, last)?;
    Ok(Applied::At(last))
}

/// Reads, decodes and (for the projectors that need it) resolves the next
/// batch after `after`.
async fn fetch(
    store: &Arc<dyn EventStore>,
    after: Position,
    with_causes: bool,
) -> Result<Batch, ProjectionError> {
    let events = store.read_all(after, CATCH_UP_BATCH).await?;
    prepare(store, after, events, with_causes).await
}

async fn prepare(
    store: &Arc<dyn EventStore>,
    after: Position,
    events: Vec<RecordedEvent>,
    with_causes: bool,
) -> Result<Batch, ProjectionError> {
    let mut batch = blocking(move || Ok(Batch::decode(after, events))).await?;
    if with_causes {
        batch.resolve_causes(store.as_ref()).await?;
    }
    Ok(batch)
}

/// Runs every projector up to the store's head at call time. Each batch is
/// read and decoded once for all projectors and applied to all of them in
/// one transaction (each with its own checkpoint), while the next batch is
/// read and decoded.
pub(crate) async fn catch_up(
    db: &Arc<Database>,
    store: &Arc<dyn EventStore>,
) -> Result<(), ProjectionError> {
    catch_up_reporting(db, store, &|_, _| {}).await
}

/// [`catch_up`], calling `progress(position, head)` after each batch with
/// the position every projector has reached and the head it runs to.
pub(crate) async fn catch_up_reporting(
    db: &Arc<Database>,
    store: &Arc<dyn EventStore>,
    progress: &(dyn Fn(Position, Position) + Send + Sync),
) -> Result<(), ProjectionError> {
    let head = store.head().await?;
    let mut positions = db
        .read(|conn| {
            Projector::ALL
                .into_iter()
                .map(|p| db::checkpoint(conn, p))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    // Whether a projector that needs alert causes resolved is before `position`.
    let causes_needed = |positions: &[Position], position: Position| {
        Projector::ALL
            .iter()
            .zip(positions)
            .any(|(p, at)| p.needs_causes() && *at < position)
    };
    let mut prefetched: Option<Batch> = None;
    loop {
        let from = positions.iter().copied().min().unwrap_or(head);
        if from >= head {
            return Ok(());
        }
        let mut batch = match prefetched.take() {
            Some(batch) if batch.after == from => batch,
            _ => fetch(store, from, causes_needed(&positions, head)).await?,
        };
        let Some(last) = batch.last_position() else {
            return Ok(());
        };
        if !batch.resolved && causes_needed(&positions, last) {
            batch.resolve_causes(store.as_ref()).await?;
        }
        let write = db.write(move |conn| {
            let tx = db::begin(conn)?;
            let applied = Projector::ALL
                .into_iter()
                .map(|p| apply_to(&tx, p, &batch))
                .collect::<Result<Vec<_>, _>>()?;
            tx.commit()?;
            Ok((applied, batch))
        });
        let with_causes = causes_needed(&positions, head);
        let read_ahead = async {
            if last < head {
                fetch(store, last, with_causes).await.map(Some)
            } else {
                Ok(None)
            }
        };
        let (written, next) = tokio::join!(write, read_ahead);
        let (applied, batch) = written?;
        // Freeing ten thousand decoded events takes a while: not on the writer.
        drop(tokio::task::spawn_blocking(move || drop(batch)));
        positions = applied.iter().map(Applied::position).collect();
        progress(
            positions.iter().copied().min().unwrap_or(head).min(head),
            head,
        );
        prefetched = next?;
    }
}

/// How long the follower lets new events gather after a notification, so
/// that a busy log is applied in a few larger transactions rather than one
/// per commit (the read models lag the log by about this much).
const GATHER: Duration = Duration::from_millis(25);

/// How long the follower waits for a notification before looking anyway
/// (events committed by another process sharing the store).
const POLL: Duration = Duration::from_millis(500);

/// Follows the store forever, for every projector at once: each round is a
/// [`catch_up`], which reads and decodes each batch once and applies it to
/// every projector in one transaction (each with its own checkpoint).
/// Failures are logged and retried after a growing pause; never panics.
pub(crate) async fn follow(db: Arc<Database>, store: Arc<dyn EventStore>) {
    let mut notified = store.watch();
    let mut backoff = FIRST_BACKOFF;
    loop {
        notified.borrow_and_update();
        if let Err(error) = catch_up(&db, &store).await {
            tracing::warn!(
                %error,
                retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
                "the projectors failed; they will retry"
            );
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
            continue;
        }
        backoff = FIRST_BACKOFF;
        tokio::select! {
            changed = notified.changed() => {
                if changed.is_err() {
                    tokio::time::sleep(POLL).await;
                }
            }
            _ = tokio::time::sleep(POLL) => {}
        }
        tokio::time::sleep(GATHER).await;
    }
}
