//! The given / when / then harness: a history of events and the licence's
//! standing of the user, a command at an instant, and the exact outcome.

use crate::account::{Account, AccountCommand, AccountEvent, AccountRejection};
use crate::licence::Standing;
use crate::timestamp::Timestamp;

use super::fixtures::{TestKey, standing_email};

/// An account stream so far, and what the licence says about its user.
pub(super) struct Given {
    standing: Standing,
    history: Vec<AccountEvent>,
}

/// Starts a scenario from past events (versions 1, 2, … in order), for a
/// user of an e-mail 2FA licence with the default policy unless `on` says otherwise.
pub(super) fn given(history: Vec<AccountEvent>) -> Given {
    Given {
        standing: standing_email(),
        history,
    }
}

impl Given {
    /// The licence's standing of the user from now on.
    pub(super) fn on(mut self, standing: Standing) -> Self {
        self.standing = standing;
        self
    }

    /// The folded state of the history.
    pub(super) fn state(&self) -> Account {
        self.history
            .iter()
            .fold(Account::default(), |state, event| state.evolve(event))
    }

    /// Decides `command` at `now`.
    pub(super) fn when(self, command: AccountCommand, now: Timestamp) -> When {
        let outcome = self.state().decide(&self.standing, &command, now, &TestKey);
        When {
            given: self,
            outcome,
        }
    }
}

/// A decided command, waiting for its expected outcome.
pub(super) struct When {
    given: Given,
    outcome: Result<Vec<AccountEvent>, AccountRejection>,
}

impl When {
    /// Asserts exactly these events, and continues the story with them appended.
    #[track_caller]
    pub(super) fn then(self, expected: Vec<AccountEvent>) -> Given {
        match &self.outcome {
            Ok(events) if *events == expected => {}
            Ok(events) => panic!(
                "{}",
                describe_difference(self.given.history.len(), events, &expected)
            ),
            Err(rejection) => {
                panic!("expected events {expected:#?}\nbut the command was rejected: {rejection:?}")
            }
        }
        let mut given = self.given;
        given.history.extend(expected);
        given
    }

    /// Asserts the command was rejected (no events), and continues the story unchanged.
    #[track_caller]
    pub(super) fn then_rejected(self, expected: AccountRejection) -> Given {
        assert_eq!(self.outcome, Err(expected), "expected a rejection");
        self.given
    }
}

fn describe_difference(
    before: usize,
    actual: &[AccountEvent],
    expected: &[AccountEvent],
) -> String {
    let first = actual
        .iter()
        .zip(expected)
        .position(|(a, e)| a != e)
        .unwrap_or(actual.len().min(expected.len()));
    format!(
        "events differ from position {first} (stream version {}):\n  actual:   {:#?}\n  expected: {:#?}",
        before + first + 1,
        &actual[first.min(actual.len())..],
        &expected[first.min(expected.len())..],
    )
}
