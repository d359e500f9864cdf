//! Following the global order from a checkpoint, on any adapter.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::{EventStore, Position, RecordedEvent, StoreError};

/// How long a subscriber waits for a notification before polling anyway
/// (covers events committed by other processes sharing the store).
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Delivers every event after a checkpoint, in global order, exactly once per
/// subscription; resume after a restart by starting from the stored checkpoint.
pub struct Subscription {
    store: Arc<dyn EventStore>,
    after: Position,
    batch: usize,
    notified: watch::Receiver<Position>,
}

impl Subscription {
    /// Starts after `checkpoint`, reading at most `batch` events at a time.
    pub fn new(store: Arc<dyn EventStore>, checkpoint: Position, batch: usize) -> Self {
        let notified = store.watch();
        Self {
            store,
            after: checkpoint,
            batch: batch.max(1),
            notified,
        }
    }

    /// The position of the last event delivered (or the starting checkpoint).
    pub fn checkpoint(&self) -> Position {
        self.after
    }

    /// The next events after the checkpoint, waiting until there is at least one.
    pub async fn next_batch(&mut self) -> Result<Vec<RecordedEvent>, StoreError> {
        loop {
            if let Some(events) = self.poll().await? {
                return Ok(events);
            }
            tokio::select! {
                _ = self.notified.changed() => {}
                _ = tokio::time::sleep(POLL_INTERVAL) => {}
            }
        }
    }

    /// The next events after the checkpoint if there are any, without waiting.
    pub async fn poll(&mut self) -> Result<Option<Vec<RecordedEvent>>, StoreError> {
        self.notified.borrow_and_update();
        let events = self.store.read_all(self.after, self.batch).await?;
        match events.last() {
            Some(last) => {
                self.after = last.position;
                Ok(Some(events))
            }
            None => Ok(None),
        }
    }
}

/// Every event of a stream, oldest first.
pub async fn read_whole_stream(
    store: &dyn EventStore,
    stream: &str,
) -> Result<Vec<RecordedEvent>, StoreError> {
    const PAGE: usize = 1_000;
    let mut events = Vec::new();
    loop {
        let after = events.last().map_or(0, |e: &RecordedEvent| e.version);
        let page = store.read_stream(stream, after, PAGE).await?;
        let done = page.len() < PAGE;
        events.extend(page);
        if done {
            return Ok(events);
        }
    }
}
