//! Locks: wrong codes and wrong passwords in a row, the end of a lock,
//! doubling, and operators lifting them.

use super::*;
use crate::account::{AccountEvent, AccountRejection, CodeRefusal, LockCause, MAX_REASON_CHARS};
use crate::alert::AlertKind;
use crate::contact::Channel;
use crate::policy::LoginPolicy;

/// Four wrong codes (versions 5–12) and a fifth password step (13) that kept code 1.
fn four_wrong_codes_then_password() -> Vec<AccountEvent> {
    [
        wrong_codes_after_password_steps(4),
        vec![challenge_reopened(5, 1, None, 60)],
    ]
    .concat()
}

/// Locked at t0 + 50 until t0 + 950 by five wrong codes (versions 14–16).
fn locked_by_five_wrong_codes() -> Vec<AccountEvent> {
    [
        four_wrong_codes_then_password(),
        vec![
            wrong_code_rejected(5, 1, 5),
            voiding(locked(LockCause::Codes, 1, 50, 950, None), 1),
            alert(
                16,
                AlertKind::AccountLockedByCodes,
                vec![5, 8, 10, 12, 14, 15],
            ),
        ],
    ]
    .concat()
}

#[test]
fn max_failed_codes_wrong_codes_in_a_row_lock_the_account() {
    given(four_wrong_codes_then_password())
        .when(code_step(5, &wrong_code()), at(50))
        .then(vec![
            wrong_code_rejected(5, 1, 5),
            voiding(locked(LockCause::Codes, 1, 50, 950, None), 1),
            alert(
                16,
                AlertKind::AccountLockedByCodes,
                vec![5, 8, 10, 12, 14, 15],
            ),
        ]);
}

#[test]
fn a_right_password_does_not_reset_the_code_counter() {
    let after_password = given(wrong_codes_after_password_steps(3))
        .when(password_step(right_password(), 4), at(30))
        .then(vec![challenge_reopened(4, 1, None, 60)]);
    assert_eq!(after_password.state().failed_codes, 3);
    after_password
        .when(code_step(4, &wrong_code()), at(40))
        .then(vec![wrong_code_rejected(4, 1, 4)]);
}

#[test]
fn a_successful_code_step_resets_the_code_counter() {
    let after_success = given(four_wrong_codes_then_password())
        .when(code_step(5, &code_text(1)), at(50))
        .then(vec![
            AccountEvent::CodeAccepted {
                challenge_id: challenge(5),
                code_id: code_id(1),
            },
            opened_by_code(5, 50, Some(Channel::Email), 1),
        ]);
    assert_eq!(after_success.state().failed_codes, 0);
    // Versions 14–15 above, 16–17 a new code, 18 the first wrong code of a new streak.
    after_success
        .when(password_step(right_password(), 6), at(60))
        .then(vec![
            challenge_opened(6, 60, None),
            code_issued(6, 60, None),
        ])
        .when(code_step(6, &wrong_code()), at(70))
        .then(vec![
            wrong_code_rejected(6, 6, 1),
            alert(19, AlertKind::WrongCodeAfterRightPassword, vec![18]),
        ]);
}

#[test]
fn the_end_of_a_lock_resets_the_code_counter() {
    given(locked_by_five_wrong_codes())
        .when(password_step(right_password(), 6), at(950))
        .then(vec![
            AccountEvent::LockExpired {
                locked_until: at(950),
            },
            challenge_opened(6, 950, None),
            code_issued(6, 950, None),
        ])
        .when(code_step(6, &wrong_code()), at(960))
        .then(vec![
            wrong_code_rejected(6, 6, 1),
            alert(21, AlertKind::WrongCodeAfterRightPassword, vec![20]),
        ]);
}

#[test]
fn no_code_step_counts_while_locked() {
    given(locked_by_five_wrong_codes())
        .when(code_step(5, &wrong_code()), at(60))
        .then(vec![code_rejected(
            5,
            None,
            CodeRefusal::AccountLocked,
            false,
            5,
        )])
        .when(password_step(right_password(), 6), at(70))
        .then(vec![AccountEvent::LoginRefusedWhileLocked {
            locked_until: at(950),
        }]);
}

#[test]
fn a_lock_that_follows_another_lasts_twice_as_long_then_four_times() {
    given(with_password())
        .on(under(standing_without_2fa(), one_strike()))
        .when(password_step(wrong_password(), 1), at(0))
        .then(vec![
            wrong_password_rejected(1),
            locked(LockCause::Passwords, 1, 0, 900, None),
            alert(5, AlertKind::AccountLockedByPasswords, vec![3, 4]),
        ])
        .when(password_step(wrong_password(), 2), at(900))
        .then(vec![
            AccountEvent::LockExpired {
                locked_until: at(900),
            },
            wrong_password_rejected(1),
            locked(LockCause::Passwords, 2, 900, 2_700, None),
            alert(9, AlertKind::AccountLockedByPasswords, vec![7, 8]),
        ])
        .when(password_step(wrong_password(), 3), at(2_700))
        .then(vec![
            AccountEvent::LockExpired {
                locked_until: at(2_700),
            },
            wrong_password_rejected(1),
            locked(LockCause::Passwords, 3, 2_700, 6_300, None),
            alert(13, AlertKind::AccountLockedByPasswords, vec![11, 12]),
        ]);
}

#[test]
fn locks_are_capped_at_a_day() {
    let long_locks = LoginPolicy {
        lock_seconds: 50_000,
        ..one_strike()
    };
    given(with_password())
        .on(under(standing_without_2fa(), long_locks))
        .when(password_step(wrong_password(), 1), at(0))
        .then(vec![
            wrong_password_rejected(1),
            locked(LockCause::Passwords, 1, 0, 50_000, None),
            alert(5, AlertKind::AccountLockedByPasswords, vec![3, 4]),
        ])
        .when(password_step(wrong_password(), 2), at(50_000))
        .then(vec![
            AccountEvent::LockExpired {
                locked_until: at(50_000),
            },
            wrong_password_rejected(1),
            locked(LockCause::Passwords, 2, 50_000, 50_000 + 86_400, None),
            alert(9, AlertKind::AccountLockedByPasswords, vec![7, 8]),
        ]);
}

#[test]
fn a_successful_login_resets_the_doubling() {
    given(with_password())
        .on(under(standing_without_2fa(), one_strike()))
        .when(password_step(wrong_password(), 1), at(0))
        .then(vec![
            wrong_password_rejected(1),
            locked(LockCause::Passwords, 1, 0, 900, None),
            alert(5, AlertKind::AccountLockedByPasswords, vec![3, 4]),
        ])
        .when(password_step(right_password(), 2), at(900))
        .then(vec![
            AccountEvent::LockExpired {
                locked_until: at(900),
            },
            session_started(2, 900, None),
        ])
        .when(password_step(wrong_password(), 3), at(1_000))
        .then(vec![
            wrong_password_rejected(1),
            locked(LockCause::Passwords, 1, 1_000, 1_900, None),
            alert(10, AlertKind::AccountLockedByPasswords, vec![8, 9]),
        ]);
}

#[test]
fn locks_by_codes_and_by_passwords_double_together() {
    // Locked by codes (lock 1), then by passwords without a success between: lock 2.
    let policy = LoginPolicy {
        max_failed_passwords: 1,
        ..LoginPolicy::default()
    };
    given(locked_by_five_wrong_codes())
        .on(under(standing_email(), policy))
        .when(password_step(wrong_password(), 6), at(950))
        .then(vec![
            AccountEvent::LockExpired {
                locked_until: at(950),
            },
            wrong_password_rejected(1),
            locked(LockCause::Passwords, 2, 950, 950 + 1_800, None),
            alert(20, AlertKind::AccountLockedByPasswords, vec![18, 19]),
        ]);
}

#[test]
fn an_operator_lifts_a_lock_with_a_reason_and_the_counters_reset() {
    let lifted = given(locked_by_three_wrong_passwords())
        .on(under(standing_email(), three_strikes()))
        .when(lift_lock("  identity checked on the phone  "), at(100))
        .then(vec![AccountEvent::LockLifted {
            reason: "identity checked on the phone".to_owned(),
            locked_until: at(900),
        }]);
    let state = lifted.state();
    assert_eq!(
        (
            state.lock.clone(),
            state.failed_passwords,
            state.failed_codes
        ),
        (None, 0, 0)
    );
    lifted
        .when(password_step(wrong_password(), 1), at(110))
        .then(vec![wrong_password_rejected(1)])
        .when(password_step(right_password(), 2), at(120))
        .then(vec![
            challenge_opened(2, 120, None),
            code_issued(2, 120, None),
        ]);
}

#[test]
fn lifting_a_lock_is_not_a_successful_login_so_the_next_lock_doubles() {
    given(locked_by_three_wrong_passwords())
        .on(under(standing_email(), three_strikes()))
        .when(lift_lock("called back"), at(100))
        .then(vec![AccountEvent::LockLifted {
            reason: "called back".to_owned(),
            locked_until: at(900),
        }])
        .when(password_step(wrong_password(), 1), at(110))
        .then(vec![wrong_password_rejected(1)])
        .when(password_step(wrong_password(), 2), at(110))
        .then(vec![wrong_password_rejected(2)])
        .when(password_step(wrong_password(), 3), at(110))
        .then(vec![
            wrong_password_rejected(3),
            locked(LockCause::Passwords, 2, 110, 110 + 1_800, None),
            alert(13, AlertKind::AccountLockedByPasswords, vec![9, 10, 11, 12]),
        ]);
}

#[test]
fn a_lock_is_not_lifted_without_a_reason() {
    for reason in [
        String::new(),
        "   ".to_owned(),
        "x".repeat(MAX_REASON_CHARS + 1),
    ] {
        given(locked_by_three_wrong_passwords())
            .on(under(standing_email(), three_strikes()))
            .when(lift_lock(&reason), at(100))
            .then_rejected(AccountRejection::InvalidReason);
    }
    let longest = "é".repeat(MAX_REASON_CHARS);
    given(locked_by_three_wrong_passwords())
        .on(under(standing_email(), three_strikes()))
        .when(lift_lock(&longest), at(100))
        .then(vec![AccountEvent::LockLifted {
            reason: longest.clone(),
            locked_until: at(900),
        }]);
}

#[test]
fn there_is_nothing_to_lift_when_not_locked() {
    given(with_password())
        .when(lift_lock("just in case"), at(0))
        .then_rejected(AccountRejection::NotLocked);
    given(locked_by_three_wrong_passwords())
        .on(under(standing_email(), three_strikes()))
        .when(lift_lock("too late"), at(900))
        .then_rejected(AccountRejection::NotLocked);
}
