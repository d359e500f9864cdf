//! What-if replay: re-runs one account's recorded history through the real
//! account decider under another login policy, and lists every step whose
//! decision would have differed.
//!
//! The model. Events carry outcomes, never secrets, so the recorded outcome
//! of each attempt is the oracle: a wrong password stays wrong, a code that
//! was accepted (or rejected only as expired, spent or voided) was the code
//! the user received for that challenge, any other rejected code was wrong.
//! Everything the policy governs is decided again: counters, locks and their
//! length, code expiry, whether a password step sends a new code or keeps
//! the latest one, and whether a step is refused because of a lock.
//! Facts outside the policy (passwords set, deliveries, reports, operator
//! lifts, logouts) are replayed as they happened.
//!
//! Limits: a code step the service refused without comparing the code
//! (account locked, challenge not open) has no known outcome; if the other
//! policy would have compared it, it is replayed as a wrong code. A step the
//! user would never have taken (a code step on a challenge the other policy
//! never opened) is still replayed, and refused. The user's standing
//! (active, 2FA channel and destination) is taken from the record.

use uuid::Uuid;

use crate::account::{
    Account, AccountCommand, AccountEvent, CodeRefusal, Fresh, LockCause, MAX_CODE_DIGITS,
    NewToken, PasswordCheck, PasswordRefusal,
};
use crate::contact::Channel;
use crate::identity::UserId;
use crate::licence::{CodeRoute, Standing};
use crate::policy::{LoginPolicy, PolicyError, PolicyPatch};
use crate::secret::{CodeKey, Digest, OneTimeCode};
use crate::timestamp::Timestamp;

/// One recorded event of an account stream, with its version and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedStep {
    /// Version in the account stream.
    pub version: u64,
    /// When it was recorded.
    pub at: Timestamp,
    /// The event.
    pub event: AccountEvent,
}

/// A step whose decision would have differed under the other policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// When the step happened.
    pub at: Timestamp,
    /// Stream version of the step's first recorded event.
    pub version: u64,
    /// `password step`, `code step` or `lock lift`.
    pub step: &'static str,
    /// What the other policy would have decided.
    pub would_have: Vec<String>,
    /// What was decided.
    pub actual: Vec<String>,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} (v{}): would have: {}; actual: {}",
            self.at.rfc3339(),
            self.step,
            self.version,
            self.would_have.join(", "),
            self.actual.join(", ")
        )
    }
}

/// The policy fields `--policy` accepts.
pub const POLICY_KEYS: &[&str] = &[
    "code_ttl_seconds",
    "resend_interval_seconds",
    "max_failed_codes",
    "max_failed_passwords",
    "lock_seconds",
    "code_length",
    "session_ttl_seconds",
];

/// Why a policy override list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverrideError {
    /// Not `key=value`.
    #[error("`{0}` is not key=value (valid keys: {keys})", keys = POLICY_KEYS.join(", "))]
    Shape(String),
    /// Not a policy field.
    #[error("unknown policy key `{0}` (valid keys: {keys})", keys = POLICY_KEYS.join(", "))]
    UnknownKey(String),
    /// Not a whole number.
    #[error("{0} must be a whole number of {1}")]
    NotANumber(String, &'static str),
    /// Out of bounds.
    #[error(transparent)]
    Bounds(#[from] PolicyError),
}

/// Parses `key=value,key=value` into a patch (values are checked against
/// the policy bounds when the patch is applied).
pub fn parse_overrides(text: &str) -> Result<PolicyPatch, OverrideError> {
    let mut patch = PolicyPatch::default();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((key, value)) = item.split_once('=') else {
            return Err(OverrideError::Shape(item.to_owned()));
        };
        let (key, value) = (key.trim(), value.trim());
        let unit = if key.ends_with("_seconds") {
            "seconds"
        } else {
            "units"
        };
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| OverrideError::NotANumber(key.to_owned(), unit))
        };
        let small = || {
            value
                .parse::<u32>()
                .map_err(|_| OverrideError::NotANumber(key.to_owned(), unit))
        };
        match key {
            "code_ttl_seconds" => patch.code_ttl_seconds = Some(number()?),
            "resend_interval_seconds" => patch.resend_interval_seconds = Some(number()?),
            "max_failed_codes" => patch.max_failed_codes = Some(small()?),
            "max_failed_passwords" => patch.max_failed_passwords = Some(small()?),
            "lock_seconds" => patch.lock_seconds = Some(number()?),
            "code_length" => patch.code_length = Some(small()?),
            "session_ttl_seconds" => patch.session_ttl_seconds = Some(number()?),
            other => return Err(OverrideError::UnknownKey(other.to_owned())),
        }
    }
    Ok(patch)
}

/// Replays `history` (the whole account stream, in order) for `user` under
/// `policy`; returns the steps whose decision would have differed.
pub fn what_if(user: UserId, history: &[RecordedStep], policy: LoginPolicy) -> Vec<Difference> {
    let mut replay = Replay::new(user, policy);
    // A refused step before the first code still needs the route the
    // licence used: the first code issued names it.
    replay.route = history.iter().find_map(|step| match &step.event {
        AccountEvent::CodeIssued {
            channel,
            destination,
            route_epoch,
            ..
        } => Some((*channel, destination.clone(), *route_epoch)),
        _ => None,
    });
    let mut differences = Vec::new();
    for step in group(history) {
        if let Some(difference) = replay.step(&step) {
            differences.push(difference);
        }
    }
    differences
}

/// The digest a replayed code is stored as: the code id and the digits, so
/// the all-zero code answers every replayed code and the all-one code none.
struct ReplayKey;

impl CodeKey for ReplayKey {
    fn digest(&self, _user: UserId, code_id: Uuid, code: &OneTimeCode) -> Digest {
        let mut bytes = [0u8; 32];
        bytes[..16].copy_from_slice(code_id.as_bytes());
        for (slot, digit) in bytes[16..].iter_mut().zip(code.as_str().bytes()) {
            *slot = digit;
        }
        Digest(bytes)
    }
}

const REPORT_DIGEST: Digest = Digest([7; 32]);

/// A command's recorded events: the first names the step.
struct Group<'a> {
    lead: &'a RecordedStep,
    events: Vec<&'a RecordedStep>,
}

/// Events that only follow from the event before them in the same decision.
fn is_consequence(event: &AccountEvent, previous: Option<&AccountEvent>) -> bool {
    match event {
        AccountEvent::AccountLocked { .. }
        | AccountEvent::SecurityAlertRaised(_)
        | AccountEvent::CodeIssued { .. } => true,
        AccountEvent::SessionStarted { .. } => {
            matches!(previous, Some(AccountEvent::CodeAccepted { .. }))
        }
        _ => false,
    }
}

fn group(history: &[RecordedStep]) -> Vec<Group<'_>> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    let mut previous: Option<&AccountEvent> = None;
    for step in history {
        // A lapsed lock is recorded by the next command; the replay settles
        // its own locks.
        if matches!(step.event, AccountEvent::LockExpired { .. }) {
            continue;
        }
        match groups.last_mut() {
            Some(last) if is_consequence(&step.event, previous) => last.events.push(step),
            _ => groups.push(Group {
                lead: step,
                events: vec![step],
            }),
        }
        previous = Some(&step.event);
    }
    groups
}

struct Replay {
    user: UserId,
    policy: LoginPolicy,
    state: Account,
    route: Option<(Channel, String, u64)>,
}

impl Replay {
    fn new(user: UserId, policy: LoginPolicy) -> Self {
        Self {
            user,
            policy,
            state: Account::default(),
            route: None,
        }
    }

    fn standing(&self, two_factor: bool) -> Standing {
        let route = self
            .route
            .clone()
            .filter(|_| two_factor)
            .map(|(channel, masked, epoch)| CodeRoute {
                channel,
                destination: Some(masked.clone()),
                masked,
                epoch,
            });
        Standing {
            licence_id: crate::identity::LicenceId(Uuid::nil()),
            user_id: self.user,
            active: true,
            policy: self.policy,
            route,
            email_epoch: 0,
            activation_epoch: 0,
        }
    }

    fn fresh(&self, group: &Group<'_>) -> Fresh {
        let derived = |what: &str| {
            Uuid::new_v5(
                &self.user.0,
                format!("what-if-{what}-{}", group.lead.version).as_bytes(),
            )
        };
        let mut fresh = Fresh {
            challenge_id: derived("challenge"),
            code_id: derived("code"),
            code_digits: [0; MAX_CODE_DIGITS],
            report_digest: REPORT_DIGEST,
            session: NewToken {
                token_id: derived("session"),
                digest: Digest([0; 32]),
            },
        };
        for step in &group.events {
            match &step.event {
                AccountEvent::ChallengeOpened { challenge_id, .. } => {
                    fresh.challenge_id = *challenge_id
                }
                AccountEvent::CodeIssued { code_id, .. } => fresh.code_id = *code_id,
                AccountEvent::SessionStarted { session_id, .. } => {
                    fresh.session.token_id = *session_id
                }
                _ => {}
            }
        }
        fresh
    }

    fn decide(
        &mut self,
        command: &AccountCommand,
        two_factor: bool,
        now: Timestamp,
    ) -> Vec<AccountEvent> {
        let standing = self.standing(two_factor);
        let events = self
            .state
            .decide(&standing, command, now, &ReplayKey)
            .unwrap_or_default();
        for event in &events {
            self.state = std::mem::take(&mut self.state).evolve(event);
        }
        events
    }

    fn apply(&mut self, event: AccountEvent) {
        self.state = std::mem::take(&mut self.state).evolve(&event);
    }

    /// Replays one recorded decision; a difference if the outcome differs.
    fn step(&mut self, group: &Group<'_>) -> Option<Difference> {
        let now = group.lead.at;
        for step in &group.events {
            if let AccountEvent::CodeIssued {
                channel,
                destination,
                route_epoch,
                ..
            } = &step.event
            {
                self.route = Some((*channel, destination.clone(), *route_epoch));
            }
        }
        let recorded: Vec<AccountEvent> = group.events.iter().map(|s| s.event.clone()).collect();
        let (step, replayed) = match &group.lead.event {
            AccountEvent::PasswordRejected {
                reason: PasswordRefusal::WrongPassword,
                ..
            } => ("password step", self.password(group, false, true)),
            AccountEvent::LoginRefusedWhileLocked { .. } | AccountEvent::ChallengeOpened { .. } => {
                ("password step", self.password(group, true, true))
            }
            AccountEvent::SessionStarted { .. } => {
                ("password step", self.password(group, true, false))
            }
            AccountEvent::CodeAccepted { challenge_id, .. } => {
                ("code step", self.code(group, *challenge_id, true))
            }
            AccountEvent::CodeRejected {
                challenge_id,
                reason,
                counted,
                ..
            } => {
                let matched_latest = *counted
                    && matches!(
                        reason,
                        CodeRefusal::Expired | CodeRefusal::Spent | CodeRefusal::Voided
                    );
                ("code step", self.code(group, *challenge_id, matched_latest))
            }
            AccountEvent::LockLifted { reason, .. } => {
                let command = AccountCommand::LiftLock {
                    reason: reason.clone(),
                };
                ("lock lift", self.decide(&command, true, now))
            }
            AccountEvent::UnrequestedCodeReported { code_id, .. } => {
                if self.state.code(*code_id).is_some() {
                    let command = AccountCommand::ReportUnrequestedCode {
                        code_id: *code_id,
                        digest: REPORT_DIGEST,
                    };
                    self.decide(&command, true, now);
                }
                return None;
            }
            AccountEvent::PasswordSet {
                via,
                token_id,
                password_hash,
                ..
            } => {
                let closed_challenge = self.state.open_challenge.as_ref().map(|c| c.challenge_id);
                let voided_code = self
                    .state
                    .latest_code()
                    .filter(|c| !c.spent && !c.voided && c.expires_at > now)
                    .map(|c| c.code_id);
                self.apply(AccountEvent::PasswordSet {
                    via: *via,
                    token_id: *token_id,
                    password_hash: password_hash.clone(),
                    closed_challenge,
                    voided_code,
                    ended_sessions: Vec::new(),
                });
                return None;
            }
            _ => {
                for step in &group.events {
                    self.apply(step.event.clone());
                }
                return None;
            }
        };
        let actual = outcome(&recorded);
        let would_have = outcome(&replayed);
        (actual != would_have).then_some(Difference {
            at: now,
            version: group.lead.version,
            step,
            would_have,
            actual,
        })
    }

    fn password(
        &mut self,
        group: &Group<'_>,
        matched: bool,
        two_factor: bool,
    ) -> Vec<AccountEvent> {
        let command = AccountCommand::SubmitPassword {
            check: PasswordCheck {
                against: self.state.password_hash.clone(),
                matched,
            },
            fresh: self.fresh(group),
            client: None,
        };
        self.decide(&command, two_factor, group.lead.at)
    }

    fn code(&mut self, group: &Group<'_>, challenge_id: Uuid, right: bool) -> Vec<AccountEvent> {
        let digit = if right { "0" } else { "1" };
        let command = AccountCommand::VerifyCode {
            challenge_id,
            code: digit.repeat(self.policy.code_length as usize),
            session: self.fresh(group).session,
        };
        self.decide(&command, true, group.lead.at)
    }
}

/// The decision a list of events records, in words, without ids or counts
/// (so two policies are compared on what they decided, not on bookkeeping).
pub fn outcome(events: &[AccountEvent]) -> Vec<String> {
    let mut words = Vec::new();
    for event in events {
        let said = match event {
            AccountEvent::PasswordRejected { reason, .. } => match reason {
                PasswordRefusal::WrongPassword => "password rejected".to_owned(),
                PasswordRefusal::NoPasswordSet => "password rejected: none set".to_owned(),
                PasswordRefusal::UserInactive => "password rejected: user inactive".to_owned(),
            },
            AccountEvent::LoginRefusedWhileLocked { locked_until } => format!(
                "password step refused (locked until {})",
                locked_until.rfc3339()
            ),
            AccountEvent::ChallengeOpened { code_reused, .. } => {
                if *code_reused {
                    "code kept (none sent)".to_owned()
                } else {
                    "code sent".to_owned()
                }
            }
            AccountEvent::SessionStarted { .. } => "session started".to_owned(),
            AccountEvent::CodeAccepted { .. } => "code accepted".to_owned(),
            AccountEvent::CodeRejected {
                reason, counted, ..
            } => match (reason, counted) {
                (CodeRefusal::Expired, true) => "code rejected: expired".to_owned(),
                (_, true) => "code rejected: wrong code".to_owned(),
                (CodeRefusal::AccountLocked, false) => "code step refused (locked)".to_owned(),
                (CodeRefusal::ChallengeNotOpen, false) => {
                    "code step refused (challenge not open)".to_owned()
                }
                (other, false) => format!("code step refused ({other:?})"),
            },
            AccountEvent::AccountLocked {
                cause,
                locked_until,
                ..
            } => format!(
                "locked until {} ({})",
                locked_until.rfc3339(),
                match cause {
                    LockCause::Codes => "wrong codes",
                    LockCause::Passwords => "wrong passwords",
                }
            ),
            AccountEvent::LockLifted { .. } => "lock lifted".to_owned(),
            _ => continue,
        };
        words.push(said);
    }
    if words.is_empty() {
        words.push("nothing (not locked)".to_owned());
    }
    words
}

#[cfg(test)]
mod tests;
