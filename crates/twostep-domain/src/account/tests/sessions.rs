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
            .live_session(
                session_id(1),
                &session(1).digest,
                at(11),
                standing_email().activation_epoch
            )
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
            .live_session(
                session_id(1),
                &session(1).digest,
                at(28_799),
                standing_email().activation_epoch
            )
            .is_some()
    );
    assert!(
        state
            .live_session(
                session_id(1),
                &session(1).digest,
                at(28_800),
                standing_email().activation_epoch
            )
            .is_none()
    );
    assert!(
        state
            .live_session(
                session_id(1),
                &session(2).digest,
                at(10),
                standing_email().activation_epoch
            )
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

/// The same standing after the user was deactivated and reactivated.
fn reactivated(standing: crate::licence::Standing) -> crate::licence::Standing {
    crate::licence::Standing {
        activation_epoch: standing.activation_epoch + 2,
        ..standing
    }
}

#[test]
fn a_session_does_not_survive_a_deactivation_even_after_reactivation() {
    let standing = reactivated(standing_without_2fa());
    let state = given(logged_in()).state();
    assert!(
        state
            .live_session(
                session_id(1),
                &session(1).digest,
                at(10),
                standing.activation_epoch
            )
            .is_none()
    );
    given(logged_in())
        .on(standing)
        .when(end_session(1, session(1).digest), at(10))
        .then_rejected(AccountRejection::SessionNotFound);
}

#[test]
fn setting_a_password_ends_every_live_session() {
    // Sessions 1 (live) and 2 (expired at t0 + 28 800) before a reset at t0 + 30 000.
    let history = [
        with_password(),
        vec![
            session_started(2, 0, None),
            session_started(1, 20_000, None),
            reset_requested(1, 29_990),
        ],
    ]
    .concat();
    let after = given(history)
        .on(standing_without_2fa())
        .when(set_password(reset_token(1)), at(30_000))
        .then(vec![AccountEvent::PasswordSet {
            via: crate::account::TokenPurpose::PasswordReset,
            token_id: reset_token(1).token_id,
            password_hash: NEW_PASSWORD_HASH.to_owned(),
            closed_challenge: None,
            voided_code: None,
            ended_sessions: vec![session_id(1)],
        }]);
    let epoch = standing_email().activation_epoch;
    assert!(
        after
            .state()
            .live_session(session_id(1), &session(1).digest, at(30_001), epoch)
            .is_none()
    );
}
