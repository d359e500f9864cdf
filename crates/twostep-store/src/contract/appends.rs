//! Appending: expected versions, atomicity, what is recorded.

use std::sync::Arc;

use super::Verdict;
use super::fixtures::{
    Context, describe, ensure_empty, fresh_stream, ids, new_event, new_events, new_ids,
    positions_increase, read_all_until, refused_for_version, versions,
};
use crate::ExpectedVersion::{Any, Exact, NoStream, StreamExists};
use crate::{EventStore, Metadata, StoreError, read_whole_stream};

/// `NoStream`, `StreamExists`, `Exact` and `Any` each admit exactly the
/// versions they name; a refusal reports the stream's actual version.
pub async fn appends_with_each_expected_version_form(store: Arc<dyn EventStore>) -> Verdict {
    let stream = fresh_stream("expected-version");
    let first = store
        .append(&stream, NoStream, new_events(2))
        .await
        .context("NoStream on a new stream")?;
    ensure_eq!(
        first.stream_version,
        2,
        "stream version after appending two events to a new stream"
    );
    ensure_eq!(
        versions(&first.recorded),
        vec![1, 2],
        "versions of the first two events"
    );
    refused_for_version(
        store.append(&stream, NoStream, new_events(1)).await,
        &stream,
        NoStream,
        2,
    )?;

    let missing = fresh_stream("expected-version-missing");
    refused_for_version(
        store.append(&missing, StreamExists, new_events(1)).await,
        &missing,
        StreamExists,
        0,
    )?;
    let third = store
        .append(&stream, StreamExists, new_events(1))
        .await
        .context("StreamExists on a stream")?;
    ensure_eq!(third.stream_version, 3, "stream version after StreamExists");

    let fourth = store
        .append(&stream, Exact(3), new_events(1))
        .await
        .context("Exact(3) at version 3")?;
    ensure_eq!(fourth.stream_version, 4, "stream version after Exact(3)");
    refused_for_version(
        store.append(&stream, Exact(3), new_events(1)).await,
        &stream,
        Exact(3),
        4,
    )?;
    refused_for_version(
        store.append(&stream, Exact(5), new_events(1)).await,
        &stream,
        Exact(5),
        4,
    )?;

    let fifth = store
        .append(&stream, Any, new_events(1))
        .await
        .context("Any on a stream")?;
    ensure_eq!(fifth.stream_version, 5, "stream version after Any");
    let fresh = store
        .append(&fresh_stream("expected-any"), Any, new_events(1))
        .await
        .context("Any on a new stream")?;
    ensure_eq!(
        fresh.stream_version,
        1,
        "stream version after Any on a new stream"
    );
    let exact_zero = store
        .append(&fresh_stream("expected-zero"), Exact(0), new_events(1))
        .await;
    ensure_eq!(
        exact_zero
            .context("Exact(0) on a new stream")?
            .stream_version,
        1,
        "stream version after Exact(0)"
    );

    let stored = read_whole_stream(store.as_ref(), &stream)
        .await
        .context("reading the stream back")?;
    ensure_eq!(versions(&stored), vec![1, 2, 3, 4, 5], "versions stored");
    let acknowledged = [first, third, fourth, fifth]
        .into_iter()
        .flat_map(|o| o.recorded)
        .collect::<Vec<_>>();
    ensure_eq!(ids(&stored), ids(&acknowledged), "ids stored, in order");
    positions_increase(&stored, "positions within the stream")
}

/// An append refused for its expected version stores none of its events.
pub async fn conflicting_append_writes_nothing(store: Arc<dyn EventStore>) -> Verdict {
    let stream = fresh_stream("conflict");
    let first = store
        .append(&stream, NoStream, new_events(2))
        .await
        .context("first append")?;
    let refused = new_events(3);
    refused_for_version(
        store.append(&stream, Exact(1), refused.clone()).await,
        &stream,
        Exact(1),
        2,
    )?;
    let stored = read_whole_stream(store.as_ref(), &stream)
        .await
        .context("reading the stream back")?;
    ensure_eq!(
        ids(&stored),
        ids(&first.recorded),
        "events stored after the refused append"
    );

    // Its ids were not taken: the same events append normally afterwards.
    let later = store
        .append(&stream, Exact(2), refused.clone())
        .await
        .context("appending the refused events again")?;
    ensure_eq!(
        versions(&later.recorded),
        vec![3, 4, 5],
        "versions of the events appended afterwards"
    );
    ensure_eq!(
        ids(&later.recorded),
        new_ids(&refused),
        "ids of the events appended afterwards"
    );
    Ok(())
}

/// An empty stream name or an empty batch is `Invalid` and writes nothing.
pub async fn invalid_appends_are_refused(store: Arc<dyn EventStore>) -> Verdict {
    match store.append("", Any, new_events(1)).await {
        Err(StoreError::Invalid(_)) => {}
        other => {
            return Err(format!(
                "append to an empty stream name: expected Invalid, got {}",
                describe(&other)
            ));
        }
    }
    let stream = fresh_stream("invalid");
    match store.append(&stream, Any, Vec::new()).await {
        Err(StoreError::Invalid(_)) => {}
        other => {
            return Err(format!(
                "append of no events: expected Invalid, got {}",
                describe(&other)
            ));
        }
    }
    ensure_empty(store.as_ref(), &stream).await
}

/// What an append answers is exactly what reading gives back later: ids,
/// type, schema version, data, metadata and timestamp, through both
/// `read_stream` and `read_all`.
pub async fn appended_events_read_back_exactly(store: Arc<dyn EventStore>) -> Verdict {
    let stream = fresh_stream("read-back");
    let start = store.head().await.context("head")?;
    let batch = new_events(2);
    let first = store
        .append(&stream, NoStream, batch.clone())
        .await
        .context("first append")?;
    let second = store
        .append(&stream, Exact(2), vec![new_event(3)])
        .await
        .context("second append")?;
    let acknowledged: Vec<_> = first
        .recorded
        .iter()
        .chain(&second.recorded)
        .cloned()
        .collect();

    for (recorded, new) in first.recorded.iter().zip(&batch) {
        ensure_eq!(recorded.stream, stream, "stream of a recorded event");
        ensure_eq!(
            recorded.event_type,
            new.event_type,
            "type of a recorded event"
        );
        ensure_eq!(
            recorded.schema_version,
            new.schema_version,
            "schema version of a recorded event"
        );
        ensure_eq!(recorded.data, new.data, "data of a recorded event");
        // A chaining wrapper adds its link (`chain`); the rest comes back as given.
        let without_link = Metadata {
            chain: None,
            ..recorded.metadata.clone()
        };
        ensure_eq!(without_link, new.metadata, "metadata of a recorded event");
        ensure!(
            recorded.recorded_at.offset().is_utc(),
            "recorded_at {} is not UTC",
            recorded.recorded_at
        );
    }
    let by_stream = read_whole_stream(store.as_ref(), &stream)
        .await
        .context("read_stream")?;
    ensure_eq!(by_stream, acknowledged, "events read by stream");
    let last = acknowledged.last().map_or(start, |e| e.position);
    let globally = read_all_until(store.as_ref(), start, last).await?;
    let mine: Vec<_> = globally
        .into_iter()
        .filter(|e| e.stream == stream)
        .collect();
    ensure_eq!(mine, acknowledged, "events read in global order");
    Ok(())
}
