//! The embedded store's file: what survives closing it, and what it does
//! with a file it cannot trust.

use std::path::{Path, PathBuf};

use serde_json::json;
use twostep_store::ExpectedVersion::{Exact, NoStream};
use twostep_store::sqlite::SqliteStore;
use twostep_store::{EventStore, Metadata, NewEvent, RecordedEvent, StoreError};
use uuid::Uuid;

fn event(n: u64) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v4(),
        event_type: "DurabilityChecked".into(),
        schema_version: 2,
        data: json!({ "n": n }),
        metadata: Metadata {
            correlation_id: Uuid::new_v4(),
            actor: "system".into(),
            ..Metadata::default()
        },
    }
}

fn database(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("events.db")
}

fn wal_of(path: &Path) -> PathBuf {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

async fn everything(store: &dyn EventStore) -> Vec<RecordedEvent> {
    store.read_all(0, 10_000).await.expect("read_all")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_survive_closing_and_reopening_the_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = database(&dir);
    let store = SqliteStore::open(&path).expect("the store opens");
    store
        .append("account-a", NoStream, vec![event(1), event(2)])
        .await
        .expect("append");
    store
        .append("account-b", NoStream, vec![event(3)])
        .await
        .expect("append");
    store
        .append("account-a", Exact(2), vec![event(4)])
        .await
        .expect("append");
    let before = everything(&store).await;
    assert_eq!(
        before.iter().map(|e| e.position).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    drop(store);

    let reopened = SqliteStore::open(&path).expect("the store opens again");
    assert_eq!(
        everything(&reopened).await,
        before,
        "events after reopening"
    );
    assert_eq!(reopened.head().await.expect("head"), 4);
    assert_eq!(
        *reopened.watch().borrow(),
        4,
        "the watch channel starts at the head"
    );
    let next = reopened
        .append("account-b", Exact(1), vec![event(5)])
        .await
        .expect("append after reopening");
    assert_eq!((next.stream_version, next.recorded[0].position), (2, 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_handle_stops_the_writer_and_closes_the_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = database(&dir);
    let store = SqliteStore::open(&path).expect("the store opens");
    let clone = store.clone();
    drop(store);
    clone
        .append("account", NoStream, vec![event(1)])
        .await
        .expect("a clone still appends");
    clone
        .read_stream("account", 0, 10)
        .await
        .expect("a clone still reads");
    assert!(
        wal_of(&path).exists(),
        "the write-ahead log exists while the store is open"
    );
    drop(clone);
    // Only when every connection is closed does SQLite fold the write-ahead
    // log into the database and remove it.
    assert!(
        !wal_of(&path).exists(),
        "the write-ahead log is still there: a connection stayed open"
    );
}

/// Opens the file behind the store's back to damage one column of one event.
fn damage(path: &Path, column: &str, value: &str) {
    let conn = rusqlite::Connection::open(path).expect("raw connection");
    let sql = format!("UPDATE events SET {column} = {value} WHERE position = 2");
    assert_eq!(conn.execute(&sql, []).expect("damaging the event"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_event_reads_as_corrupt_not_as_a_panic() {
    let damages = [
        ("data", "'{not json'"),
        ("metadata", "'[]'"),
        ("event_id", "'not-a-uuid'"),
        ("recorded_at", "'yesterday'"),
        ("version", "-1"),
        ("schema_version", "5000000000"),
        ("event_type", "x'ff00'"),
        ("data", "42.5e999"),
    ];
    for (column, value) in damages {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = database(&dir);
        let store = SqliteStore::open(&path).expect("the store opens");
        let batch = vec![event(1), event(2), event(3)];
        store
            .append("account", NoStream, batch.clone())
            .await
            .expect("append");
        damage(&path, column, value);

        let by_stream = store.read_stream("account", 0, 10).await;
        assert!(
            matches!(by_stream, Err(StoreError::Corrupt(_))),
            "{column} = {value}: read_stream gave {by_stream:?}"
        );
        let all = store.read_all(0, 10).await;
        assert!(
            matches!(all, Err(StoreError::Corrupt(_))),
            "{column} = {value}: read_all gave {all:?}"
        );
        let first = store
            .read_all(0, 1)
            .await
            .expect("the undamaged first event still reads");
        assert_eq!(first.len(), 1);
        if column != "event_id" {
            let retry = store.append("account", NoStream, batch).await;
            assert!(
                matches!(retry, Err(StoreError::Corrupt(_))),
                "{column} = {value}: a retry gave {retry:?}"
            );
        }
    }
}

#[test]
fn a_database_from_a_newer_build_is_refused() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = database(&dir);
    drop(SqliteStore::open(&path).expect("the store opens"));
    let conn = rusqlite::Connection::open(&path).expect("raw connection");
    conn.pragma_update(None, "user_version", 99)
        .expect("setting the schema version");
    drop(conn);
    match SqliteStore::open(&path) {
        Err(StoreError::Unavailable(why)) => assert!(why.contains("schema version 99"), "{why}"),
        Err(other) => panic!("expected Unavailable, got {other:?}"),
        Ok(_) => panic!("a database with schema version 99 opened"),
    }
}

#[test]
fn a_file_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = database(&dir);
    std::fs::write(&path, vec![0x5a_u8; 8192]).expect("writing garbage");
    assert!(
        SqliteStore::open(&path).is_err(),
        "a file of garbage opened as a store"
    );
}

#[tokio::test]
async fn a_second_store_on_one_file_is_refused_until_the_first_closes() {
    // One process writes the file: its writer and its known stream heads
    // are then exact. A second store (here, or in another process) is refused.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = database(&dir);
    let one = SqliteStore::open(&path).expect("first store");
    one.append("stream-1", Exact(0), vec![event(0)])
        .await
        .expect("append");
    match SqliteStore::open(&path) {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains("already open"), "{message}")
        }
        Err(other) => panic!("expected Unavailable, got {other}"),
        Ok(_) => panic!("a second store opened the same file"),
    }
    drop(one);
    let two = SqliteStore::open(&path).expect("opens once the first is closed");
    assert_eq!(two.head().await.expect("head"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_store_reads_beside_the_writer_and_refuses_appends() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = database(&dir);
    let writer = SqliteStore::open(&path).expect("the store opens");
    writer
        .append("account-a", NoStream, vec![event(1)])
        .await
        .expect("append");

    let reader = SqliteStore::open_read_only(&path).expect("opens beside the writer");
    let seen = reader.read_stream("account-a", 0, 10).await.expect("read");
    assert_eq!(seen.iter().map(|e| e.version).collect::<Vec<_>>(), vec![1]);

    // The writer goes on; the reader caches no stream head and sees it.
    writer
        .append("account-a", Exact(1), vec![event(2)])
        .await
        .expect("append");
    let seen = reader.read_stream("account-a", 1, 10).await.expect("read");
    assert_eq!(seen.iter().map(|e| e.version).collect::<Vec<_>>(), vec![2]);
    assert_eq!(reader.head().await.expect("head"), 2);

    let refused = reader.append("account-a", Exact(2), vec![event(3)]).await;
    assert!(
        matches!(&refused, Err(StoreError::Invalid(why)) if why == "this store was opened read-only"),
        "{refused:?}"
    );
    assert_eq!(everything(&writer).await.len(), 2, "nothing was written");
}

#[test]
fn a_read_only_store_needs_an_existing_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let refused = SqliteStore::open_read_only(&database(&dir));
    assert!(
        matches!(&refused, Err(StoreError::Unavailable(why)) if why.contains("no event store at")),
        "{:?}",
        refused.err()
    );
    assert!(!database(&dir).exists(), "no file was created");
}
