//! The adapter contract, run against the embedded store wrapped in the hash
//! chain (`ChainedStore`), as `twostep serve` runs it: one test per rule.

use std::sync::Arc;

use tempfile::TempDir;
use twostep_store::chain::ChainedStore;
use twostep_store::sqlite::SqliteStore;
use twostep_store::{EventStore, contract};

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
        async move {
            chained(SqliteStore::open(&path).expect("the store opens"))
        }
    })
    .await;
    assert_eq!(verdict, Ok(()));
}
