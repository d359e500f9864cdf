//! Named fixtures: the user, the licence's standing, fixed random values,
//! commands and the events they are expected to produce.
//!
//! Times are seconds after `t0`; fresh values (challenge, code, session) are
//! numbered, so challenge 2 is answered by code 2 unless a code is reused.

use uuid::Uuid;

use crate::account::{
    ACCESS_CONFIRMATION_TTL_SECONDS, AccountCommand, AccountEvent, CodeRefusal, Fresh, LockCause,
    NewToken, PASSWORD_RESET_TTL_SECONDS, PasswordCheck, PasswordRefusal, TokenPurpose,
};
use crate::alert::{AlertKind, SecurityAlert};
use crate::contact::Channel;
use crate::identity::{LicenceId, UserId};
use crate::licence::{CodeRoute, Standing};
use crate::policy::LoginPolicy;
use crate::secret::{CodeKey, Digest, OneTimeCode};
use crate::timestamp::Timestamp;

// ---------------------------------------------------------------- time

/// The instant every scenario starts at.
pub(crate) fn t0() -> Timestamp {
    Timestamp::from_unix(1_700_000_000)
}

/// `seconds` after [`t0`].
pub(crate) fn at(seconds: u64) -> Timestamp {
    t0().plus_seconds(seconds)
}

// ---------------------------------------------------------------- who and where

pub(crate) fn licence_id() -> LicenceId {
    LicenceId::of("acme")
}

pub(crate) fn user() -> UserId {
    UserId::of(licence_id(), "alice")
}

pub(crate) fn email_route() -> CodeRoute {
    CodeRoute {
        channel: Channel::Email,
        destination: Some("alice@example.com".to_owned()),
        masked: "a***@example.com".to_owned(),
        epoch: 2,
    }
}

pub(crate) fn sms_route() -> CodeRoute {
    CodeRoute {
        channel: Channel::Sms,
        destination: Some("+32470123456".to_owned()),
        masked: "+3247*****56".to_owned(),
        epoch: 3,
    }
}

/// Active user of a licence with e-mail 2FA and the default policy.
pub(crate) fn standing_email() -> Standing {
    Standing {
        licence_id: licence_id(),
        user_id: user(),
        active: true,
        policy: LoginPolicy::default(),
        route: Some(email_route()),
        email_epoch: 3,
        activation_epoch: 3,
    }
}

/// Active user of a licence with SMS 2FA and the default policy.
pub(crate) fn standing_sms() -> Standing {
    Standing {
        route: Some(sms_route()),
        ..standing_email()
    }
}

/// Active user of a licence without 2FA.
pub(crate) fn standing_without_2fa() -> Standing {
    Standing {
        route: None,
        ..standing_email()
    }
}

/// The same standing for a deactivated user.
pub(crate) fn inactive(standing: Standing) -> Standing {
    Standing {
        active: false,
        ..standing
    }
}

/// The same standing under another policy.
pub(crate) fn under(standing: Standing, policy: LoginPolicy) -> Standing {
    Standing { policy, ..standing }
}

/// The same standing after the destination of codes changed (a newer route epoch).
pub(crate) fn rerouted(standing: Standing, epoch: u64) -> Standing {
    let route = standing
        .route
        .clone()
        .map(|route| CodeRoute { epoch, ..route });
    Standing { route, ..standing }
}

/// Three wrong passwords or three wrong codes lock: short streaks for lock tests.
pub(crate) fn three_strikes() -> LoginPolicy {
    LoginPolicy {
        max_failed_passwords: 3,
        max_failed_codes: 3,
        ..LoginPolicy::default()
    }
}

/// Every wrong password locks: one event batch per lock.
pub(crate) fn one_strike() -> LoginPolicy {
    LoginPolicy {
        max_failed_passwords: 1,
        ..LoginPolicy::default()
    }
}

// ---------------------------------------------------------------- the code key

/// A deterministic stand-in for the service's HMAC: user and code id verbatim,
/// the digits folded into them. Injective on codes of up to 16 digits, so two
/// different codes (or ids, or users) never share a digest.
pub(crate) struct TestKey;

impl CodeKey for TestKey {
    fn digest(&self, user: UserId, code_id: Uuid, code: &OneTimeCode) -> Digest {
        let mut bytes = [0u8; 32];
        bytes[..16].copy_from_slice(user.0.as_bytes());
        bytes[16..].copy_from_slice(code_id.as_bytes());
        for (i, digit) in code.as_str().bytes().enumerate() {
            bytes[i % 16] ^= digit.wrapping_mul(31).wrapping_add(i as u8);
            bytes[16 + i % 16] ^= digit;
        }
        bytes[31] ^= code.as_str().len() as u8;
        Digest(bytes)
    }
}

// ---------------------------------------------------------------- fixed "random" values

fn tagged_digest(tag: u8, n: u128) -> Digest {
    let mut bytes = [tag; 32];
    bytes[..16].copy_from_slice(&n.to_be_bytes());
    Digest(bytes)
}

pub(crate) fn challenge(n: u128) -> Uuid {
    Uuid::from_u128(0xC4A1_0000 + n)
}

pub(crate) fn code_id(n: u128) -> Uuid {
    Uuid::from_u128(0xC0DE_0000 + n)
}

pub(crate) fn session_id(n: u128) -> Uuid {
    Uuid::from_u128(0x5E55_0000 + n)
}

/// The digits drawn for code `n`: `n23456…`, so code 1 is `123456`.
pub(crate) fn digits(n: u128) -> [u8; 10] {
    [(n % 10) as u8, 2, 3, 4, 5, 6, 7, 8, 9, 0]
}

/// Code `n` as the user reads it (default length 6).
pub(crate) fn code_text(n: u128) -> String {
    OneTimeCode::from_digits(&digits(n), 6).as_str().to_owned()
}

/// A well-formed code that is no code ever issued.
pub(crate) fn wrong_code() -> String {
    "654321".to_owned()
}

/// What code `n` is stored as (default length 6).
pub(crate) fn code_digest(n: u128) -> Digest {
    TestKey.digest(user(), code_id(n), &OneTimeCode::from_digits(&digits(n), 6))
}

pub(crate) fn report_digest(n: u128) -> Digest {
    tagged_digest(0xAE, n)
}

pub(crate) fn session(n: u128) -> NewToken {
    NewToken {
        token_id: session_id(n),
        digest: tagged_digest(0x5E, n),
    }
}

/// The values drawn for password step `n`.
pub(crate) fn fresh(n: u128) -> Fresh {
    Fresh {
        challenge_id: challenge(n),
        code_id: code_id(n),
        code_digits: digits(n),
        report_digest: report_digest(n),
        session: session(n),
    }
}

pub(crate) fn access_token() -> NewToken {
    NewToken {
        token_id: Uuid::from_u128(0x70CE_0001),
        digest: tagged_digest(0xAC, 1),
    }
}

pub(crate) fn reset_token(n: u128) -> NewToken {
    NewToken {
        token_id: Uuid::from_u128(0x70CE_1000 + n),
        digest: tagged_digest(0x4E, n),
    }
}

/// The same token id with a digest that is not its secret's.
pub(crate) fn forged(token: NewToken) -> NewToken {
    NewToken {
        digest: tagged_digest(0xFF, 0),
        ..token
    }
}

pub(crate) const PASSWORD_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
pub(crate) const NEW_PASSWORD_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaG5ld2hhc2huZXc";

// ---------------------------------------------------------------- commands

pub(crate) fn right_password() -> PasswordCheck {
    PasswordCheck {
        against: Some(PASSWORD_HASH.to_owned()),
        matched: true,
    }
}

pub(crate) fn wrong_password() -> PasswordCheck {
    PasswordCheck {
        against: Some(PASSWORD_HASH.to_owned()),
        matched: false,
    }
}

/// Password step `n` (draws fresh values `n`).
pub(crate) fn password_step(check: PasswordCheck, n: u128) -> AccountCommand {
    AccountCommand::SubmitPassword {
        check,
        fresh: fresh(n),
        client: None,
    }
}

/// Code step on challenge `n`; a session `n` starts if it succeeds.
pub(crate) fn code_step(challenge_n: u128, code: &str) -> AccountCommand {
    AccountCommand::VerifyCode {
        challenge_id: challenge(challenge_n),
        code: code.to_owned(),
        session: session(challenge_n),
    }
}

pub(crate) fn set_password(token: NewToken) -> AccountCommand {
    AccountCommand::SetPassword {
        token,
        password_hash: NEW_PASSWORD_HASH.to_owned(),
    }
}

pub(crate) fn request_reset(n: u128) -> AccountCommand {
    AccountCommand::RequestPasswordReset {
        token: reset_token(n),
    }
}

pub(crate) fn lift_lock(reason: &str) -> AccountCommand {
    AccountCommand::LiftLock {
        reason: reason.to_owned(),
    }
}

// ---------------------------------------------------------------- events

/// The access confirmation token issued at `t0`.
pub(crate) fn access_confirmation_issued() -> AccountEvent {
    AccountEvent::AccessConfirmationIssued {
        licence_id: licence_id(),
        user_id: user(),
        token_id: access_token().token_id,
        token_digest: access_token().digest,
        expires_at: at(ACCESS_CONFIRMATION_TTL_SECONDS),
        email_epoch: standing_email().email_epoch,
    }
}

pub(crate) fn first_password_set() -> AccountEvent {
    AccountEvent::PasswordSet {
        via: TokenPurpose::AccessConfirmation,
        token_id: access_token().token_id,
        password_hash: PASSWORD_HASH.to_owned(),
        closed_challenge: None,
        voided_code: None,
        ended_sessions: vec![],
    }
}

/// A user who set their password (versions 1 and 2).
pub(crate) fn with_password() -> Vec<AccountEvent> {
    vec![access_confirmation_issued(), first_password_set()]
}

pub(crate) fn reset_requested(n: u128, at_s: u64) -> AccountEvent {
    AccountEvent::PasswordResetRequested {
        token_id: reset_token(n).token_id,
        token_digest: reset_token(n).digest,
        requested_at: at(at_s),
        expires_at: at(at_s + PASSWORD_RESET_TTL_SECONDS),
        email_epoch: standing_email().email_epoch,
    }
}

/// Challenge `n` opened at `at_s` with a new code `n`.
pub(crate) fn challenge_opened(n: u128, at_s: u64, closed: Option<u128>) -> AccountEvent {
    AccountEvent::ChallengeOpened {
        challenge_id: challenge(n),
        closed_challenge: closed.map(challenge),
        code_id: code_id(n),
        code_reused: false,
        resend_available_at: at(at_s + 60),
    }
}

/// Challenge `n` opened keeping code `code_n`, which can be resent at `resend_s`.
pub(crate) fn challenge_reopened(
    n: u128,
    code_n: u128,
    closed: Option<u128>,
    resend_s: u64,
) -> AccountEvent {
    AccountEvent::ChallengeOpened {
        challenge_id: challenge(n),
        closed_challenge: closed.map(challenge),
        code_id: code_id(code_n),
        code_reused: true,
        resend_available_at: at(resend_s),
    }
}

/// Code `n` issued by e-mail at `at_s` for challenge `n`, default policy.
pub(crate) fn code_issued(n: u128, at_s: u64, superseded: Option<u128>) -> AccountEvent {
    AccountEvent::CodeIssued {
        code_id: code_id(n),
        challenge_id: challenge(n),
        code_digest: code_digest(n),
        code_length: 6,
        channel: Channel::Email,
        destination: "a***@example.com".to_owned(),
        route_epoch: 2,
        issued_at: at(at_s),
        expires_at: at(at_s + 300),
        superseded: superseded.map(code_id),
        report_digest: report_digest(n),
    }
}

/// A right password at `at_s` opened challenge `n` and sent code `n`.
pub(crate) fn code_sent(n: u128, at_s: u64) -> Vec<AccountEvent> {
    vec![challenge_opened(n, at_s, None), code_issued(n, at_s, None)]
}

pub(crate) fn code_accepted(n: u128) -> AccountEvent {
    AccountEvent::CodeAccepted {
        challenge_id: challenge(n),
        code_id: code_id(n),
    }
}

pub(crate) fn code_rejected(
    challenge_n: u128,
    code_n: Option<u128>,
    reason: CodeRefusal,
    counted: bool,
    failed_codes_in_a_row: u32,
) -> AccountEvent {
    AccountEvent::CodeRejected {
        challenge_id: challenge(challenge_n),
        code_id: code_n.map(code_id),
        reason,
        counted,
        failed_codes_in_a_row,
    }
}

/// The counted wrong code on challenge `challenge_n`, answered by code `code_n`.
pub(crate) fn wrong_code_rejected(
    challenge_n: u128,
    code_n: u128,
    failed_codes_in_a_row: u32,
) -> AccountEvent {
    code_rejected(
        challenge_n,
        Some(code_n),
        CodeRefusal::WrongCode,
        true,
        failed_codes_in_a_row,
    )
}

/// Session `n` started at `at_s` with the default lifetime.
pub(crate) fn session_started(n: u128, at_s: u64, second_factor: Option<Channel>) -> AccountEvent {
    opened_by_code(n, at_s, second_factor, n)
}

/// Session `n` opened at `at_s` by code `code_n` (when there is a second factor).
pub(crate) fn opened_by_code(
    n: u128,
    at_s: u64,
    second_factor: Option<Channel>,
    code_n: u128,
) -> AccountEvent {
    AccountEvent::SessionStarted {
        session_id: session_id(n),
        token_digest: session(n).digest,
        started_at: at(at_s),
        expires_at: at(at_s + 28_800),
        second_factor,
        activation_epoch: standing_email().activation_epoch,
        code_id: second_factor.map(|_| code_id(code_n)),
    }
}

pub(crate) fn wrong_password_rejected(failed_passwords_in_a_row: u32) -> AccountEvent {
    AccountEvent::PasswordRejected {
        reason: PasswordRefusal::WrongPassword,
        counted: true,
        failed_passwords_in_a_row,
    }
}

pub(crate) fn locked(
    cause: LockCause,
    lock_number: u32,
    at_s: u64,
    until_s: u64,
    closed: Option<u128>,
) -> AccountEvent {
    AccountEvent::AccountLocked {
        cause,
        lock_number,
        locked_at: at(at_s),
        locked_until: at(until_s),
        closed_challenge: closed.map(challenge),
        voided_code: None,
    }
}

/// The same lock, voiding code `n` (a lock voids the outstanding code).
pub(crate) fn voiding(lock: AccountEvent, n: u128) -> AccountEvent {
    match lock {
        AccountEvent::AccountLocked {
            cause,
            lock_number,
            locked_at,
            locked_until,
            closed_challenge,
            ..
        } => AccountEvent::AccountLocked {
            cause,
            lock_number,
            locked_at,
            locked_until,
            closed_challenge,
            voided_code: Some(code_id(n)),
        },
        other => other,
    }
}

/// The alert recorded at stream version `version`.
pub(crate) fn alert(version: u64, kind: AlertKind, caused_by: Vec<u64>) -> AccountEvent {
    AccountEvent::SecurityAlertRaised(SecurityAlert::new(
        user().0,
        version,
        kind,
        user(),
        caused_by,
    ))
}

/// `count` wrong passwords in a row from a clean counter.
pub(crate) fn wrong_passwords(count: u32) -> Vec<AccountEvent> {
    (1..=count).map(wrong_password_rejected).collect()
}

/// Under [`three_strikes`], locked at `t0` (until `t0 + 900`) by three wrong
/// passwords: versions 3–5 the rejections, 6 the lock, 7 the alert.
pub(crate) fn locked_by_three_wrong_passwords() -> Vec<AccountEvent> {
    let mut history = with_password();
    history.extend(wrong_passwords(3));
    history.push(locked(LockCause::Passwords, 1, 0, 900, None));
    history.push(alert(
        7,
        AlertKind::AccountLockedByPasswords,
        vec![3, 4, 5, 6],
    ));
    history
}

/// Code 1 sent at `t0` (versions 3, 4), then `count` wrong codes, each after
/// its own password step (challenges 1, 2, …; code 1 kept every time):
/// wrong code `k` at version `5 + 2(k-1)` for k ≥ 2, the first at 5 with its
/// alert at 6.
pub(crate) fn wrong_codes_after_password_steps(count: u32) -> Vec<AccountEvent> {
    let mut history = with_password();
    history.extend(code_sent(1, 0));
    for k in 1..=u128::from(count) {
        if k > 1 {
            history.push(challenge_reopened(k, 1, None, 60));
        }
        history.push(wrong_code_rejected(k, 1, k as u32));
        if k == 1 {
            history.push(alert(6, AlertKind::WrongCodeAfterRightPassword, vec![5]));
        }
    }
    history
}
