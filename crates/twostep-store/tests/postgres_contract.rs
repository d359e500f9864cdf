//! The adapter contract, run against PostgreSQL: one test per rule, each in
//! a fresh schema that is dropped afterwards. The server comes from
//! `TWOSTEP_TEST_POSTGRES_URL` (default `postgres://root@127.0.0.1:5432/test`);
//! if it cannot be reached the tests fail, saying so.

use std::sync::Arc;

use twostep_store::postgres::PostgresStore;
use twostep_store::{EventStore, contract};
use uuid::Uuid;

const DEFAULT_URL: &str = "postgres://root@127.0.0.1:5432/test";

/// The server's URL with a `schema=` parameter naming a fresh schema.
fn fresh_schema_url() -> String {
    let base = std::env::var("TWOSTEP_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.into());
    let separator = if base.contains('?') { '&' } else { '?' };
    format!(
        "{base}{separator}schema=twostep_test_{}",
        Uuid::new_v4().simple()
    )
}

async fn open(url: &str) -> Arc<dyn EventStore> {
    match PostgresStore::open(url).await {
        Ok(store) => Arc::new(store),
        Err(err) => panic!(
            "PostgreSQL is needed for these tests (set TWOSTEP_TEST_POSTGRES_URL, default {DEFAULT_URL}): {err}"
        ),
    }
}

async fn drop_schema(url: &str) {
    if let Err(err) = PostgresStore::drop_schema(url).await {
        eprintln!("could not drop the test schema: {err}");
    }
}

macro_rules! contract_tests {
    ($($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let url = fresh_schema_url();
                let store = open(&url).await;
                let verdict = contract::$check(store).await;
                drop_schema(&url).await;
                if let Err(why) = verdict {
                    panic!("{} broken: {why}", stringify!($check));
                }
            }
        )*

        #[test]
        fn every_contract_check_has_a_test_here() {
            let here = [$(stringify!($check)),*];
            let missing: Vec<_> = contract::ALL.iter().map(|c| c.name).filter(|name| !here.contains(name)).collect();
            assert!(missing.is_empty(), "contract checks without a postgres test: {missing:?}");
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

/// Every check at once, each through its own store (its own connections, as
/// separate instances would have) on one shared schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_check_passes_with_a_store_per_check_on_one_shared_schema() {
    let url = fresh_schema_url();
    let mut running = tokio::task::JoinSet::new();
    for check in contract::ALL {
        let store = open(&url).await;
        let run = (check.run)(store);
        running.spawn(async move { run.await.map_err(|why| format!("{}: {why}", check.name)) });
    }
    let mut failures = Vec::new();
    while let Some(joined) = running.join_next().await {
        if let Err(why) = joined.expect("a check task") {
            failures.push(why);
        }
    }
    drop_schema(&url).await;
    assert!(
        failures.is_empty(),
        "broken on a shared schema:\n{}",
        failures.join("\n")
    );
}

/// A second store on the same schema sees the first one's appends through
/// its watch channel (NOTIFY or the poll), not only its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_store_on_the_same_schema_is_woken_by_appends() {
    let url = fresh_schema_url();
    let writer = open(&url).await;
    let follower = open(&url).await;
    let mut watch = follower.watch();
    assert_eq!(*watch.borrow_and_update(), 0);
    let event = twostep_store::NewEvent {
        event_id: Uuid::new_v4(),
        event_type: "Pinged".into(),
        schema_version: 1,
        data: serde_json::json!({}),
        metadata: twostep_store::Metadata::default(),
    };
    let outcome = writer
        .append(
            "ping",
            twostep_store::ExpectedVersion::NoStream,
            vec![event],
        )
        .await
        .expect("the append");
    let woke = tokio::time::timeout(std::time::Duration::from_secs(20), watch.changed()).await;
    let seen = *watch.borrow();
    drop_schema(&url).await;
    assert!(matches!(woke, Ok(Ok(()))), "the follower was never woken");
    assert_eq!(seen, outcome.recorded[0].position);
}

/// Opening a second store on a schema that is already migrated works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_an_already_migrated_schema_again_works() {
    let url = fresh_schema_url();
    let first = open(&url).await;
    let second = open(&url).await;
    let heads = (first.head().await.ok(), second.head().await.ok());
    drop_schema(&url).await;
    assert_eq!(heads, (Some(0), Some(0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_a_clear_error_without_the_password() {
    let url = "postgres://twostep:hunter2@127.0.0.1:1/test?schema=nowhere&connect_timeout=2";
    let Err(err) = PostgresStore::open(url).await else {
        panic!("port 1 should not answer");
    };
    let message = err.to_string();
    assert!(
        message.starts_with(
            "event store unavailable: cannot connect to PostgreSQL at 127.0.0.1:1/test"
        ),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}
