#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Restarts: everything the service knows lives in its data directory. After
//! a graceful stop (SIGTERM) sessions, locks, codes and every read model are
//! as they were, and the projectors go on from their checkpoints; after a
//! SIGKILL, every request answered 2xx before the kill is still reflected.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
mod support;

use support::probes::{
    base64url_decode, caught_up, confirmed_over_smtp, hex_of, password_step_with, send,
};
use support::service::AUDITOR;
use support::{PASSWORD, Service, ServiceOptions, SmtpServer, WAIT, code_in};

const LICENCE: &str = "Acme";
const LOGINS: [&str; 3] = ["alice", "bob", "carol"];

async fn service_with_smtp() -> (SmtpServer, Service) {
    let smtp = SmtpServer::start();
    let service = Service::start(ServiceOptions {
        smtp_url: Some(smtp.url()),
        ..Default::default()
    })
    .await;
    (smtp, service)
}

fn email_of(login: &str) -> String {
    format!("{login}@example.com")
}

/// The password step and the code of the e-mail it sent: `(challenge, code)`.
async fn code_for(service: &Service, smtp: &SmtpServer, login: &str) -> (String, String) {
    let step = service.password_step(LICENCE, login, PASSWORD).await;
    assert_eq!(
        (step.status, step.body["status"].as_str()),
        (200, Some("code_sent")),
        "{}",
        step.raw
    );
    let mails = smtp.to(&email_of(login));
    let code = code_in(&mails.last().unwrap().body(), 6).unwrap();
    (step.body["challenge_id"].as_str().unwrap().to_owned(), code)
}

fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

/// What the read models answer about the licence and its users.
async fn read_models(service: &Service) -> Value {
    caught_up(service).await;
    let mut views = serde_json::Map::new();
    let mut get = async |path: String| {
        let reply = service.auditor(&path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.raw);
        views.insert(path, reply.body);
    };
    for login in LOGINS {
        get(format!("/v1/licences/{LICENCE}/users/{login}/lockout")).await;
        get(format!("/v1/licences/{LICENCE}/users/{login}/active-code")).await;
    }
    get(format!("/v1/licences/{LICENCE}/login-history?limit=1000")).await;
    get(format!("/v1/licences/{LICENCE}/security-alerts?limit=1000")).await;
    Value::Object(views)
}

fn history_positions(history: &Value) -> Vec<u64> {
    history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["position"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn sessions_locks_codes_and_read_models_survive_a_graceful_restart() {
    let (smtp, mut service) = service_with_smtp().await;
    let policy =
        json!({ "resend_interval_seconds": 0, "max_failed_codes": 2, "lock_seconds": 3600 });
    service.licence_with_2fa(LICENCE, "email", policy).await;
    for login in LOGINS {
        confirmed_over_smtp(
            &service,
            &smtp,
            LICENCE,
            login,
            &email_of(login),
            None,
            PASSWORD,
        )
        .await;
    }
    // alice: a session; bob: locked by wrong codes; carol: a code outstanding.
    let (challenge, code) = code_for(&service, &smtp, "alice").await;
    let session = service.code_step(&challenge, &code).await;
    assert_eq!(session.status, 200, "{}", session.raw);
    let token = session.body["session_token"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let (challenge, code) = code_for(&service, &smtp, "bob").await;
        assert_eq!(
            service.code_step(&challenge, &wrong(&code)).await.status,
            401
        );
    }
    let locked = service.password_step(LICENCE, "bob", PASSWORD).await;
    assert_eq!(
        (locked.status, locked.body["error"].as_str()),
        (423, Some("account_locked")),
        "{}",
        locked.raw
    );
    let (carol_challenge, carol_code) = code_for(&service, &smtp, "carol").await;

    let who = service.get("/v1/session", Some(&token)).await;
    assert_eq!(who.status, 200, "{}", who.raw);
    let before = read_models(&service).await;
    let events_before = service.events();
    let bob = &before[&format!("/v1/licences/{LICENCE}/users/bob/lockout")];
    assert_eq!(
        (bob["locked"].as_bool(), &bob["locked_until"]),
        (Some(true), &locked.body["locked_until"]),
        "{bob}"
    );
    let carol = &before[&format!("/v1/licences/{LICENCE}/users/carol/active-code")];
    assert_eq!(carol["active"], true, "{carol}");
    let alerts = &before[&format!("/v1/licences/{LICENCE}/security-alerts?limit=1000")]["alerts"];
    let kinds: Vec<&str> = alerts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["wrong_code_after_right_password", "account_locked_by_codes"]
    );

    service.restart().await;

    // Without a new event, every read model answers as before.
    assert_eq!(read_models(&service).await, before);
    // A clean stop signs one audit checkpoint (tamper evidence); nothing else is written.
    let (checkpoints, events_after): (Vec<_>, Vec<_>) = service
        .events()
        .into_iter()
        .partition(|e| e.stream == "audit-checkpoints");
    assert_eq!(
        checkpoints
            .iter()
            .map(|e| e.event_type.as_str())
            .collect::<Vec<_>>(),
        ["CheckpointRecorded"]
    );
    assert_eq!(
        events_after.len(),
        events_before.len(),
        "a restart writes nothing"
    );
    assert_eq!(
        events_after.last().unwrap().event_id,
        events_before.last().unwrap().event_id
    );
    let again = service.get("/v1/session", Some(&token)).await;
    assert_eq!(
        (again.status, &again.body),
        (200, &who.body),
        "{}",
        again.raw
    );

    // The lock and the outstanding code are still in force.
    let still = service.password_step(LICENCE, "bob", PASSWORD).await;
    assert_eq!(
        (still.status, &still.body["locked_until"]),
        (423, &locked.body["locked_until"]),
        "{}",
        still.raw
    );
    let carol_session = service.code_step(&carol_challenge, &carol_code).await;
    assert_eq!(
        carol_session.status, 200,
        "carol's code survives the restart: {}",
        carol_session.raw
    );

    // The projectors go on from their checkpoints: old entries once, new ones after.
    let after = read_models(&service).await;
    let history = &after[&format!("/v1/licences/{LICENCE}/login-history?limit=1000")];
    let positions = history_positions(history);
    let unique: BTreeSet<u64> = positions.iter().copied().collect();
    assert_eq!(
        unique.len(),
        positions.len(),
        "each position once: {positions:?}"
    );
    let old =
        history_positions(&before[&format!("/v1/licences/{LICENCE}/login-history?limit=1000")]);
    assert_eq!(
        positions[..old.len()],
        old[..],
        "the old entries, unchanged and first"
    );
    let new_steps: Vec<(&str, &str)> = history["entries"].as_array().unwrap()[old.len()..]
        .iter()
        .map(|e| (e["login"].as_str().unwrap(), e["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        new_steps,
        [
            ("bob", "account_locked"),
            ("carol", "code_accepted"),
            ("carol", "authenticated")
        ]
    );
    let head = caught_up(&service).await;
    assert_eq!(head, service.events().last().unwrap().position as u64);
    let carol = &after[&format!("/v1/licences/{LICENCE}/users/carol/active-code")];
    assert_eq!(carol["active"], false, "carol's code is spent: {carol}");
}

/// The session id inside a session token (`tss_` + base64url(owner ‖ id ‖ secret)).
fn session_id_of(token: &str) -> String {
    let bytes = base64url_decode(token.strip_prefix("tss_").unwrap()).unwrap();
    hex_of(&bytes[16..32])
}

/// Logs `login` in again and again (no 2FA: each answer is a session) until
/// the service stops answering; returns the tokens of every 200.
async fn log_in_until_gone(base: String, login: String, acknowledged: Arc<Mutex<Vec<String>>>) {
    let body = json!({ "licence": "Plainco", "login": login, "password": PASSWORD }).to_string();
    let headers = [("content-type", "application/json")];
    let deadline = Instant::now() + WAIT * 4;
    while Instant::now() < deadline {
        match send(
            &base,
            Method::POST,
            "/v1/login/password",
            &headers,
            Some(body.clone().into_bytes()),
        )
        .await
        {
            Ok(reply) if reply.status == 200 => {
                acknowledged
                    .lock()
                    .unwrap()
                    .push(reply.body["session_token"].as_str().unwrap().to_owned());
            }
            Ok(reply) => panic!("{login}: {} {}", reply.status, reply.raw),
            Err(_) => return,
        }
    }
}

#[tokio::test]
async fn no_acknowledged_request_is_lost_when_the_process_is_killed() {
    let (smtp, mut service) = service_with_smtp().await;
    let created = service
        .operator(
            Method::POST,
            "/v1/licences",
            Some(json!({ "name": "Plainco" })),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.raw);
    let logins = ["dan", "eve", "fay", "gus"];
    for login in logins {
        confirmed_over_smtp(
            &service,
            &smtp,
            "Plainco",
            login,
            &email_of(login),
            None,
            PASSWORD,
        )
        .await;
    }

    // Logins in flight from four clients; the process is killed under them.
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = logins
        .iter()
        .map(|login| {
            tokio::spawn(log_in_until_gone(
                service.base.clone(),
                (*login).to_owned(),
                acknowledged.clone(),
            ))
        })
        .collect();
    let start = Instant::now();
    while acknowledged.lock().unwrap().len() < 12 {
        assert!(
            start.elapsed() < WAIT,
            "only {} logins answered",
            acknowledged.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    service.kill();
    for client in clients {
        client.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    let answered_users = service.events_of("UserCreated").len();

    service.start_again().await;

    // Every acknowledged session is in the log and still opens.
    let started: BTreeSet<String> = service
        .events_of("SessionStarted")
        .into_iter()
        .map(|e| e.data["session_id"].as_str().unwrap().replace('-', ""))
        .collect();
    for token in &acknowledged {
        assert!(
            started.contains(&session_id_of(token)),
            "an acknowledged session is missing from the log"
        );
        let who = service.get("/v1/session", Some(token)).await;
        assert_eq!(
            who.status, 200,
            "an acknowledged session no longer opens: {}",
            who.raw
        );
    }
    assert!(started.len() >= acknowledged.len());
    assert_eq!(service.events_of("UserCreated").len(), answered_users);
    for login in logins {
        let user = service
            .auditor(&format!("/v1/licences/Plainco/users/{login}"))
            .await;
        assert_eq!(user.status, 200, "{}", user.raw);
    }

    // The read models catch up on the recovered log: one entry per session.
    caught_up(&service).await;
    let history = service
        .call(
            Method::GET,
            "/v1/licences/Plainco/login-history?outcome=authenticated&limit=1000",
            None,
            Some(AUDITOR),
        )
        .await;
    assert_eq!(history.status, 200, "{}", history.raw);
    assert_eq!(
        history.body["entries"].as_array().unwrap().len(),
        started.len()
    );
    let positions = history_positions(&history.body);
    assert_eq!(
        positions.iter().copied().collect::<BTreeSet<_>>().len(),
        positions.len(),
        "each position once"
    );

    // And the service goes on.
    let step = password_step_with(&service, "Plainco", "dan", PASSWORD, &[]).await;
    assert_eq!(
        (step.status, step.body["status"].as_str()),
        (200, Some("authenticated")),
        "{}",
        step.raw
    );
}
