//! No acknowledged event is lost when the process is killed with SIGKILL
//! in the middle of appending.
//!
//! The test re-runs its own binary as a child that appends from many tasks
//! and prints every acknowledged event; the parent kills it mid-way, reopens
//! the file and looks for every event the child printed.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::json;
use twostep_store::ExpectedVersion::Exact;
use twostep_store::sqlite::SqliteStore;
use twostep_store::{EventStore, Metadata, NewEvent};
use uuid::Uuid;

/// Set for the child: the database file it appends to.
const CHILD_DATABASE: &str = "TWOSTEP_STORE_CRASH_CHILD_DATABASE";
/// The child stops by itself after this long, should nobody kill it.
const CHILD_LIFETIME: Duration = Duration::from_secs(60);
/// How long the child appends, after its first acknowledgement, before it is killed.
const RUN_BEFORE_KILL: Duration = Duration::from_secs(1);

#[test]
fn acknowledged_events_survive_sigkill() {
    // Under the target directory rather than /tmp, which may be a tmpfs.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a temporary directory");
    let path = dir.path().join("events.db");
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "--exact",
            "child_appends_until_killed",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DATABASE, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the child starts");
    let stdout = child.stdout.take().expect("the child's stdout");
    let (lines, received) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });

    let mut acknowledged = HashMap::new();
    let started = Instant::now();
    let mut first_ack = None;
    loop {
        let line = match received.recv_timeout(Duration::from_millis(50)) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if let Some((id, stream, version)) = line.as_deref().and_then(parse_ack) {
            acknowledged.insert(id, (stream, version));
            first_ack.get_or_insert_with(Instant::now);
        }
        let kill_now = match first_ack {
            Some(at) => at.elapsed() >= RUN_BEFORE_KILL,
            None => started.elapsed() >= Duration::from_secs(30),
        };
        if kill_now {
            break;
        }
    }
    child.kill().expect("SIGKILL to the child");
    let status = child.wait().expect("the child ends");
    // What the child printed before it died is still in the pipe.
    acknowledged.extend(
        received
            .iter()
            .filter_map(|line| parse_ack(&line))
            .map(|(id, s, v)| (id, (s, v))),
    );
    reader.join().expect("the reader thread");
    assert!(
        !acknowledged.is_empty(),
        "the child acknowledged nothing (exit status {status})"
    );
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.signal(),
            Some(9),
            "the child was not killed mid-way: {status}"
        );
    }

    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let store = SqliteStore::open(&path).expect("the store reopens after the kill");
        let mut stored = HashMap::new();
        let mut after = 0;
        loop {
            let page = store.read_all(after, 5_000).await.expect("read_all");
            let Some(last) = page.last() else { break };
            after = last.position;
            for event in page {
                assert_eq!(
                    event.position,
                    stored.len() as u64 + 1,
                    "positions are dense"
                );
                stored.insert(event.event_id, (event.stream, event.version));
            }
        }
        let lost: Vec<_> = acknowledged
            .iter()
            .filter(|(id, place)| stored.get(*id) != Some(*place))
            .collect();
        assert!(
            lost.is_empty(),
            "{} of {} acknowledged events lost or moved: {lost:?}",
            lost.len(),
            acknowledged.len()
        );
        eprintln!(
            "{} events acknowledged before SIGKILL, {} stored, none lost",
            acknowledged.len(),
            stored.len()
        );
    });
}

/// `ACK <event id> <stream> <version>`
fn parse_ack(line: &str) -> Option<(Uuid, String, u64)> {
    let mut words = line.strip_prefix("ACK ")?.split(' ');
    let id = words.next()?.parse().ok()?;
    let stream = words.next()?.to_owned();
    let version = words.next()?.parse().ok()?;
    Some((id, stream, version))
}

#[test]
#[ignore = "the child process of acknowledged_events_survive_sigkill"]
fn child_appends_until_killed() {
    let Some(path) = std::env::var_os(CHILD_DATABASE) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let store: Arc<dyn EventStore> =
            Arc::new(SqliteStore::open(Path::new(&path)).expect("the store opens"));
        let deadline = Instant::now() + CHILD_LIFETIME;
        let mut tasks = tokio::task::JoinSet::new();
        for task in 0..64 {
            let store = Arc::clone(&store);
            tasks.spawn(async move {
                let stream = format!("crash-{task}");
                let mut version = 0;
                while Instant::now() < deadline {
                    let event = NewEvent {
                        event_id: Uuid::new_v4(),
                        event_type: "CrashChecked".into(),
                        schema_version: 1,
                        data: json!({ "task": task, "version": version + 1 }),
                        metadata: Metadata {
                            correlation_id: Uuid::new_v4(),
                            actor: "system".into(),
                            ..Metadata::default()
                        },
                    };
                    let id = event.event_id;
                    let outcome = store
                        .append(&stream, Exact(version), vec![event])
                        .await
                        .expect("append");
                    version = outcome.stream_version;
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ACK {id} {stream} {version}").expect("stdout");
                    out.flush().expect("stdout");
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    });
}
