//! # twostep-projections
//!
//! The read models of twostep, projected from the event log: what the HTTP
//! facade, auditors and security teams read. Nothing here decides a
//! command — every decision is taken from the streams themselves.
//!
//! | projector | answers |
//! |---|---|
//! | `active_codes` | [`ReadModels::active_code`]: the latest code of a user and whether it can be used |
//! | `lockout` | [`ReadModels::lockout`]: failure counters and the lock of a user |
//! | `security_alerts` | [`ReadModels::security_alerts`]: the alert trail of a licence, linked to its causes |
//! | `login_history` | [`ReadModels::login_history`]: every login step of a licence, cursor-paged |
//!
//! ## How
//! - The read models live in a SQLite file of their own (WAL), apart from
//!   the event store: dropping it loses nothing the log does not hold.
//! - Each projector owns its tables and one row of `checkpoints` (the global
//!   position of the last event it applied), written in the same transaction
//!   as its rows: a crash never applies an event twice or skips one. Where a
//!   projector needs to know a user's licence or login, it keeps its own
//!   table built from `UserCreated`, so each can be dropped and rebuilt alone
//!   ([`ReadModels::reset`]).
//! - Projectors follow the global order in batches: a catch-up reads and
//!   decodes each batch once for all projectors and applies up to 10,000
//!   events per transaction while it reads the next; live followers apply up
//!   to 1,000 per transaction. Prepared statements, no per-event reads, no
//!   per-event fsync (`synchronous=NORMAL`, WAL checkpoints in the background).
//! - An event this build cannot decode (unknown type or schema version) is
//!   logged with `tracing::warn!` and skipped; the checkpoint moves past it.
//!   A rebuild skips it the same way, so results stay identical; an upcaster
//!   in the domain codec is the way to make such events count.

#![deny(missing_docs)]

mod batch;
mod compare;
mod db;
mod error;
mod follow;
mod projectors;
mod sql;
mod views;

use std::path::Path;
use std::sync::Arc;

use tokio::task::JoinHandle;
use twostep_domain::{LicenceId, Timestamp, UserId};
use twostep_store::EventStore;

pub use compare::{Difference, compare_files};
pub use error::ProjectionError;
pub use views::{
    ActiveCodeView, AlertCause, AlertView, Checkpoint, DEFAULT_HISTORY_LIMIT, HistoryEntry,
    HistoryPage, HistoryQuery, LockoutView, MAX_HISTORY_LIMIT,
};

use crate::db::Database;
pub use crate::projectors::LogHistory;
use crate::projectors::Projector;

/// The outcomes a login-history entry can have (`code_sent`,
/// `invalid_code`, …), the values the `outcome` filter accepts.
pub fn history_outcomes() -> Vec<&'static str> {
    projectors::outcome_names()
}

/// Names of the projectors, as [`ReadModels::checkpoints`] and
/// [`ReadModels::reset`] use them.
pub const PROJECTORS: [&str; 4] = [
    "active_codes",
    "lockout",
    "security_alerts",
    "login_history",
];

/// The read models: one SQLite file and the projectors that fill it.
pub struct ReadModels {
    db: Arc<Database>,
}

impl ReadModels {
    /// Opens the read-model file at `path` (e.g. `<data-dir>/readmodels.sqlite3`),
    /// creating it, its folder and its tables if missing.
    pub fn open(path: &Path) -> Result<Arc<ReadModels>, ProjectionError> {
        Ok(Arc::new(ReadModels {
            db: Arc::new(Database::open(path)?),
        }))
    }

    /// Spawns the follower: one tokio task that keeps every projector up with
    /// the store forever, waking on the store's notifications (or every half
    /// second) and applying what came in rounds of [`catch_up`](Self::catch_up):
    /// each batch is read and decoded once and applied to every projector in
    /// one transaction, each projector with its own checkpoint. Failures are
    /// logged and retried with backoff; the task never panics. A projector
    /// that is [`reset`](Self::reset) meanwhile starts again from position 0.
    /// Abort the handles to stop it. Must be called within a tokio runtime.
    pub fn spawn(self: &Arc<Self>, store: Arc<dyn EventStore>) -> Vec<JoinHandle<()>> {
        vec![tokio::spawn(follow::follow(Arc::clone(&self.db), store))]
    }

    /// Runs every projector until it has applied everything up to the store's
    /// head at call time (tests, readiness, rebuild). Safe to run while the
    /// spawned followers run: no event is applied twice.
    pub async fn catch_up(&self, store: &Arc<dyn EventStore>) -> Result<(), ProjectionError> {
        follow::catch_up(&self.db, store).await
    }

    /// [`catch_up`](Self::catch_up), calling `progress(position, head)`
    /// after each batch (for a progress bar).
    pub async fn catch_up_reporting(
        &self,
        store: &Arc<dyn EventStore>,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> Result<(), ProjectionError> {
        follow::catch_up_reporting(&self.db, store, progress).await
    }

    /// Where each projector stands.
    pub async fn checkpoints(&self) -> Result<Vec<Checkpoint>, ProjectionError> {
        self.db
            .read(|conn| {
                Projector::ALL
                    .into_iter()
                    .map(|p| {
                        Ok(Checkpoint {
                            name: p.name(),
                            position: db::checkpoint(conn, p)?,
                        })
                    })
                    .collect()
            })
            .await
    }

    /// Lockout status of `user` at `now` (all zeros for an unknown user).
    pub async fn lockout(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<LockoutView, ProjectionError> {
        self.db
            .read(move |conn| projectors::lockout(conn, user, now))
            .await
    }

    /// The latest code of `user` and whether it is usable at `now`.
    pub async fn active_code(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<ActiveCodeView, ProjectionError> {
        self.db
            .read(move |conn| projectors::active_code(conn, user, now))
            .await
    }

    /// A page of the login history of `licence`.
    pub async fn login_history(
        &self,
        licence: LicenceId,
        query: &HistoryQuery,
    ) -> Result<HistoryPage, ProjectionError> {
        let query = query.clone();
        self.db
            .read(move |conn| projectors::login_history(conn, licence, &query))
            .await
    }

    /// Security alerts of `licence` raised at or after `since`, oldest first, at most `limit`.
    pub async fn security_alerts(
        &self,
        licence: LicenceId,
        since: Option<Timestamp>,
        limit: usize,
    ) -> Result<Vec<AlertView>, ProjectionError> {
        self.db
            .read(move |conn| projectors::security_alerts(conn, licence, since, limit))
            .await
    }

    /// Drops the named projectors' tables and checkpoints (every projector
    /// when `names` is empty), so that they rebuild from position 0 — by
    /// [`catch_up`](Self::catch_up) or the spawned followers. Unknown names
    /// are refused before anything is dropped.
    pub async fn reset(&self, names: &[&str]) -> Result<(), ProjectionError> {
        let chosen: Vec<Projector> = if names.is_empty() {
            Projector::ALL.to_vec()
        } else {
            names
                .iter()
                .map(|name| {
                    Projector::named(name)
                        .ok_or_else(|| ProjectionError::UnknownProjector((*name).to_owned()))
                })
                .collect::<Result<_, _>>()?
        };
        self.db
            .write(move |conn| {
                let tx = db::begin(conn)?;
                for projector in chosen {
                    db::reset(&tx, projector)?;
                }
                tx.commit()?;
                Ok(())
            })
            .await
    }
}
