//! Event ids: retrying an append is harmless, reusing an id is refused.

use std::sync::Arc;

use super::Verdict;
use super::fixtures::{
    Context, describe, ensure_empty, fresh_stream, ids, new_event, new_events, new_ids,
    refused_as_duplicate, versions,
};
use crate::ExpectedVersion::{Any, Exact, NoStream};
use crate::{EventStore, StoreError, read_whole_stream};

/// Appending events whose ids are stored, as the same events of the same
/// stream in the same order, answers what the first append answered and
/// writes nothing — even when the expected version no longer holds.
pub async fn idempotent_retry_of_same_event_ids(store: Arc<dyn EventStore>) -> Verdict {
    let stream = fresh_stream("retry");
    let batch = new_events(3);
    let first = store
        .append(&stream, NoStream, batch.clone())
        .await
        .context("first append")?;
    let retry = store
        .append(&stream, NoStream, batch.clone())
        .await
        .context("retrying at once")?;
    ensure_eq!(retry, first, "outcome of an immediate retry");

    store
        .append(&stream, Exact(3), new_events(1))
        .await
        .context("appending after the batch")?;
    let late = store
        .append(&stream, NoStream, batch.clone())
        .await
        .context("retrying once the stream moved on")?;
    ensure_eq!(late, first, "outcome of a late retry");
    let late_exact = store
        .append(&stream, Exact(3), batch.clone())
        .await
        .context("late retry with Exact(3)")?;
    ensure_eq!(late_exact, first, "outcome of a late retry with Exact(3)");

    let single = vec![new_event(9)];
    let once = store
        .append(&stream, Exact(4), single.clone())
        .await
        .context("single event")?;
    let twice = store
        .append(&stream, Exact(4), single)
        .await
        .context("single event retried")?;
    ensure_eq!(twice, once, "outcome of a retried single-event append");

    let mut reordered = batch.clone();
    reordered.reverse();
    let result = store.append(&stream, Any, reordered).await;
    refused_as_duplicate(result, &new_ids(&batch), "the same ids in another order")?;
    let stranger = new_event(10);
    let mixed = vec![batch[0].clone(), batch[1].clone(), stranger.clone()];
    refused_as_duplicate(
        store.append(&stream, Any, mixed).await,
        &new_ids(&batch),
        "stored ids followed by a new one",
    )?;

    let stored = read_whole_stream(store.as_ref(), &stream)
        .await
        .context("reading the stream back")?;
    ensure_eq!(
        versions(&stored),
        vec![1, 2, 3, 4, 5],
        "versions stored after retries"
    );
    ensure!(
        !ids(&stored).contains(&stranger.event_id),
        "the new event of a refused batch was stored"
    );
    Ok(())
}

/// An event id belongs to one event: reusing it in another stream, or twice
/// in one batch, is refused and the whole batch writes nothing.
pub async fn duplicate_event_id_in_another_stream_is_refused(
    store: Arc<dyn EventStore>,
) -> Verdict {
    let taken = new_event(1);
    store
        .append(
            &fresh_stream("duplicate-owner"),
            NoStream,
            vec![taken.clone()],
        )
        .await
        .context("first use")?;

    let other = fresh_stream("duplicate-other");
    refused_as_duplicate(
        store.append(&other, Any, vec![taken.clone()]).await,
        &[taken.event_id],
        "same id elsewhere",
    )?;
    ensure_empty(store.as_ref(), &other).await?;

    let surrounded = fresh_stream("duplicate-surrounded");
    let (before, after) = (new_event(2), new_event(3));
    let batch = vec![before.clone(), taken.clone(), after.clone()];
    refused_as_duplicate(
        store.append(&surrounded, Any, batch).await,
        &[taken.event_id],
        "taken id mid-batch",
    )?;
    ensure_empty(store.as_ref(), &surrounded).await?;
    let fine = store
        .append(&surrounded, NoStream, vec![before, after])
        .await
        .context("the rest of that batch")?;
    ensure_eq!(
        fine.stream_version,
        2,
        "stream version after appending the rest of the batch"
    );

    let twice = fresh_stream("duplicate-twice");
    let repeated = new_event(4);
    match store
        .append(&twice, Any, vec![repeated.clone(), repeated.clone()])
        .await
    {
        Err(StoreError::DuplicateEventId(id)) if id == repeated.event_id => {}
        Err(StoreError::Invalid(_)) => {}
        other => {
            return Err(format!(
                "one id twice in a batch: expected DuplicateEventId or Invalid, got {}",
                describe(&other)
            ));
        }
    }
    ensure_empty(store.as_ref(), &twice).await
}
