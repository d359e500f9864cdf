//! Small named builders and assertions shared by the checks.

use std::future::Future;
use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use super::Verdict;
use crate::{
    AppendOutcome, EventStore, ExpectedVersion, Metadata, NewEvent, Position, RecordedEvent,
    StoreError, read_whole_stream,
};

/// How long a check waits for something that should happen at once.
pub(super) const PATIENCE: Duration = Duration::from_secs(20);

/// A stream name no other check or run uses.
pub(super) fn fresh_stream(label: &str) -> String {
    format!("contract-{label}-{}", Uuid::new_v4())
}

/// An event with a fresh id and data that exercises JSON round-tripping.
pub(super) fn new_event(n: u64) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v4(),
        event_type: "ContractChecked".into(),
        schema_version: 1,
        data: json!({
            "n": n,
            "text": "ａｌｉｃｅ ✓ \"quoted\" \\ 🙂",
            "big": u64::MAX,
            "negative": -42,
            "fraction": 0.1,
            "small": 1.5e-7,
            "nothing": null,
            "list": [1, "two", {"three": [true, false]}],
        }),
        metadata: Metadata {
            correlation_id: Uuid::new_v4(),
            causation_id: Some(Uuid::new_v4()),
            actor: "system".into(),
            client_ip: Some("203.0.113.7".into()),
            user_agent: Some("twostep contract suite".into()),
            chain: None,
        },
    }
}

/// `count` events with fresh ids.
pub(super) fn new_events(count: u64) -> Vec<NewEvent> {
    (1..=count).map(new_event).collect()
}

/// The ids of events to append.
pub(super) fn new_ids(events: &[NewEvent]) -> Vec<Uuid> {
    events.iter().map(|e| e.event_id).collect()
}

/// The ids of recorded events.
pub(super) fn ids(events: &[RecordedEvent]) -> Vec<Uuid> {
    events.iter().map(|e| e.event_id).collect()
}

/// The stream versions of recorded events.
pub(super) fn versions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.version).collect()
}

/// Fails unless the events' positions strictly increase.
pub(super) fn positions_increase(events: &[RecordedEvent], what: &str) -> Result<(), String> {
    for pair in events.windows(2) {
        if let [earlier, later] = pair {
            ensure!(
                earlier.position < later.position,
                "{what}: position {} (version {} of {}) is followed by position {} (version {} of {})",
                earlier.position,
                earlier.version,
                earlier.stream,
                later.position,
                later.version,
                later.stream
            );
        }
    }
    Ok(())
}

/// An append's result in a line: which versions it wrote, or its error.
pub(super) fn describe(result: &Result<AppendOutcome, StoreError>) -> String {
    match result {
        Ok(outcome) => format!(
            "Ok (wrote versions {:?} at positions {:?})",
            versions(&outcome.recorded),
            outcome
                .recorded
                .iter()
                .map(|e| e.position)
                .collect::<Vec<_>>()
        ),
        Err(err) => format!("Err({err:?})"),
    }
}

/// Fails unless `result` is the refusal of an append to `stream` expecting
/// `expected` while the stream was at `actual`.
pub(super) fn refused_for_version(
    result: Result<AppendOutcome, StoreError>,
    stream: &str,
    expected: ExpectedVersion,
    actual: u64,
) -> Result<(), String> {
    match result {
        Err(StoreError::WrongExpectedVersion {
            stream: s,
            expected: e,
            actual: a,
        }) if s == stream && e == expected && a == actual => Ok(()),
        other => Err(format!(
            "appending to {stream} expecting {expected} at version {actual}: \
             expected WrongExpectedVersion {{ expected: {expected}, actual: {actual} }}, got {}",
            describe(&other)
        )),
    }
}

/// Fails unless `result` is a `DuplicateEventId` naming one of `candidates`.
pub(super) fn refused_as_duplicate(
    result: Result<AppendOutcome, StoreError>,
    candidates: &[Uuid],
    what: &str,
) -> Result<(), String> {
    match result {
        Err(StoreError::DuplicateEventId(id)) if candidates.contains(&id) => Ok(()),
        other => Err(format!(
            "{what}: expected DuplicateEventId naming one of {candidates:?}, got {}",
            describe(&other)
        )),
    }
}

/// Every event in global order after `after`, up to and including position
/// `until`.
pub(super) async fn read_all_until(
    store: &dyn EventStore,
    after: Position,
    until: Position,
) -> Result<Vec<RecordedEvent>, String> {
    const PAGE: usize = 500;
    let mut events: Vec<RecordedEvent> = Vec::new();
    let mut cursor = after;
    while cursor < until {
        let page = store.read_all(cursor, PAGE).await.context("read_all")?;
        let Some(last) = page.last() else { break };
        ensure!(
            last.position > cursor,
            "read_all after {cursor} returned position {}",
            last.position
        );
        cursor = last.position;
        events.extend(page.into_iter().filter(|e| e.position <= until));
    }
    Ok(events)
}

/// Waits for `future`, failing the check if it takes longer than [`PATIENCE`].
pub(super) async fn within<T>(what: &str, future: impl Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(PATIENCE, future)
        .await
        .map_err(|_| format!("{what}: nothing after {} s", PATIENCE.as_secs()))
}

/// Names the operation a store error came from.
pub(super) trait Context<T> {
    /// The value, or the error prefixed by `what`.
    fn context(self, what: &str) -> Result<T, String>;
}

impl<T> Context<T> for Result<T, StoreError> {
    fn context(self, what: &str) -> Result<T, String> {
        self.map_err(|err| format!("{what}: {err} ({err:?})"))
    }
}

/// Fails unless `stream` holds no event.
pub(super) async fn ensure_empty(store: &dyn EventStore, stream: &str) -> Verdict {
    let stored = read_whole_stream(store, stream)
        .await
        .context("reading the stream back")?;
    ensure!(
        stored.is_empty(),
        "stream {stream} should hold nothing, holds {:?}",
        ids(&stored)
    );
    Ok(())
}
