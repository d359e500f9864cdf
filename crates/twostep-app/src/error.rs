//! Every way a command or query of the application can fail. The HTTP layer
//! maps each variant to one status and one machine code, in one place.

use twostep_domain::Timestamp;
use twostep_domain::licence::LicenceRejection;
use twostep_domain::secret::PasswordError;
use twostep_store::StoreError;

use crate::passwords::HashError;
use crate::streams::ExecuteError;

/// Why the application refused or failed a request. Messages never contain a
/// secret.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Unknown licence, unknown or inactive login, or wrong password: one answer for all.
    #[error("the licence, login or password is not right")]
    InvalidCredentials,
    /// The password was right but the account is locked.
    #[error("the account is locked until {locked_until}")]
    AccountLocked {
        /// When the lock ends.
        locked_until: Timestamp,
    },
    /// Too many requests; come back later.
    #[error("too many requests; retry in {retry_after} s")]
    RateLimited {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// The code step failed for any reason; the user starts again with the password.
    #[error("the code is not valid; enter your password again")]
    InvalidCode,
    /// The code is not `length` ASCII digits; the challenge stays open.
    #[error("the code must be exactly {length} digits")]
    MalformedCode {
        /// Expected digits.
        length: u32,
    },
    /// A licence or user command was refused.
    #[error(transparent)]
    Licence(#[from] LicenceRejection),
    /// A field is missing or invalid.
    #[error("{field} {message}")]
    InvalidField {
        /// The field's name in the request.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A confirmation or reset token is unknown, used, expired, or malformed.
    #[error("the token is invalid, used or expired")]
    BadToken,
    /// The new password breaks a rule.
    #[error("the password {0}")]
    WeakPassword(PasswordError),
    /// Missing, unknown or expired session token.
    #[error("no live session for this token")]
    Unauthenticated,
    /// A message could not be delivered.
    #[error("{0}")]
    DeliveryFailed(String),
    /// Too many concurrent changes to one stream; retry.
    #[error("too many concurrent changes; retry")]
    Busy,
    /// The event store is unavailable.
    #[error("the event store is unavailable")]
    Store(#[source] StoreError),
    /// A bug or corrupt data.
    #[error("internal error")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Corrupt(detail) | StoreError::Invalid(detail) => AppError::Internal(detail),
            StoreError::DuplicateEventId(id) => {
                AppError::Internal(format!("duplicate event id {id}"))
            }
            other => AppError::Store(other),
        }
    }
}

impl From<HashError> for AppError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Overloaded => AppError::RateLimited { retry_after: 1 },
            HashError::Failed => AppError::Internal("password hashing failed".to_owned()),
        }
    }
}

impl<R: Into<AppError>> From<ExecuteError<R>> for AppError {
    fn from(error: ExecuteError<R>) -> Self {
        match error {
            ExecuteError::Rejected(rejection) => rejection.into(),
            ExecuteError::Store(error) => error.into(),
            ExecuteError::Contention => AppError::Busy,
        }
    }
}
