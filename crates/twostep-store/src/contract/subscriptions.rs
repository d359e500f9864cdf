//! Following the global order with a [`Subscription`].

use std::sync::Arc;
use std::time::Duration;

use super::Verdict;
use super::fixtures::{Context, fresh_stream, ids, new_events, within};
use crate::ExpectedVersion::{Exact, NoStream};
use crate::{EventStore, Position, RecordedEvent, Subscription};

/// A subscription delivers every event after its checkpoint once, in global
/// order — those already stored, then those appended while it waits — and a
/// new subscription from a saved checkpoint resumes with the next event.
pub async fn subscription_delivers_every_event_once_in_order_and_resumes(
    store: Arc<dyn EventStore>,
) -> Verdict {
    let stream = fresh_stream("subscription");
    let start = store.head().await.context("head")?;
    let stored = store
        .append(&stream, NoStream, new_events(3))
        .await
        .context("appending before subscribing")?;

    let mut subscription = Subscription::new(Arc::clone(&store), start, 2);
    let mut follower = Follower {
        stream: stream.clone(),
        delivered: Vec::new(),
        last: start,
    };
    follower.follow(&mut subscription, 3).await?;

    let late_store = Arc::clone(&store);
    let late_stream = stream.clone();
    let late = tokio::spawn(async move {
        // Let the subscription go to sleep waiting first.
        tokio::time::sleep(Duration::from_millis(100)).await;
        late_store
            .append(&late_stream, Exact(3), new_events(2))
            .await
    });
    follower.follow(&mut subscription, 5).await?;
    let late = late
        .await
        .map_err(|err| format!("the appending task failed: {err}"))?
        .context("appending late")?;

    let acknowledged: Vec<_> = stored
        .recorded
        .iter()
        .chain(&late.recorded)
        .cloned()
        .collect();
    ensure_eq!(
        follower.delivered,
        acknowledged,
        "events delivered by the subscription"
    );
    ensure_eq!(
        subscription.checkpoint(),
        follower.last,
        "checkpoint after the last delivered event"
    );

    // Drain anything else, then save the checkpoint as a projector would.
    if let Some(more) = subscription.poll().await.context("polling")? {
        follower.take(more)?;
    }
    ensure_eq!(
        follower.delivered.len(),
        5,
        "events delivered once the subscription caught up"
    );
    let saved = subscription.checkpoint();
    drop(subscription);

    let next = store
        .append(&stream, Exact(5), new_events(1))
        .await
        .context("appending after the checkpoint")?;
    let mut resumed = Subscription::new(Arc::clone(&store), saved, 2);
    let mut after_restart = Follower {
        stream,
        delivered: Vec::new(),
        last: saved,
    };
    after_restart.follow(&mut resumed, 1).await?;
    ensure_eq!(
        ids(&after_restart.delivered),
        ids(&next.recorded),
        "first event delivered after resuming"
    );
    Ok(())
}

/// Collects what a subscription delivers, checking the global order as it goes.
struct Follower {
    stream: String,
    /// Delivered events of `stream`.
    delivered: Vec<RecordedEvent>,
    /// Position of the last event delivered, of any stream.
    last: Position,
}

impl Follower {
    /// Takes batches until `count` events of the stream were delivered.
    async fn follow(&mut self, subscription: &mut Subscription, count: usize) -> Verdict {
        while self.delivered.len() < count {
            let batch = within("waiting for the subscription", subscription.next_batch()).await?;
            self.take(batch.context("next_batch")?)?;
        }
        Ok(())
    }

    fn take(&mut self, batch: Vec<RecordedEvent>) -> Verdict {
        ensure!(
            !batch.is_empty(),
            "the subscription delivered an empty batch"
        );
        for event in batch {
            ensure!(
                event.position > self.last,
                "the subscription delivered position {} after position {}",
                event.position,
                self.last
            );
            self.last = event.position;
            if event.stream == self.stream {
                self.delivered.push(event);
            }
        }
        Ok(())
    }
}
