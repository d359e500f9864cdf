//! Tamper evidence on any adapter: [`ChainedStore`] wraps a store and links
//! each stream's events into a hash chain kept in their metadata
//! ([`ChainLink`]). Altering, removing or reordering a stored event then
//! breaks the chain, which `twostep audit verify` recomputes.
//!
//! The hash covers the stream, version, event id, type, schema version, data,
//! metadata (without the link) and the previous hash, and the time the
//! wrapper linked the event (`at`). It does not cover the store's own
//! `recorded_at`: the store assigns it after the hash is made.

mod hash;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::watch;

pub use hash::{ChainLink, Content, GENESIS, canonical_content, event_hash, write_canonical};

use crate::{
    AppendOutcome, EventStore, ExpectedVersion, NewEvent, Position, RecordedEvent, StoreError,
};

/// Streams whose head the wrapper remembers; past this, heads not in use are
/// forgotten (and read again from the store when next needed).
const MAX_CACHED_STREAMS: usize = 10_000;

/// Attempts of an `Any`/`StreamExists` append that another writer keeps
/// overtaking.
const MAX_ATTEMPTS: usize = 32;

/// Events read per page when catching a head up.
const PAGE: usize = 256;

/// The last event of a stream as the chain sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Head {
    version: u64,
    hash: String,
}

type HeadSlot = Arc<tokio::sync::Mutex<Option<Head>>>;

/// An [`EventStore`] that chains every appended event to the one before it
/// in its stream. Reads pass through unchanged.
///
/// Appends to one stream are serialised in this process (they would conflict
/// anyway). An `Any` or `StreamExists` append becomes an exact-version append
/// at the head the wrapper knows, retried on conflict, so its link is always
/// to the true previous event.
pub struct ChainedStore {
    inner: Arc<dyn EventStore>,
    heads: Mutex<HashMap<String, HeadSlot>>,
}

impl ChainedStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn EventStore>) -> Self {
        Self {
            inner,
            heads: Mutex::new(HashMap::new()),
        }
    }

    fn slot(&self, stream: &str) -> HeadSlot {
        let mut heads = self.heads.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = heads.get(stream) {
            return Arc::clone(slot);
        }
        if heads.len() >= MAX_CACHED_STREAMS {
            heads.retain(|_, slot| Arc::strong_count(slot) > 1);
        }
        let slot = HeadSlot::default();
        heads.insert(stream.to_owned(), Arc::clone(&slot));
        slot
    }

    /// Brings `head` up to the stream's last stored event.
    async fn catch_up(&self, stream: &str, head: &mut Option<Head>) -> Result<(), StoreError> {
        let mut current = match head.take() {
            Some(known) => known,
            None => self.cold_head(stream).await?,
        };
        loop {
            let page = self
                .inner
                .read_stream(stream, current.version, PAGE)
                .await?;
            let full = page.len() == PAGE;
            for event in &page {
                current = next_head(&current, event);
            }
            if !full {
                break;
            }
        }
        *head = Some(current);
        Ok(())
    }

    /// The head of a stream the cache does not know: its last event's link,
    /// found without reading the whole stream unless it has no link.
    async fn cold_head(&self, stream: &str) -> Result<Head, StoreError> {
        let genesis = Head {
            version: 0,
            hash: GENESIS.into(),
        };
        let Some(last) = last_event(self.inner.as_ref(), stream).await? else {
            return Ok(genesis);
        };
        if let Some(link) = &last.metadata.chain {
            return Ok(Head {
                version: last.version,
                hash: link.hash.clone(),
            });
        }
        // A stream written before chaining: hash it from the start.
        Ok(genesis)
    }
}

/// The head after `event`, which follows `head` in its stream.
fn next_head(head: &Head, event: &RecordedEvent) -> Head {
    let hash = match &event.metadata.chain {
        Some(link) => link.hash.clone(),
        None => event_hash(Content::of(event), &head.hash, None),
    };
    Head {
        version: event.version,
        hash,
    }
}

/// The last event of `stream`, found by doubling then bisecting versions
/// (about 2·log2(n) single-event reads).
pub async fn last_event(
    store: &dyn EventStore,
    stream: &str,
) -> Result<Option<RecordedEvent>, StoreError> {
    let at = |version: u64| async move {
        Ok::<_, StoreError>(
            store
                .read_stream(stream, version.saturating_sub(1), 1)
                .await?
                .into_iter()
                .next(),
        )
    };
    let Some(mut found) = at(1).await? else {
        return Ok(None);
    };
    let mut low = 1u64;
    let mut high = 2u64;
    while let Some(event) = at(high).await? {
        low = high;
        found = event;
        high = high.saturating_mul(2);
    }
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        match at(middle).await? {
            Some(event) => {
                low = middle;
                found = event;
            }
            None => high = middle,
        }
    }
    Ok(Some(found))
}

/// `events` linked after `prev`, as versions `base + 1…`.
fn link(stream: &str, base: u64, prev: &str, events: &[NewEvent]) -> Vec<NewEvent> {
    let at = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default();
    let mut prev = prev.to_owned();
    events
        .iter()
        .zip(base + 1..)
        .map(|(event, version)| {
            let mut event = event.clone();
            event.metadata.chain = None;
            let hash = event_hash(
                Content {
                    stream,
                    version,
                    event_id: event.event_id,
                    event_type: &event.event_type,
                    schema_version: event.schema_version,
                    data: &event.data,
                    metadata: &event.metadata,
                },
                &prev,
                Some(&at),
            );
            event.metadata.chain = Some(ChainLink {
                prev: std::mem::replace(&mut prev, hash.clone()),
                hash,
                at: at.clone(),
            });
            event
        })
        .collect()
}

#[async_trait]
impl EventStore for ChainedStore {
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError> {
        if events.is_empty() || stream.is_empty() {
            // The adapter refuses these with its own words.
            return self.inner.append(stream, expected, events).await;
        }
        let slot = self.slot(stream);
        let mut head = slot.lock().await;
        for _ in 0..MAX_ATTEMPTS {
            self.catch_up(stream, &mut head).await?;
            let Some(known) = head.clone() else {
                return Err(StoreError::Unavailable(format!("no head for {stream}")));
            };
            let (sent, to_send) = match expected {
                ExpectedVersion::Exact(version) if version == known.version => {
                    (expected, link(stream, version, &known.hash, &events))
                }
                // The stream is past `version`: only an idempotent retry can
                // succeed, and it writes nothing, so the events go unlinked.
                ExpectedVersion::Exact(version) if version < known.version => {
                    (expected, events.clone())
                }
                ExpectedVersion::Exact(_) => {
                    return Err(StoreError::WrongExpectedVersion {
                        stream: stream.to_owned(),
                        expected,
                        actual: known.version,
                    });
                }
                ExpectedVersion::NoStream => (expected, link(stream, 0, GENESIS, &events)),
                ExpectedVersion::StreamExists if known.version == 0 => {
                    (expected, link(stream, 0, GENESIS, &events))
                }
                ExpectedVersion::Any | ExpectedVersion::StreamExists => (
                    ExpectedVersion::Exact(known.version),
                    link(stream, known.version, &known.hash, &events),
                ),
            };
            match self.inner.append(stream, sent, to_send).await {
                Ok(outcome) => {
                    let ours =
                        outcome.recorded.first().map(|e| e.version) == Some(known.version + 1);
                    if ours && let Some(last) = outcome.recorded.last() {
                        *head = Some(next_head(&known, last));
                    }
                    return Ok(outcome);
                }
                Err(StoreError::WrongExpectedVersion { .. }) if sent != expected => continue,
                Err(err @ StoreError::WrongExpectedVersion { .. }) => {
                    self.catch_up(stream, &mut head).await?;
                    return Err(err);
                }
                Err(err) => return Err(err),
            }
        }
        Err(StoreError::Unavailable(format!(
            "stream {stream} kept moving under {MAX_ATTEMPTS} appends"
        )))
    }

    async fn read_stream(
        &self,
        stream: &str,
        after_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_stream(stream, after_version, limit).await
    }

    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_all(after, limit).await
    }

    async fn head(&self) -> Result<Position, StoreError> {
        self.inner.head().await
    }

    fn watch(&self) -> watch::Receiver<Position> {
        self.inner.watch()
    }

    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
}
