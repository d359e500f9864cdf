//! Given a recorded history (made by the real decider under the licence's
//! policy), when it is replayed under another policy, then exactly these
//! steps differ.

use super::*;
use crate::account::MessagePurpose;
use crate::identity::LicenceId;

const T0: i64 = 1_800_000_000;

fn user() -> UserId {
    UserId(Uuid::from_u128(42))
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix(T0 + seconds)
}

/// Records a history by deciding commands with the real decider.
struct History {
    standing: Standing,
    state: Account,
    steps: Vec<RecordedStep>,
}

fn history_under(policy: LoginPolicy) -> History {
    let standing = Standing {
        licence_id: LicenceId(Uuid::from_u128(1)),
        user_id: user(),
        active: true,
        policy,
        route: Some(CodeRoute {
            channel: Channel::Email,
            destination: Some("alice@example.com".into()),
            masked: "a***@example.com".into(),
            epoch: 1,
        }),
        email_epoch: 1,
        activation_epoch: 1,
    };
    let mut history = History {
        standing,
        state: Account::default(),
        steps: Vec::new(),
    };
    history.record(
        AccountEvent::PasswordSet {
            via: crate::account::TokenPurpose::AccessConfirmation,
            token_id: Uuid::from_u128(2),
            password_hash: "$argon2id$test".into(),
            closed_challenge: None,
            voided_code: None,
            ended_sessions: Vec::new(),
        },
        at(0),
    );
    history
}

impl History {
    fn record(&mut self, event: AccountEvent, now: Timestamp) {
        self.state = std::mem::take(&mut self.state).evolve(&event);
        self.steps.push(RecordedStep {
            version: self.state.version,
            at: now,
            event,
        });
    }

    fn run(&mut self, command: AccountCommand, now: Timestamp) {
        let events = self
            .state
            .decide(&self.standing, &command, now, &ReplayKey)
            .unwrap_or_default();
        for event in events {
            self.record(event, now);
        }
    }

    fn fresh(&self, n: u128) -> Fresh {
        Fresh {
            challenge_id: Uuid::from_u128(100 + n),
            code_id: Uuid::from_u128(200 + n),
            code_digits: [0; MAX_CODE_DIGITS],
            report_digest: REPORT_DIGEST,
            session: NewToken {
                token_id: Uuid::from_u128(300 + n),
                digest: Digest([1; 32]),
            },
        }
    }

    /// A password step; returns the challenge it opened, if any.
    fn password(&mut self, n: u128, right: bool, now: Timestamp) -> Uuid {
        let command = AccountCommand::SubmitPassword {
            check: PasswordCheck {
                against: self.state.password_hash.clone(),
                matched: right,
            },
            fresh: self.fresh(n),
            client: None,
        };
        self.run(command, now);
        if let Some(code) = self.state.latest_code().filter(|c| c.issued_at == now) {
            let delivered = AccountCommand::RecordDelivery {
                purpose: MessagePurpose::Code,
                reference: code.code_id,
                channel: Channel::Email,
                destination: "a***@example.com".into(),
                outcome: Ok(()),
            };
            self.run(delivered, now);
        }
        self.fresh(n).challenge_id
    }

    fn code(&mut self, challenge: Uuid, right: bool, now: Timestamp) {
        let digit = if right { "0" } else { "1" };
        let command = AccountCommand::VerifyCode {
            challenge_id: challenge,
            code: digit.repeat(6),
            session: self.fresh(999).session,
        };
        self.run(command, now);
    }
}

fn strict(patch: &str) -> LoginPolicy {
    let patch = parse_overrides(patch).unwrap_or_default();
    LoginPolicy::default().patched(&patch).unwrap_or_default()
}

fn lines(differences: &[Difference]) -> Vec<String> {
    differences.iter().map(ToString::to_string).collect()
}

#[test]
fn the_same_policy_changes_nothing() {
    let mut history = history_under(LoginPolicy::default());
    for n in 0..4 {
        let challenge = history.password(n, true, at(100 * n as i64 + 10));
        history.code(challenge, n == 3, at(100 * n as i64 + 20));
    }
    assert_eq!(
        what_if(user(), &history.steps, LoginPolicy::default()),
        Vec::new()
    );
}

#[test]
fn fewer_allowed_wrong_codes_lock_earlier_and_refuse_what_follows() {
    let mut history = history_under(LoginPolicy::default());
    for n in 0..3 {
        let challenge = history.password(n, true, at(100 * n as i64 + 10));
        history.code(challenge, false, at(100 * n as i64 + 20));
    }
    let differences = what_if(user(), &history.steps, strict("max_failed_codes=2"));
    assert_eq!(
        lines(&differences),
        vec![
            "2027-01-15T08:02:00Z code step (v10): would have: code rejected: wrong code, \
             locked until 2027-01-15T08:17:00Z (wrong codes); actual: code rejected: wrong code"
                .to_owned(),
            "2027-01-15T08:03:30Z password step (v11): would have: password step refused \
             (locked until 2027-01-15T08:17:00Z); actual: code sent"
                .to_owned(),
            "2027-01-15T08:03:40Z code step (v14): would have: code step refused (locked); \
             actual: code rejected: wrong code"
                .to_owned(),
        ]
    );
}

#[test]
fn a_longer_code_lifetime_accepts_a_late_right_code() {
    let policy = LoginPolicy {
        code_ttl_seconds: 60,
        resend_interval_seconds: 60,
        ..LoginPolicy::default()
    };
    let mut history = history_under(policy);
    let challenge = history.password(0, true, at(10));
    history.code(challenge, true, at(100));
    let differences = what_if(user(), &history.steps, strict("code_ttl_seconds=300"));
    assert_eq!(
        lines(&differences),
        vec![
            "2027-01-15T08:01:40Z code step (v5): would have: code accepted, session started; \
             actual: code rejected: expired"
                .to_owned()
        ]
    );
}

#[test]
fn a_longer_resend_interval_keeps_the_code_instead_of_sending_one() {
    let policy = LoginPolicy {
        resend_interval_seconds: 0,
        ..LoginPolicy::default()
    };
    let mut history = history_under(policy);
    history.password(0, true, at(10));
    history.password(1, true, at(40));
    let differences = what_if(user(), &history.steps, strict("resend_interval_seconds=60"));
    assert_eq!(
        lines(&differences),
        vec![
            "2027-01-15T08:00:40Z password step (v5): would have: code kept (none sent); \
             actual: code sent"
                .to_owned()
        ]
    );
}

#[test]
fn a_shorter_lock_would_have_let_the_next_login_through() {
    let policy = LoginPolicy {
        max_failed_passwords: 2,
        ..LoginPolicy::default()
    };
    let mut history = history_under(policy);
    history.password(0, false, at(10));
    history.password(1, false, at(20));
    history.password(2, true, at(200));
    // A code was sent later on: the replay learns the licence's route from it.
    history.password(3, true, at(2_000));
    let differences = what_if(
        user(),
        &history.steps,
        strict("max_failed_passwords=2,lock_seconds=60"),
    );
    assert_eq!(
        lines(&differences),
        vec![
            "2027-01-15T08:00:20Z password step (v3): would have: password rejected, \
             locked until 2027-01-15T08:01:20Z (wrong passwords); actual: password rejected, \
             locked until 2027-01-15T08:15:20Z (wrong passwords)"
                .to_owned(),
            "2027-01-15T08:03:20Z password step (v6): would have: code sent; actual: \
             password step refused (locked until 2027-01-15T08:15:20Z)"
                .to_owned(),
        ]
    );
}

#[test]
fn overrides_name_the_valid_keys_when_one_is_unknown() {
    let refused = parse_overrides("max_failed_codes=3,lock=5");
    assert_eq!(refused, Err(OverrideError::UnknownKey("lock".into())));
    let message = OverrideError::UnknownKey("lock".into()).to_string();
    assert_eq!(
        message,
        "unknown policy key `lock` (valid keys: code_ttl_seconds, resend_interval_seconds, \
         max_failed_codes, max_failed_passwords, lock_seconds, code_length, session_ttl_seconds)"
    );
}

#[test]
fn overrides_refuse_values_that_are_not_numbers() {
    assert_eq!(
        parse_overrides("lock_seconds=ten"),
        Err(OverrideError::NotANumber("lock_seconds".into(), "seconds"))
    );
    assert_eq!(
        parse_overrides("max_failed_codes"),
        Err(OverrideError::Shape("max_failed_codes".into()))
    );
}

#[test]
fn overrides_set_only_the_fields_named() {
    assert_eq!(
        parse_overrides("max_failed_codes=3, lock_seconds=1800"),
        Ok(PolicyPatch {
            max_failed_codes: Some(3),
            lock_seconds: Some(1800),
            ..PolicyPatch::default()
        })
    );
}
