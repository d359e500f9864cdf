#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Hardening of the running service: slow and idle clients are cut off, a
//! shutdown does not wait for idle connections, a request that runs too long
//! gets a JSON 503, one client cannot fill the password-hash queue, one-time
//! tokens in query strings never reach the logs, the data directory is
//! private, weak admin tokens and a taken port refuse to start cleanly, and
//! the start banner says where messages go.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
mod support;

use support::probes::send;
use support::service::{AUDITOR, OPERATOR};
use support::{Service, ServiceOptions};

/// Longest a test waits for the service to close a connection: generous, so
/// that only "never closed" fails.
const CLOSED_WITHIN: Duration = Duration::from_secs(15);

async fn service_with(args: &[&str]) -> Service {
    Service::start(ServiceOptions {
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        ..Default::default()
    })
    .await
}

fn address_of(service: &Service) -> SocketAddr {
    service
        .base
        .strip_prefix("http://")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("not an http://address: {}", service.base))
}

/// Whether the server closes `stream` (end of file or reset) within `within`;
/// whatever it sends before is ignored.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// Reads one HTTP/1.1 answer with a `content-length`: (status, body).
async fn read_answer(stream: &mut TcpStream) -> (u16, String) {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + CLOSED_WITHIN;
    loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&received[..end]).to_string();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            if received.len() >= end + 4 + length {
                let status = head
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                let body = String::from_utf8_lossy(&received[end + 4..end + 4 + length]);
                return (status, body.into_owned());
            }
        }
        let read = tokio::time::timeout_at(deadline, stream.read(&mut buffer))
            .await
            .expect("an answer in time")
            .expect("a readable connection");
        assert!(read > 0, "closed before a whole answer: {received:?}");
        received.extend_from_slice(&buffer[..read]);
    }
}

/// Opens a connection, sends a whole request and reads its answer, leaving
/// the connection open and idle.
async fn idle_connection(address: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: twostep.test\r\n\r\n")
        .await
        .unwrap();
    let (status, _) = read_answer(&mut stream).await;
    assert_eq!(status, 200);
    stream
}

/// Opens a connection and sends half a request line.
async fn stalled_connection(address: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(b"GET /healthz HT").await.unwrap();
    stream
}

#[tokio::test]
async fn a_request_head_that_stalls_is_cut_off_after_the_header_timeout() {
    let service = service_with(&["--header-timeout-seconds", "1"]).await;
    let mut stream = stalled_connection(address_of(&service)).await;

    assert!(
        closed_by_server(&mut stream, CLOSED_WITHIN).await,
        "a connection with half a request line stayed open"
    );
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_cut_off_after_the_header_timeout() {
    let service = service_with(&["--header-timeout-seconds", "1"]).await;
    let mut stream = TcpStream::connect(address_of(&service)).await.unwrap();

    assert!(closed_by_server(&mut stream, CLOSED_WITHIN).await);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let service = service_with(&[
        "--idle-timeout-seconds",
        "1",
        "--header-timeout-seconds",
        "3600",
    ])
    .await;
    let mut stream = idle_connection(address_of(&service)).await;

    assert!(
        closed_by_server(&mut stream, CLOSED_WITHIN).await,
        "an idle keep-alive connection stayed open"
    );
}

#[tokio::test]
async fn a_keep_alive_connection_serves_requests_one_after_another() {
    let service = service_with(&[]).await;
    let mut stream = idle_connection(address_of(&service)).await;
    for _ in 0..3 {
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: twostep.test\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(read_answer(&mut stream).await.0, 200);
    }
}

#[tokio::test]
async fn the_service_answers_while_two_hundred_connections_stall() {
    let service = service_with(&[]).await;
    let address = address_of(&service);
    let mut stalled = Vec::new();
    for _ in 0..200 {
        stalled.push(stalled_connection(address).await);
    }

    let health = send(&service.base, Method::GET, "/healthz", &[], None).await;
    assert_eq!(health.map(|r| r.status), Ok(200));
    let password_step = service.password_step("Nowhere", "nobody", "password").await;
    assert_eq!(password_step.status, 401, "{}", password_step.raw);
    drop(stalled);
}

#[tokio::test]
async fn sigterm_with_idle_connections_open_stops_the_service() {
    let mut service = service_with(&["--shutdown-timeout-seconds", "2"]).await;
    let address = address_of(&service);
    let mut open = Vec::new();
    for _ in 0..20 {
        open.push(idle_connection(address).await);
        open.push(stalled_connection(address).await);
        open.push(TcpStream::connect(address).await.unwrap());
    }

    // A hang would otherwise hang the test: give up after a generous while.
    let (stopped_tx, stopped_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        service.stop();
        let _ = stopped_tx.send(service);
    });
    let service = stopped_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the service did not exit after SIGTERM");

    assert!(
        service.logs().contains("twostep stopped"),
        "the service did not stop through its graceful path"
    );
    assert!(TcpStream::connect(address).await.is_err());
    for mut stream in open {
        assert!(closed_by_server(&mut stream, Duration::from_secs(1)).await);
    }
}

#[tokio::test]
async fn a_request_that_runs_over_the_request_timeout_gets_a_json_503() {
    let service = service_with(&["--request-timeout-seconds", "1"]).await;
    let mut stream = TcpStream::connect(address_of(&service)).await.unwrap();
    // The head announces 200 bytes of body; only one ever comes.
    stream
        .write_all(
            b"POST /v1/login/password HTTP/1.1\r\nHost: twostep.test\r\n\
              Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{",
        )
        .await
        .unwrap();

    let (status, body) = read_answer(&mut stream).await;

    assert_eq!(status, 503, "{body}");
    let body: Value = serde_json::from_str(&body).expect("a JSON body");
    assert_eq!(body["error"], "request_timeout", "{body}");
    assert!(body["message"].is_string(), "{body}");
}

#[tokio::test]
async fn one_client_gets_at_most_two_password_checks_in_flight() {
    let service = service_with(&["--login-in-flight-per-client", "2"]).await;
    let body = json!({ "licence": "Nowhere", "login": "nobody", "password": "not the password" })
        .to_string()
        .into_bytes();
    let steps: Vec<_> = (0..12)
        .map(|_| {
            let (base, body) = (service.base.clone(), body.clone());
            tokio::spawn(async move {
                send(
                    &base,
                    Method::POST,
                    "/v1/login/password",
                    &[("content-type", "application/json")],
                    Some(body),
                )
                .await
                .unwrap()
            })
        })
        .collect();
    let mut replies = Vec::new();
    for step in steps {
        replies.push(step.await.unwrap());
    }

    let refused: Vec<_> = replies.iter().filter(|r| r.status == 429).collect();
    assert!(!refused.is_empty(), "12 at once and none refused");
    assert!(
        replies.iter().any(|r| r.status == 401),
        "every one refused: {:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for reply in refused {
        assert_eq!(reply.body["error"], "rate_limited", "{}", reply.raw);
        assert_eq!(reply.body["retry_after"], 1, "{}", reply.raw);
        assert_eq!(reply.header("retry-after"), Some("1"));
    }
}

#[tokio::test]
async fn tokens_in_query_strings_never_reach_the_logs() {
    let service = service_with(&[]).await;
    for path in [
        "/access/confirm?token=secret-looking-value",
        "/password/reset?token=secret-looking-value",
        "/security/unrequested-code?report=secret-looking-value",
        "/healthz?token=secret-looking-value",
    ] {
        let reply = send(&service.base, Method::GET, path, &[], None)
            .await
            .unwrap();
        assert!(reply.body["error"].is_string() || reply.status == 200);
    }

    let logs = service.logs();
    assert!(
        logs.contains("/access/confirm") && logs.contains("/security/unrequested-code"),
        "the requests were not logged at all"
    );
    for leak in ["token=", "report=", "secret-looking-value"] {
        assert!(!logs.contains(leak), "{leak} is in the logs:\n{logs}");
    }
}

#[tokio::test]
async fn every_401_carries_a_bearer_challenge() {
    let service = service_with(&[]).await;
    let login = support::probes::password_step_with(&service, "Nowhere", "nobody", "pw", &[]).await;
    assert_eq!(login.body["error"], "invalid_credentials");
    assert_eq!(login.header("www-authenticate"), Some("Bearer"));

    let session = send(&service.base, Method::GET, "/v1/session", &[], None)
        .await
        .unwrap();
    assert_eq!(session.body["error"], "unauthenticated");
    assert_eq!(session.header("www-authenticate"), Some("Bearer"));

    let operator = send(&service.base, Method::GET, "/v1/licences/Acme", &[], None)
        .await
        .unwrap();
    assert_eq!(operator.body["error"], "unauthorized");
    assert_eq!(operator.header("www-authenticate"), Some("Bearer"));
}

#[tokio::test]
async fn the_banner_says_where_each_channel_goes_without_credentials() {
    let service = Service::start(ServiceOptions {
        smtp_url: Some("smtp://mailer:hunter2@127.0.0.1:2525?tls=required".to_owned()),
        ..Default::default()
    })
    .await;
    let lines = &service.stdout_lines;
    let outbox = service.data_dir.join("outbox").join("sms.jsonl");

    assert_eq!(
        lines
            .iter()
            .rev()
            .take(3)
            .rev()
            .cloned()
            .collect::<Vec<_>>(),
        [
            "email: smtp://127.0.0.1:2525".to_owned(),
            format!("sms: outbox {}", outbox.display()),
            format!("listening on {}", service.base),
        ]
    );
    assert!(!lines.join("\n").contains("hunter2"));
}

#[tokio::test]
async fn the_outbox_directories_are_private() {
    let service = service_with(&[]).await;
    service
        .operator(
            Method::POST,
            "/v1/licences",
            Some(json!({ "name": "Acme" })),
        )
        .await;
    let created = service
        .create_user("Acme", "alice", "alice@example.com", None)
        .await;
    assert_eq!(created.status, 201, "{}", created.raw);

    let outbox = service.data_dir.join("outbox");
    assert_eq!(mode_of(&outbox), Some(0o700));
    assert_eq!(mode_of(&outbox.join("email")), Some(0o700));
}

// The binary started directly, for what the harness cannot show: how it
// refuses to start, and what it does to a data directory it did not get
// fresh from a temporary directory.

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_twostep-under-test"));
    command
        .env("TWOSTEP_OPERATOR_TOKEN", OPERATOR)
        .env("TWOSTEP_AUDITOR_TOKEN", AUDITOR)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    command
}

fn serve_args(command: &mut Command, listen: &str, data_dir: &Path) {
    command
        .args(["serve", "--log-format", "json", "--listen", listen])
        .arg("--data-dir")
        .arg(data_dir);
}

/// Runs the binary expecting it to refuse to start (it must exit by itself).
fn refused(command: &mut Command) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let id = child.id();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait_with_output());
    });
    match done_rx.recv_timeout(Duration::from_secs(30)) {
        Ok(output) => {
            let output = output.unwrap();
            assert!(!output.status.success(), "it started");
            output
        }
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &id.to_string()])
                .status();
            panic!("the service started instead of refusing to");
        }
    }
}

/// Starts the binary, waits until it listens, then stops it; returns its log.
fn started_and_stopped(command: &mut Command) -> String {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let started = Instant::now();
    let listening = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.starts_with("listening on "));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        listening,
        "it did not start within {:?}: {log}",
        started.elapsed()
    );
    log
}

fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

#[test]
fn a_new_data_directory_is_private() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("deployments").join("twostep-data");
    let mut command = binary();
    serve_args(&mut command, "127.0.0.1:0", &data_dir);

    started_and_stopped(&mut command);

    assert_eq!(mode_of(&data_dir), Some(0o700));
}

#[test]
fn an_open_data_directory_is_made_private_and_the_log_says_so() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("twostep-data");
    std::fs::create_dir(&data_dir).unwrap();
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut command = binary();
    serve_args(&mut command, "127.0.0.1:0", &data_dir);

    let log = started_and_stopped(&mut command);

    assert_eq!(mode_of(&data_dir), Some(0o700));
    assert!(log.contains("mode is now 0700"), "{log}");
}

#[test]
fn a_short_admin_token_refuses_to_start_naming_the_variable_not_the_value() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("twostep-data");
    for (variable, value) in [
        ("TWOSTEP_OPERATOR_TOKEN", "short-op-value-1234"),
        ("TWOSTEP_AUDITOR_TOKEN", "short-au-value-1234"),
    ] {
        let mut command = binary();
        serve_args(&mut command, "127.0.0.1:0", &data_dir);
        command.env(variable, value);

        let output = refused(&mut command);

        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(variable), "{stderr}");
        assert!(!stderr.contains(value), "{stderr}");
        assert!(!String::from_utf8_lossy(&output.stdout).contains(value));
        assert!(!data_dir.exists(), "a refused start touched the disk");
    }
}

#[test]
fn one_token_for_operators_and_auditors_refuses_to_start() {
    let scratch = tempfile::tempdir().unwrap();
    let mut command = binary();
    serve_args(&mut command, "127.0.0.1:0", &scratch.path().join("data"));
    command.env("TWOSTEP_AUDITOR_TOKEN", OPERATOR);

    let output = refused(&mut command);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("TWOSTEP_AUDITOR_TOKEN"), "{stderr}");
    assert!(!stderr.contains(OPERATOR), "{stderr}");
}

#[test]
fn a_taken_port_fails_without_creating_the_data_directory() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("twostep-data");
    let mut command = binary();
    serve_args(&mut command, &address, &data_dir);

    let output = refused(&mut command);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&address), "{stderr}");
    assert!(!data_dir.exists(), "the data directory was created");
}
