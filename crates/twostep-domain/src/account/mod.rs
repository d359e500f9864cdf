//! The account aggregate: one user's credentials, login steps, codes, locks
//! and sessions, on the stream `account-{user_id}`.

mod decide;
mod events;
mod state;

#[cfg(test)]
mod tests;

pub use decide::{
    ACCESS_CONFIRMATION_TTL_SECONDS, AccountCommand, AccountRejection, Fresh, MAX_CODE_DIGITS,
    MAX_REASON_CHARS, NewToken, PASSWORD_RESET_TTL_SECONDS, PasswordCheck, RESET_THROTTLE_SECONDS,
    code_is_usable,
};
pub use events::{
    AccountEvent, CodeRefusal, LockCause, MessagePurpose, PasswordRefusal, TokenPurpose,
};
pub use state::{
    Account, IssuedCode, Lock, OpenChallenge, OutstandingToken, REMEMBERED_CODES, Session,
};
