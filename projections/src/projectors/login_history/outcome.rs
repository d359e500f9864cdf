//! How each event reads in the login history: a step, an outcome and the
//! details it carries. Every outcome belongs to exactly one event type, so a
//! row stores only a one-byte outcome code (part of the table layout: codes
//! are never renumbered without bumping `LAYOUT`).

use twostep_domain::account::{AccountEvent, MessagePurpose};
use uuid::Uuid;

use crate::sql::wire_name;

/// What happened, as an auditor filters it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    AccessConfirmationIssued = 1,
    PasswordResetRequested = 2,
    PasswordSet = 3,
    InvalidCredentials = 4,
    AccountLocked = 5,
    CodeSent = 6,
    CodeAlreadySent = 7,
    CodeIssued = 8,
    Delivered = 9,
    DeliveryFailed = 10,
    CodeAccepted = 11,
    InvalidCode = 12,
    Locked = 13,
    LockExpired = 14,
    LockLifted = 15,
    Authenticated = 16,
    LoggedOut = 17,
    UnrequestedCodeReported = 18,
    AlertRaised = 19,
    UnknownLogin = 20,
    NewClientAddress = 21,
}

impl Outcome {
    const ALL: [Outcome; 21] = [
        Outcome::AccessConfirmationIssued,
        Outcome::PasswordResetRequested,
        Outcome::PasswordSet,
        Outcome::InvalidCredentials,
        Outcome::AccountLocked,
        Outcome::CodeSent,
        Outcome::CodeAlreadySent,
        Outcome::CodeIssued,
        Outcome::Delivered,
        Outcome::DeliveryFailed,
        Outcome::CodeAccepted,
        Outcome::InvalidCode,
        Outcome::Locked,
        Outcome::LockExpired,
        Outcome::LockLifted,
        Outcome::Authenticated,
        Outcome::LoggedOut,
        Outcome::UnrequestedCodeReported,
        Outcome::AlertRaised,
        Outcome::UnknownLogin,
        Outcome::NewClientAddress,
    ];

    /// `(step, outcome, event type)`.
    pub(super) fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Outcome::AccessConfirmationIssued => (
                "credentials",
                "access_confirmation_issued",
                "AccessConfirmationIssued",
            ),
            Outcome::PasswordResetRequested => (
                "credentials",
                "password_reset_requested",
                "PasswordResetRequested",
            ),
            Outcome::PasswordSet => ("credentials", "password_set", "PasswordSet"),
            Outcome::InvalidCredentials => ("password", "invalid_credentials", "PasswordRejected"),
            Outcome::AccountLocked => ("password", "account_locked", "LoginRefusedWhileLocked"),
            Outcome::CodeSent => ("password", "code_sent", "ChallengeOpened"),
            Outcome::CodeAlreadySent => ("password", "code_already_sent", "ChallengeOpened"),
            Outcome::CodeIssued => ("code", "code_issued", "CodeIssued"),
            Outcome::Delivered => ("delivery", "delivered", "MessageDelivered"),
            Outcome::DeliveryFailed => ("delivery", "delivery_failed", "MessageDeliveryFailed"),
            Outcome::CodeAccepted => ("code", "code_accepted", "CodeAccepted"),
            Outcome::InvalidCode => ("code", "invalid_code", "CodeRejected"),
            Outcome::Locked => ("lock", "locked", "AccountLocked"),
            Outcome::LockExpired => ("lock", "lock_expired", "LockExpired"),
            Outcome::LockLifted => ("lock", "lock_lifted", "LockLifted"),
            Outcome::Authenticated => ("session", "authenticated", "SessionStarted"),
            Outcome::LoggedOut => ("session", "logged_out", "SessionEnded"),
            Outcome::UnrequestedCodeReported => (
                "alert",
                "unrequested_code_reported",
                "UnrequestedCodeReported",
            ),
            Outcome::AlertRaised => ("alert", "alert_raised", "SecurityAlertRaised"),
            Outcome::UnknownLogin => ("password", "unknown_login", "UnknownLoginAttempted"),
            Outcome::NewClientAddress => ("password", "new_client_address", "ClientAddressSeen"),
        }
    }

    /// The stored code.
    pub(super) fn code(self) -> i64 {
        self as i64
    }

    /// The outcome stored as `code`.
    pub(super) fn from_code(code: i64) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.code() == code)
    }

    /// Every outcome name, in code order.
    pub(super) fn all_names() -> Vec<&'static str> {
        Outcome::ALL.into_iter().map(|o| o.names().1).collect()
    }

    /// The outcome named `name` (`invalid_code`…).
    pub(super) fn named(name: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.names().1 == name)
    }
}

/// An event as the history shows it.
pub(super) struct Step<'e> {
    pub outcome: Outcome,
    /// Refusal reason, lock cause, delivery error, operator's reason, alert kind…
    pub reason: Option<String>,
    pub challenge_id: Option<&'e Uuid>,
    pub code_id: Option<&'e Uuid>,
    pub channel: Option<&'static str>,
    /// Masked, as in the event.
    pub destination: Option<&'e str>,
}

impl<'e> Step<'e> {
    pub(super) fn new(outcome: Outcome) -> Self {
        Step {
            outcome,
            reason: None,
            challenge_id: None,
            code_id: None,
            channel: None,
            destination: None,
        }
    }
    fn reason(self, reason: Option<String>) -> Self {
        Step { reason, ..self }
    }
    fn challenge(self, challenge_id: Option<&'e Uuid>) -> Self {
        Step {
            challenge_id,
            ..self
        }
    }
    fn code(self, code_id: Option<&'e Uuid>) -> Self {
        Step { code_id, ..self }
    }
    fn sent(self, channel: Option<&'static str>, destination: Option<&'e str>) -> Self {
        Step {
            channel,
            destination,
            ..self
        }
    }
}

/// The step an account event records. Events that close a challenge as a
/// side effect (a lock, a new password, a report) name that challenge.
pub(super) fn describe(event: &AccountEvent) -> Step<'_> {
    let code_of = |purpose: &MessagePurpose, reference| {
        (*purpose == MessagePurpose::Code).then_some(reference)
    };
    match event {
        AccountEvent::AccessConfirmationIssued { .. } => {
            Step::new(Outcome::AccessConfirmationIssued)
        }
        AccountEvent::PasswordResetRequested { .. } => Step::new(Outcome::PasswordResetRequested),
        AccountEvent::PasswordSet {
            via,
            closed_challenge,
            voided_code,
            ..
        } => Step::new(Outcome::PasswordSet)
            .reason(wire_name(via))
            .challenge(closed_challenge.as_ref())
            .code(voided_code.as_ref()),
        AccountEvent::PasswordRejected { reason, .. } => {
            Step::new(Outcome::InvalidCredentials).reason(wire_name(reason))
        }
        AccountEvent::LoginRefusedWhileLocked { .. } => Step::new(Outcome::AccountLocked),
        AccountEvent::ChallengeOpened {
            challenge_id,
            code_id,
            code_reused,
            ..
        } => Step::new(if *code_reused {
            Outcome::CodeAlreadySent
        } else {
            Outcome::CodeSent
        })
        .challenge(Some(challenge_id))
        .code(Some(code_id)),
        AccountEvent::CodeIssued {
            code_id,
            challenge_id,
            channel,
            destination,
            ..
        } => Step::new(Outcome::CodeIssued)
            .challenge(Some(challenge_id))
            .code(Some(code_id))
            .sent(Some(channel.as_str()), Some(destination)),
        AccountEvent::MessageDelivered {
            purpose,
            reference,
            channel,
            destination,
        } => Step::new(Outcome::Delivered)
            .code(code_of(purpose, reference))
            .sent(Some(channel.as_str()), Some(destination)),
        AccountEvent::MessageDeliveryFailed {
            purpose,
            reference,
            channel,
            destination,
            error,
            ..
        } => Step::new(Outcome::DeliveryFailed)
            .reason(Some(error.clone()))
            .code(code_of(purpose, reference))
            .sent(Some(channel.as_str()), Some(destination)),
        AccountEvent::CodeAccepted {
            challenge_id,
            code_id,
        } => Step::new(Outcome::CodeAccepted)
            .challenge(Some(challenge_id))
            .code(Some(code_id)),
        AccountEvent::CodeRejected {
            challenge_id,
            code_id,
            reason,
            ..
        } => Step::new(Outcome::InvalidCode)
            .reason(wire_name(reason))
            .challenge(Some(challenge_id))
            .code(code_id.as_ref()),
        AccountEvent::AccountLocked {
            cause,
            closed_challenge,
            ..
        } => Step::new(Outcome::Locked)
            .reason(wire_name(cause))
            .challenge(closed_challenge.as_ref()),
        AccountEvent::LockExpired { .. } => Step::new(Outcome::LockExpired),
        AccountEvent::LockLifted { reason, .. } => {
            Step::new(Outcome::LockLifted).reason(Some(reason.clone()))
        }
        AccountEvent::SessionStarted { second_factor, .. } => {
            Step::new(Outcome::Authenticated).sent(second_factor.map(|c| c.as_str()), None)
        }
        AccountEvent::SessionEnded { .. } => Step::new(Outcome::LoggedOut),
        AccountEvent::UnrequestedCodeReported {
            code_id,
            closed_challenge,
            ..
        } => Step::new(Outcome::UnrequestedCodeReported)
            .challenge(closed_challenge.as_ref())
            .code(Some(code_id)),
        AccountEvent::SecurityAlertRaised(alert) => {
            Step::new(Outcome::AlertRaised).reason(wire_name(&alert.kind))
        }
        AccountEvent::ClientAddressSeen { .. } => Step::new(Outcome::NewClientAddress),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_unique_and_round_trip() {
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::from_code(outcome.code()), Some(outcome));
            assert_eq!(Outcome::named(outcome.names().1), Some(outcome));
        }
        assert_eq!(Outcome::from_code(0), None);
        assert_eq!(Outcome::named("no_such_outcome"), None);
    }
}
