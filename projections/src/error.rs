//! Why a read model could not be built or queried.

use twostep_store::StoreError;

/// Errors of the read models. Followers started by
/// [`ReadModels::spawn`](crate::ReadModels::spawn) log them and retry; the
/// query and maintenance methods return them.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The event store failed (usually worth retrying).
    #[error("event store: {0}")]
    Store(#[from] StoreError),
    /// The read-model database failed.
    #[error("read-model database: {0}")]
    Sqlite(String),
    /// A stored row could not be understood.
    #[error("corrupt read model: {0}")]
    Corrupt(String),
    /// A name given to [`ReadModels::reset`](crate::ReadModels::reset) is no projector's.
    #[error(
        "no projector is named {0:?} (known: active_codes, lockout, security_alerts, login_history)"
    )]
    UnknownProjector(String),
    /// An outcome filter names no outcome of the login history.
    #[error("no login-history outcome is named {0:?} (known: {known})", known = crate::history_outcomes().join(", "))]
    UnknownOutcome(String),
    /// The folder of the read-model file could not be created.
    #[error("read-model file: {0}")]
    Io(String),
    /// A blocking worker running SQLite work did not finish (it panicked or was cancelled).
    #[error("read-model worker stopped: {0}")]
    Worker(String),
}

impl From<rusqlite::Error> for ProjectionError {
    fn from(err: rusqlite::Error) -> Self {
        ProjectionError::Sqlite(err.to_string())
    }
}
