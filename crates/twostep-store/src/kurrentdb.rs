//! The EventStoreDB/KurrentDB adapter, on the official `kurrentdb` client
//! (gRPC).
//!
//! | trait operation | KurrentDB |
//! | --- | --- |
//! | `append(stream, expected, events)` | `AppendToStream` with the expected revision ([`mapping::stream_state`]); then the appended revisions are read back from the leader for their positions and commit times. A refusal for the expected revision reads the stream's tail to tell a retry of the same events (answered as the first append was) from a conflict ([`retries`]). |
//! | `read_stream(stream, after, limit)` | `ReadStream` forwards from revision `after` (version `n` ↔ revision `n - 1`), at most `limit`, on the leader |
//! | `read_all(after, limit)` | `ReadAll` forwards from commit position `after` with a server-side filter on our stream prefixes; the event at `after` itself is dropped (the server reads inclusively) |
//! | `head()` | `ReadAll` backwards from the end, same filter, one event |
//! | `watch()` | a filtered `$all` subscription, resubscribed by [`follow`] from the last position seen |
//!
//! Positions are `$all` commit positions: unique and increasing, **not dense**.

mod connection;
mod follow;
mod mapping;
mod retries;

use std::sync::Arc;

use ::kurrentdb::{
    AppendToStreamOptions, Client, EventData, ReadAllOptions, ReadStream, ReadStreamOptions,
    ResolvedEvent, StreamPosition, SubscriptionFilter,
};
use async_trait::async_trait;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

pub use self::connection::{UrlError, credentials, http_base, normalise, redact, settings};
use self::mapping::{ServerEvent, WireMetadata};
use self::retries::Found;
use crate::{
    AppendOutcome, EventStore, ExpectedVersion, NewEvent, Position, RecordedEvent, StoreError,
};

/// The stream prefixes of twostep's aggregates: `$all` is read filtered to them.
pub const STREAM_PREFIXES: &[&str] = &["licence-", "account-", "attempts-", "audit-checkpoints"];

/// Most events one read asks the server for.
const MAX_PAGE: usize = 4_096;

/// How many of a stream's last events are searched for a retried batch
/// when the server refuses an append for its expected revision.
pub const RETRY_WINDOW: u64 = 256;

/// The KurrentDB store. Cheap to clone: clones share one gRPC client and one
/// `$all` subscription.
#[derive(Clone)]
pub struct KurrentStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    prefixes: Vec<String>,
    committed: watch::Sender<Position>,
    follower: JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.follower.abort();
    }
}

impl KurrentStore {
    /// Connects to the server at `url` (`kurrentdb://…` or `esdb://…`),
    /// checks that it answers, and starts following `$all` for `watch`.
    /// Only streams whose names start with one of `prefixes` are read by
    /// `read_all` and `head` (twostep's: [`STREAM_PREFIXES`]).
    pub async fn connect(url: &str, prefixes: &[&str]) -> Result<KurrentStore, StoreError> {
        if prefixes.is_empty() || prefixes.iter().any(|p| p.is_empty() || p.starts_with('$')) {
            return Err(StoreError::Invalid(
                "the kurrentdb store needs non-empty stream prefixes, none starting with $".into(),
            ));
        }
        let settings = settings(url)?;
        let client = Client::new(settings).map_err(|err| {
            StoreError::Unavailable(format!(
                "cannot create the kurrentdb client for {}: {err}",
                redact(url)
            ))
        })?;
        let prefixes: Vec<String> = prefixes.iter().map(|p| (*p).to_owned()).collect();
        let head = read_head(&client, &prefixes).await.map_err(|err| {
            StoreError::Unavailable(format!(
                "kurrentdb at {} does not answer: {err}",
                redact(url)
            ))
        })?;
        let (committed, _) = watch::channel(head);
        let follower = tokio::spawn(follow::run(
            client.clone(),
            prefixes.clone(),
            head,
            committed.clone(),
        ));
        Ok(KurrentStore {
            inner: Arc::new(Inner {
                client,
                prefixes,
                committed,
                follower,
            }),
        })
    }

    /// The events at revisions `first..first + count` of `stream`.
    async fn read_revisions(
        &self,
        stream: &str,
        first: u64,
        count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let options = ReadStreamOptions::default()
            .forwards()
            .position(StreamPosition::Position(first))
            .max_count(count)
            .requires_leader(true);
        match self.inner.client.read_stream(stream, &options).await {
            Ok(read) => collect(read, stream, |_| true).await,
            Err(::kurrentdb::Error::ResourceNotFound) => Ok(Vec::new()),
            Err(err) => Err(unavailable("reading a stream", &err)),
        }
    }

    /// After a refusal for the expected revision: the stored batch if this
    /// was a retry, else the refusal (or the reuse of an id).
    async fn resolve_refusal(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        actual: u64,
        batch: &[Uuid],
    ) -> Result<AppendOutcome, StoreError> {
        let from = actual.saturating_sub(RETRY_WINDOW + batch.len() as u64);
        let tail = if actual == 0 {
            Vec::new()
        } else {
            let count = usize::try_from(actual - from).unwrap_or(MAX_PAGE);
            self.read_revisions(stream, from, count).await?
        };
        let tail_ids: Vec<Uuid> = tail.iter().map(|e| e.event_id).collect();
        match retries::find(batch, &tail_ids) {
            Found::Batch(start) => {
                let recorded = tail[start..start + batch.len()].to_vec();
                Ok(AppendOutcome {
                    stream_version: recorded.last().map_or(actual, |e| e.version),
                    recorded,
                })
            }
            Found::Reused(id) => Err(StoreError::DuplicateEventId(id)),
            Found::Absent => Err(StoreError::WrongExpectedVersion {
                stream: stream.to_owned(),
                expected,
                actual,
            }),
        }
    }
}

#[async_trait]
impl EventStore for KurrentStore {
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError> {
        if stream.is_empty() {
            return Err(StoreError::Invalid("the stream name is empty".into()));
        }
        if stream.starts_with('$') {
            return Err(StoreError::Invalid(format!(
                "stream {stream}: names starting with $ belong to KurrentDB"
            )));
        }
        if events.is_empty() {
            return Err(StoreError::Invalid(format!(
                "no events to append to stream {stream}"
            )));
        }
        let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
        if let Some(id) = retries::repeated(&ids) {
            return Err(StoreError::Invalid(format!(
                "event id {id} appears twice in one append"
            )));
        }
        let data = events
            .iter()
            .map(event_data)
            .collect::<Result<Vec<_>, _>>()?;
        let options =
            AppendToStreamOptions::default().stream_state(mapping::stream_state(expected));
        match self
            .inner
            .client
            .append_to_stream(stream, &options, data)
            .await
        {
            Ok(written) => {
                let last = written.next_expected_version;
                let first = (last + 1).saturating_sub(ids.len() as u64);
                let recorded = self.read_revisions(stream, first, ids.len()).await?;
                if recorded.iter().map(|e| e.event_id).eq(ids.iter().copied()) {
                    return Ok(AppendOutcome {
                        stream_version: mapping::version_of(last),
                        recorded,
                    });
                }
                // The server answered an idempotent write with another
                // revision than the batch's: find the batch.
                self.resolve_refusal(stream, expected, mapping::version_of(last), &ids)
                    .await
                    .map_err(|_| {
                        StoreError::Corrupt(format!(
                            "kurrentdb acknowledged an append to {stream} whose events cannot be read back"
                        ))
                    })
            }
            Err(::kurrentdb::Error::WrongExpectedVersion { current, .. }) => {
                let actual = mapping::actual_version(current);
                self.resolve_refusal(stream, expected, actual, &ids).await
            }
            Err(err) => Err(unavailable("appending", &err)),
        }
    }

    async fn read_stream(
        &self,
        stream: &str,
        after_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        match mapping::first_revision_after(after_version) {
            Some(first) if limit > 0 && !stream.is_empty() => {
                self.read_revisions(stream, first, limit.min(MAX_PAGE))
                    .await
            }
            _ => Ok(Vec::new()),
        }
    }

    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let Some(from) = mapping::all_from(after).filter(|_| limit > 0) else {
            return Ok(Vec::new());
        };
        let limit = limit.min(MAX_PAGE);
        let options = ReadAllOptions::default()
            .forwards()
            .position(from)
            .filter(filter(&self.inner.prefixes))
            .max_count(limit + 1)
            .requires_leader(true);
        let read = self
            .inner
            .client
            .read_all(&options)
            .await
            .map_err(|err| unavailable("reading $all", &err))?;
        let mut events = collect(read, "$all", |e| e.position > after).await?;
        events.truncate(limit);
        Ok(events)
    }

    async fn head(&self) -> Result<Position, StoreError> {
        read_head(&self.inner.client, &self.inner.prefixes)
            .await
            .map_err(|err| unavailable("reading the head of $all", &err))
    }

    fn watch(&self) -> watch::Receiver<Position> {
        self.inner.committed.subscribe()
    }

    fn kind(&self) -> &'static str {
        "kurrentdb"
    }
}

/// The server-side filter of `$all`: our stream prefixes only (which also
/// leaves out `$`-system streams and the streams projections emit).
fn filter(prefixes: &[String]) -> SubscriptionFilter {
    prefixes
        .iter()
        .fold(SubscriptionFilter::on_stream_name(), |filter, prefix| {
            filter.add_prefix(prefix)
        })
}

/// The commit position of the last event of our streams (0 when none).
async fn read_head(client: &Client, prefixes: &[String]) -> Result<Position, ::kurrentdb::Error> {
    let options = ReadAllOptions::default()
        .position(StreamPosition::End)
        .backwards()
        .filter(filter(prefixes))
        .max_count(1)
        .requires_leader(true);
    let mut read = client.read_all(&options).await?;
    while let Some(event) = read.next().await? {
        if let Some(recorded) = &event.event {
            return Ok(mapping::position_of(recorded.position));
        }
    }
    Ok(0)
}

/// Every event of a read, mapped, keeping those `keep` accepts; links and
/// `$`-typed events are skipped.
async fn collect(
    mut read: ReadStream,
    what: &str,
    keep: impl Fn(&RecordedEvent) -> bool,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut events = Vec::new();
    loop {
        match read.next().await {
            Ok(Some(resolved)) => {
                if let Some(event) = ours(&resolved)?
                    && keep(&event)
                {
                    events.push(event);
                }
            }
            Ok(None) => return Ok(events),
            Err(::kurrentdb::Error::ResourceNotFound) => return Ok(events),
            Err(err) => return Err(unavailable(&format!("reading {what}"), &err)),
        }
    }
}

/// Our event, unless the server's is a link or a system event.
fn ours(resolved: &ResolvedEvent) -> Result<Option<RecordedEvent>, StoreError> {
    let Some(event) = resolved.event.as_ref().filter(|_| resolved.link.is_none()) else {
        return Ok(None);
    };
    if event.event_type.starts_with('$') || event.stream_id().starts_with('$') {
        return Ok(None);
    }
    let created = &event.created;
    let nanos = i128::from(created.timestamp()) * 1_000_000_000
        + i128::from(created.timestamp_subsec_nanos());
    mapping::recorded(ServerEvent {
        id: event.id,
        stream: event.stream_id(),
        revision: event.revision,
        position: event.position,
        event_type: &event.event_type,
        data: &event.data,
        custom_metadata: &event.custom_metadata,
        created_unix_nanos: nanos,
    })
    .map(Some)
}

fn event_data(event: &NewEvent) -> Result<EventData, StoreError> {
    let invalid = |err: serde_json::Error| {
        StoreError::Invalid(format!("event {} cannot be encoded: {err}", event.event_id))
    };
    EventData::json(event.event_type.as_str(), &event.data)
        .map_err(invalid)?
        .id(event.event_id)
        .metadata_as_json(&WireMetadata::new(&event.metadata, event.schema_version))
        .map_err(invalid)
}

fn unavailable(what: &str, err: &::kurrentdb::Error) -> StoreError {
    StoreError::Unavailable(format!("kurrentdb: {what}: {err}"))
}
