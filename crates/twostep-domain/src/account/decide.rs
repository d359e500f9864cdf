//! The account decider: `decide(state, standing, command, now, key)`.
//! Time, random values and the code key come in as arguments; nothing here
//! reads a clock, draws a random number or touches I/O.

use uuid::Uuid;

use super::events::{AccountEvent, CodeRefusal, LockCause, MessagePurpose, PasswordRefusal};
use super::state::{Account, IssuedCode};
use crate::alert::{AlertKind, DELIVERY_FAILURES_ALERT_THRESHOLD, SecurityAlert};
use crate::contact::Channel;
use crate::licence::{CodeRoute, Standing};
use crate::secret::{CodeKey, Digest, OneTimeCode};
use crate::timestamp::Timestamp;

/// Lifetime of an access confirmation token.
pub const ACCESS_CONFIRMATION_TTL_SECONDS: u64 = 7 * 24 * 3_600;
/// Lifetime of a password reset token.
pub const PASSWORD_RESET_TTL_SECONDS: u64 = 3_600;
/// At most one password reminder is sent per this interval (per address:
/// a new e-mail address may get one at once).
pub const RESET_THROTTLE_SECONDS: u64 = 60;
/// Longest reason an operator may give when lifting a lock.
pub const MAX_REASON_CHARS: usize = 500;
/// Most digits a code can have; callers draw this many random digits.
pub const MAX_CODE_DIGITS: usize = 10;

/// A new single-use token drawn by the caller.
#[derive(Debug, Clone, Copy)]
pub struct NewToken {
    /// Its id.
    pub token_id: Uuid,
    /// SHA-256 of its secret.
    pub digest: Digest,
}

/// Random values drawn by the caller for a login step; the decider uses the
/// ones its decision needs.
#[derive(Debug, Clone)]
pub struct Fresh {
    /// Id of a challenge, should one open.
    pub challenge_id: Uuid,
    /// Id of a code, should one be issued.
    pub code_id: Uuid,
    /// Uniform random digits (0–9), at least [`MAX_CODE_DIGITS`] of them.
    pub code_digits: [u8; MAX_CODE_DIGITS],
    /// SHA-256 of the report token for the code's message.
    pub report_digest: Digest,
    /// A session, should one start.
    pub session: NewToken,
}

/// The outcome of verifying the password against a given hash, computed
/// outside (argon2id is slow and not the domain's business).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordCheck {
    /// The PHC string that was verified against (`None`: a dummy hash, the
    /// account has no password).
    pub against: Option<String>,
    /// Whether the password matched.
    pub matched: bool,
}

/// Commands on an account.
#[derive(Debug, Clone)]
pub enum AccountCommand {
    /// Issue the access confirmation token of a new user.
    IssueAccessConfirmation {
        /// The token.
        token: NewToken,
    },
    /// Password reminder: issue a reset token.
    RequestPasswordReset {
        /// The token.
        token: NewToken,
    },
    /// Set the password with a token.
    SetPassword {
        /// The token presented.
        token: NewToken,
        /// argon2id PHC string of the new password.
        password_hash: String,
    },
    /// The password step.
    SubmitPassword {
        /// The verification outcome.
        check: PasswordCheck,
        /// Random values.
        fresh: Fresh,
        /// Keyed digest of the client's address, if known.
        client: Option<Digest>,
    },
    /// The code step.
    VerifyCode {
        /// The challenge named by the client.
        challenge_id: Uuid,
        /// The code as typed.
        code: String,
        /// The session to start if the code is right.
        session: NewToken,
    },
    /// Record how sending a message went.
    RecordDelivery {
        /// What it carried.
        purpose: MessagePurpose,
        /// Code or token id.
        reference: Uuid,
        /// Channel.
        channel: Channel,
        /// Masked destination.
        destination: String,
        /// `Err` holds the delivery error, free of secrets.
        outcome: Result<(), String>,
    },
    /// Operator lifts the lock.
    LiftLock {
        /// Why (audited).
        reason: String,
    },
    /// The user reports a code they did not ask for.
    ReportUnrequestedCode {
        /// The code, from the report token.
        code_id: Uuid,
        /// SHA-256 of the report token's secret.
        digest: Digest,
    },
    /// Logout.
    EndSession {
        /// The session, from the token.
        session_id: Uuid,
        /// SHA-256 of the token's secret.
        digest: Digest,
    },
}

/// Why an account command produced no events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountRejection {
    /// The code is not exactly `code_length` ASCII digits: not a guess.
    #[error("the code must be exactly {0} digits")]
    MalformedCode(u32),
    /// The password was verified against a hash that is no longer current.
    #[error("the password changed while it was being verified")]
    StalePasswordCheck,
    /// The user has no destination on the licence's channel.
    #[error("the user has no destination for codes on this licence's channel")]
    NoCodeDestination,
    /// The token is unknown, used, expired or for a deactivated user.
    #[error("the token is invalid, used or expired")]
    InvalidToken,
    /// A reminder was sent less than a minute ago.
    #[error("a password reminder was sent less than a minute ago")]
    ResetThrottled,
    /// The user is deactivated.
    #[error("the user is deactivated")]
    UserInactive,
    /// The report token matches no code.
    #[error("the report token matches no code")]
    UnknownReport,
    /// No live session for this token.
    #[error("no live session for this token")]
    SessionNotFound,
    /// There is no lock to lift.
    #[error("the account is not locked")]
    NotLocked,
    /// The reason is empty or too long.
    #[error("a reason of 1 to {MAX_REASON_CHARS} characters is required")]
    InvalidReason,
}

/// The events decided so far and the state they lead to, so that each new
/// event knows its stream version.
struct Draft {
    state: Account,
    events: Vec<AccountEvent>,
}

impl Draft {
    /// Starts from `state`, recording first that a lapsed lock has ended.
    fn settled(state: &Account, now: Timestamp) -> Self {
        let mut draft = Self {
            state: state.clone(),
            events: Vec::new(),
        };
        if let Some(lock) = state.lock.as_ref().filter(|lock| lock.until <= now) {
            draft.push(AccountEvent::LockExpired {
                locked_until: lock.until,
            });
        }
        draft
    }

    fn push(&mut self, event: AccountEvent) {
        self.state = std::mem::take(&mut self.state).evolve(&event);
        self.events.push(event);
    }

    fn next_version(&self) -> u64 {
        self.state.version + 1
    }

    fn alert(&mut self, standing: &Standing, kind: AlertKind, caused_by: Vec<u64>) {
        let alert = SecurityAlert::new(
            standing.user_id.0,
            self.next_version(),
            kind,
            standing.user_id,
            caused_by,
        );
        self.push(AccountEvent::SecurityAlertRaised(alert));
    }

    fn lock(&mut self, standing: &Standing, cause: LockCause, now: Timestamp) {
        let lock_number = self.state.locks_since_success + 1;
        let locked_until = now.plus_seconds(standing.policy.lock_duration(lock_number));
        // The failures of this streak that made the lock (a lock during a
        // lock is made by the last `max` of them).
        let (versions, max) = match cause {
            LockCause::Codes => (
                &self.state.failed_code_versions,
                standing.policy.max_failed_codes,
            ),
            LockCause::Passwords => (
                &self.state.failed_password_versions,
                standing.policy.max_failed_passwords,
            ),
        };
        let first = versions.len().saturating_sub(max as usize);
        let mut caused_by = versions[first..].to_vec();
        let closed_challenge = self.state.open_challenge.as_ref().map(|c| c.challenge_id);
        let voided_code = self
            .state
            .latest_code()
            .filter(|c| !c.spent && !c.voided && c.expires_at > now)
            .map(|c| c.code_id);
        self.push(AccountEvent::AccountLocked {
            cause,
            lock_number,
            locked_at: now,
            locked_until,
            closed_challenge,
            voided_code,
        });
        caused_by.push(self.state.version);
        let kind = match cause {
            LockCause::Codes => AlertKind::AccountLockedByCodes,
            LockCause::Passwords => AlertKind::AccountLockedByPasswords,
        };
        self.alert(standing, kind, caused_by);
    }

    fn start_session(
        &mut self,
        session: NewToken,
        standing: &Standing,
        opened_by: Option<(Channel, Uuid)>,
        now: Timestamp,
    ) {
        self.push(AccountEvent::SessionStarted {
            session_id: session.token_id,
            token_digest: session.digest,
            started_at: now,
            expires_at: now.plus_seconds(standing.policy.session_ttl_seconds),
            second_factor: opened_by.map(|(channel, _)| channel),
            activation_epoch: standing.activation_epoch,
            code_id: opened_by.map(|(_, code)| code),
        });
    }

    fn finish(self) -> Result<Vec<AccountEvent>, AccountRejection> {
        Ok(self.events)
    }
}

/// Whether a code can still answer a challenge on `route` at `now`.
pub fn code_is_usable(code: &IssuedCode, route: &CodeRoute, now: Timestamp) -> bool {
    !code.spent
        && !code.voided
        && !code.delivery_failed
        && code.expires_at > now
        && code.channel == route.channel
        && code.route_epoch == route.epoch
}

impl Account {
    /// Decides a command against this state and the licence's standing of the user.
    pub fn decide(
        &self,
        standing: &Standing,
        command: &AccountCommand,
        now: Timestamp,
        key: &dyn CodeKey,
    ) -> Result<Vec<AccountEvent>, AccountRejection> {
        let mut draft = Draft::settled(self, now);
        match command {
            AccountCommand::IssueAccessConfirmation { token } => {
                draft.push(AccountEvent::AccessConfirmationIssued {
                    licence_id: standing.licence_id,
                    user_id: standing.user_id,
                    token_id: token.token_id,
                    token_digest: token.digest,
                    expires_at: now.plus_seconds(ACCESS_CONFIRMATION_TTL_SECONDS),
                    email_epoch: standing.email_epoch,
                });
            }
            AccountCommand::RequestPasswordReset { token } => {
                if !standing.active {
                    return Err(AccountRejection::UserInactive);
                }
                let throttled = draft
                    .state
                    .last_reset_requested_at
                    .filter(|_| draft.state.last_reset_email_epoch == standing.email_epoch)
                    .is_some_and(|at| at.plus_seconds(RESET_THROTTLE_SECONDS) > now);
                if throttled {
                    return Err(AccountRejection::ResetThrottled);
                }
                draft.push(AccountEvent::PasswordResetRequested {
                    token_id: token.token_id,
                    token_digest: token.digest,
                    requested_at: now,
                    expires_at: now.plus_seconds(PASSWORD_RESET_TTL_SECONDS),
                    email_epoch: standing.email_epoch,
                });
            }
            AccountCommand::SetPassword {
                token,
                password_hash,
            } => {
                let usable = draft
                    .state
                    .usable_token(token.token_id, &token.digest, now, standing.email_epoch)
                    .map(|t| t.purpose);
                let Some(via) = usable.filter(|_| standing.active) else {
                    return Err(AccountRejection::InvalidToken);
                };
                let closed_challenge = draft.state.open_challenge.as_ref().map(|c| c.challenge_id);
                let voided_code = draft
                    .state
                    .latest_code()
                    .filter(|c| !c.spent && !c.voided && c.expires_at > now)
                    .map(|c| c.code_id);
                let ended_sessions = draft
                    .state
                    .sessions
                    .iter()
                    .filter(|(_, s)| s.expires_at > now)
                    .map(|(id, _)| *id)
                    .collect();
                draft.push(AccountEvent::PasswordSet {
                    via,
                    token_id: token.token_id,
                    password_hash: password_hash.clone(),
                    closed_challenge,
                    voided_code,
                    ended_sessions,
                });
            }
            AccountCommand::SubmitPassword {
                check,
                fresh,
                client,
            } => submit_password(&mut draft, standing, check, fresh, *client, now, key)?,
            AccountCommand::VerifyCode {
                challenge_id,
                code,
                session,
            } => verify_code(
                &mut draft,
                standing,
                *challenge_id,
                code,
                *session,
                now,
                key,
            )?,
            AccountCommand::RecordDelivery {
                purpose,
                reference,
                channel,
                destination,
                outcome,
            } => match outcome {
                Ok(()) => draft.push(AccountEvent::MessageDelivered {
                    purpose: *purpose,
                    reference: *reference,
                    channel: *channel,
                    destination: destination.clone(),
                }),
                Err(error) => {
                    let is_code = *purpose == MessagePurpose::Code;
                    let failures = draft.state.code_delivery_failures + u32::from(is_code);
                    draft.push(AccountEvent::MessageDeliveryFailed {
                        purpose: *purpose,
                        reference: *reference,
                        channel: *channel,
                        destination: destination.clone(),
                        error: error.clone(),
                        code_failures_in_a_row: failures,
                    });
                    if is_code && failures.is_multiple_of(DELIVERY_FAILURES_ALERT_THRESHOLD) {
                        let caused_by = draft.state.code_delivery_failure_versions.clone();
                        draft.alert(standing, AlertKind::RepeatedDeliveryFailures, caused_by);
                    }
                }
            },
            AccountCommand::LiftLock { reason } => {
                let reason = reason.trim();
                if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
                    return Err(AccountRejection::InvalidReason);
                }
                let Some(lock) = draft.state.lock_at(now).cloned() else {
                    return Err(AccountRejection::NotLocked);
                };
                draft.push(AccountEvent::LockLifted {
                    reason: reason.to_owned(),
                    locked_until: lock.until,
                });
            }
            AccountCommand::ReportUnrequestedCode { code_id, digest } => {
                let Some(code) = draft
                    .state
                    .code(*code_id)
                    .filter(|c| c.report_digest == *digest)
                    .cloned()
                else {
                    return Err(AccountRejection::UnknownReport);
                };
                if code.reported {
                    return draft.finish();
                }
                let closed_challenge = draft.state.open_challenge.as_ref().map(|c| c.challenge_id);
                let ended_sessions = draft
                    .state
                    .sessions
                    .iter()
                    .filter(|(_, s)| s.code_id == Some(*code_id) && s.expires_at > now)
                    .map(|(id, _)| *id)
                    .collect();
                draft.push(AccountEvent::UnrequestedCodeReported {
                    code_id: *code_id,
                    closed_challenge,
                    ended_sessions,
                });
                let caused_by = vec![code.issued_version, draft.state.version];
                draft.alert(standing, AlertKind::UnrequestedCodeReported, caused_by);
            }
            AccountCommand::EndSession { session_id, digest } => {
                let live =
                    draft
                        .state
                        .live_session(*session_id, digest, now, standing.activation_epoch);
                if live.is_none() {
                    return Err(AccountRejection::SessionNotFound);
                }
                draft.push(AccountEvent::SessionEnded {
                    session_id: *session_id,
                });
            }
        }
        draft.finish()
    }
}

fn submit_password(
    draft: &mut Draft,
    standing: &Standing,
    check: &PasswordCheck,
    fresh: &Fresh,
    client: Option<Digest>,
    now: Timestamp,
    key: &dyn CodeKey,
) -> Result<(), AccountRejection> {
    if check.against != draft.state.password_hash {
        return Err(AccountRejection::StalePasswordCheck);
    }
    let in_a_row = draft.state.failed_passwords;
    if !standing.active {
        let rejected = AccountEvent::PasswordRejected {
            reason: PasswordRefusal::UserInactive,
            counted: false,
            failed_passwords_in_a_row: in_a_row,
        };
        draft.push(rejected);
        return Ok(());
    }
    if draft.state.password_hash.is_none() {
        let rejected = AccountEvent::PasswordRejected {
            reason: PasswordRefusal::NoPasswordSet,
            counted: false,
            failed_passwords_in_a_row: in_a_row,
        };
        draft.push(rejected);
        return Ok(());
    }
    let locked_until = draft.state.lock_at(now).map(|lock| lock.until);
    if !check.matched {
        // Wrong passwords count also while locked, and every
        // `max_failed_passwords` of them in a row lock (again, for twice as
        // long): a lock bounds password guessing, it does not just pause it.
        let failed_passwords_in_a_row = in_a_row + 1;
        draft.push(AccountEvent::PasswordRejected {
            reason: PasswordRefusal::WrongPassword,
            counted: true,
            failed_passwords_in_a_row,
        });
        if failed_passwords_in_a_row.is_multiple_of(standing.policy.max_failed_passwords) {
            draft.lock(standing, LockCause::Passwords, now);
        }
        return Ok(());
    }
    if let Some(locked_until) = locked_until {
        draft.push(AccountEvent::LoginRefusedWhileLocked { locked_until });
        return Ok(());
    }
    note_address(draft, standing, client);
    let Some(route) = &standing.route else {
        draft.start_session(fresh.session, standing, None, now);
        return Ok(());
    };
    if route.destination.is_none() {
        return Err(AccountRejection::NoCodeDestination);
    }
    let interval = standing.policy.resend_interval_seconds;
    let closed_challenge = draft.state.open_challenge.as_ref().map(|c| c.challenge_id);
    let usable = draft
        .state
        .latest_code()
        .filter(|c| code_is_usable(c, route, now))
        .cloned();
    match usable
        .as_ref()
        .filter(|c| c.issued_at.plus_seconds(interval) > now)
    {
        Some(kept) => draft.push(AccountEvent::ChallengeOpened {
            challenge_id: fresh.challenge_id,
            closed_challenge,
            code_id: kept.code_id,
            code_reused: true,
            resend_available_at: kept.issued_at.plus_seconds(interval),
        }),
        None => {
            let code_length = standing.policy.code_length;
            let code = OneTimeCode::from_digits(&fresh.code_digits, code_length as usize);
            draft.push(AccountEvent::ChallengeOpened {
                challenge_id: fresh.challenge_id,
                closed_challenge,
                code_id: fresh.code_id,
                code_reused: false,
                resend_available_at: now.plus_seconds(interval),
            });
            draft.push(AccountEvent::CodeIssued {
                code_id: fresh.code_id,
                challenge_id: fresh.challenge_id,
                code_digest: key.digest(standing.user_id, fresh.code_id, &code),
                code_length,
                channel: route.channel,
                destination: route.masked.clone(),
                route_epoch: route.epoch,
                issued_at: now,
                expires_at: now.plus_seconds(standing.policy.code_ttl_seconds),
                superseded: usable.map(|c| c.code_id),
                report_digest: fresh.report_digest,
            });
        }
    }
    Ok(())
}

/// Remembers a client address the right password came from; a new one
/// after a lock (and before the next successful login) raises an alert.
fn note_address(draft: &mut Draft, standing: &Standing, client: Option<Digest>) {
    let Some(address_digest) = client else {
        return;
    };
    if draft.state.seen_addresses.contains(&address_digest) {
        return;
    }
    draft.push(AccountEvent::ClientAddressSeen { address_digest });
    if let Some(lock) = draft.state.lock_since_login {
        let caused_by = vec![lock, draft.state.version];
        draft.alert(standing, AlertKind::NewAddressAfterLock, caused_by);
    }
}

fn verify_code(
    draft: &mut Draft,
    standing: &Standing,
    challenge_id: Uuid,
    raw_code: &str,
    session: NewToken,
    now: Timestamp,
    key: &dyn CodeKey,
) -> Result<(), AccountRejection> {
    let code_length = standing.policy.code_length;
    let Some(code) = OneTimeCode::submitted(raw_code, code_length as usize) else {
        return Err(AccountRejection::MalformedCode(code_length));
    };
    let challenge = draft
        .state
        .open_challenge
        .clone()
        .filter(|c| c.challenge_id == challenge_id);
    let answering = challenge.as_ref().map(|c| c.code_id);
    let uncounted = |reason| AccountEvent::CodeRejected {
        challenge_id,
        code_id: answering,
        reason,
        counted: false,
        failed_codes_in_a_row: draft.state.failed_codes,
    };
    // The lock comes first: the lock closed the challenge it found open, and
    // a code step during a lock is refused as such, whatever it names.
    let refusal = if draft.state.lock_at(now).is_some() {
        Some(CodeRefusal::AccountLocked)
    } else if challenge.is_none() {
        Some(CodeRefusal::ChallengeNotOpen)
    } else if !standing.active {
        Some(CodeRefusal::UserInactive)
    } else if standing.route.is_none() {
        Some(CodeRefusal::TwoFactorDisabled)
    } else {
        None
    };
    if let Some(reason) = refusal {
        let rejected = uncounted(reason);
        draft.push(rejected);
        return Ok(());
    }
    let (Some(challenge), Some(route)) = (challenge, standing.route.as_ref()) else {
        return Ok(());
    };
    match judge_code(
        &draft.state,
        standing,
        route,
        challenge.code_id,
        &code,
        now,
        key,
    ) {
        Ok(code_id) => {
            draft.push(AccountEvent::CodeAccepted {
                challenge_id,
                code_id,
            });
            draft.start_session(session, standing, Some((route.channel, code_id)), now);
        }
        Err(reason) => {
            let failed_codes_in_a_row = draft.state.failed_codes + 1;
            draft.push(AccountEvent::CodeRejected {
                challenge_id,
                code_id: Some(challenge.code_id),
                reason,
                counted: true,
                failed_codes_in_a_row,
            });
            if failed_codes_in_a_row == 1 {
                let caused_by = vec![draft.state.version];
                draft.alert(standing, AlertKind::WrongCodeAfterRightPassword, caused_by);
            }
            if failed_codes_in_a_row >= standing.policy.max_failed_codes {
                draft.lock(standing, LockCause::Codes, now);
            }
        }
    }
    Ok(())
}

/// Whether `code` answers a challenge whose code is `expected`: the id of the
/// accepted code, or why not. Every remembered code's digest is computed and
/// compared in constant time, so the time taken does not depend on which one
/// (if any) matches.
fn judge_code(
    state: &Account,
    standing: &Standing,
    route: &CodeRoute,
    expected: Uuid,
    code: &OneTimeCode,
    now: Timestamp,
    key: &dyn CodeKey,
) -> Result<Uuid, CodeRefusal> {
    let matches: Vec<bool> = state
        .codes
        .iter()
        .map(|c| key.digest(standing.user_id, c.code_id, code) == c.digest)
        .collect();
    let latest = state.latest_code().ok_or(CodeRefusal::NoCode)?;
    let matched_latest = matches.last().copied().unwrap_or(false);
    if !matched_latest || latest.code_id != expected {
        let matched_older = matches.iter().rev().skip(1).any(|m| *m);
        return Err(if matched_older || matched_latest {
            CodeRefusal::Superseded
        } else {
            CodeRefusal::WrongCode
        });
    }
    if latest.spent {
        Err(CodeRefusal::Spent)
    } else if latest.voided
        || latest.delivery_failed
        || latest.route_epoch != route.epoch
        || latest.channel != route.channel
    {
        Err(CodeRefusal::Voided)
    } else if latest.expires_at <= now {
        Err(CodeRefusal::Expired)
    } else {
        Ok(latest.code_id)
    }
}
