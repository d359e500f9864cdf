//! Twenty requests in parallel must not get twenty guesses: every decision is
//! taken on the account's stream with optimistic concurrency, so parallel
//! code steps spend a code once, parallel wrong codes lock after exactly
//! `max_failed_codes` guesses, and parallel wrong passwords after exactly
//! `max_failed_passwords`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::future::Future;
use std::sync::Arc;

use serde_json::{Value, json};
use support::flows::{
    confirmed_user, latest_emailed_code, outbox_emails_to, seconds_between, sleep_past,
};
use support::{PASSWORD, Reply, Service, ServiceOptions, StoredEvent};

const PARALLEL: usize = 20;
const LICENCE: &str = "Parallel";
const LOGIN: &str = "alice";
const EMAIL: &str = "alice@example.com";

/// A service with one confirmed user on an e-mail 2FA licence with `policy`.
async fn service_with_user(policy: Value) -> Arc<Service> {
    let service = Service::start(ServiceOptions::default()).await;
    service.licence_with_2fa(LICENCE, "email", policy).await;
    confirmed_user(&service, LICENCE, LOGIN, EMAIL, None).await;
    Arc::new(service)
}

/// Runs `request(i)` for `i` in `0..n` at the same time; answers in the order of `i`.
async fn in_parallel<F, Fut>(n: usize, request: F) -> Vec<Reply>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Reply> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(request(i))).collect();
    let mut replies = Vec::with_capacity(n);
    for task in tasks {
        replies.push(task.await.unwrap());
    }
    replies
}

async fn parallel_password_steps(service: &Arc<Service>, password: &'static str) -> Vec<Reply> {
    in_parallel(PARALLEL, |_| {
        let service = service.clone();
        async move { service.password_step(LICENCE, LOGIN, password).await }
    })
    .await
}

/// The code step on each challenge at once, all with the same code.
async fn parallel_code_steps(
    service: &Arc<Service>,
    challenges: &[String],
    code: &str,
) -> Vec<Reply> {
    let challenges = challenges.to_vec();
    in_parallel(challenges.len(), |i| {
        let (service, challenge, code) = (service.clone(), challenges[i].clone(), code.to_owned());
        async move { service.code_step(&challenge, &code).await }
    })
    .await
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

fn error_of(reply: &Reply) -> (u16, Option<&str>) {
    (reply.status, reply.body["error"].as_str())
}

fn counted(events: &[StoredEvent], event_type: &str) -> Vec<StoredEvent> {
    events
        .iter()
        .filter(|e| e.event_type == event_type && e.data["counted"] == json!(true))
        .cloned()
        .collect()
}

fn of_type<'a>(events: &'a [StoredEvent], event_type: &str) -> Vec<&'a StoredEvent> {
    events
        .iter()
        .filter(|e| e.event_type == event_type)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_right_codes_start_one_session() {
    let service = service_with_user(json!({})).await;
    let step = service.password_step(LICENCE, LOGIN, PASSWORD).await;
    assert_eq!(step.body["status"], "code_sent", "{}", step.raw);
    let challenge = step.body["challenge_id"].as_str().unwrap().to_owned();
    let code = latest_emailed_code(&service, EMAIL);

    let replies = parallel_code_steps(&service, &vec![challenge; PARALLEL], &code).await;

    let sessions: Vec<&Reply> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(
        sessions.len(),
        1,
        "exactly one session: {:?}",
        replies.iter().map(|r| &r.raw).collect::<Vec<_>>()
    );
    assert_eq!(sessions[0].body["status"], "authenticated");
    let token = sessions[0].body["session_token"].as_str().unwrap();
    assert_eq!(service.get("/v1/session", Some(token)).await.status, 200);
    let refused: Vec<&Reply> = replies.iter().filter(|r| r.status != 200).collect();
    assert_eq!(refused.len(), PARALLEL - 1);
    for reply in refused {
        assert_eq!(
            error_of(reply),
            (401, Some("invalid_code")),
            "{}",
            reply.raw
        );
    }

    let events = service.events();
    assert_eq!(of_type(&events, "CodeAccepted").len(), 1);
    assert_eq!(of_type(&events, "SessionStarted").len(), 1);
    let rejected = of_type(&events, "CodeRejected");
    assert_eq!(
        rejected.len(),
        PARALLEL - 1,
        "every late request is recorded"
    );
    for event in rejected {
        assert_eq!(
            (&event.data["reason"], &event.data["counted"]),
            (&json!("challenge_not_open"), &json!(false))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_codes_lock_after_exactly_max_failed_codes() {
    const MAX_FAILED_CODES: usize = 3;
    // One code for the whole test: every later password step keeps it.
    let policy = json!({ "max_failed_codes": MAX_FAILED_CODES, "lock_seconds": 3,
                         "code_ttl_seconds": 300, "resend_interval_seconds": 300 });
    let service = service_with_user(policy).await;

    let mut rounds = 0;
    let mut last_challenges = Vec::new();
    let mut code = None;
    let locked_replies = loop {
        assert!(
            rounds <= 2 * MAX_FAILED_CODES,
            "still not locked after {rounds} rounds"
        );
        let steps = parallel_password_steps(&service, PASSWORD).await;
        if steps.iter().any(|r| r.status == 423) {
            break steps;
        }
        rounds += 1;
        for step in &steps {
            assert_eq!(step.status, 200, "{}", step.raw);
        }
        let right = code
            .get_or_insert_with(|| latest_emailed_code(&service, EMAIL))
            .clone();
        let challenges: Vec<String> = steps
            .iter()
            .map(|r| r.body["challenge_id"].as_str().unwrap().to_owned())
            .collect();
        for reply in parallel_code_steps(&service, &challenges, &wrong(&right)).await {
            let answer = error_of(&reply);
            // The guess that locks is answered 401; the ones decided after it, 423.
            let allowed = answer == (401, Some("invalid_code"))
                || (rounds == MAX_FAILED_CODES && answer == (423, Some("account_locked")));
            assert!(allowed, "round {rounds}: {}", reply.raw);
        }
        last_challenges = challenges;
    };
    assert_eq!(
        rounds, MAX_FAILED_CODES,
        "each round of parallel wrong codes is one guess"
    );
    let right = code.unwrap();

    let events = service.events();
    let locks = of_type(&events, "AccountLocked");
    assert_eq!(locks.len(), 1, "one lock");
    let lock = locks[0];
    assert_eq!(
        (&lock.data["cause"], &lock.data["lock_number"]),
        (&json!("codes"), &json!(1))
    );
    assert_eq!(
        seconds_between(
            lock.data["locked_at"].as_str().unwrap(),
            lock.data["locked_until"].as_str().unwrap()
        ),
        3.0
    );
    let guesses: Vec<StoredEvent> = counted(&events, "CodeRejected");
    let in_a_row: Vec<&Value> = guesses
        .iter()
        .map(|e| &e.data["failed_codes_in_a_row"])
        .collect();
    assert_eq!(
        in_a_row,
        [&json!(1), &json!(2), &json!(3)],
        "exactly max_failed_codes guesses"
    );
    assert!(
        guesses.iter().all(|g| g.position < lock.position),
        "no guess counted after the lock"
    );
    let locked_until = lock.data["locked_until"].as_str().unwrap().to_owned();

    // Locked: the right code on the challenges opened before the lock is refused…
    for reply in parallel_code_steps(&service, &last_challenges, &right).await {
        assert_eq!(
            error_of(&reply),
            (423, Some("account_locked")),
            "{}",
            reply.raw
        );
    }
    // …and the right password is told about the lock.
    for reply in locked_replies
        .iter()
        .chain([&service.password_step(LICENCE, LOGIN, PASSWORD).await])
    {
        assert_eq!(
            error_of(reply),
            (423, Some("account_locked")),
            "{}",
            reply.raw
        );
        assert_eq!(reply.body["locked_until"], json!(locked_until));
    }
    assert_eq!(of_type(&service.events(), "CodeAccepted").len(), 0);
    assert_eq!(of_type(&service.events(), "AccountLocked").len(), 1);

    // The lock voided the code; once it ends by itself, a new code is sent and works.
    assert!(
        of_type(&service.events(), "AccountLocked")[0].data["voided_code"].is_string(),
        "the lock voids the outstanding code"
    );
    sleep_past(&locked_until).await;
    let step = service.password_step(LICENCE, LOGIN, PASSWORD).await;
    assert_eq!(
        (step.status, step.body["status"].as_str()),
        (200, Some("code_sent")),
        "{}",
        step.raw
    );
    let new_code = latest_emailed_code(&service, EMAIL);
    let session = service
        .code_step(step.body["challenge_id"].as_str().unwrap(), &new_code)
        .await;
    assert_eq!(
        (session.status, session.body["status"].as_str()),
        (200, Some("authenticated")),
        "{}",
        session.raw
    );
    assert_eq!(
        outbox_emails_to(&service, EMAIL).len(),
        3,
        "the access e-mail, the voided code and the new one"
    );
    assert_eq!(of_type(&service.events(), "LockExpired").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_passwords_lock_after_exactly_max_failed_passwords() {
    const MAX_FAILED_PASSWORDS: usize = 5;
    let service = service_with_user(json!({ "max_failed_passwords": MAX_FAILED_PASSWORDS })).await;

    let replies = parallel_password_steps(&service, "not the right password at all").await;

    let unknown = service
        .password_step(LICENCE, "nobody", "not the right password at all")
        .await;
    assert_eq!(
        error_of(&unknown),
        (401, Some("invalid_credentials")),
        "{}",
        unknown.raw
    );
    for reply in &replies {
        assert_eq!(
            (reply.status, &reply.raw),
            (401, &unknown.raw),
            "the same answer every time, locked or not"
        );
    }

    // Every wrong password counts, also during a lock, and every
    // MAX_FAILED_PASSWORDS of them in a row lock again for twice as long.
    let events = service.events();
    let locks = of_type(&events, "AccountLocked");
    let expected_locks = PARALLEL / MAX_FAILED_PASSWORDS;
    assert_eq!(locks.len(), expected_locks);
    for (n, lock) in locks.iter().enumerate() {
        assert_eq!(
            (&lock.data["cause"], &lock.data["lock_number"]),
            (&json!("passwords"), &json!(n + 1))
        );
    }
    let rejected = of_type(&events, "PasswordRejected");
    assert_eq!(rejected.len(), PARALLEL, "every attempt is recorded");
    assert!(rejected.iter().all(|e| e.data["counted"] == json!(true)));
    let in_a_row: Vec<Value> = rejected
        .iter()
        .map(|e| e.data["failed_passwords_in_a_row"].clone())
        .collect();
    assert_eq!(
        in_a_row,
        (1..=PARALLEL).map(|n| json!(n)).collect::<Vec<_>>()
    );
    for (n, lock) in locks.iter().enumerate() {
        let before = rejected
            .iter()
            .filter(|e| e.position < lock.position)
            .count();
        assert_eq!(
            before,
            (n + 1) * MAX_FAILED_PASSWORDS,
            "lock {} follows exactly its guesses",
            n + 1
        );
    }

    let right = service.password_step(LICENCE, LOGIN, PASSWORD).await;
    assert_eq!(
        error_of(&right),
        (423, Some("account_locked")),
        "{}",
        right.raw
    );
    assert_eq!(
        right.body["locked_until"],
        locks[expected_locks - 1].data["locked_until"]
    );
}
