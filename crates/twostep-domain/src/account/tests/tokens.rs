//! Access confirmation, password reminders and setting a password.

use super::*;
use crate::account::{
    ACCESS_CONFIRMATION_TTL_SECONDS, AccountCommand, AccountEvent, AccountRejection, CodeRefusal,
    LockCause, PASSWORD_RESET_TTL_SECONDS, RESET_THROTTLE_SECONDS, TokenPurpose,
};

fn password_set(
    via: TokenPurpose,
    token: crate::account::NewToken,
    closed: Option<u128>,
    voided: Option<u128>,
) -> AccountEvent {
    AccountEvent::PasswordSet {
        via,
        token_id: token.token_id,
        password_hash: NEW_PASSWORD_HASH.to_owned(),
        closed_challenge: closed.map(challenge),
        voided_code: voided.map(code_id),
        ended_sessions: vec![],
    }
}

#[test]
fn a_new_user_is_issued_an_access_confirmation_token() {
    given(vec![])
        .when(
            AccountCommand::IssueAccessConfirmation {
                token: access_token(),
            },
            at(0),
        )
        .then(vec![AccountEvent::AccessConfirmationIssued {
            licence_id: licence_id(),
            user_id: user(),
            token_id: access_token().token_id,
            token_digest: access_token().digest,
            expires_at: at(ACCESS_CONFIRMATION_TTL_SECONDS),
            email_epoch: standing_email().email_epoch,
        }]);
}

#[test]
fn the_access_token_sets_the_first_password() {
    let state = given(vec![access_confirmation_issued()])
        .when(set_password(access_token()), at(10))
        .then(vec![password_set(
            TokenPurpose::AccessConfirmation,
            access_token(),
            None,
            None,
        )])
        .state();
    assert_eq!(state.password_hash.as_deref(), Some(NEW_PASSWORD_HASH));
    assert!(state.tokens.is_empty(), "the token is spent");
}

#[test]
fn a_token_with_the_wrong_secret_is_invalid() {
    given(vec![access_confirmation_issued()])
        .when(set_password(forged(access_token())), at(10))
        .then_rejected(AccountRejection::InvalidToken);
}

#[test]
fn an_expired_token_is_invalid() {
    given(vec![access_confirmation_issued()])
        .when(
            set_password(access_token()),
            at(ACCESS_CONFIRMATION_TTL_SECONDS),
        )
        .then_rejected(AccountRejection::InvalidToken);
    given(vec![access_confirmation_issued()])
        .when(
            set_password(access_token()),
            at(ACCESS_CONFIRMATION_TTL_SECONDS - 1),
        )
        .then(vec![password_set(
            TokenPurpose::AccessConfirmation,
            access_token(),
            None,
            None,
        )]);
}

#[test]
fn a_token_is_used_only_once() {
    given(vec![access_confirmation_issued()])
        .when(set_password(access_token()), at(10))
        .then(vec![password_set(
            TokenPurpose::AccessConfirmation,
            access_token(),
            None,
            None,
        )])
        .when(set_password(access_token()), at(20))
        .then_rejected(AccountRejection::InvalidToken);
}

#[test]
fn a_deactivated_user_cannot_set_a_password() {
    given(vec![access_confirmation_issued()])
        .on(inactive(standing_email()))
        .when(set_password(access_token()), at(10))
        .then_rejected(AccountRejection::InvalidToken);
}

#[test]
fn an_unknown_token_is_invalid() {
    given(with_password())
        .when(set_password(reset_token(9)), at(10))
        .then_rejected(AccountRejection::InvalidToken);
}

#[test]
fn the_reminder_issues_a_reset_token() {
    given(with_password())
        .when(request_reset(1), at(30))
        .then(vec![reset_requested(1, 30)]);
}

#[test]
fn the_reminder_is_sent_at_most_once_a_minute() {
    let after_first = given(with_password())
        .when(request_reset(1), at(0))
        .then(vec![reset_requested(1, 0)]);
    let after_first = after_first
        .when(request_reset(2), at(RESET_THROTTLE_SECONDS - 1))
        .then_rejected(AccountRejection::ResetThrottled);
    after_first
        .when(request_reset(2), at(RESET_THROTTLE_SECONDS))
        .then(vec![reset_requested(2, RESET_THROTTLE_SECONDS)]);
}

#[test]
fn the_reminder_is_refused_for_a_deactivated_user() {
    given(with_password())
        .on(inactive(standing_email()))
        .when(request_reset(1), at(0))
        .then_rejected(AccountRejection::UserInactive);
}

#[test]
fn a_newer_reset_token_voids_the_older_one() {
    let two_requests = || {
        given(
            [
                with_password(),
                vec![reset_requested(1, 0), reset_requested(2, 60)],
            ]
            .concat(),
        )
    };
    two_requests()
        .when(set_password(reset_token(1)), at(70))
        .then_rejected(AccountRejection::InvalidToken);
    two_requests()
        .when(set_password(reset_token(2)), at(70))
        .then(vec![password_set(
            TokenPurpose::PasswordReset,
            reset_token(2),
            None,
            None,
        )]);
}

#[test]
fn a_reset_token_expires_after_an_hour() {
    given([with_password(), vec![reset_requested(1, 0)]].concat())
        .when(set_password(reset_token(1)), at(PASSWORD_RESET_TTL_SECONDS))
        .then_rejected(AccountRejection::InvalidToken);
}

#[test]
fn setting_a_password_closes_the_open_challenge_and_voids_the_latest_code() {
    // Versions: 1–2 password, 3 reset requested, 4–5 code 1 sent.
    let history = [
        with_password(),
        vec![reset_requested(1, 0)],
        code_sent(1, 5),
    ]
    .concat();
    given(history)
        .when(set_password(reset_token(1)), at(10))
        .then(vec![password_set(
            TokenPurpose::PasswordReset,
            reset_token(1),
            Some(1),
            Some(1),
        )])
        // The challenge it closed is no longer open…
        .when(code_step(1, &code_text(1)), at(20))
        .then(vec![code_rejected(
            1,
            None,
            CodeRefusal::ChallengeNotOpen,
            false,
            0,
        )])
        // …and the voided code is not kept by the next password step, well
        // within the resend interval: a new one is sent at once.
        .when(
            password_step(right_password_for(NEW_PASSWORD_HASH), 2),
            at(30),
        )
        .then(vec![
            challenge_opened(2, 30, None),
            code_issued(2, 30, None),
        ]);
}

#[test]
fn setting_a_password_never_starts_a_session() {
    let history = [with_password(), vec![reset_requested(1, 0)]].concat();
    let state = given(history)
        .on(standing_without_2fa())
        .when(set_password(reset_token(1)), at(10))
        .then(vec![password_set(
            TokenPurpose::PasswordReset,
            reset_token(1),
            None,
            None,
        )])
        .state();
    assert!(state.sessions.is_empty());
}

#[test]
fn setting_a_password_never_lifts_a_lock() {
    // Locked at t0 until t0 + 900 (versions 3–7), reset requested at 100 (8).
    let history = [
        locked_by_three_wrong_passwords(),
        vec![reset_requested(1, 100)],
    ]
    .concat();
    let after = given(history)
        .on(under(standing_email(), three_strikes()))
        .when(set_password(reset_token(1)), at(110))
        .then(vec![password_set(
            TokenPurpose::PasswordReset,
            reset_token(1),
            None,
            None,
        )]);
    assert_eq!(
        after
            .state()
            .lock_at(at(120))
            .map(|lock| (lock.cause, lock.until)),
        Some((LockCause::Passwords, at(900)))
    );
    after
        .when(
            password_step(right_password_for(NEW_PASSWORD_HASH), 1),
            at(120),
        )
        .then(vec![AccountEvent::LoginRefusedWhileLocked {
            locked_until: at(900),
        }]);
}

#[test]
fn a_password_set_during_a_streak_of_wrong_codes_does_not_reset_it() {
    // The counters are about login steps; a new password is not a successful login.
    let history = [
        wrong_codes_after_password_steps(2),
        vec![reset_requested(1, 20)],
    ]
    .concat();
    let state = given(history)
        .when(set_password(reset_token(1)), at(30))
        .then(vec![password_set(
            TokenPurpose::PasswordReset,
            reset_token(1),
            None,
            Some(1),
        )]);
    assert_eq!(state.state().failed_codes, 2);
}

/// The check of a right password against `hash`.
fn right_password_for(hash: &str) -> crate::account::PasswordCheck {
    crate::account::PasswordCheck {
        against: Some(hash.to_owned()),
        matched: true,
    }
}

#[test]
fn a_token_sent_to_an_address_that_has_since_changed_is_void() {
    let new_address = crate::licence::Standing {
        email_epoch: standing_email().email_epoch + 4,
        ..standing_email()
    };
    given(vec![access_confirmation_issued()])
        .on(new_address.clone())
        .when(set_password(access_token()), at(10))
        .then_rejected(AccountRejection::InvalidToken);
    given([with_password(), vec![reset_requested(1, 0)]].concat())
        .on(new_address)
        .when(set_password(reset_token(1)), at(10))
        .then_rejected(AccountRejection::InvalidToken);
}

#[test]
fn a_new_address_gets_a_reminder_at_once() {
    let moved = crate::licence::Standing {
        email_epoch: standing_email().email_epoch + 1,
        ..standing_email()
    };
    given([with_password(), vec![reset_requested(1, 0)]].concat())
        .on(moved.clone())
        .when(request_reset(2), at(10))
        .then(vec![AccountEvent::PasswordResetRequested {
            token_id: reset_token(2).token_id,
            token_digest: reset_token(2).digest,
            requested_at: at(10),
            expires_at: at(10 + PASSWORD_RESET_TTL_SECONDS),
            email_epoch: moved.email_epoch,
        }]);
}
