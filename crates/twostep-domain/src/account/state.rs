//! The folded state of an account stream and the queries the application
//! asks of it (is this token valid, which session is this).

use std::collections::BTreeMap;

use uuid::Uuid;

use super::events::{AccountEvent, LockCause, MessagePurpose, TokenPurpose};
use crate::contact::Channel;
use crate::secret::Digest;
use crate::timestamp::Timestamp;

/// How many past codes are remembered (to tell "superseded" from "wrong" and
/// to honour late reports of unrequested codes).
pub const REMEMBERED_CODES: usize = 8;

/// A single-use password token that may still be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutstandingToken {
    /// Access confirmation or reset.
    pub purpose: TokenPurpose,
    /// SHA-256 of its secret.
    pub digest: Digest,
    /// Refused after this instant.
    pub expires_at: Timestamp,
    /// Licence version of the e-mail address it was sent to.
    pub email_epoch: u64,
}

/// A one-time code as the account remembers it (never the code itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCode {
    /// The code's id.
    pub code_id: Uuid,
    /// Its keyed digest.
    pub digest: Digest,
    /// Where it was sent.
    pub channel: Channel,
    /// Masked destination.
    pub destination: String,
    /// Route epoch it was sent under.
    pub route_epoch: u64,
    /// Stream version of its `CodeIssued` event.
    pub issued_version: u64,
    /// When it was issued.
    pub issued_at: Timestamp,
    /// When it expires.
    pub expires_at: Timestamp,
    /// Used by a successful code step.
    pub spent: bool,
    /// Voided (password set, reported, delivery failed).
    pub voided: bool,
    /// Its delivery failed.
    pub delivery_failed: bool,
    /// SHA-256 of its report token.
    pub report_digest: Digest,
    /// Already reported as unrequested.
    pub reported: bool,
}

/// The open challenge (code screen) of the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenChallenge {
    /// Its id.
    pub challenge_id: Uuid,
    /// The code that answers it.
    pub code_id: Uuid,
}

/// A lock in force (until `until`, whatever the clock says now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    /// Which failures caused it.
    pub cause: LockCause,
    /// When it ends.
    pub until: Timestamp,
}

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the token secret.
    pub digest: Digest,
    /// When it started.
    pub started_at: Timestamp,
    /// When it ends.
    pub expires_at: Timestamp,
    /// Licence version of the user's (re)activation it was started under.
    pub activation_epoch: u64,
    /// The code that opened it.
    pub code_id: Option<Uuid>,
}

/// Folded state of an account stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    /// Events folded so far (the stream version).
    pub version: u64,
    /// argon2id PHC string of the password, once set.
    pub password_hash: Option<String>,
    /// Unused password tokens, by token id.
    pub tokens: BTreeMap<Uuid, OutstandingToken>,
    /// When the last password reset was requested (reminders are throttled).
    pub last_reset_requested_at: Option<Timestamp>,
    /// The e-mail epoch that reminder was sent under.
    pub last_reset_email_epoch: u64,
    /// The open challenge, if any.
    pub open_challenge: Option<OpenChallenge>,
    /// Recent codes, latest last.
    pub codes: Vec<IssuedCode>,
    /// Wrong codes in a row.
    pub failed_codes: u32,
    /// Wrong passwords in a row.
    pub failed_passwords: u32,
    /// Versions of the counted wrong codes of the current streak.
    pub failed_code_versions: Vec<u64>,
    /// Versions of the counted wrong passwords of the current streak.
    pub failed_password_versions: Vec<u64>,
    /// The current (or last, not yet recorded as expired) lock.
    pub lock: Option<Lock>,
    /// Locks since the last successful login.
    pub locks_since_success: u32,
    /// Code deliveries failed in a row.
    pub code_delivery_failures: u32,
    /// Versions of those failed deliveries.
    pub code_delivery_failure_versions: Vec<u64>,
    /// Live (or expired but not yet pruned) sessions by id.
    pub sessions: BTreeMap<Uuid, Session>,
    /// Keyed digests of the client addresses the right password came from, oldest first.
    pub seen_addresses: Vec<Digest>,
    /// Stream version of the last lock, until the next successful login.
    pub lock_since_login: Option<u64>,
}

impl Account {
    /// The latest code, if any was ever issued.
    pub fn latest_code(&self) -> Option<&IssuedCode> {
        self.codes.last()
    }

    /// A remembered code by id.
    pub fn code(&self, code_id: Uuid) -> Option<&IssuedCode> {
        self.codes.iter().find(|c| c.code_id == code_id)
    }

    fn code_mut(&mut self, code_id: Uuid) -> Option<&mut IssuedCode> {
        self.codes.iter_mut().find(|c| c.code_id == code_id)
    }

    /// The lock in force at `now`, if any.
    pub fn lock_at(&self, now: Timestamp) -> Option<&Lock> {
        self.lock.as_ref().filter(|lock| lock.until > now)
    }

    /// A token that can still set a password at `now`.
    /// (Void once the user's e-mail address changed since it was sent:
    /// `email_epoch` is the standing's.)
    pub fn usable_token(
        &self,
        token_id: Uuid,
        digest: &Digest,
        now: Timestamp,
        email_epoch: u64,
    ) -> Option<&OutstandingToken> {
        self.tokens
            .get(&token_id)
            .filter(|t| t.digest == *digest && t.expires_at > now && t.email_epoch == email_epoch)
    }

    /// A session the presented token opens at `now`.
    /// (Void once the user was deactivated since it started:
    /// `activation_epoch` is the standing's.)
    pub fn live_session(
        &self,
        session_id: Uuid,
        digest: &Digest,
        now: Timestamp,
        activation_epoch: u64,
    ) -> Option<&Session> {
        self.sessions.get(&session_id).filter(|s| {
            s.digest == *digest && s.expires_at > now && s.activation_epoch == activation_epoch
        })
    }

    fn close_challenge(&mut self, closed: Option<Uuid>) {
        if closed.is_some() && self.open_challenge.as_ref().map(|c| c.challenge_id) == closed {
            self.open_challenge = None;
        }
    }

    fn void_code(&mut self, code_id: Option<Uuid>) {
        if let Some(code) = code_id.and_then(|id| self.code_mut(id)) {
            code.voided = true;
        }
    }

    fn reset_counters(&mut self) {
        self.failed_codes = 0;
        self.failed_passwords = 0;
        self.failed_code_versions.clear();
        self.failed_password_versions.clear();
    }

    /// Folds one event.
    pub fn evolve(mut self, event: &AccountEvent) -> Self {
        self.version += 1;
        let version = self.version;
        match event {
            AccountEvent::AccessConfirmationIssued {
                token_id,
                token_digest,
                expires_at,
                email_epoch,
                ..
            } => {
                let token = OutstandingToken {
                    purpose: TokenPurpose::AccessConfirmation,
                    digest: *token_digest,
                    expires_at: *expires_at,
                    email_epoch: *email_epoch,
                };
                self.tokens.insert(*token_id, token);
            }
            AccountEvent::PasswordResetRequested {
                token_id,
                token_digest,
                requested_at,
                expires_at,
                email_epoch,
            } => {
                self.tokens
                    .retain(|_, t| t.purpose != TokenPurpose::PasswordReset);
                let token = OutstandingToken {
                    purpose: TokenPurpose::PasswordReset,
                    digest: *token_digest,
                    expires_at: *expires_at,
                    email_epoch: *email_epoch,
                };
                self.tokens.insert(*token_id, token);
                self.last_reset_requested_at = Some(*requested_at);
                self.last_reset_email_epoch = *email_epoch;
            }
            AccountEvent::PasswordSet {
                password_hash,
                closed_challenge,
                voided_code,
                ended_sessions,
                ..
            } => {
                self.password_hash = Some(password_hash.clone());
                self.tokens.clear();
                self.close_challenge(*closed_challenge);
                self.void_code(*voided_code);
                for session in ended_sessions {
                    self.sessions.remove(session);
                }
            }
            AccountEvent::PasswordRejected {
                counted,
                failed_passwords_in_a_row,
                ..
            } => {
                if *counted {
                    self.failed_passwords = *failed_passwords_in_a_row;
                    self.failed_password_versions.push(version);
                }
            }
            AccountEvent::LoginRefusedWhileLocked { .. } => {
                self.failed_passwords = 0;
                self.failed_password_versions.clear();
            }
            AccountEvent::ChallengeOpened {
                challenge_id,
                code_id,
                ..
            } => {
                self.open_challenge = Some(OpenChallenge {
                    challenge_id: *challenge_id,
                    code_id: *code_id,
                });
                self.failed_passwords = 0;
                self.failed_password_versions.clear();
            }
            AccountEvent::CodeIssued {
                code_id,
                code_digest,
                channel,
                destination,
                route_epoch,
                issued_at,
                expires_at,
                report_digest,
                ..
            } => {
                self.codes.push(IssuedCode {
                    code_id: *code_id,
                    digest: *code_digest,
                    channel: *channel,
                    destination: destination.clone(),
                    route_epoch: *route_epoch,
                    issued_version: version,
                    issued_at: *issued_at,
                    expires_at: *expires_at,
                    spent: false,
                    voided: false,
                    delivery_failed: false,
                    report_digest: *report_digest,
                    reported: false,
                });
                if self.codes.len() > REMEMBERED_CODES {
                    self.codes.remove(0);
                }
            }
            AccountEvent::MessageDelivered { purpose, .. } => {
                if *purpose == MessagePurpose::Code {
                    self.code_delivery_failures = 0;
                    self.code_delivery_failure_versions.clear();
                }
            }
            AccountEvent::MessageDeliveryFailed {
                purpose,
                reference,
                code_failures_in_a_row,
                ..
            } => {
                if *purpose == MessagePurpose::Code {
                    if let Some(code) = self.code_mut(*reference) {
                        code.delivery_failed = true;
                        code.voided = true;
                    }
                    self.code_delivery_failures = *code_failures_in_a_row;
                    self.code_delivery_failure_versions.push(version);
                }
            }
            AccountEvent::CodeAccepted {
                challenge_id,
                code_id,
            } => {
                if let Some(code) = self.code_mut(*code_id) {
                    code.spent = true;
                }
                self.close_challenge(Some(*challenge_id));
                self.reset_counters();
            }
            AccountEvent::CodeRejected {
                challenge_id,
                counted,
                failed_codes_in_a_row,
                ..
            } => {
                self.close_challenge(Some(*challenge_id));
                if *counted {
                    self.failed_codes = *failed_codes_in_a_row;
                    self.failed_code_versions.push(version);
                }
            }
            AccountEvent::AccountLocked {
                cause,
                lock_number,
                locked_until,
                closed_challenge,
                voided_code,
                ..
            } => {
                self.lock = Some(Lock {
                    cause: *cause,
                    until: *locked_until,
                });
                self.locks_since_success = *lock_number;
                self.lock_since_login = Some(version);
                self.close_challenge(*closed_challenge);
                self.void_code(*voided_code);
            }
            AccountEvent::LockExpired { .. } | AccountEvent::LockLifted { .. } => {
                self.lock = None;
                self.reset_counters();
            }
            AccountEvent::SessionStarted {
                session_id,
                token_digest,
                started_at,
                expires_at,
                activation_epoch,
                code_id,
                ..
            } => {
                self.sessions.retain(|_, s| s.expires_at > *started_at);
                let session = Session {
                    digest: *token_digest,
                    started_at: *started_at,
                    expires_at: *expires_at,
                    activation_epoch: *activation_epoch,
                    code_id: *code_id,
                };
                self.sessions.insert(*session_id, session);
                self.reset_counters();
                self.locks_since_success = 0;
                self.lock_since_login = None;
            }
            AccountEvent::SessionEnded { session_id } => {
                self.sessions.remove(session_id);
            }
            AccountEvent::UnrequestedCodeReported {
                code_id,
                closed_challenge,
                ended_sessions,
            } => {
                if let Some(code) = self.code_mut(*code_id) {
                    code.reported = true;
                    code.voided = true;
                }
                self.close_challenge(*closed_challenge);
                for session in ended_sessions {
                    self.sessions.remove(session);
                }
            }
            AccountEvent::SecurityAlertRaised(_) => {}
            AccountEvent::ClientAddressSeen { address_digest } => {
                self.seen_addresses.push(*address_digest);
                if self.seen_addresses.len() > crate::alert::REMEMBERED_ADDRESSES {
                    self.seen_addresses.remove(0);
                }
            }
        }
        self
    }
}
