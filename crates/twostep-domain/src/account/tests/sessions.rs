//! Sessions: reading who a token belongs to, and logging out.

use super::*;
use crate::account::{AccountCommand, AccountEvent, AccountRejection};
use crate::secret::Digest;

fn end_session(n: u128, digest: Digest) -> AccountCommand {
    AccountCommand::EndSession {
        session_id: session_id(n),
        digest,
    }
}

/// Session 1 started at t0 without 2FA, valid until t0 + 28 800 s.
fn logged_in() -> Vec<AccountEvent> {
    [with_password(), vec![session_started(1, 0, None)]].concat()
}

#[test]
fn logging_out_with_the_right_token_ends_the_session() {
    let ended = given(logged_in())
        .on(standing_without_2fa())
        .when(end_session(1, session(1).digest), at(10))
        .then(vec![AccountEvent::SessionEnded {
            session_id: session_id(1),
        }]);
    assert!(
        ended
            .state()
            .live_session(session_id(1), &session(1).digest, at(11))
            .is_none()
    );
    ended
        .when(end_session(1, session(1).digest), at(20))
        .then_rejected(AccountRejection::SessionNotFound);
}

#[test]
fn a_wrong_expired_or_unknown_token_finds_no_session() {
    given(logged_in())
        .when(end_session(1, session(2).digest), at(10))
        .then_rejected(AccountRejection::SessionNotFound);
    given(logged_in())
        .when(end_session(1, session(1).digest), at(28_800))
        .then_rejected(AccountRejection::SessionNotFound);
    given(logged_in())
        .when(end_session(2, session(2).digest), at(10))
        .then_rejected(AccountRejection::SessionNotFound);
}

#[test]
fn a_session_is_live_until_it_expires() {
    let state = given(logged_in()).state();
    assert!(
        state
            .live_session(session_id(1), &session(1).digest, at(28_799))
            .is_some()
    );
    assert!(
        state
            .live_session(session_id(1), &session(1).digest, at(28_800))
            .is_none()
    );
    assert!(
        state
            .live_session(session_id(1), &session(2).digest, at(10))
            .is_none()
    );
}

#[test]
fn starting_a_session_forgets_expired_ones() {
    let state = given(logged_in())
        .on(standing_without_2fa())
        .when(password_step(right_password(), 2), at(28_800))
        .then(vec![session_started(2, 28_800, None)])
        .state();
    assert_eq!(
        state.sessions.keys().copied().collect::<Vec<_>>(),
        vec![session_id(2)]
    );
}
