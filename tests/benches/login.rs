//! Benchmarks of SPEC §6, against the release binary on the embedded store
//! with durable (fsynced) appends, on this machine:
//!
//! 1. bare argon2id verification rate (the physical limit of password steps);
//! 2. password steps over HTTP, as a share of that rate (bar: ≥ 90 %);
//! 3. code steps over HTTP: saturated throughput (bar: ≥ 5,000/s on 2 cores)
//!    and latency at half that load (bar: p99 ≤ 20 ms).
//!
//! Run: `cargo bench -p twostep-e2e --bench login`. Figures are printed,
//! never asserted. `TWOSTEP_BENCH_CODES` sets the number of prepared
//! challenges (default 30000), `TWOSTEP_BENCH_CLIENTS` the concurrent
//! clients of the code-step runs (default 256). Code steps are measured
//! twice: with a cold cache (each reads its account from the store, as
//! after a restart) and with a warm one (the account loaded beforehand, as
//! the password step on the same instance does).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use twostep_app::crypto::{ServiceKey, fresh_login, new_token};
use twostep_app::passwords::PasswordHasher;
use twostep_app::tokens::{ChallengeHandle, TokenKind};
use twostep_domain::account::{AccountCommand, PasswordCheck};
use twostep_domain::codec::{SCHEMA_VERSION, encode};
use twostep_domain::licence::LicenceCommand;
use twostep_domain::{
    Account, Channel, EmailAddress, Licence, LicenceName, Login, OneTimeCode, Password,
    PolicyPatch, Timestamp,
};
use twostep_store::sqlite::SqliteStore;
use twostep_store::{EventStore, ExpectedVersion, Metadata, NewEvent};

const SECRET: &str = "benchmark-secret-0123456789abcdef0123456789";
const OPERATOR: &str = "bench-operator-token-0123456789abcdef";
const PASSWORD: &str = "correct horse battery staple";

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data_dir: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_twostep-under-test"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--login-rate-per-minute",
            "0",
            // One load generator on 127.0.0.1 stands for many clients.
            "--login-in-flight-per-client",
            "0",
            "--data-dir",
        ])
        .arg(data_dir)
        .env("TWOSTEP_OPERATOR_TOKEN", OPERATOR)
        .env(
            "TWOSTEP_AUDITOR_TOKEN",
            "bench-auditor-token-0123456789abcdef",
        )
        .env("TWOSTEP_SECRET", SECRET)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut base = String::new();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        if let Some(address) = line.strip_prefix("listening on ") {
            base = address.to_owned();
            break;
        }
    }
    assert!(!base.is_empty(), "the service did not start");
    Server { child, base }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap()
}

async fn post(
    client: &reqwest::Client,
    url: String,
    body: Value,
    bearer: Option<&str>,
) -> (u16, Value) {
    let mut request = client.post(url).json(&body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// 1. Bare argon2id verifications per second, one per core at a time.
async fn argon2_rate() -> f64 {
    let hasher = Arc::new(PasswordHasher::new(cores(), 1_000).unwrap());
    let password = Password::parse(PASSWORD).unwrap();
    let phc = hasher.hash(&password).await.unwrap();
    let total = 120 * cores();
    let started = Instant::now();
    let tasks: Vec<_> = (0..total)
        .map(|_| {
            let (hasher, password, phc) = (hasher.clone(), password.clone(), phc.clone());
            tokio::spawn(async move { hasher.verify(Some(&phc), &password).await.unwrap() })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap());
    }
    total as f64 / started.elapsed().as_secs_f64()
}

/// 2b. Answer times of a wrong password and of an unknown login, sampled
///     alternately (one client at a time), as (p50, p90) of each.
async fn refusal_times(server: &Server) -> [(Duration, Duration); 2] {
    let http = client();
    let url = format!("{}/v1/login/password", server.base);
    let mut samples = [Vec::new(), Vec::new()];
    for round in 0..80 {
        for (which, login) in [(0, "user15"), (1, "nobody-at-all")] {
            let body = json!({ "licence": "Bench", "login": login, "password": format!("wrong password {round}") });
            let sent = Instant::now();
            let (status, reply) = post(&http, url.clone(), body, None).await;
            samples[which].push(sent.elapsed());
            assert_eq!(
                (status, reply["error"].as_str()),
                (401, Some("invalid_credentials"))
            );
        }
    }
    samples.map(|mut s| {
        s.sort();
        (percentile(&s, 0.5), percentile(&s, 0.9))
    })
}

/// 2. Password steps per second over HTTP (right password, 2FA licence: a
///    challenge per step, the latest code kept within the resend interval).
async fn password_step_rate(server: &Server, data_dir: &Path) -> f64 {
    let http = client();
    let url = |path: &str| format!("{}{path}", server.base);
    assert_eq!(
        post(
            &http,
            url("/v1/licences"),
            json!({ "name": "Bench" }),
            Some(OPERATOR)
        )
        .await
        .0,
        201
    );
    let two_factor = http
        .put(url("/v1/licences/Bench/two-factor"))
        .bearer_auth(OPERATOR)
        .json(&json!({ "channel": "email", "policy": { "code_ttl_seconds": 3600, "resend_interval_seconds": 3600, "max_failed_passwords": 100 } }))
        .send()
        .await
        .unwrap();
    assert_eq!(two_factor.status().as_u16(), 200);
    let users = 16;
    for n in 0..users {
        let body = json!({ "login": format!("user{n}"), "email": format!("user{n}@example.com") });
        assert_eq!(
            post(&http, url("/v1/licences/Bench/users"), body, Some(OPERATOR))
                .await
                .0,
            201
        );
    }
    let outbox = data_dir.join("outbox").join("email");
    let mut tokens = Vec::new();
    for entry in std::fs::read_dir(&outbox).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let start = text.find("token=").unwrap() + 6;
        tokens.push(
            text[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .collect::<String>(),
        );
    }
    for token in tokens {
        let (status, _) = post(
            &http,
            url("/v1/access/confirm"),
            json!({ "token": token, "password": PASSWORD }),
            None,
        )
        .await;
        assert_eq!(status, 200);
    }
    // One step each first (sends the code), then the measured steps.
    for n in 0..users {
        let body = json!({ "licence": "Bench", "login": format!("user{n}"), "password": PASSWORD });
        assert_eq!(
            post(&http, url("/v1/login/password"), body, None).await.0,
            200
        );
    }
    let per_client = 36;
    let clients = 2 * cores() * 2;
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (http, base) = (http.clone(), server.base.clone());
            tokio::spawn(async move {
                for _ in 0..per_client {
                    let body = json!({ "licence": "Bench", "login": format!("user{}", c % users), "password": PASSWORD });
                    let (status, reply) = post(&http, format!("{base}/v1/login/password"), body, None).await;
                    assert_eq!((status, reply["status"].as_str()), (200, Some("code_already_sent")));
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    (clients * per_client) as f64 / started.elapsed().as_secs_f64()
}

fn new_event<E: serde::Serialize>(event: &E) -> NewEvent {
    let (event_type, data) = encode(event).unwrap();
    let metadata = Metadata {
        correlation_id: uuid::Uuid::now_v7(),
        actor: "system".into(),
        ..Metadata::default()
    };
    NewEvent {
        event_id: uuid::Uuid::now_v7(),
        event_type,
        schema_version: SCHEMA_VERSION,
        data,
        metadata,
    }
}

/// Writes a licence with `count` users, each with an open challenge whose
/// code is known, straight into the store (the fixture, not the measure).
async fn prepare_challenges(data_dir: &Path, count: usize) -> Vec<(String, String)> {
    let store: Arc<dyn EventStore> =
        Arc::new(SqliteStore::open(&data_dir.join("events.sqlite3")).unwrap());
    let key = ServiceKey::new(SECRET.as_bytes());
    let now = Timestamp::new(time::OffsetDateTime::now_utc());
    let name = LicenceName::parse("Codes").unwrap();
    let mut licence = Licence::default();
    let policy = PolicyPatch {
        code_ttl_seconds: Some(3600),
        ..PolicyPatch::default()
    };
    let mut pending = Vec::new();
    for command in [
        LicenceCommand::Register { name },
        LicenceCommand::EnableTwoFactor {
            channel: Channel::Email,
            policy,
        },
    ] {
        for event in licence.decide(&command).unwrap() {
            licence = std::mem::take(&mut licence).evolve(&event);
            pending.push(event);
        }
    }
    for n in 0..count {
        let command = LicenceCommand::CreateUser {
            login: Login::parse(&format!("user{n}")).unwrap(),
            email: EmailAddress::parse(&format!("user{n}@example.com")).unwrap(),
            mobile: None,
        };
        for event in licence.decide(&command).unwrap() {
            licence = std::mem::take(&mut licence).evolve(&event);
            pending.push(event);
        }
    }
    let stream = licence.id.unwrap().stream();
    let mut version = 0;
    for chunk in pending.chunks(1_000) {
        let events: Vec<NewEvent> = chunk.iter().map(new_event).collect();
        store
            .append(&stream, ExpectedVersion::Exact(version), events)
            .await
            .unwrap();
        version += chunk.len() as u64;
    }
    let phc = PasswordHasher::new(1, 1)
        .unwrap()
        .hash(&Password::parse(PASSWORD).unwrap())
        .await
        .unwrap();
    let licence = Arc::new(licence);
    let mut challenges = Vec::with_capacity(count);
    let mut appends = tokio::task::JoinSet::new();
    for user in licence.users.values() {
        let standing = licence.standing(user.user_id).unwrap();
        let mut account = Account::default();
        let mut events = Vec::new();
        let (token, new) = new_token(TokenKind::Password, user.user_id);
        let fresh = fresh_login(user.user_id);
        let commands = [
            AccountCommand::IssueAccessConfirmation { token: new },
            AccountCommand::SetPassword {
                token: twostep_domain::account::NewToken {
                    token_id: token.id,
                    digest: token.digest(),
                },
                password_hash: phc.clone(),
            },
            AccountCommand::SubmitPassword {
                check: PasswordCheck {
                    against: Some(phc.clone()),
                    matched: true,
                },
                fresh: fresh.fresh.clone(),
                client: None,
            },
        ];
        for command in commands {
            for event in account.decide(&standing, &command, now, &key).unwrap() {
                account = std::mem::take(&mut account).evolve(&event);
                events.push(event);
            }
        }
        let handle = ChallengeHandle {
            user: user.user_id,
            challenge_id: fresh.fresh.challenge_id,
        }
        .encode(&key);
        let code = OneTimeCode::from_digits(&fresh.fresh.code_digits, 6)
            .as_str()
            .to_owned();
        challenges.push((handle, code));
        let (store, stream) = (store.clone(), user.user_id.stream());
        appends.spawn(async move {
            let events: Vec<NewEvent> = events.iter().map(new_event).collect();
            store
                .append(&stream, ExpectedVersion::NoStream, events)
                .await
                .unwrap();
        });
        while appends.len() > 256 {
            appends.join_next().await;
        }
    }
    while appends.join_next().await.is_some() {}
    challenges
}

/// Loads each challenge's account into the service's cache, as the password
/// step on this instance would have done: a session lookup with a
/// well-formed token of that user (answered 401).
async fn warm_up(base: &str, challenges: &[(String, String)]) {
    let http = client();
    let tokens: Vec<String> = challenges
        .iter()
        .map(|(handle, _)| {
            let user = ChallengeHandle::parse(handle, &ServiceKey::new(SECRET.as_bytes()))
                .unwrap()
                .user;
            new_token(TokenKind::Session, user).0.encode()
        })
        .collect();
    let tokens = Arc::new(tokens);
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (http, base, tokens, next) =
                (http.clone(), base.to_owned(), tokens.clone(), next.clone());
            tokio::spawn(async move {
                while let Some(token) = tokens.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let reply = http
                        .get(format!("{base}/v1/session"))
                        .bearer_auth(token)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(reply.status().as_u16(), 401);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

/// Waits until `/readyz` reports that every read model has caught up.
async fn wait_for_read_models(base: &str) {
    let http = client();
    loop {
        let reply: Value = http
            .get(format!("{base}/readyz"))
            .bearer_auth("bench-auditor-token-0123456789abcdef")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if reply["projection_lag"] == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sends every challenge's right code with `clients` concurrent clients;
/// when `rate` is set, starts requests at that pace (open loop).
async fn code_steps(
    base: &str,
    challenges: Vec<(String, String)>,
    clients: usize,
    rate: Option<f64>,
) -> (f64, Vec<Duration>) {
    let http = client();
    let challenges = Arc::new(challenges);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (http, base, challenges, next) = (
                http.clone(),
                base.to_owned(),
                challenges.clone(),
                next.clone(),
            );
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some((challenge, code)) = challenges.get(index) else {
                        break;
                    };
                    if let Some(rate) = rate {
                        let due = started + Duration::from_secs_f64(index as f64 / rate);
                        tokio::time::sleep_until(due.into()).await;
                    }
                    let sent = Instant::now();
                    let (status, _) = post(
                        &http,
                        format!("{base}/v1/login/code"),
                        json!({ "challenge_id": challenge, "code": code }),
                        None,
                    )
                    .await;
                    latencies.push(sent.elapsed());
                    assert_eq!(status, 200, "code step failed");
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    (latencies.len() as f64 / elapsed, latencies)
}

#[tokio::main]
async fn main() {
    println!(
        "twostep benchmarks on {} cores (release build, embedded store, fsync on commit)\n",
        cores()
    );

    let bare = argon2_rate().await;
    println!(
        "argon2id verifications (m=19 MiB, t=2, p=1), {} at a time: {bare:.1}/s",
        cores()
    );
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let steps = password_step_rate(&server, dir.path()).await;
    println!(
        "password steps over HTTP:                        {steps:.1}/s = {:.0} % of bare argon2id (bar: ≥ 90 %)",
        100.0 * steps / bare
    );
    let [wrong, unknown] = refusal_times(&server).await;
    let in_ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "401 answer time, wrong password:  p50 {:.1} ms, p90 {:.1} ms\n401 answer time, unknown login:   p50 {:.1} ms, p90 {:.1} ms",
        in_ms(wrong.0),
        in_ms(wrong.1),
        in_ms(unknown.0),
        in_ms(unknown.1)
    );
    drop(server);

    let count: usize = std::env::var("TWOSTEP_BENCH_CODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60_000);
    let clients: usize = std::env::var("TWOSTEP_BENCH_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let dir = tempfile::tempdir().unwrap();
    let prepared = Instant::now();
    let mut cold = prepare_challenges(dir.path(), count).await;
    println!(
        "\nprepared {count} open challenges in {:.1} s",
        prepared.elapsed().as_secs_f64()
    );
    let mut warm = cold.split_off(count * 3 / 10);
    let half = warm.split_off(count * 4 / 10);
    let server = start(dir.path());
    let caught_up = Instant::now();
    wait_for_read_models(&server.base).await;
    println!(
        "read models caught up with the fixture in {:.1} s",
        caught_up.elapsed().as_secs_f64()
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;

    let (throughput, latencies) = code_steps(&server.base, cold, clients, None).await;
    println!(
        "code steps, cold cache, {clients} clients:   {throughput:>6.0}/s; p50 {:.1} ms, p99 {:.1} ms (each reads its account from the store, as after a restart)",
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99))
    );
    warm_up(&server.base, &warm).await;
    warm_up(&server.base, &half).await;
    let (throughput, latencies) = code_steps(&server.base, warm, clients, None).await;
    println!(
        "code steps, warm cache, {clients} clients:   {throughput:>6.0}/s (bar: ≥ 5,000/s); p50 {:.1} ms, p99 {:.1} ms (the account loaded by the password step)",
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99))
    );
    let pace = throughput / 2.0;
    let (achieved, latencies) = code_steps(&server.base, half, clients, Some(pace)).await;
    println!(
        "code steps at half that load ({pace:.0}/s offered): {achieved:.0}/s; p50 {:.1} ms, p99 {:.1} ms (bar: p99 ≤ 20 ms)",
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99))
    );
}
