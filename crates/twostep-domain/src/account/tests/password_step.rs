//! The password step: counting wrong passwords, sessions without 2FA,
//! challenges and codes with 2FA, and the resend interval.

use super::*;
use crate::account::{
    AccountCommand, AccountEvent, AccountRejection, Fresh, LockCause, MessagePurpose,
    PasswordCheck, PasswordRefusal,
};
use crate::alert::AlertKind;
use crate::contact::Channel;
use crate::licence::CodeRoute;
use crate::policy::LoginPolicy;
use crate::secret::{CodeKey, Digest, OneTimeCode};

#[test]
fn a_user_without_a_password_is_refused_and_not_counted() {
    let dummy = PasswordCheck {
        against: None,
        matched: false,
    };
    given(vec![access_confirmation_issued()])
        .when(
            AccountCommand::SubmitPassword {
                check: dummy,
                fresh: fresh(1),
                client: None,
            },
            at(10),
        )
        .then(vec![AccountEvent::PasswordRejected {
            reason: PasswordRefusal::NoPasswordSet,
            counted: false,
            failed_passwords_in_a_row: 0,
        }]);
}

#[test]
fn a_check_against_another_hash_than_the_current_one_is_stale() {
    let other = PasswordCheck {
        against: Some("$argon2id$v=19$m=19456,t=2,p=1$b2xk$b2xkb2xk".to_owned()),
        matched: true,
    };
    given(with_password())
        .when(
            AccountCommand::SubmitPassword {
                check: other,
                fresh: fresh(1),
                client: None,
            },
            at(10),
        )
        .then_rejected(AccountRejection::StalePasswordCheck);
    let dummy = PasswordCheck {
        against: None,
        matched: false,
    };
    given(with_password())
        .when(
            AccountCommand::SubmitPassword {
                check: dummy,
                fresh: fresh(1),
                client: None,
            },
            at(10),
        )
        .then_rejected(AccountRejection::StalePasswordCheck);
}

#[test]
fn a_wrong_password_is_counted() {
    given(with_password())
        .when(password_step(wrong_password(), 1), at(10))
        .then(vec![wrong_password_rejected(1)]);
}

#[test]
fn max_failed_passwords_wrong_passwords_in_a_row_lock_the_account() {
    // Versions 3–11: nine wrong passwords. The tenth (12) locks (13) and alerts (14).
    given([with_password(), wrong_passwords(9)].concat())
        .when(password_step(wrong_password(), 1), at(100))
        .then(vec![
            wrong_password_rejected(10),
            locked(LockCause::Passwords, 1, 100, 1_000, None),
            alert(14, AlertKind::AccountLockedByPasswords, (3..=13).collect()),
        ]);
}

#[test]
fn a_password_lock_closes_the_open_challenge() {
    // Versions 3–4 code 1 sent, 5–6 two wrong passwords; the third (7) locks (8).
    let history = [with_password(), code_sent(1, 0), wrong_passwords(2)].concat();
    given(history)
        .on(under(standing_email(), three_strikes()))
        .when(password_step(wrong_password(), 2), at(20))
        .then(vec![
            wrong_password_rejected(3),
            voiding(locked(LockCause::Passwords, 1, 20, 920, Some(1)), 1),
            alert(9, AlertKind::AccountLockedByPasswords, vec![5, 6, 7, 8]),
        ]);
}

#[test]
fn wrong_passwords_while_locked_count_and_lock_again_for_twice_as_long() {
    // A lock bounds password guessing: `max_failed_passwords` more wrong
    // passwords during the lock (versions 8–10) lock again (11), doubled.
    given(locked_by_three_wrong_passwords())
        .on(under(standing_email(), three_strikes()))
        .when(password_step(wrong_password(), 1), at(100))
        .then(vec![wrong_password_rejected(4)])
        .when(password_step(wrong_password(), 2), at(110))
        .then(vec![wrong_password_rejected(5)])
        .when(password_step(wrong_password(), 3), at(120))
        .then(vec![
            wrong_password_rejected(6),
            locked(LockCause::Passwords, 2, 120, 1_920, None),
            alert(12, AlertKind::AccountLockedByPasswords, vec![8, 9, 10, 11]),
        ]);
}

#[test]
fn the_right_password_while_locked_is_told_about_the_lock_and_sends_no_code() {
    given(locked_by_three_wrong_passwords())
        .on(under(standing_email(), three_strikes()))
        .when(password_step(right_password(), 1), at(899))
        .then(vec![AccountEvent::LoginRefusedWhileLocked {
            locked_until: at(900),
        }]);
}

#[test]
fn the_right_password_after_the_lock_ends_records_its_end_first() {
    given(locked_by_three_wrong_passwords())
        .on(under(standing_email(), three_strikes()))
        .when(password_step(right_password(), 1), at(900))
        .then(vec![
            AccountEvent::LockExpired {
                locked_until: at(900),
            },
            challenge_opened(1, 900, None),
            code_issued(1, 900, None),
        ]);
}

#[test]
fn without_2fa_the_right_password_starts_a_session() {
    let state = given([with_password(), wrong_passwords(2)].concat())
        .on(standing_without_2fa())
        .when(password_step(right_password(), 1), at(10))
        .then(vec![session_started(1, 10, None)])
        .state();
    assert_eq!(
        (state.failed_passwords, state.failed_password_versions.len()),
        (0, 0)
    );
    assert!(
        state
            .live_session(
                session_id(1),
                &session(1).digest,
                at(10),
                standing_email().activation_epoch
            )
            .is_some()
    );
}

#[test]
fn with_2fa_the_right_password_opens_a_challenge_and_sends_a_code() {
    given(with_password())
        .when(password_step(right_password(), 1), at(10))
        .then(vec![
            challenge_opened(1, 10, None),
            code_issued(1, 10, None),
        ]);
}

#[test]
fn with_sms_2fa_the_code_goes_to_the_mobile_number() {
    given(with_password())
        .on(standing_sms())
        .when(password_step(right_password(), 1), at(10))
        .then(vec![
            challenge_opened(1, 10, None),
            AccountEvent::CodeIssued {
                code_id: code_id(1),
                challenge_id: challenge(1),
                code_digest: code_digest(1),
                code_length: 6,
                channel: Channel::Sms,
                destination: "+3247*****56".to_owned(),
                route_epoch: 3,
                issued_at: at(10),
                expires_at: at(310),
                superseded: None,
                report_digest: report_digest(1),
            },
        ]);
}

#[test]
fn a_user_with_no_destination_on_the_channel_gets_no_challenge() {
    let nowhere = CodeRoute {
        destination: None,
        masked: String::new(),
        ..sms_route()
    };
    let standing = crate::licence::Standing {
        route: Some(nowhere),
        ..standing_sms()
    };
    given(with_password())
        .on(standing)
        .when(password_step(right_password(), 1), at(10))
        .then_rejected(AccountRejection::NoCodeDestination);
}

#[test]
fn a_deactivated_user_is_refused_whatever_the_password_and_not_counted() {
    for check in [right_password(), wrong_password()] {
        given([with_password(), wrong_passwords(2)].concat())
            .on(inactive(standing_email()))
            .when(password_step(check, 1), at(10))
            .then(vec![AccountEvent::PasswordRejected {
                reason: PasswordRefusal::UserInactive,
                counted: false,
                failed_passwords_in_a_row: 2,
            }]);
    }
}

#[test]
fn the_right_password_ends_the_streak_of_wrong_passwords() {
    given([with_password(), wrong_passwords(9)].concat())
        .when(password_step(right_password(), 1), at(10))
        .then(vec![
            challenge_opened(1, 10, None),
            code_issued(1, 10, None),
        ])
        .when(password_step(wrong_password(), 2), at(20))
        .then(vec![wrong_password_rejected(1)]);
}

#[test]
fn within_the_resend_interval_the_latest_code_is_kept_and_nothing_is_sent() {
    given([with_password(), code_sent(1, 0)].concat())
        .when(password_step(right_password(), 2), at(59))
        .then(vec![challenge_reopened(2, 1, Some(1), 60)]);
}

#[test]
fn after_the_resend_interval_a_new_code_supersedes_the_latest() {
    given([with_password(), code_sent(1, 0)].concat())
        .when(password_step(right_password(), 2), at(60))
        .then(vec![
            challenge_opened(2, 60, Some(1)),
            code_issued(2, 60, Some(1)),
        ]);
}

#[test]
fn a_new_code_is_sent_at_once_when_the_latest_was_spent() {
    let history = [
        with_password(),
        code_sent(1, 0),
        vec![
            code_accepted(1),
            session_started(1, 5, Some(Channel::Email)),
        ],
    ]
    .concat();
    given(history)
        .when(password_step(right_password(), 2), at(10))
        .then(vec![
            challenge_opened(2, 10, None),
            code_issued(2, 10, None),
        ]);
}

#[test]
fn a_new_code_is_sent_at_once_when_the_latest_was_reported() {
    let reported = AccountEvent::UnrequestedCodeReported {
        code_id: code_id(1),
        closed_challenge: Some(challenge(1)),
        ended_sessions: vec![],
    };
    let history = [
        with_password(),
        code_sent(1, 0),
        vec![
            reported,
            alert(6, AlertKind::UnrequestedCodeReported, vec![4, 5]),
        ],
    ]
    .concat();
    given(history)
        .when(password_step(right_password(), 2), at(10))
        .then(vec![
            challenge_opened(2, 10, None),
            code_issued(2, 10, None),
        ]);
}

#[test]
fn a_failed_delivery_does_not_count_against_the_resend_interval() {
    let failed = AccountEvent::MessageDeliveryFailed {
        purpose: MessagePurpose::Code,
        reference: code_id(1),
        channel: Channel::Email,
        destination: "a***@example.com".to_owned(),
        error: "connection refused".to_owned(),
        code_failures_in_a_row: 1,
    };
    given([with_password(), code_sent(1, 0), vec![failed]].concat())
        .when(password_step(right_password(), 2), at(10))
        .then(vec![
            challenge_opened(2, 10, Some(1)),
            code_issued(2, 10, None),
        ]);
}

#[test]
fn a_new_code_is_sent_at_once_when_the_destination_changed() {
    let moved = rerouted(standing_email(), 5);
    given([with_password(), code_sent(1, 0)].concat())
        .on(moved)
        .when(password_step(right_password(), 2), at(10))
        .then(vec![
            challenge_opened(2, 10, Some(1)),
            on_route_epoch(code_issued(2, 10, None), 5),
        ]);
}

#[test]
fn codes_keep_their_leading_zeros() {
    let zeros = Fresh {
        code_digits: [0, 0, 1, 2, 3, 4, 5, 6, 7, 8],
        ..fresh(1)
    };
    let expected_digest = TestKey.digest(
        user(),
        code_id(1),
        &OneTimeCode::from_digits(&[0, 0, 1, 2, 3, 4], 6),
    );
    assert_eq!(
        OneTimeCode::from_digits(&zeros.code_digits, 6).as_str(),
        "001234"
    );
    given(with_password())
        .when(
            AccountCommand::SubmitPassword {
                check: right_password(),
                fresh: zeros,
                client: None,
            },
            at(10),
        )
        .then(vec![
            challenge_opened(1, 10, None),
            with_code(code_issued(1, 10, None), expected_digest, 6),
        ])
        .when(code_step(1, "001234"), at(20))
        .then(vec![
            code_accepted(1),
            session_started(1, 20, Some(Channel::Email)),
        ]);
}

#[test]
fn a_code_length_of_eight_gives_eight_digits() {
    let standing = under(
        standing_email(),
        LoginPolicy {
            code_length: 8,
            ..LoginPolicy::default()
        },
    );
    let expected_digest =
        TestKey.digest(user(), code_id(1), &OneTimeCode::from_digits(&digits(1), 8));
    given(with_password())
        .on(standing)
        .when(password_step(right_password(), 1), at(10))
        .then(vec![
            challenge_opened(1, 10, None),
            with_code(code_issued(1, 10, None), expected_digest, 8),
        ])
        .when(code_step(1, &code_text(1)), at(20))
        .then_rejected(AccountRejection::MalformedCode(8))
        .when(code_step(1, "12345678"), at(20))
        .then(vec![
            code_accepted(1),
            session_started(1, 20, Some(Channel::Email)),
        ]);
}

/// `event` (a `CodeIssued`) sent under another route epoch.
fn on_route_epoch(mut event: AccountEvent, epoch: u64) -> AccountEvent {
    if let AccountEvent::CodeIssued { route_epoch, .. } = &mut event {
        *route_epoch = epoch;
    }
    event
}

/// `event` (a `CodeIssued`) for other digits.
fn with_code(mut event: AccountEvent, digest: Digest, length: u32) -> AccountEvent {
    if let AccountEvent::CodeIssued {
        code_digest,
        code_length,
        ..
    } = &mut event
    {
        *code_digest = digest;
        *code_length = length;
    }
    event
}
