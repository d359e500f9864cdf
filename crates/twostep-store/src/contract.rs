//! The contract every adapter passes, written once against
//! `Arc<dyn EventStore>`.
//!
//! Each check is a public async function named after the rule it checks; it
//! answers `Ok(())` or `Err` with what the store did wrong. Every check works
//! on fresh, randomly named streams and tolerates other events in the store,
//! so checks can share one store and run in parallel. [`ALL`] lists them and
//! [`run_all`] runs them; an adapter's tests should run each check as its own
//! test, so that a failure names the rule.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::EventStore;

/// Fails the check with a formatted message unless `$cond` holds.
macro_rules! ensure {
    ($cond:expr, $($message:tt)+) => {
        if !$cond {
            return Err(format!($($message)+));
        }
    };
}

/// Fails the check unless both sides are equal, showing both.
macro_rules! ensure_eq {
    ($left:expr, $right:expr, $($message:tt)+) => {
        match (&$left, &$right) {
            (left, right) => {
                if left != right {
                    return Err(format!("{}:\n  found:    {:?}\n  expected: {:?}", format!($($message)+), left, right));
                }
            }
        }
    };
}

mod appends;
mod concurrency;
mod event_ids;
mod fixtures;
mod reads;
mod subscriptions;

pub use appends::{
    appended_events_read_back_exactly, appends_with_each_expected_version_form,
    conflicting_append_writes_nothing, invalid_appends_are_refused,
};
pub use concurrency::{
    concurrent_appends_to_many_streams_are_all_recorded,
    concurrent_appends_to_one_stream_keep_versions_dense,
};
pub use event_ids::{
    duplicate_event_id_in_another_stream_is_refused, idempotent_retry_of_same_event_ids,
};
pub use reads::{
    global_order_is_consistent_with_each_stream, head_and_watch_follow_commits,
    read_all_is_exclusive_of_position, reads_see_appends_made_after_reading_to_the_end,
    reads_stream_forwards_with_paging,
};
pub use subscriptions::subscription_delivers_every_event_once_in_order_and_resumes;

/// What a check answers: `Ok(())`, or which rule the store broke and how.
pub type Verdict = Result<(), String>;

/// A running check.
pub type CheckFuture = Pin<Box<dyn Future<Output = Verdict> + Send>>;

/// One rule of the contract, by name.
pub struct Check {
    /// The check's function name.
    pub name: &'static str,
    /// Runs the check against a store.
    pub run: fn(Arc<dyn EventStore>) -> CheckFuture,
}

macro_rules! all_checks {
    ($($check:ident),* $(,)?) => {
        /// Every check of the contract, in the order [`run_all`] runs them.
        pub const ALL: &[Check] = &[$(Check { name: stringify!($check), run: |store| Box::pin($check(store)) }),*];
    };
}

all_checks![
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

/// Runs every check, each against a store from `factory`, and reports every
/// failure (not only the first), one line per broken rule.
pub async fn run_all<F, Fut>(mut factory: F) -> Verdict
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Arc<dyn EventStore>>,
{
    let mut failures = Vec::new();
    for check in ALL {
        let store = factory().await;
        if let Err(why) = (check.run)(store).await {
            failures.push(format!("{}: {why}", check.name));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}
