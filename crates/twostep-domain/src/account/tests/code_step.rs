//! The code step: what is accepted, what is refused and counted, what is
//! malformed and leaves the challenge open.

use super::*;
use crate::account::{AccountEvent, AccountRejection, CodeRefusal, LockCause, MessagePurpose};
use crate::alert::AlertKind;
use crate::contact::Channel;

/// Code 1 sent at `t0` on challenge 1 (versions 3 and 4).
fn code_one_sent() -> Vec<AccountEvent> {
    [with_password(), code_sent(1, 0)].concat()
}

#[test]
fn the_right_code_closes_the_challenge_spends_the_code_and_starts_a_session() {
    let state = given(code_one_sent())
        .when(code_step(1, &code_text(1)), at(30))
        .then(vec![
            code_accepted(1),
            session_started(1, 30, Some(Channel::Email)),
        ])
        .state();
    assert_eq!(state.open_challenge, None);
    assert_eq!(state.code(code_id(1)).map(|code| code.spent), Some(true));
}

#[test]
fn surrounding_spaces_are_trimmed() {
    given(code_one_sent())
        .when(code_step(1, " 123456 "), at(30))
        .then(vec![
            code_accepted(1),
            session_started(1, 30, Some(Channel::Email)),
        ]);
    given(code_one_sent())
        .when(code_step(1, "\t123456\n"), at(30))
        .then(vec![
            code_accepted(1),
            session_started(1, 30, Some(Channel::Email)),
        ]);
}

#[test]
fn a_code_is_never_accepted_twice() {
    given(code_one_sent())
        .when(code_step(1, &code_text(1)), at(30))
        .then(vec![
            code_accepted(1),
            session_started(1, 30, Some(Channel::Email)),
        ])
        // Same challenge again: it is closed. (Versions: 5 accepted, 6 session, 7 this.)
        .when(code_step(1, &code_text(1)), at(31))
        .then(vec![code_rejected(
            1,
            None,
            CodeRefusal::ChallengeNotOpen,
            false,
            0,
        )])
        // A new password step sends a new code at once (the old one is spent,
        // versions 8–9); the spent code on the new challenge is an older code: a counted guess.
        .when(password_step(right_password(), 2), at(40))
        .then(vec![
            challenge_opened(2, 40, None),
            code_issued(2, 40, None),
        ])
        .when(code_step(2, &code_text(1)), at(50))
        .then(vec![
            code_rejected(2, Some(2), CodeRefusal::Superseded, true, 1),
            alert(11, AlertKind::WrongCodeAfterRightPassword, vec![10]),
        ]);
}

#[test]
fn a_spent_code_is_refused_even_on_a_challenge_that_names_it() {
    // A history the decider never writes (a reused code that was spent),
    // to check the last line of defence: the spent flag itself.
    let history = [
        code_one_sent(),
        vec![
            code_accepted(1),
            session_started(1, 5, Some(Channel::Email)),
            challenge_reopened(2, 1, None, 60),
        ],
    ]
    .concat();
    given(history)
        .when(code_step(2, &code_text(1)), at(10))
        .then(vec![
            code_rejected(2, Some(1), CodeRefusal::Spent, true, 1),
            alert(9, AlertKind::WrongCodeAfterRightPassword, vec![8]),
        ]);
}

#[test]
fn an_expired_code_is_refused_and_counted() {
    given(code_one_sent())
        .when(code_step(1, &code_text(1)), at(299))
        .then(vec![
            code_accepted(1),
            session_started(1, 299, Some(Channel::Email)),
        ]);
    given(code_one_sent())
        .when(code_step(1, &code_text(1)), at(300))
        .then(vec![
            code_rejected(1, Some(1), CodeRefusal::Expired, true, 1),
            alert(6, AlertKind::WrongCodeAfterRightPassword, vec![5]),
        ]);
}

#[test]
fn a_superseded_code_is_refused_and_counted() {
    given(code_one_sent())
        .when(password_step(right_password(), 2), at(60))
        .then(vec![
            challenge_opened(2, 60, Some(1)),
            code_issued(2, 60, Some(1)),
        ])
        .when(code_step(2, &code_text(1)), at(70))
        .then(vec![
            code_rejected(2, Some(2), CodeRefusal::Superseded, true, 1),
            alert(8, AlertKind::WrongCodeAfterRightPassword, vec![7]),
        ]);
}

#[test]
fn a_wrong_code_is_counted_and_raises_an_alert() {
    let state = given(code_one_sent())
        .when(code_step(1, &wrong_code()), at(30))
        .then(vec![
            wrong_code_rejected(1, 1, 1),
            alert(6, AlertKind::WrongCodeAfterRightPassword, vec![5]),
        ])
        .state();
    assert_eq!(
        state.open_challenge, None,
        "a wrong code closes the challenge"
    );
}

#[test]
fn only_the_first_wrong_code_in_a_row_raises_the_alert() {
    given(wrong_codes_after_password_steps(1))
        .when(password_step(right_password(), 2), at(10))
        .then(vec![challenge_reopened(2, 1, None, 60)])
        .when(code_step(2, &wrong_code()), at(20))
        .then(vec![wrong_code_rejected(2, 1, 2)]);
}

#[test]
fn a_malformed_code_is_not_a_guess_and_leaves_the_challenge_open() {
    let malformed = [
        "12345",
        "12a456",
        "１２３４５６",
        "1234567",
        "",
        "   ",
        "12 456",
        "+12345",
        "-12345",
    ];
    let mut scenario = given(code_one_sent());
    for code in malformed {
        scenario = scenario
            .when(code_step(1, code), at(30))
            .then_rejected(AccountRejection::MalformedCode(6));
    }
    assert_eq!(scenario.state().failed_codes, 0);
    scenario
        .when(code_step(1, &code_text(1)), at(40))
        .then(vec![
            code_accepted(1),
            session_started(1, 40, Some(Channel::Email)),
        ]);
}

#[test]
fn a_malformed_code_on_an_unknown_challenge_is_still_only_malformed() {
    given(code_one_sent())
        .when(code_step(99, "12a456"), at(30))
        .then_rejected(AccountRejection::MalformedCode(6));
}

#[test]
fn a_code_on_an_unknown_challenge_is_refused_uncounted() {
    given(code_one_sent())
        .when(code_step(99, &code_text(1)), at(30))
        .then(vec![code_rejected(
            99,
            None,
            CodeRefusal::ChallengeNotOpen,
            false,
            0,
        )])
        // The user's own challenge is untouched.
        .when(code_step(1, &code_text(1)), at(40))
        .then(vec![
            code_accepted(1),
            session_started(1, 40, Some(Channel::Email)),
        ]);
}

#[test]
fn a_closed_challenge_cannot_be_answered() {
    given(wrong_codes_after_password_steps(1))
        .when(code_step(1, &code_text(1)), at(30))
        .then(vec![code_rejected(
            1,
            None,
            CodeRefusal::ChallengeNotOpen,
            false,
            1,
        )]);
}

#[test]
fn a_new_password_step_closes_the_older_challenge() {
    given(code_one_sent())
        .when(password_step(right_password(), 2), at(10))
        .then(vec![challenge_reopened(2, 1, Some(1), 60)])
        .when(code_step(1, &code_text(1)), at(20))
        .then(vec![code_rejected(
            1,
            None,
            CodeRefusal::ChallengeNotOpen,
            false,
            0,
        )])
        .when(code_step(2, &code_text(1)), at(30))
        .then(vec![
            AccountEvent::CodeAccepted {
                challenge_id: challenge(2),
                code_id: code_id(1),
            },
            opened_by_code(2, 30, Some(Channel::Email), 1),
        ]);
}

#[test]
fn a_deactivated_user_cannot_finish_the_code_step() {
    given(code_one_sent())
        .on(inactive(standing_email()))
        .when(code_step(1, &code_text(1)), at(30))
        .then(vec![code_rejected(
            1,
            Some(1),
            CodeRefusal::UserInactive,
            false,
            0,
        )]);
}

#[test]
fn a_destination_change_voids_the_code() {
    given(code_one_sent())
        .on(rerouted(standing_email(), 5))
        .when(code_step(1, &code_text(1)), at(30))
        .then(vec![
            code_rejected(1, Some(1), CodeRefusal::Voided, true, 1),
            alert(6, AlertKind::WrongCodeAfterRightPassword, vec![5]),
        ]);
}

#[test]
fn a_channel_switch_voids_the_code() {
    given(code_one_sent())
        .on(standing_sms())
        .when(code_step(1, &code_text(1)), at(30))
        .then(vec![
            code_rejected(1, Some(1), CodeRefusal::Voided, true, 1),
            alert(6, AlertKind::WrongCodeAfterRightPassword, vec![5]),
        ]);
}

#[test]
fn a_code_whose_delivery_failed_is_void() {
    let failed = AccountEvent::MessageDeliveryFailed {
        purpose: MessagePurpose::Code,
        reference: code_id(1),
        channel: Channel::Email,
        destination: "a***@example.com".to_owned(),
        error: "mailbox unavailable".to_owned(),
        code_failures_in_a_row: 1,
    };
    given([code_one_sent(), vec![failed]].concat())
        .when(code_step(1, &code_text(1)), at(30))
        .then(vec![
            code_rejected(1, Some(1), CodeRefusal::Voided, true, 1),
            alert(7, AlertKind::WrongCodeAfterRightPassword, vec![6]),
        ]);
}

#[test]
fn two_factor_switched_off_mid_flight_refuses_the_code_step() {
    given(code_one_sent())
        .on(standing_without_2fa())
        .when(code_step(1, &code_text(1)), at(30))
        .then(vec![code_rejected(
            1,
            Some(1),
            CodeRefusal::TwoFactorDisabled,
            false,
            0,
        )]);
}

#[test]
fn the_lock_is_checked_again_at_the_code_step() {
    // A challenge opened before a lock cannot finish after it, even with the right code.
    given(code_one_sent())
        .on(under(standing_email(), one_strike()))
        .when(password_step(wrong_password(), 2), at(10))
        .then(vec![
            wrong_password_rejected(1),
            voiding(locked(LockCause::Passwords, 1, 10, 910, Some(1)), 1),
            alert(7, AlertKind::AccountLockedByPasswords, vec![5, 6]),
        ])
        .when(code_step(1, &code_text(1)), at(20))
        .then(vec![code_rejected(
            1,
            None,
            CodeRefusal::AccountLocked,
            false,
            0,
        )]);
}

#[test]
fn a_wrong_password_leaves_the_open_challenge_open() {
    // Only a password step that opens a challenge closes the previous one:
    // someone guessing passwords cannot close the user's code screen.
    given(code_one_sent())
        .when(password_step(wrong_password(), 2), at(10))
        .then(vec![wrong_password_rejected(1)])
        .when(code_step(1, &code_text(1)), at(20))
        .then(vec![
            code_accepted(1),
            session_started(1, 20, Some(Channel::Email)),
        ]);
}
