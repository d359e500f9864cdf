#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The auditors' commands on a history built through the HTTP API (three
//! users, successes, wrong passwords, wrong codes, an unknown login, a lock
//! and its alert): `twostep audit export` holds every login event of a range
//! and nothing outside it, its CSV parses back to the rows of its JSON Lines,
//! its filters and summary are exact; `twostep projections rebuild` gives
//! read models identical to the live ones and `--verify` finds an altered row.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
mod support;

use support::probes::{audit_view, caught_up, confirmed_over_smtp};
use support::{PASSWORD, Service, ServiceOptions, SmtpServer, code_in};

const LICENCE: &str = "Acme";
const HISTORY: &str = "/v1/licences/Acme/login-history?limit=1000";

/// The output of one run of the binary.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn twostep(data_dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_twostep-under-test"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn export(service: &Service, extra: &[&str]) -> Run {
    let mut args = vec!["audit", "export", "--licence", LICENCE];
    args.extend_from_slice(extra);
    twostep(&service.data_dir, &args)
}

fn jsonl(service: &Service, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["--format", "jsonl"];
    args.extend_from_slice(extra);
    let run = export(service, &args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn positions(rows: &[Value]) -> Vec<u64> {
    rows.iter()
        .map(|r| r["position"].as_u64().unwrap())
        .collect()
}

fn instant(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &Rfc3339).unwrap()
}

async fn password(service: &Service, login: &str, password: &str) -> Value {
    service.password_step(LICENCE, login, password).await.body
}

/// The password step that sends a code: `(challenge, code)`.
async fn code_sent(
    service: &Service,
    smtp: &SmtpServer,
    login: &str,
    nth: usize,
) -> (String, String) {
    let step = password(service, login, PASSWORD).await;
    assert_eq!(step["status"], "code_sent", "{step}");
    let mail = smtp.nth_to(&format!("{login}@example.com"), nth).await;
    (
        step["challenge_id"].as_str().unwrap().to_owned(),
        code_in(&mail.body(), 6).unwrap(),
    )
}

fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

/// alice: a wrong password, then two wrong codes (locked, an alert); bob: a
/// success; carol: a wrong password, then a success; and an unknown login.
async fn history() -> (SmtpServer, Service) {
    let smtp = SmtpServer::start();
    let service = Service::start(ServiceOptions {
        smtp_url: Some(smtp.url()),
        ..Default::default()
    })
    .await;
    let policy =
        json!({ "resend_interval_seconds": 0, "max_failed_codes": 2, "lock_seconds": 3600 });
    service.licence_with_2fa(LICENCE, "email", policy).await;
    for login in ["alice", "bob", "carol"] {
        let email = format!("{login}@example.com");
        confirmed_over_smtp(&service, &smtp, LICENCE, login, &email, None, PASSWORD).await;
    }
    assert_eq!(
        password(&service, "alice", "not alice's").await["error"],
        "invalid_credentials"
    );
    // One attempt per challenge: two challenges, a wrong code each.
    for nth in [2, 3] {
        let (challenge, code) = code_sent(&service, &smtp, "alice", nth).await;
        let reply = service.code_step(&challenge, &wrong(&code)).await;
        assert_eq!(reply.status, 401, "{}", reply.raw);
    }
    let (challenge, code) = code_sent(&service, &smtp, "bob", 2).await;
    assert_eq!(service.code_step(&challenge, &code).await.status, 200);
    assert_eq!(
        password(&service, "carol", "not carol's").await["error"],
        "invalid_credentials"
    );
    let (challenge, code) = code_sent(&service, &smtp, "carol", 2).await;
    assert_eq!(service.code_step(&challenge, &code).await.status, 200);
    assert_eq!(
        password(&service, "mallory", PASSWORD).await["error"],
        "invalid_credentials"
    );
    caught_up(&service).await;
    (smtp, service)
}

/// Positions of the login events of the store whose time is in `[from, to)`:
/// every event of an account stream (all users are Acme's) and every
/// unknown-login attempt.
fn login_events_between(service: &Service, from: OffsetDateTime, to: OffsetDateTime) -> Vec<u64> {
    service
        .events()
        .into_iter()
        .filter(|e| {
            e.stream.starts_with("account-")
                || (e.stream.starts_with("attempts-") && e.event_type == "UnknownLoginAttempted")
        })
        .filter(|e| (from..to).contains(&instant(&e.recorded_at)))
        .map(|e| u64::try_from(e.position).unwrap())
        .collect()
}

#[tokio::test]
async fn the_export_is_the_history_of_the_range_in_both_formats_with_exact_counts() {
    let (_smtp, service) = history().await;

    // Everything, beside the running server: the endpoint's rows, one for
    // each login event of the log.
    let all = jsonl(&service, &[]);
    let endpoint = audit_view(&service, HISTORY).await;
    assert_eq!(Value::from(all.clone()), endpoint["entries"]);
    let (dawn, dusk) = (OffsetDateTime::UNIX_EPOCH, instant("9999-01-01T00:00:00Z"));
    assert_eq!(positions(&all), login_events_between(&service, dawn, dusk));
    assert!(all.len() > 20, "{}", all.len());

    // A range: from one row's instant (inclusive) to a later one's (exclusive).
    let (first, last) = (&all[5], &all[all.len() - 4]);
    let (from, to) = (first["at"].as_str().unwrap(), last["at"].as_str().unwrap());
    let range = jsonl(&service, &["--from", from, "--to", to]);
    let expected = login_events_between(&service, instant(from), instant(to));
    assert_eq!(positions(&range), expected);
    assert_eq!(range.first(), all.iter().find(|r| r["at"] == first["at"]));
    assert!(!positions(&range).contains(&last["position"].as_u64().unwrap()));
    assert!(range.iter().all(|r| r["at"] != last["at"]));
    let ends_before = jsonl(&service, &["--to", from]);
    assert_eq!(
        positions(&ends_before),
        login_events_between(&service, dawn, instant(from))
    );
    assert!(!positions(&ends_before).contains(&first["position"].as_u64().unwrap()));

    // The CSV of the same range parses back to the same rows.
    let csv = export(&service, &["--format", "csv", "--from", from, "--to", to]);
    assert_eq!(csv.code, 0, "{}", csv.stderr);
    assert!(csv.stdout.ends_with("\r\n"));
    let mut reader = csv::Reader::from_reader(csv.stdout.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let columns: Vec<String> = range[0].as_object().unwrap().keys().cloned().collect();
    assert_eq!(header.len(), 16);
    let parsed: Vec<Value> = reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            Value::from(
                header
                    .iter()
                    .zip(record.iter())
                    .map(|(column, field)| (column.clone(), Value::from(field)))
                    .collect::<serde_json::Map<_, _>>(),
            )
        })
        .collect();
    let as_text: Vec<Value> = range
        .iter()
        .map(|row| {
            Value::from(
                columns
                    .iter()
                    .map(|c| {
                        let text = match &row[c] {
                            Value::Null => String::new(),
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (c.clone(), Value::from(text))
                    })
                    .collect::<serde_json::Map<_, _>>(),
            )
        })
        .collect();
    assert_eq!(parsed, as_text);

    // Filters: one login, one outcome.
    let alice_codes = jsonl(&service, &["--login", "ALICE", "--outcome", "invalid_code"]);
    assert_eq!(alice_codes.len(), 2);
    assert!(
        alice_codes
            .iter()
            .all(|r| r["login"] == "alice" && r["outcome"] == "invalid_code")
    );
    let alerts = jsonl(&service, &["--outcome", "alert_raised"]);
    let kinds: Vec<(&str, &str)> = alerts
        .iter()
        .map(|r| (r["login"].as_str().unwrap(), r["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("alice", "wrong_code_after_right_password"),
            ("alice", "account_locked_by_codes")
        ]
    );
    let bob = jsonl(&service, &["--login", "bob"]);
    let bobs: Vec<&Value> = all.iter().filter(|r| r["login"] == "bob").collect();
    assert_eq!(bob.iter().collect::<Vec<_>>(), bobs);

    // The summary counts the exported rows, on stderr only.
    let run = export(&service, &["--format", "jsonl"]);
    assert_eq!(
        run.stderr,
        format!(
            "rows: {}\nattempts: 7\nsuccesses: 2\nfailures: 5\n  \
             invalid_code/wrong_code: 2\n  invalid_credentials/wrong_password: 2\n  \
             unknown_login: 1\nlocks: 1\nalerts: 2\n",
            all.len()
        )
    );
    let secrets = [PASSWORD, "not alice's", "not carol's"];
    assert!(secrets.iter().all(|s| !run.stdout.contains(s)));

    // Bad flags: clear errors.
    let unknown = export(&service, &["--format", "csv", "--outcome", "pwned"]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown
            .stderr
            .contains("--outcome \"pwned\" must be one of: access_confirmation_issued, "),
        "{}",
        unknown.stderr
    );
    let bad_time = export(&service, &["--format", "csv", "--from", "noon"]);
    assert_eq!(
        (bad_time.code, bad_time.stderr.contains("RFC 3339")),
        (1, true)
    );
    let other = twostep(
        &service.data_dir,
        &["audit", "export", "--licence", "Globex", "--format", "csv"],
    );
    assert_eq!(
        (other.code, other.stderr.as_str()),
        (1, "twostep: no licence \"Globex\" in this log\n")
    );
}

/// Every answer of the audit endpoints about the history built.
async fn audit_answers(service: &Service) -> Vec<Value> {
    let mut answers = vec![
        audit_view(service, HISTORY).await,
        audit_view(service, "/v1/licences/Acme/security-alerts").await,
    ];
    for login in ["alice", "bob", "carol"] {
        for view in ["lockout", "active-code"] {
            let path = format!("/v1/licences/Acme/users/{login}/{view}");
            answers.push(audit_view(service, &path).await);
        }
    }
    answers
}

#[tokio::test]
async fn a_rebuild_gives_the_live_read_models_and_verify_finds_an_altered_row() {
    let (_smtp, mut service) = history().await;
    let before = audit_answers(&service).await;
    let dir = service.data_dir.clone();

    let refused = twostep(&dir, &["projections", "rebuild"]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("is in use"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("events.sqlite3.lock"),
        "{}",
        refused.stderr
    );

    service.stop();
    let untouched = twostep(&dir, &["projections", "rebuild", "--verify"]);
    assert_eq!(
        (untouched.code, untouched.stdout.as_str()),
        (0, ""),
        "{}",
        untouched.stderr
    );
    assert!(
        untouched.stderr.contains("no difference"),
        "{}",
        untouched.stderr
    );

    let rebuilt = twostep(&dir, &["projections", "rebuild"]);
    assert_eq!(rebuilt.code, 0, "{}", rebuilt.stderr);
    assert!(
        rebuilt
            .stderr
            .starts_with("rebuilt active_codes, lockout, security_alerts, login_history from "),
        "{}",
        rebuilt.stderr
    );
    let one = twostep(&dir, &["projections", "rebuild", "lockout"]);
    assert_eq!(one.code, 0, "{}", one.stderr);
    assert!(
        one.stderr.starts_with("rebuilt lockout from "),
        "{}",
        one.stderr
    );
    let unknown = twostep(&dir, &["projections", "rebuild", "logins"]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("no read model is named \"logins\""),
        "{}",
        unknown.stderr
    );

    // One altered row: verify prints it from both sides and exits 1.
    {
        let conn = rusqlite::Connection::open(dir.join("readmodels.sqlite3")).unwrap();
        let changed = conn
            .execute(
                "UPDATE login_history SET client_ip = '203.0.113.9'
                 WHERE position = (SELECT MIN(position) FROM login_history)",
                [],
            )
            .unwrap();
        assert_eq!(changed, 1);
    }
    let altered = twostep(&dir, &["projections", "rebuild", "--verify"]);
    assert_eq!(altered.code, 1, "{}", altered.stderr);
    let lines: Vec<&str> = altered.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", altered.stdout);
    assert!(
        lines[0].starts_with("login_history only in live    position="),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains("client_ip=\"203.0.113.9\""),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("login_history only in rebuilt position="),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains("client_ip=\"127.0.0.1\""), "{}", lines[1]);
    assert!(
        altered.stderr.contains("2 rows differ"),
        "{}",
        altered.stderr
    );

    // Rebuilt again, the server answers as before.
    assert_eq!(twostep(&dir, &["projections", "rebuild"]).code, 0);
    assert_eq!(
        twostep(&dir, &["projections", "rebuild", "--verify"]).code,
        0
    );
    service.start_again().await;
    assert_eq!(audit_answers(&service).await, before);
}
