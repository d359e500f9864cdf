//! The four projectors. Each owns its tables (prefixed with its own name or
//! initials, never shared) and one checkpoint row, so each can be dropped
//! and rebuilt alone. Each applies a [`Batch`] inside the transaction that
//! also moves its checkpoint, folding what it can in memory first and
//! writing with prepared statements, never reading per event.

mod active_codes;
mod lockout;
mod login_history;
mod security_alerts;
mod users;

use rusqlite::Transaction;

pub(crate) use active_codes::active_code;
pub(crate) use lockout::lockout;
pub use login_history::LogHistory;
pub(crate) use login_history::{login_history, outcome_names};
pub(crate) use security_alerts::security_alerts;

use crate::ProjectionError;
use crate::batch::Batch;

/// A projector: its name, tables and how it applies events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Projector {
    /// The latest code of each user and whether it can still be used.
    ActiveCodes,
    /// Failure counters and locks of each user.
    Lockout,
    /// The security-alert trail of each licence.
    SecurityAlerts,
    /// Every login step of each licence, for auditors.
    LoginHistory,
}

impl Projector {
    /// Every projector, in the order catch-up applies them.
    pub(crate) const ALL: [Projector; 4] = [
        Projector::ActiveCodes,
        Projector::Lockout,
        Projector::SecurityAlerts,
        Projector::LoginHistory,
    ];

    /// Its name, as in checkpoints, logs and `reset`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Projector::ActiveCodes => "active_codes",
            Projector::Lockout => "lockout",
            Projector::SecurityAlerts => "security_alerts",
            Projector::LoginHistory => "login_history",
        }
    }

    /// The projector of that name.
    pub(crate) fn named(name: &str) -> Option<Projector> {
        Projector::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Version of its table layout; a build that changes the layout bumps
    /// it, and the projector is then rebuilt from the log on open.
    pub(crate) fn layout(self) -> u32 {
        match self {
            Projector::ActiveCodes => active_codes::LAYOUT,
            Projector::Lockout => lockout::LAYOUT,
            Projector::SecurityAlerts => security_alerts::LAYOUT,
            Projector::LoginHistory => login_history::LAYOUT,
        }
    }

    /// `CREATE … IF NOT EXISTS` statements of its tables and indexes.
    pub(crate) fn schema(self) -> &'static str {
        match self {
            Projector::ActiveCodes => active_codes::SCHEMA,
            Projector::Lockout => lockout::SCHEMA,
            Projector::SecurityAlerts => security_alerts::SCHEMA,
            Projector::LoginHistory => login_history::SCHEMA,
        }
    }

    /// Its tables.
    pub(crate) fn tables(self) -> &'static [&'static str] {
        match self {
            Projector::ActiveCodes => active_codes::TABLES,
            Projector::Lockout => lockout::TABLES,
            Projector::SecurityAlerts => security_alerts::TABLES,
            Projector::LoginHistory => login_history::TABLES,
        }
    }

    /// Whether it needs [`Batch::resolve_causes`] before applying.
    pub(crate) fn needs_causes(self) -> bool {
        self == Projector::SecurityAlerts
    }

    /// Applies `batch.events[from..]` to its tables in `tx` (the caller moves
    /// the checkpoint in the same transaction).
    pub(crate) fn apply(
        self,
        tx: &Transaction<'_>,
        batch: &Batch,
        from: usize,
    ) -> Result<(), ProjectionError> {
        if self.needs_causes() && !batch.resolved {
            return Err(ProjectionError::Corrupt(format!(
                "{}: the causes of the batch after {} were not resolved",
                self.name(),
                batch.after
            )));
        }
        let events = batch.events.get(from..).unwrap_or_default();
        match self {
            Projector::ActiveCodes => active_codes::apply(tx, events),
            Projector::Lockout => lockout::apply(tx, events),
            Projector::SecurityAlerts => security_alerts::apply(tx, events, &batch.causes),
            Projector::LoginHistory => login_history::apply(tx, events),
        }
    }
}
