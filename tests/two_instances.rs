//! Two `twostep serve` processes on one PostgreSQL schema, with one shared
//! secret, behind an imaginary load balancer that alternates between them:
//! every decision is taken on the account's stream with optimistic
//! concurrency, so the rules hold across instances as they do within one.
//! Each instance's read models (its own SQLite file) follow the shared store;
//! how long the lockout view took to converge is printed, not asserted.
//!
//! Needs PostgreSQL at `TWOSTEP_TEST_POSTGRES_URL` (default
//! `postgres://root@127.0.0.1:5432/test`); the tests fail if it is missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::flows::{confirmed_user, latest_emailed_code};
use support::service::fresh_postgres_url;
use support::{PASSWORD, Reply, Service, ServiceOptions, StoredEvent, WAIT};

const PARALLEL: usize = 20;
const LICENCE: &str = "Shared";
const LOGIN: &str = "alice";
const EMAIL: &str = "alice@example.com";

/// Two instances on one fresh schema; `b` is declared first so it stops
/// before `a` drops the schema.
struct Pair {
    b: Arc<Service>,
    a: Arc<Service>,
}

impl Pair {
    /// Two instances, and one confirmed user on an e-mail 2FA licence with
    /// `policy`, created through `a`.
    async fn start(policy: Value) -> Pair {
        let url = fresh_postgres_url();
        let a = Service::start_on(ServiceOptions::default(), Some(url.clone()), true).await;
        let b = Service::start_on(ServiceOptions::default(), Some(url), false).await;
        a.licence_with_2fa(LICENCE, "email", policy).await;
        confirmed_user(&a, LICENCE, LOGIN, EMAIL, None).await;
        Pair {
            a: Arc::new(a),
            b: Arc::new(b),
        }
    }

    /// Request `i` goes to `a` when `i` is even, to `b` when odd.
    fn pick(&self, i: usize) -> Arc<Service> {
        if i.is_multiple_of(2) {
            self.a.clone()
        } else {
            self.b.clone()
        }
    }

    fn both(&self) -> [(&'static str, &Arc<Service>); 2] {
        [("a", &self.a), ("b", &self.b)]
    }
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

/// The code step on each challenge at once, spread over both instances.
async fn spread_code_steps(pair: &Pair, challenges: &[String], code: &str) -> Vec<Reply> {
    let challenges = challenges.to_vec();
    in_parallel(challenges.len(), |i| {
        let (service, challenge, code) = (pair.pick(i), challenges[i].clone(), code.to_owned());
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

fn of_type<'a>(events: &'a [StoredEvent], event_type: &str) -> Vec<&'a StoredEvent> {
    events
        .iter()
        .filter(|e| e.event_type == event_type)
        .collect()
}

/// A password step through `service` that must send a code; its challenge.
async fn challenge_through(service: &Service) -> String {
    let step = service.password_step(LICENCE, LOGIN, PASSWORD).await;
    assert_eq!(
        (step.status, step.body["status"].as_str()),
        (200, Some("code_sent")),
        "{}",
        step.raw
    );
    step.body["challenge_id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_right_codes_over_two_instances_start_one_session() {
    let pair = Pair::start(json!({})).await;
    let challenge = challenge_through(&pair.a).await;
    let code = latest_emailed_code(&pair.a, EMAIL);

    let replies = spread_code_steps(&pair, &vec![challenge; PARALLEL], &code).await;

    let sessions: Vec<&Reply> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(
        sessions.len(),
        1,
        "exactly one session: {:?}",
        replies.iter().map(|r| &r.raw).collect::<Vec<_>>()
    );
    assert_eq!(sessions[0].body["status"], "authenticated");
    for reply in replies.iter().filter(|r| r.status != 200) {
        assert_eq!(
            error_of(reply),
            (401, Some("invalid_code")),
            "{}",
            reply.raw
        );
    }
    let events = pair.a.events();
    assert_eq!(of_type(&events, "CodeAccepted").len(), 1);
    assert_eq!(of_type(&events, "SessionStarted").len(), 1);
    assert_eq!(of_type(&events, "CodeRejected").len(), PARALLEL - 1);
    // Both instances answered some of the requests.
    for (name, service) in pair.both() {
        let answered = service.logs().matches("/v1/login/code").count();
        assert!(answered > 0, "instance {name} answered no code step");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_codes_over_two_instances_lock_once_and_both_enforce_it() {
    const MAX_FAILED_CODES: usize = 3;
    let policy = json!({ "max_failed_codes": MAX_FAILED_CODES, "lock_seconds": 3600,
                         "code_ttl_seconds": 300, "resend_interval_seconds": 300 });
    let pair = Pair::start(policy).await;
    // The one code of the test, sent by b; later password steps keep it.
    let first = challenge_through(&pair.b).await;
    let right = latest_emailed_code(&pair.b, EMAIL);

    let mut rounds = 0;
    let mut challenges = vec![first];
    let locked_at = loop {
        assert!(
            rounds <= 2 * MAX_FAILED_CODES,
            "still not locked after {rounds} rounds"
        );
        let replies = spread_code_steps(&pair, &challenges, &wrong(&right)).await;
        let answered_at = Instant::now();
        rounds += 1;
        for reply in &replies {
            let answer = error_of(reply);
            let allowed = answer == (401, Some("invalid_code"))
                || (rounds == MAX_FAILED_CODES && answer == (423, Some("account_locked")));
            assert!(allowed, "round {rounds}: {}", reply.raw);
        }
        let steps = in_parallel(PARALLEL, |i| {
            let service = pair.pick(i);
            async move { service.password_step(LICENCE, LOGIN, PASSWORD).await }
        })
        .await;
        if steps.iter().all(|r| r.status == 423) {
            break answered_at;
        }
        for step in &steps {
            assert_eq!(step.status, 200, "round {rounds}: {}", step.raw);
        }
        challenges = steps
            .iter()
            .map(|r| r.body["challenge_id"].as_str().unwrap().to_owned())
            .collect();
    };
    assert_eq!(
        rounds, MAX_FAILED_CODES,
        "each round of parallel wrong codes is one guess"
    );

    let events = pair.a.events();
    let locks = of_type(&events, "AccountLocked");
    assert_eq!(locks.len(), 1, "one lock");
    assert_eq!(locks[0].data["cause"], json!("codes"));
    let in_a_row: Vec<&Value> = events
        .iter()
        .filter(|e| e.event_type == "CodeRejected" && e.data["counted"] == json!(true))
        .map(|e| &e.data["failed_codes_in_a_row"])
        .collect();
    assert_eq!(
        in_a_row,
        [&json!(1), &json!(2), &json!(3)],
        "max_failed_codes guesses over both instances, no more"
    );
    let locked_until = locks[0].data["locked_until"].clone();

    // Both instances refuse the right code and the right password while locked.
    for reply in spread_code_steps(&pair, &challenges, &right).await {
        assert_eq!(
            error_of(&reply),
            (423, Some("account_locked")),
            "{}",
            reply.raw
        );
    }
    for (name, service) in pair.both() {
        let step = service.password_step(LICENCE, LOGIN, PASSWORD).await;
        assert_eq!(
            (error_of(&step), &step.body["locked_until"]),
            ((423, Some("account_locked")), &locked_until),
            "instance {name}: {}",
            step.raw
        );
    }
    assert_eq!(of_type(&pair.b.events(), "CodeAccepted").len(), 0);

    // Each instance's lockout view (its own read model) converges.
    let path = format!("/v1/licences/{LICENCE}/users/{LOGIN}/lockout");
    for (name, service) in pair.both() {
        let view = converge(service, &path, |v| v["locked"] == json!(true)).await;
        assert_eq!(view["locked_until"], locked_until, "instance {name}");
        println!(
            "instance {name}: lockout read model showed the lock {:.0} ms after the locking guess was answered",
            locked_at.elapsed().as_secs_f64() * 1e3
        );
    }
}

/// Polls an auditor view until `accept` holds; panics with the last body at
/// the deadline.
async fn converge(service: &Service, path: &str, accept: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let reply = service.auditor(path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.raw);
        if accept(&reply.body) {
            return reply.body;
        }
        assert!(
            start.elapsed() < WAIT,
            "{path} never converged within {WAIT:?}; last: {}",
            reply.raw
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_code_issued_through_one_instance_is_verified_through_the_other() {
    let pair = Pair::start(json!({ "resend_interval_seconds": 0 })).await;
    for (issuer, verifier) in [(&pair.a, &pair.b), (&pair.b, &pair.a)] {
        let challenge = challenge_through(issuer).await;
        let code = latest_emailed_code(issuer, EMAIL);
        let session = verifier.code_step(&challenge, &code).await;
        assert_eq!(
            (session.status, session.body["status"].as_str()),
            (200, Some("authenticated")),
            "{}",
            session.raw
        );
        let token = session.body["session_token"].as_str().unwrap();
        for service in [issuer, verifier] {
            assert_eq!(
                service.get("/v1/session", Some(token)).await.body["login"],
                LOGIN
            );
        }
    }
    assert_eq!(of_type(&pair.a.events(), "SessionStarted").len(), 2);
}

#[tokio::test]
async fn serve_on_postgres_without_a_shared_secret_is_refused() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_twostep-under-test"))
        .args(["serve", "--listen", "127.0.0.1:0", "--store", "postgres"])
        .args(["--store-url", &fresh_postgres_url()])
        .arg("--data-dir")
        .arg(tempfile::tempdir().unwrap().path())
        .env_remove("TWOSTEP_SECRET")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "--store postgres is shared by several instances: give them all the same TWOSTEP_SECRET"
        ),
        "{stderr}"
    );
}
