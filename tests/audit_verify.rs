#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Tamper evidence end to end: a history built through the HTTP API (three
//! users, a lock, a superseded code), the service stopped (which signs a
//! last checkpoint), then on copies of the data directory the embedded
//! store is altered the way an attacker with the file would — one byte of
//! one event, one event deleted, two events swapped, a stream's tail cut —
//! and `twostep audit verify` must name the stream and version and exit 1.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use support::flows::{confirmed_user, latest_emailed_code};
use support::service::read_events;
use support::{PASSWORD, Service, ServiceOptions, StoredEvent};

const LICENCE: &str = "Ledger";

/// Builds the history and stops the service.
async fn history() -> Service {
    let mut service = Service::start(ServiceOptions::default()).await;
    let policy =
        json!({ "max_failed_codes": 2, "lock_seconds": 3600, "resend_interval_seconds": 0 });
    service.licence_with_2fa(LICENCE, "email", policy).await;
    for login in ["alice", "bob", "carol"] {
        confirmed_user(
            &service,
            LICENCE,
            login,
            &format!("{login}@example.com"),
            None,
        )
        .await;
    }
    // alice: a code superseded by a second password step, then the newer code.
    let first = service.password_step(LICENCE, "alice", PASSWORD).await;
    assert_eq!(first.body["status"], "code_sent", "{}", first.raw);
    let old_code = latest_emailed_code(&service, "alice@example.com");
    let second = service.password_step(LICENCE, "alice", PASSWORD).await;
    assert_eq!(second.body["status"], "code_sent", "{}", second.raw);
    let new_code = latest_emailed_code(&service, "alice@example.com");
    let challenge = second.body["challenge_id"].as_str().unwrap();
    if old_code != new_code {
        // The superseded code is refused, and the attempt closes the challenge.
        let stale = service.code_step(challenge, &old_code).await;
        assert_eq!(stale.status, 401, "{}", stale.raw);
    }
    let third = service.password_step(LICENCE, "alice", PASSWORD).await;
    assert_eq!(third.body["status"], "code_sent", "{}", third.raw);
    let code = latest_emailed_code(&service, "alice@example.com");
    let challenge = third.body["challenge_id"].as_str().unwrap();
    let session = service.code_step(challenge, &code).await;
    assert_eq!(session.body["status"], "authenticated", "{}", session.raw);
    // bob: two wrong codes lock the account.
    for _ in 0..2 {
        let step = service.password_step(LICENCE, "bob", PASSWORD).await;
        let challenge = step.body["challenge_id"].as_str().unwrap().to_owned();
        let code = latest_emailed_code(&service, "bob@example.com");
        let wrong = if code == "000000" { "111111" } else { "000000" };
        service.code_step(&challenge, wrong).await;
    }
    let locked = service.password_step(LICENCE, "bob", PASSWORD).await;
    assert_eq!(locked.body["error"], "account_locked", "{}", locked.raw);
    // carol: a wrong password.
    service
        .password_step(LICENCE, "carol", "not the password")
        .await;
    service.stop();
    service
}

/// A copy of the store file and secret in a fresh directory.
fn copy_of(data_dir: &Path) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(data_dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("events.sqlite3") || name == "secret.key" {
            std::fs::copy(&path, copy.path().join(&name)).unwrap();
        }
    }
    copy
}

fn store_file(dir: &Path) -> PathBuf {
    dir.join("events.sqlite3")
}

/// Runs `twostep audit verify` on `dir`: (exit code, stdout lines).
fn verify(dir: &Path, secret: Option<&str>) -> (i32, Vec<String>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_twostep-under-test"));
    command
        .args(["audit", "verify", "--data-dir"])
        .arg(dir)
        .env_remove("TWOSTEP_SECRET");
    if let Some(secret) = secret {
        command.env("TWOSTEP_SECRET", secret);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    (
        output.status.code().unwrap(),
        stdout.lines().map(str::to_owned).collect(),
    )
}

/// Opens the copied store as an attacker would: plain SQL on the file.
fn tamper(dir: &Path, sql: &str, params: &[&dyn rusqlite::ToSql]) {
    let conn = rusqlite::Connection::open(store_file(dir)).unwrap();
    let triggers: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        triggers, 0,
        "no trigger protects the rows (drop them first if one is added)"
    );
    let changed = conn.execute(sql, params).unwrap();
    assert!(changed >= 1, "{sql} changed nothing");
}

/// The account stream with the most events, and its events by version.
fn busiest_account(events: &[StoredEvent]) -> Vec<StoredEvent> {
    let mut streams: Vec<&str> = events
        .iter()
        .filter(|e| e.stream.starts_with("account-"))
        .map(|e| e.stream.as_str())
        .collect();
    streams.sort_unstable();
    streams.dedup();
    let busiest = streams
        .into_iter()
        .max_by_key(|s| (events.iter().filter(|e| e.stream == *s).count(), *s))
        .unwrap()
        .to_owned();
    events
        .iter()
        .filter(|e| e.stream == busiest)
        .cloned()
        .collect()
}

fn breaks(lines: &[String]) -> Vec<&String> {
    lines.iter().filter(|l| l.starts_with("BREAK")).collect()
}

#[tokio::test]
async fn tampering_with_the_stored_log_is_caught_by_audit_verify() {
    let service = history().await;
    let events = read_events(&store_file(&service.data_dir));
    let checkpoints = events
        .iter()
        .filter(|e| e.event_type == "CheckpointRecorded")
        .count();
    assert_eq!(checkpoints, 1, "the clean stop signed one checkpoint");
    let streams = {
        let mut names: Vec<&str> = events.iter().map(|e| e.stream.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        names.len()
    };
    let account = busiest_account(&events);
    assert!(
        account.len() >= 6,
        "alice's stream is long: {}",
        account.len()
    );
    let stream = account[0].stream.clone();
    let at = |version: usize| &account[version - 1];

    // Untouched: clean, exit 0, and the summary counts everything.
    let untouched = copy_of(&service.data_dir);
    let (code, lines) = verify(untouched.path(), None);
    assert_eq!(
        lines,
        vec![format!(
            "checked {streams} streams, {} events (0 without a chain link, from before chaining), 1 checkpoints: no break",
            events.len()
        )]
    );
    assert_eq!(code, 0);

    // One byte of one event's data.
    let edited = copy_of(&service.data_dir);
    let target = at(3);
    let mut data = serde_json::to_string(&target.data).unwrap().into_bytes();
    let digit = data.iter().position(u8::is_ascii_digit).unwrap();
    data[digit] = b'0' + (data[digit] - b'0' + 1) % 10;
    let data = String::from_utf8(data).unwrap();
    tamper(
        edited.path(),
        "UPDATE events SET data = ?1 WHERE position = ?2",
        &[&data, &target.position],
    );
    let (code, lines) = verify(edited.path(), None);
    assert_eq!(
        breaks(&lines),
        vec![&format!(
            "BREAK stream {stream} version 3 position {}: content altered: the event does not match its own hash",
            target.position
        )]
    );
    assert_eq!(code, 1);

    // One event deleted from the middle of the stream.
    let deleted = copy_of(&service.data_dir);
    tamper(
        deleted.path(),
        "DELETE FROM events WHERE position = ?1",
        &[&at(2).position],
    );
    let (code, lines) = verify(deleted.path(), None);
    assert_eq!(
        breaks(&lines),
        vec![&format!(
            "BREAK stream {stream} version 2: event missing: version 2 is absent before version 3 (position {})",
            at(3).position
        )]
    );
    assert_eq!(code, 1);

    // Two events of the stream swapped (versions 4 and 5 exchanged).
    let swapped = copy_of(&service.data_dir);
    let (four, five) = (at(4).position, at(5).position);
    tamper(
        swapped.path(),
        "UPDATE events SET version = -version WHERE position IN (?1, ?2)",
        &[&four, &five],
    );
    tamper(
        swapped.path(),
        "UPDATE events SET version = 5 WHERE position = ?1",
        &[&four],
    );
    tamper(
        swapped.path(),
        "UPDATE events SET version = 4 WHERE position = ?1",
        &[&five],
    );
    let (code, lines) = verify(swapped.path(), None);
    assert_eq!(
        breaks(&lines),
        vec![
            &format!(
                "BREAK stream {stream} version 5 position {four}: content altered: the event does not match its own hash"
            ),
            &format!(
                "BREAK stream {stream} version 4 position {five}: events reordered: stored after version 5 (position {four}), which should follow it"
            ),
            &format!(
                "BREAK stream {stream} version 4 position {five}: content altered: the event does not match its own hash"
            ),
        ]
    );
    assert_eq!(code, 1);

    // The stream's last two events removed: only the checkpoint knows.
    let truncated = copy_of(&service.data_dir);
    let last = account.len();
    tamper(
        truncated.path(),
        "DELETE FROM events WHERE position IN (?1, ?2)",
        &[&at(last).position, &at(last - 1).position],
    );
    let checkpoint_position = events.last().unwrap().position;
    let (code, lines) = verify(truncated.path(), None);
    assert_eq!(
        breaks(&lines),
        vec![&format!(
            "BREAK stream {stream} version {last}: stream truncated below a checkpoint: the checkpoint at position {checkpoint_position} names version {last}, the stream ends at version {} before it",
            last - 2
        )]
    );
    assert_eq!(code, 1);

    // Checked with another service secret, the checkpoint is not the service's.
    let (code, lines) = verify(
        untouched.path(),
        Some("another secret of at least thirty-two bytes"),
    );
    assert_eq!(
        breaks(&lines),
        vec![&format!(
            "BREAK stream audit-checkpoints version 1 position {checkpoint_position}: bad checkpoint signature (altered, forged, or signed with another service secret)"
        )]
    );
    assert_eq!(code, 1);

    // No secret at all is a usage error, not a verdict.
    let secretless = copy_of(&service.data_dir);
    std::fs::remove_file(secretless.path().join("secret.key")).unwrap();
    let (code, lines) = verify(secretless.path(), None);
    assert_eq!((code, lines), (2, Vec::<String>::new()));
}
