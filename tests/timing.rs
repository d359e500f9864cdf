//! Rules that depend on time, with seconds-long policies: code expiry,
//! "latest code only", the resend interval, malformed codes, the end of a
//! lock and the doubling of locks that follow each other.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::flows::{
    confirmed_user, latest_emailed_code, outbox_emails_to, poll_auditor, seconds_between,
    sleep_past,
};
use support::{PASSWORD, Reply, Service, ServiceOptions, StoredEvent};

const LICENCE: &str = "Clockwork";
const LOGIN: &str = "alice";
const EMAIL: &str = "alice@example.com";

/// A service with one confirmed user on an e-mail 2FA licence with `policy`.
async fn service_with_user(policy: Value) -> Service {
    let service = Service::start(ServiceOptions::default()).await;
    service.licence_with_2fa(LICENCE, "email", policy).await;
    confirmed_user(&service, LICENCE, LOGIN, EMAIL, None).await;
    service
}

/// A password step that must open a challenge with `status`; returns the reply.
async fn challenge(service: &Service, status: &str) -> Reply {
    let step = service.password_step(LICENCE, LOGIN, PASSWORD).await;
    assert_eq!(
        (step.status, step.body["status"].as_str()),
        (200, Some(status)),
        "{}",
        step.raw
    );
    step
}

fn challenge_id(step: &Reply) -> &str {
    step.body["challenge_id"].as_str().unwrap()
}

/// Code e-mails sent to the user so far (the access e-mail is not one).
fn codes_sent(service: &Service) -> usize {
    outbox_emails_to(service, EMAIL).len() - 1
}

/// A well-formed code that is not `code`.
fn wrong(code: &str) -> String {
    code.chars()
        .map(|c| {
            if c == '9' {
                '0'
            } else {
                char::from(c as u8 + 1)
            }
        })
        .collect()
}

fn assert_error(reply: &Reply, status: u16, error: &str) {
    assert_eq!(
        (reply.status, reply.body["error"].as_str()),
        (status, Some(error)),
        "{}",
        reply.raw
    );
}

fn assert_session(reply: &Reply) {
    assert_eq!(
        (reply.status, reply.body["status"].as_str()),
        (200, Some("authenticated")),
        "{}",
        reply.raw
    );
}

fn events_of(service: &Service, event_type: &str) -> Vec<StoredEvent> {
    service.events_of(event_type)
}

/// The latest `CodeRejected`: its reason and whether it counted.
fn last_rejection(service: &Service) -> (Value, Value) {
    let rejected = events_of(service, "CodeRejected");
    let last = rejected.last().expect("a CodeRejected event");
    (last.data["reason"].clone(), last.data["counted"].clone())
}

/// Wrong codes until the account locks (`max_failed_codes` of them); returns the `AccountLocked` data.
async fn lock_with_wrong_codes(service: &Service, max_failed_codes: usize) -> Value {
    let locks_before = events_of(service, "AccountLocked").len();
    for _ in 0..max_failed_codes {
        let step = service.password_step(LICENCE, LOGIN, PASSWORD).await;
        assert_eq!(step.status, 200, "{}", step.raw);
        let code = latest_emailed_code(service, EMAIL);
        assert_error(
            &service.code_step(challenge_id(&step), &wrong(&code)).await,
            401,
            "invalid_code",
        );
    }
    let locks = events_of(service, "AccountLocked");
    assert_eq!(
        locks.len(),
        locks_before + 1,
        "the last wrong code locked the account"
    );
    locks.last().unwrap().data.clone()
}

#[tokio::test]
async fn a_code_expires_after_its_ttl() {
    let service =
        service_with_user(json!({ "code_ttl_seconds": 2, "resend_interval_seconds": 1 })).await;
    let step = challenge(&service, "code_sent").await;
    assert_eq!(
        seconds_between(
            step.body["resend_available_at"].as_str().unwrap(),
            step.body["code_expires_at"].as_str().unwrap()
        ),
        1.0
    );
    let code = latest_emailed_code(&service, EMAIL);

    sleep_past(step.body["code_expires_at"].as_str().unwrap()).await;
    let late = service.code_step(challenge_id(&step), &code).await;
    assert_error(&late, 401, "invalid_code");
    assert_eq!(late.body["next"], "password");
    assert_eq!(last_rejection(&service), (json!("expired"), json!(true)));
    assert!(events_of(&service, "SessionStarted").is_empty());
}

#[tokio::test]
async fn a_new_code_supersedes_the_old_one() {
    let service =
        service_with_user(json!({ "code_ttl_seconds": 60, "resend_interval_seconds": 1 })).await;
    let first = challenge(&service, "code_sent").await;
    let old_code = latest_emailed_code(&service, EMAIL);

    sleep_past(first.body["resend_available_at"].as_str().unwrap()).await;
    let second = challenge(&service, "code_sent").await;
    assert_eq!(codes_sent(&service), 2, "a new code was sent");
    let new_code = latest_emailed_code(&service, EMAIL);
    let issued = events_of(&service, "CodeIssued");
    assert_eq!(issued[1].data["superseded"], issued[0].data["code_id"]);

    assert_error(
        &service.code_step(challenge_id(&second), &old_code).await,
        401,
        "invalid_code",
    );
    assert_eq!(last_rejection(&service), (json!("superseded"), json!(true)));

    // The refusal closed the challenge; the password again keeps the new code.
    let third = challenge(&service, "code_already_sent").await;
    assert_session(&service.code_step(challenge_id(&third), &new_code).await);
    assert_eq!(codes_sent(&service), 2);
}

#[tokio::test]
async fn within_the_resend_interval_the_latest_code_stays_valid() {
    const INTERVAL: f64 = 30.0;
    let service =
        service_with_user(json!({ "code_ttl_seconds": 120, "resend_interval_seconds": 30 })).await;
    let first = challenge(&service, "code_sent").await;
    let code = latest_emailed_code(&service, EMAIL);

    let second = challenge(&service, "code_already_sent").await;
    assert_eq!(codes_sent(&service), 1, "nothing was sent");
    assert_eq!(events_of(&service, "CodeIssued").len(), 1);
    assert_ne!(
        challenge_id(&second),
        challenge_id(&first),
        "a new challenge"
    );
    assert_eq!(
        second.body["resend_available_at"],
        first.body["resend_available_at"]
    );
    assert_eq!(
        second.body["code_expires_at"],
        first.body["code_expires_at"]
    );
    assert_eq!(
        (&second.body["channel"], &second.body["destination"]),
        (&json!("email"), &json!("a***@example.com"))
    );
    let issued_at = events_of(&service, "CodeIssued")[0].data["issued_at"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        seconds_between(
            &issued_at,
            second.body["resend_available_at"].as_str().unwrap()
        ),
        INTERVAL
    );

    // The new password step closed the first challenge, not the code.
    assert_error(
        &service.code_step(challenge_id(&first), &code).await,
        401,
        "invalid_code",
    );
    assert_eq!(
        last_rejection(&service),
        (json!("challenge_not_open"), json!(false))
    );
    assert_session(&service.code_step(challenge_id(&second), &code).await);
}

#[tokio::test]
async fn malformed_codes_are_not_guesses() {
    let service = service_with_user(json!({})).await;
    let step = challenge(&service, "code_sent").await;
    let code = latest_emailed_code(&service, EMAIL);

    for malformed in ["12345", "abcdef", "1234567", "", "１２３４５６", "12 345"] {
        let reply = service.code_step(challenge_id(&step), malformed).await;
        assert_error(&reply, 400, "malformed_code");
        assert_eq!(reply.body["code_length"], 6, "{malformed:?}");
    }
    assert!(
        events_of(&service, "CodeRejected").is_empty(),
        "no guess recorded"
    );
    let padded = format!("  {code} ");
    assert_session(&service.code_step(challenge_id(&step), &padded).await);
}

#[tokio::test]
async fn a_lock_ends_by_itself_and_resets_the_counters() {
    const MAX_FAILED_CODES: usize = 2;
    let policy = json!({ "max_failed_codes": MAX_FAILED_CODES, "lock_seconds": 2, "code_ttl_seconds": 120, "resend_interval_seconds": 120 });
    let service = service_with_user(policy).await;
    let lockout = format!("/v1/licences/{LICENCE}/users/{LOGIN}/lockout");

    let lock = lock_with_wrong_codes(&service, MAX_FAILED_CODES).await;
    let locked_until = lock["locked_until"].as_str().unwrap();
    let seen = poll_auditor(&service, &lockout, |b| b["locked"] == json!(true)).await;
    assert_eq!(seen["locked_until"], json!(locked_until));
    assert_eq!(
        (&seen["lock_cause"], &seen["failed_codes_in_a_row"]),
        (&json!("codes"), &json!(MAX_FAILED_CODES))
    );
    assert_error(
        &service.password_step(LICENCE, LOGIN, PASSWORD).await,
        423,
        "account_locked",
    );

    sleep_past(locked_until).await;
    // The lock voided the code it interrupted: a new one is sent at once.
    let step = challenge(&service, "code_sent").await;
    assert_session(
        &service
            .code_step(challenge_id(&step), &latest_emailed_code(&service, EMAIL))
            .await,
    );
    assert_eq!(events_of(&service, "LockExpired").len(), 1);
    let cleared = |b: &Value| {
        b["locked"] == json!(false)
            && b["failed_codes_in_a_row"] == json!(0)
            && b["failed_passwords_in_a_row"] == json!(0)
    };
    let seen = poll_auditor(&service, &lockout, cleared).await;
    assert_eq!(seen["locked_until"], Value::Null);
}

#[tokio::test]
async fn a_second_lock_without_success_in_between_lasts_twice_as_long() {
    const MAX_FAILED_CODES: usize = 2;
    let policy = json!({ "max_failed_codes": MAX_FAILED_CODES, "lock_seconds": 2, "code_ttl_seconds": 120, "resend_interval_seconds": 120 });
    let service = service_with_user(policy).await;

    let first = lock_with_wrong_codes(&service, MAX_FAILED_CODES).await;
    sleep_past(first["locked_until"].as_str().unwrap()).await;
    let second = lock_with_wrong_codes(&service, MAX_FAILED_CODES).await;

    let length = |lock: &Value| {
        seconds_between(
            lock["locked_at"].as_str().unwrap(),
            lock["locked_until"].as_str().unwrap(),
        )
    };
    assert_eq!((&first["lock_number"], length(&first)), (&json!(1), 2.0));
    assert_eq!((&second["lock_number"], length(&second)), (&json!(2), 4.0));
    assert_eq!(
        events_of(&service, "LockExpired").len(),
        1,
        "the first lock ended before the second"
    );
}
