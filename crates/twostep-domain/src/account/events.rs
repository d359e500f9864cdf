//! Events of an account stream (`account-{user_id}`): credentials, login
//! steps, codes, locks and sessions of one user. Each event states its own
//! side effects (the challenge it closed, the code it voided) so an auditor
//! never has to infer them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::alert::SecurityAlert;
use crate::contact::Channel;
use crate::identity::{LicenceId, UserId};
use crate::secret::Digest;
use crate::timestamp::Timestamp;

/// What a single-use password token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenPurpose {
    /// Sent when the user is created, to set the first password.
    AccessConfirmation,
    /// Sent by the password reminder.
    PasswordReset,
}

/// Why a password step did not succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PasswordRefusal {
    /// The password does not match.
    WrongPassword,
    /// The user has not set a password yet.
    NoPasswordSet,
    /// The user is deactivated.
    UserInactive,
}

/// Why a code step did not succeed. Recorded for auditors; never told to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CodeRefusal {
    /// Matches no code of the user.
    WrongCode,
    /// Matches the latest code, which has expired.
    Expired,
    /// Matches an older code, superseded by a newer one.
    Superseded,
    /// Matches the latest code, which was already used.
    Spent,
    /// Matches the latest code, voided (destination changed, reported, delivery failed, password set).
    Voided,
    /// No code was issued for this challenge.
    NoCode,
    /// The challenge is not open (closed, finished, or unknown).
    ChallengeNotOpen,
    /// The account is locked.
    AccountLocked,
    /// The user is deactivated.
    UserInactive,
    /// The licence no longer uses two-factor authentication.
    TwoFactorDisabled,
}

/// What a message carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessagePurpose {
    /// A one-time code.
    Code,
    /// An access confirmation link.
    AccessConfirmation,
    /// A password reset link.
    PasswordReset,
    /// A notice to the old destination that the contact details changed.
    ContactChangeNotice,
    /// A notice that the password was changed with a reset link.
    PasswordChangeNotice,
}

/// Which repeated failure locked the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LockCause {
    /// `max_failed_codes` wrong codes in a row.
    Codes,
    /// `max_failed_passwords` wrong passwords in a row.
    Passwords,
}

/// Events of an account stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", content = "data")]
pub enum AccountEvent {
    /// A single-use access confirmation token was issued (the account's first event).
    AccessConfirmationIssued {
        /// The licence of the user.
        licence_id: LicenceId,
        /// The user.
        user_id: UserId,
        /// Token id (part of the token).
        token_id: Uuid,
        /// SHA-256 of the token's secret.
        token_digest: Digest,
        /// The token is refused after this instant.
        expires_at: Timestamp,
        /// Licence version of the e-mail address it was sent to: the token is
        /// void once the address changes.
        email_epoch: u64,
    },
    /// A single-use password reset token was issued; older reset tokens are void.
    PasswordResetRequested {
        /// Token id.
        token_id: Uuid,
        /// SHA-256 of the token's secret.
        token_digest: Digest,
        /// When it was requested.
        requested_at: Timestamp,
        /// The token is refused after this instant.
        expires_at: Timestamp,
        /// Licence version of the e-mail address it was sent to: the token is
        /// void once the address changes.
        email_epoch: u64,
    },
    /// The user set a password with a token. Spends every outstanding token,
    /// closes the open challenge, voids the latest code and ends every live
    /// session. Never starts a session, never lifts a lock.
    PasswordSet {
        /// Which kind of token was used.
        via: TokenPurpose,
        /// The token used.
        token_id: Uuid,
        /// argon2id PHC string.
        password_hash: String,
        /// The challenge this closed, if one was open.
        closed_challenge: Option<Uuid>,
        /// The code this voided, if one was usable.
        voided_code: Option<Uuid>,
        /// The sessions this ended.
        ended_sessions: Vec<Uuid>,
    },
    /// A password step failed.
    PasswordRejected {
        /// Why.
        reason: PasswordRefusal,
        /// Whether it counts towards a lock (wrong passwords do, also while
        /// locked; not an inactive user or one without a password).
        counted: bool,
        /// Wrong passwords in a row after this one.
        failed_passwords_in_a_row: u32,
    },
    /// The right password was given while the account is locked: no code sent.
    LoginRefusedWhileLocked {
        /// When the lock ends.
        locked_until: Timestamp,
    },
    /// The right password opened a challenge (the code screen).
    ChallengeOpened {
        /// The new challenge.
        challenge_id: Uuid,
        /// The challenge this closed (one open challenge per user).
        closed_challenge: Option<Uuid>,
        /// The code that answers it.
        code_id: Uuid,
        /// True when the latest code was kept (resend interval not over): nothing sent.
        code_reused: bool,
        /// When a new code can be asked for.
        resend_available_at: Timestamp,
    },
    /// A new one-time code was issued; every older code is superseded.
    CodeIssued {
        /// The code's id.
        code_id: Uuid,
        /// The challenge it was issued for.
        challenge_id: Uuid,
        /// HMAC-SHA-256 of the code, keyed with the service secret, bound to user and code id.
        code_digest: Digest,
        /// Digits in the code.
        code_length: u32,
        /// Where it is sent.
        channel: Channel,
        /// Masked destination.
        destination: String,
        /// Licence version of the route it was sent on (see `CodeRoute::epoch`).
        route_epoch: u64,
        /// When it was issued.
        issued_at: Timestamp,
        /// When it stops being accepted.
        expires_at: Timestamp,
        /// The code it superseded, if it was still usable.
        superseded: Option<Uuid>,
        /// SHA-256 of the report token carried by the message.
        report_digest: Digest,
    },
    /// A message left for its destination.
    MessageDelivered {
        /// What it carried.
        purpose: MessagePurpose,
        /// Code id or token id it carried (nil for notices).
        reference: Uuid,
        /// Channel used.
        channel: Channel,
        /// Masked destination.
        destination: String,
    },
    /// A message could not be delivered. A code that failed is void and does
    /// not count against the resend interval.
    MessageDeliveryFailed {
        /// What it carried.
        purpose: MessagePurpose,
        /// Code id or token id it carried.
        reference: Uuid,
        /// Channel used.
        channel: Channel,
        /// Masked destination.
        destination: String,
        /// The delivery error (no secret in it).
        error: String,
        /// Code deliveries failed in a row after this one.
        code_failures_in_a_row: u32,
    },
    /// The right code answered the challenge: the code is spent, the counters reset.
    CodeAccepted {
        /// The challenge, now closed.
        challenge_id: Uuid,
        /// The code, now spent.
        code_id: Uuid,
    },
    /// A code step failed; the challenge is closed.
    CodeRejected {
        /// The challenge named by the client.
        challenge_id: Uuid,
        /// The code the attempt was checked against, if any.
        code_id: Option<Uuid>,
        /// Why (for auditors only).
        reason: CodeRefusal,
        /// Whether it counted as a guess.
        counted: bool,
        /// Wrong codes in a row after this one.
        failed_codes_in_a_row: u32,
    },
    /// Too many failures in a row: the account is locked until a time, and
    /// the outstanding code is void.
    AccountLocked {
        /// Which failures.
        cause: LockCause,
        /// Locks in a row without a successful login, this one included.
        lock_number: u32,
        /// When it started.
        locked_at: Timestamp,
        /// When it ends by itself.
        locked_until: Timestamp,
        /// The challenge this closed, if one was open.
        closed_challenge: Option<Uuid>,
        /// The code this voided, if one could still be used.
        voided_code: Option<Uuid>,
    },
    /// A lock ended by itself (recorded at the first command after its end);
    /// both failure counters reset.
    LockExpired {
        /// When it ended.
        locked_until: Timestamp,
    },
    /// An operator lifted a lock; both failure counters reset.
    LockLifted {
        /// The operator's reason.
        reason: String,
        /// When it would have ended.
        locked_until: Timestamp,
    },
    /// A session started: the login succeeded.
    SessionStarted {
        /// The session's id (part of the token).
        session_id: Uuid,
        /// SHA-256 of the token's secret.
        token_digest: Digest,
        /// When it started.
        started_at: Timestamp,
        /// When it ends.
        expires_at: Timestamp,
        /// Channel of the second factor, `None` for a licence without 2FA.
        second_factor: Option<Channel>,
        /// Licence version of the user's last (re)activation: the session is
        /// void once the user is deactivated, even if reactivated later.
        activation_epoch: u64,
        /// The code that opened it (`None` for a licence without 2FA).
        code_id: Option<Uuid>,
    },
    /// A session was ended by its holder (logout).
    SessionEnded {
        /// The session.
        session_id: Uuid,
    },
    /// The user reported a code they did not ask for. The code is voided,
    /// the open challenge closed, and any session the code opened ended.
    UnrequestedCodeReported {
        /// The reported code.
        code_id: Uuid,
        /// The challenge this closed, if one was open.
        closed_challenge: Option<Uuid>,
        /// The sessions the reported code had opened, now ended.
        ended_sessions: Vec<Uuid>,
    },
    /// A security alert about this user.
    SecurityAlertRaised(SecurityAlert),
    /// The right password came from a client address not among the ones
    /// remembered for this user (at most `REMEMBERED_ADDRESSES`).
    ClientAddressSeen {
        /// Keyed digest (HMAC with the service secret) of the address: the
        /// address itself is only in the event metadata.
        address_digest: Digest,
    },
}

impl AccountEvent {
    /// The event's type name, as stored.
    pub fn type_name(&self) -> &'static str {
        match self {
            AccountEvent::AccessConfirmationIssued { .. } => "AccessConfirmationIssued",
            AccountEvent::PasswordResetRequested { .. } => "PasswordResetRequested",
            AccountEvent::PasswordSet { .. } => "PasswordSet",
            AccountEvent::PasswordRejected { .. } => "PasswordRejected",
            AccountEvent::LoginRefusedWhileLocked { .. } => "LoginRefusedWhileLocked",
            AccountEvent::ChallengeOpened { .. } => "ChallengeOpened",
            AccountEvent::CodeIssued { .. } => "CodeIssued",
            AccountEvent::MessageDelivered { .. } => "MessageDelivered",
            AccountEvent::MessageDeliveryFailed { .. } => "MessageDeliveryFailed",
            AccountEvent::CodeAccepted { .. } => "CodeAccepted",
            AccountEvent::CodeRejected { .. } => "CodeRejected",
            AccountEvent::AccountLocked { .. } => "AccountLocked",
            AccountEvent::LockExpired { .. } => "LockExpired",
            AccountEvent::LockLifted { .. } => "LockLifted",
            AccountEvent::SessionStarted { .. } => "SessionStarted",
            AccountEvent::SessionEnded { .. } => "SessionEnded",
            AccountEvent::UnrequestedCodeReported { .. } => "UnrequestedCodeReported",
            AccountEvent::SecurityAlertRaised(_) => "SecurityAlertRaised",
            AccountEvent::ClientAddressSeen { .. } => "ClientAddressSeen",
        }
    }
}
