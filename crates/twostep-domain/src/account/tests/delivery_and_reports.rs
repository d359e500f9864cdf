//! Delivery outcomes of messages and reports of codes nobody asked for.

use uuid::Uuid;

use super::*;
use crate::account::{AccountCommand, AccountEvent, AccountRejection, CodeRefusal, MessagePurpose};
use crate::alert::AlertKind;
use crate::contact::Channel;

fn delivery(
    purpose: MessagePurpose,
    reference: Uuid,
    outcome: Result<(), String>,
) -> AccountCommand {
    AccountCommand::RecordDelivery {
        purpose,
        reference,
        channel: Channel::Email,
        destination: "a***@example.com".to_owned(),
        outcome,
    }
}

fn code_delivered(n: u128) -> AccountCommand {
    delivery(MessagePurpose::Code, code_id(n), Ok(()))
}

fn code_not_delivered(n: u128) -> AccountCommand {
    delivery(
        MessagePurpose::Code,
        code_id(n),
        Err("454 try again later".to_owned()),
    )
}

fn delivery_failed(
    purpose: MessagePurpose,
    reference: Uuid,
    code_failures_in_a_row: u32,
) -> AccountEvent {
    AccountEvent::MessageDeliveryFailed {
        purpose,
        reference,
        channel: Channel::Email,
        destination: "a***@example.com".to_owned(),
        error: "454 try again later".to_owned(),
        code_failures_in_a_row,
    }
}

fn delivered(n: u128) -> AccountEvent {
    AccountEvent::MessageDelivered {
        purpose: MessagePurpose::Code,
        reference: code_id(n),
        channel: Channel::Email,
        destination: "a***@example.com".to_owned(),
    }
}

fn report(n: u128) -> AccountCommand {
    AccountCommand::ReportUnrequestedCode {
        code_id: code_id(n),
        digest: report_digest(n),
    }
}

#[test]
fn a_delivered_code_is_recorded() {
    given([with_password(), code_sent(1, 0)].concat())
        .when(code_delivered(1), at(1))
        .then(vec![delivered(1)]);
}

#[test]
fn the_third_failed_code_delivery_in_a_row_raises_an_alert() {
    // Each failure voids its code, so each password step sends a new one at once.
    given([with_password(), code_sent(1, 0)].concat())
        .when(code_not_delivered(1), at(1))
        .then(vec![delivery_failed(MessagePurpose::Code, code_id(1), 1)])
        .when(password_step(right_password(), 2), at(10))
        .then(vec![
            challenge_opened(2, 10, Some(1)),
            code_issued(2, 10, None),
        ])
        .when(code_not_delivered(2), at(11))
        .then(vec![delivery_failed(MessagePurpose::Code, code_id(2), 2)])
        .when(password_step(right_password(), 3), at(20))
        .then(vec![
            challenge_opened(3, 20, Some(2)),
            code_issued(3, 20, None),
        ])
        .when(code_not_delivered(3), at(21))
        .then(vec![
            delivery_failed(MessagePurpose::Code, code_id(3), 3),
            alert(12, AlertKind::RepeatedDeliveryFailures, vec![5, 8, 11]),
        ]);
}

#[test]
fn a_successful_delivery_resets_the_failure_count() {
    let history = [
        with_password(),
        code_sent(1, 0),
        vec![delivery_failed(MessagePurpose::Code, code_id(1), 1)],
        vec![challenge_opened(2, 10, Some(1)), code_issued(2, 10, None)],
        vec![delivery_failed(MessagePurpose::Code, code_id(2), 2)],
        vec![
            challenge_opened(3, 20, Some(2)),
            code_issued(3, 20, None),
            delivered(3),
        ],
        vec![
            challenge_opened(4, 80, Some(3)),
            code_issued(4, 80, Some(3)),
        ],
    ]
    .concat();
    given(history)
        .when(code_not_delivered(4), at(81))
        .then(vec![delivery_failed(MessagePurpose::Code, code_id(4), 1)]);
}

#[test]
fn failed_messages_other_than_codes_do_not_count() {
    let history = [
        with_password(),
        code_sent(1, 0),
        vec![delivery_failed(MessagePurpose::Code, code_id(1), 1)],
        vec![challenge_opened(2, 10, Some(1)), code_issued(2, 10, None)],
        vec![delivery_failed(MessagePurpose::Code, code_id(2), 2)],
    ]
    .concat();
    let token = reset_token(1).token_id;
    given(history)
        .when(
            delivery(
                MessagePurpose::PasswordReset,
                token,
                Err("454 try again later".to_owned()),
            ),
            at(30),
        )
        .then(vec![delivery_failed(
            MessagePurpose::PasswordReset,
            token,
            2,
        )]);
}

#[test]
fn a_reported_code_is_voided_closes_the_challenge_and_raises_an_alert() {
    given([with_password(), code_sent(1, 0)].concat())
        .when(report(1), at(20))
        .then(vec![
            AccountEvent::UnrequestedCodeReported {
                code_id: code_id(1),
                closed_challenge: Some(challenge(1)),
                ended_sessions: vec![],
            },
            alert(6, AlertKind::UnrequestedCodeReported, vec![4, 5]),
        ])
        .when(code_step(1, &code_text(1)), at(30))
        .then(vec![code_rejected(
            1,
            None,
            CodeRefusal::ChallengeNotOpen,
            false,
            0,
        )]);
}

#[test]
fn reporting_an_older_code_closes_the_open_challenge_too() {
    given([with_password(), code_sent(1, 0)].concat())
        .when(password_step(right_password(), 2), at(60))
        .then(vec![
            challenge_opened(2, 60, Some(1)),
            code_issued(2, 60, Some(1)),
        ])
        .when(report(1), at(70))
        .then(vec![
            AccountEvent::UnrequestedCodeReported {
                code_id: code_id(1),
                closed_challenge: Some(challenge(2)),
                ended_sessions: vec![],
            },
            alert(8, AlertKind::UnrequestedCodeReported, vec![4, 7]),
        ]);
}

#[test]
fn reporting_a_code_twice_changes_nothing() {
    given([with_password(), code_sent(1, 0)].concat())
        .when(report(1), at(20))
        .then(vec![
            AccountEvent::UnrequestedCodeReported {
                code_id: code_id(1),
                closed_challenge: Some(challenge(1)),
                ended_sessions: vec![],
            },
            alert(6, AlertKind::UnrequestedCodeReported, vec![4, 5]),
        ])
        .when(report(1), at(30))
        .then(vec![]);
}

#[test]
fn a_report_token_that_matches_no_code_is_unknown() {
    let wrong_secret = AccountCommand::ReportUnrequestedCode {
        code_id: code_id(1),
        digest: report_digest(2),
    };
    given([with_password(), code_sent(1, 0)].concat())
        .when(wrong_secret, at(20))
        .then_rejected(AccountRejection::UnknownReport);
    given([with_password(), code_sent(1, 0)].concat())
        .when(report(7), at(20))
        .then_rejected(AccountRejection::UnknownReport);
}

#[test]
fn reporting_a_code_ends_the_session_it_opened() {
    // Code 1 sent (3–4), accepted (5), session 1 open (6): "I did not ask for it".
    let history = [
        with_password(),
        code_sent(1, 0),
        vec![
            AccountEvent::CodeAccepted {
                challenge_id: challenge(1),
                code_id: code_id(1),
            },
            session_started(1, 10, Some(Channel::Email)),
        ],
    ]
    .concat();
    let after = given(history)
        .when(
            AccountCommand::ReportUnrequestedCode {
                code_id: code_id(1),
                digest: report_digest(1),
            },
            at(20),
        )
        .then(vec![
            AccountEvent::UnrequestedCodeReported {
                code_id: code_id(1),
                closed_challenge: None,
                ended_sessions: vec![session_id(1)],
            },
            alert(8, AlertKind::UnrequestedCodeReported, vec![4, 7]),
        ]);
    let epoch = standing_email().activation_epoch;
    assert!(
        after
            .state()
            .live_session(session_id(1), &session(1).digest, at(21), epoch)
            .is_none()
    );
}
