//! The adapter contract, run against the embedded store wrapped in the hash
//! chain (`ChainedStore`), as `twostep serve` runs it: one test per rule.

use std::sync::Arc;

use tempfile::TempDir;
use twostep_store::chain::{ChainedStore, Content, GENESIS, event_hash};
use twostep_store::sqlite::SqliteStore;
use twostep_store::{EventStore, ExpectedVersion, Metadata, NewEvent, StoreError, contract};

/// A store in a fresh directory, kept alive as long as the store is used.
fn fresh_store() -> (TempDir, Arc<dyn EventStore>) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(&dir.path().join("events.db")).expect("the store opens");
    (dir, chained(store))
}

fn chained(store: SqliteStore) -> Arc<dyn EventStore> {
    Arc::new(ChainedStore::new(Arc::new(store)))
}

macro_rules! contract_tests {
    ($($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let (_dir, store) = fresh_store();
                if let Err(why) = contract::$check(store).await {
                    panic!("{} broken: {why}", stringify!($check));
                }
            }
        )*

        #[test]
        fn every_contract_check_has_a_test_here() {
            let here = [$(stringify!($check)),*];
            let missing: Vec<_> = contract::ALL.iter().map(|c| c.name).filter(|name| !here.contains(name)).collect();
            assert!(missing.is_empty(), "contract checks without a chained sqlite test: {missing:?}");
        }
    };
}

contract_tests![
    appends_with_each_expected_version_form,
    conflicting_append_writes_nothing,
    idempotent_retry_of_same_event_ids,
    duplicate_event_id_in_another_stream_is_refused,
    invalid_appends_are_refused,
    appended_events_read_back_exactly,
    reads_stream_forwards_with_paging,
    reads_see_appends_made_after_reading_to_the_end,
    read_all_is_exclusive_of_position,
    global_order_is_consistent_with_each_stream,
    head_and_watch_follow_commits,
    subscription_delivers_every_event_once_in_order_and_resumes,
    concurrent_appends_to_one_stream_keep_versions_dense,
    concurrent_appends_to_many_streams_are_all_recorded,
];

/// Every check at once against one shared store, as a shared deployment
/// would see them: checks must not rely on owning the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_check_passes_on_one_shared_store_concurrently() {
    let (_dir, store) = fresh_store();
    let mut running = tokio::task::JoinSet::new();
    for check in contract::ALL {
        let run = (check.run)(Arc::clone(&store));
        running.spawn(async move { run.await.map_err(|why| format!("{}: {why}", check.name)) });
    }
    let mut failures = Vec::new();
    while let Some(joined) = running.join_next().await {
        if let Err(why) = joined.expect("a check task") {
            failures.push(why);
        }
    }
    assert!(
        failures.is_empty(),
        "broken on a shared store:\n{}",
        failures.join("\n")
    );
}

/// `run_all` with a fresh store per check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_all_passes_with_a_store_per_check() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut opened = 0;
    let verdict = contract::run_all(|| {
        opened += 1;
        let path = dir.path().join(format!("events-{opened}.db"));
        async move { chained(SqliteStore::open(&path).expect("the store opens")) }
    })
    .await;
    assert_eq!(verdict, Ok(()));
}

/// Fails unless every event of `stream` links to the one before it and
/// matches its own hash.
async fn assert_chain_holds(store: &dyn EventStore, stream: &str, expected_len: usize) {
    let events = twostep_store::read_whole_stream(store, stream)
        .await
        .expect("the stream reads back");
    assert_eq!(events.len(), expected_len);
    let mut prev = GENESIS.to_owned();
    for event in &events {
        let link = event
            .metadata
            .chain
            .as_ref()
            .expect("every event is linked");
        assert_eq!(
            link.prev, prev,
            "version {} links to the version before it",
            event.version
        );
        assert_eq!(
            link.hash,
            event_hash(Content::of(event), &link.prev, Some(&link.at)),
            "version {} matches its own hash",
            event.version
        );
        prev = link.hash.clone();
    }
}

fn event(n: u64) -> NewEvent {
    NewEvent {
        event_id: uuid::Uuid::new_v4(),
        event_type: "Chained".into(),
        schema_version: 1,
        data: serde_json::json!({ "n": n }),
        metadata: Metadata::default(),
    }
}

/// Concurrent `Any` appends (turned into exact appends and retried), exact
/// appends, and an idempotent retry leave one unbroken chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_any_appends_and_retries_keep_one_unbroken_chain() {
    let (_dir, store) = fresh_store();
    let first = vec![event(0), event(1)];
    store
        .append("chained", ExpectedVersion::NoStream, first.clone())
        .await
        .expect("the first append");
    let mut running = tokio::task::JoinSet::new();
    for task in 0..8u64 {
        let store = Arc::clone(&store);
        running.spawn(async move {
            for n in 0..10 {
                store
                    .append("chained", ExpectedVersion::Any, vec![event(task * 100 + n)])
                    .await
                    .expect("an Any append");
            }
        });
    }
    while let Some(joined) = running.join_next().await {
        joined.expect("an appending task");
    }
    let retried = store
        .append("chained", ExpectedVersion::NoStream, first)
        .await
        .expect("an idempotent retry");
    assert_eq!(retried.stream_version, 2);
    let stale = store
        .append("chained", ExpectedVersion::Exact(5), vec![event(999)])
        .await;
    assert!(
        matches!(
            stale,
            Err(StoreError::WrongExpectedVersion { actual: 82, .. })
        ),
        "{stale:?}"
    );
    store
        .append("chained", ExpectedVersion::Exact(82), vec![event(1000)])
        .await
        .expect("an exact append at the head");
    assert_chain_holds(store.as_ref(), "chained", 83).await;
}

/// A stream written before chaining: the first linked event chains over the
/// unlinked ones (hashed without `at`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaining_continues_a_stream_written_without_links() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("events.db");
    {
        let plain = SqliteStore::open(&path).expect("the store opens");
        plain
            .append(
                "legacy",
                ExpectedVersion::NoStream,
                vec![event(1), event(2)],
            )
            .await
            .expect("an unlinked append");
    }
    let store = chained(SqliteStore::open(&path).expect("the store opens again"));
    store
        .append("legacy", ExpectedVersion::Any, vec![event(3)])
        .await
        .expect("a linked append");
    let events = twostep_store::read_whole_stream(store.as_ref(), "legacy")
        .await
        .expect("the stream reads back");
    let first = event_hash(Content::of(&events[0]), GENESIS, None);
    let second = event_hash(Content::of(&events[1]), &first, None);
    let link = events[2]
        .metadata
        .chain
        .as_ref()
        .expect("the new event is linked");
    assert_eq!(link.prev, second);
    assert_eq!(events[0].metadata.chain, None);
}
