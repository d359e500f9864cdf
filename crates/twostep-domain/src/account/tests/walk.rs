//! A random walk through the login flow, played against the decider, and a
//! model of what SPEC §1 says the account should look like, kept from the
//! events rather than from the decider's own state.

use std::collections::{BTreeMap, HashSet};

use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::account::{Account, AccountCommand, AccountEvent, Fresh, MessagePurpose, PasswordCheck};
use crate::contact::Channel;
use crate::licence::Standing;
use crate::policy::LoginPolicy;
use crate::timestamp::Timestamp;

/// Short times and low thresholds so that random walks reach every rule.
pub(super) fn policy() -> LoginPolicy {
    LoginPolicy {
        code_ttl_seconds: 30,
        resend_interval_seconds: 10,
        max_failed_codes: 3,
        max_failed_passwords: 4,
        lock_seconds: 20,
        code_length: 6,
        session_ttl_seconds: 60,
    }
}

#[derive(Debug, Clone)]
pub(super) enum Step {
    RightPassword,
    WrongPassword,
    /// The latest code, on the latest challenge.
    LatestCode,
    /// An older code, on the latest challenge.
    OlderCode(usize),
    WrongCode,
    /// The latest code on an older challenge.
    LatestCodeOnOlderChallenge(usize),
    MalformedCode,
    Wait(u64),
    DeliveryFailed,
    DestinationChanged,
    ReportLatestCode,
    LiftLock,
    ToggleActive,
}

pub(super) fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::RightPassword),
        2 => Just(Step::WrongPassword),
        3 => Just(Step::LatestCode),
        1 => (0usize..4).prop_map(Step::OlderCode),
        3 => Just(Step::WrongCode),
        1 => (0usize..4).prop_map(Step::LatestCodeOnOlderChallenge),
        1 => Just(Step::MalformedCode),
        3 => (0u64..=25).prop_map(Step::Wait),
        1 => Just(Step::DeliveryFailed),
        1 => Just(Step::DestinationChanged),
        1 => Just(Step::ReportLatestCode),
        1 => Just(Step::LiftLock),
        1 => Just(Step::ToggleActive),
    ]
}

pub(super) fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(step(), 1..80)
}

/// Code `n` of a random walk: distinct for every `n` below a million
/// (7919 is invertible modulo 10⁶), leading zeros included.
pub(super) fn walk_code(n: u128) -> String {
    format!("{:06}", (n * 7_919 + 12_345) % 1_000_000)
}

pub(super) fn walk_fresh(n: u128) -> Fresh {
    let mut code_digits = [0u8; 10];
    for (digit, byte) in code_digits.iter_mut().zip(walk_code(n).bytes()) {
        *digit = byte - b'0';
    }
    Fresh {
        code_digits,
        ..fresh(n)
    }
}

/// A well-formed code no walk ever issues.
pub(super) fn never_issued() -> String {
    walk_code(999_999)
}

/// One decided command of a walk.
pub(super) struct Decided {
    pub(super) now: Timestamp,
    pub(super) events: Vec<AccountEvent>,
}

/// A random walk played against the decider.
pub(super) struct Walk {
    pub(super) standing: Standing,
    pub(super) state: Account,
    pub(super) now: Timestamp,
    pub(super) next: u128,
    /// Walk number of every code id drawn.
    pub(super) numbers: BTreeMap<Uuid, u128>,
    /// Challenges opened, oldest first.
    pub(super) challenges: Vec<Uuid>,
    pub(super) history: Vec<AccountEvent>,
    pub(super) model: Model,
}

/// What SPEC §1 says the account should look like, kept from the events.
#[derive(Default)]
pub(super) struct Model {
    /// (code id, expires at, route epoch), oldest first.
    codes: Vec<(Uuid, Timestamp, u64)>,
    spent: HashSet<Uuid>,
    voided: HashSet<Uuid>,
    open: Option<(Uuid, Uuid)>,
    locked_until: Option<Timestamp>,
}

impl Model {
    pub(super) fn apply(&mut self, event: &AccountEvent) -> Result<(), TestCaseError> {
        match event {
            AccountEvent::ChallengeOpened {
                challenge_id,
                closed_challenge,
                code_id,
                ..
            } => {
                prop_assert_eq!(
                    *closed_challenge,
                    self.open.map(|(challenge, _)| challenge),
                    "closes the open challenge"
                );
                self.open = Some((*challenge_id, *code_id));
            }
            AccountEvent::CodeIssued {
                code_id,
                expires_at,
                route_epoch,
                ..
            } => {
                self.codes.push((*code_id, *expires_at, *route_epoch));
            }
            AccountEvent::CodeAccepted {
                challenge_id,
                code_id,
            } => {
                self.spent.insert(*code_id);
                prop_assert_eq!(self.open, Some((*challenge_id, *code_id)));
                self.open = None;
            }
            AccountEvent::CodeRejected { challenge_id, .. }
                if self.open.map(|(challenge, _)| challenge) == Some(*challenge_id) =>
            {
                self.open = None;
            }
            AccountEvent::AccountLocked {
                locked_until,
                closed_challenge,
                ..
            } => {
                prop_assert_eq!(
                    *closed_challenge,
                    self.open.map(|(challenge, _)| challenge),
                    "a lock closes the open challenge"
                );
                self.open = None;
                self.locked_until = Some(*locked_until);
            }
            AccountEvent::LockExpired { .. } | AccountEvent::LockLifted { .. } => {
                self.locked_until = None
            }
            AccountEvent::MessageDeliveryFailed {
                purpose: MessagePurpose::Code,
                reference,
                ..
            } => {
                self.voided.insert(*reference);
            }
            AccountEvent::UnrequestedCodeReported {
                code_id,
                closed_challenge,
                ..
            } => {
                prop_assert_eq!(*closed_challenge, self.open.map(|(challenge, _)| challenge));
                self.voided.insert(*code_id);
                self.open = None;
            }
            AccountEvent::PasswordSet { .. } => prop_assert!(false, "the walk sets no password"),
            _ => {}
        }
        Ok(())
    }

    pub(super) fn locked_at(&self, now: Timestamp) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }

    /// The code that would authenticate at `now` on `route_epoch`, and its challenge.
    fn usable(&self, now: Timestamp, route_epoch: u64) -> Option<(Uuid, Uuid)> {
        let &(latest, expires_at, epoch) = self.codes.last()?;
        let (challenge, code) = self.open?;
        let usable = code == latest
            && expires_at > now
            && epoch == route_epoch
            && !self.spent.contains(&latest)
            && !self.voided.contains(&latest)
            && !self.locked_at(now);
        usable.then_some((challenge, latest))
    }
}

impl Walk {
    fn new() -> Self {
        let history = with_password();
        let state = history
            .iter()
            .fold(Account::default(), |state, event| state.evolve(event));
        Self {
            standing: under(standing_email(), policy()),
            state,
            now: t0(),
            next: 1,
            numbers: BTreeMap::new(),
            challenges: Vec::new(),
            history,
            model: Model::default(),
        }
    }

    fn epoch(&self) -> u64 {
        self.standing.route.as_ref().map_or(0, |route| route.epoch)
    }

    fn text_of(&self, code: Option<Uuid>) -> String {
        code.and_then(|id| self.numbers.get(&id))
            .map_or_else(never_issued, |n| walk_code(*n))
    }

    fn latest_challenge(&self) -> Uuid {
        self.challenges
            .last()
            .copied()
            .unwrap_or_else(|| challenge(0))
    }

    fn password(&mut self, matched: bool) -> AccountCommand {
        let n = self.next;
        self.next += 1;
        self.numbers.insert(code_id(n), n);
        let check = PasswordCheck {
            against: self.state.password_hash.clone(),
            matched,
        };
        AccountCommand::SubmitPassword {
            check,
            fresh: walk_fresh(n),
            client: None,
        }
    }

    fn code(&self, challenge_id: Uuid, code: String) -> AccountCommand {
        AccountCommand::VerifyCode {
            challenge_id,
            code,
            session: session(self.next),
        }
    }

    /// The command a step stands for, or `None` when it only changes the world.
    fn command(&mut self, step: &Step) -> Option<AccountCommand> {
        let latest = self.state.latest_code().map(|code| code.code_id);
        Some(match step {
            Step::RightPassword => self.password(true),
            Step::WrongPassword => self.password(false),
            Step::LatestCode => self.code(self.latest_challenge(), self.text_of(latest)),
            Step::OlderCode(back) => {
                let older = self
                    .state
                    .codes
                    .iter()
                    .rev()
                    .nth(1 + back)
                    .map(|code| code.code_id);
                self.code(self.latest_challenge(), self.text_of(older.or(latest)))
            }
            Step::WrongCode => self.code(self.latest_challenge(), never_issued()),
            Step::LatestCodeOnOlderChallenge(back) => {
                let older = self
                    .challenges
                    .iter()
                    .rev()
                    .nth(1 + back)
                    .copied()
                    .unwrap_or_else(|| challenge(0));
                self.code(older, self.text_of(latest))
            }
            Step::MalformedCode => self.code(self.latest_challenge(), "12a45b".to_owned()),
            Step::DeliveryFailed => AccountCommand::RecordDelivery {
                purpose: MessagePurpose::Code,
                reference: latest.unwrap_or_else(Uuid::nil),
                channel: Channel::Email,
                destination: "a***@example.com".to_owned(),
                outcome: Err("connection refused".to_owned()),
            },
            Step::ReportLatestCode => {
                let n = latest
                    .and_then(|id| self.numbers.get(&id))
                    .copied()
                    .unwrap_or(0);
                AccountCommand::ReportUnrequestedCode {
                    code_id: latest.unwrap_or_else(Uuid::nil),
                    digest: report_digest(n),
                }
            }
            Step::LiftLock => lift_lock("checked with the user"),
            Step::Wait(seconds) => {
                self.now = self.now.plus_seconds(*seconds);
                return None;
            }
            Step::DestinationChanged => {
                let epoch = self.epoch() + 1;
                self.standing = rerouted(self.standing.clone(), epoch);
                return None;
            }
            Step::ToggleActive => {
                self.standing.active = !self.standing.active;
                return None;
            }
        })
    }

    /// Plays one step, checking property 1 on the way.
    fn play(&mut self, step: &Step) -> Result<Option<Decided>, TestCaseError> {
        let Some(command) = self.command(step) else {
            return Ok(None);
        };
        let now = self.now;
        let Ok(events) = self.state.decide(&self.standing, &command, now, &TestKey) else {
            return Ok(None);
        };
        if let AccountCommand::VerifyCode {
            challenge_id, code, ..
        } = &command
        {
            let expected = self
                .model
                .usable(now, self.epoch())
                .filter(|(open, _)| open == challenge_id);
            let typed_right =
                expected.is_some_and(|(_, latest)| *code == self.text_of(Some(latest)));
            let accepted = events
                .iter()
                .any(|event| matches!(event, AccountEvent::CodeAccepted { .. }));
            prop_assert_eq!(
                accepted,
                typed_right && self.standing.active,
                "the usable code, typed on its challenge, is accepted"
            );
        }
        for event in &events {
            if let AccountEvent::CodeAccepted {
                challenge_id,
                code_id,
            } = event
            {
                let AccountCommand::VerifyCode {
                    challenge_id: named,
                    code,
                    ..
                } = &command
                else {
                    return Err(TestCaseError::fail("a code accepted outside a code step"));
                };
                prop_assert_eq!(challenge_id, named);
                prop_assert_eq!(
                    self.model.usable(now, self.epoch()),
                    Some((*challenge_id, *code_id)),
                    "latest, unexpired, unspent, on the open challenge"
                );
                prop_assert_eq!(code.trim(), self.text_of(Some(*code_id)));
                prop_assert!(self.standing.active);
            }
            self.model.apply(event)?;
            if let AccountEvent::ChallengeOpened { challenge_id, .. } = event {
                self.challenges.push(*challenge_id);
            }
            self.state = std::mem::take(&mut self.state).evolve(event);
            self.history.push(event.clone());
        }
        Ok(Some(Decided { now, events }))
    }
}

pub(super) fn run(steps: &[Step]) -> Result<(Walk, Vec<Decided>), TestCaseError> {
    let mut walk = Walk::new();
    let mut decided = Vec::new();
    for step in steps {
        decided.extend(walk.play(step)?);
    }
    Ok((walk, decided))
}

pub(super) fn fold(history: &[AccountEvent]) -> Account {
    history
        .iter()
        .fold(Account::default(), |state, event| state.evolve(event))
}
