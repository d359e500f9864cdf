//! Loading aggregates from their streams and appending their decisions with
//! optimistic concurrency.
//!
//! Every decision is taken on state folded from the stream itself, caught up
//! to the stream's head right before deciding, and appended with the version
//! it was decided on as the expected version: a concurrent writer (another
//! task, another instance) makes the append fail, and the command is decided
//! again on fresh state, a bounded number of times. Folded states are cached
//! per stream only to avoid re-reading old events; the cache is never
//! trusted without catching up first. Within one process, commands on one
//! stream also queue on a striped lock, so parallel requests rarely conflict.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use twostep_domain::codec::{self, SCHEMA_VERSION};
use twostep_domain::{Account, AccountEvent, Licence, LicenceEvent, LicenceId};
use twostep_store::{EventStore, ExpectedVersion, Metadata, NewEvent, RecordedEvent, StoreError};
use uuid::Uuid;

use crate::metrics::Metrics;

/// Attempts at deciding and appending before giving up with
/// [`ExecuteError::Contention`]. Within one process commands on a stream
/// queue, so conflicts come from other instances sharing the store; twenty
/// parallel requests spread over two instances must all get an answer.
const MAX_ATTEMPTS: u32 = 40;
/// Longest pause between two attempts after a conflict.
const MAX_BACKOFF_MS: u64 = 20;
/// Striped per-stream locks.
const LOCK_STRIPES: usize = 1024;
/// Cached states kept per aggregate kind before the cache is cleared.
const CACHE_CAPACITY: usize = 100_000;
/// Page size when catching up a stream.
const PAGE: usize = 1_000;

/// State folded from a stream.
pub trait Aggregate: Default + Clone + Send + Sync + 'static {
    /// Its events.
    type Event: Serialize + DeserializeOwned + Send + Sync + std::fmt::Debug;
    /// Events folded so far.
    fn version(&self) -> u64;
    /// Folds one event.
    fn apply(self, event: &Self::Event) -> Self;
}

impl Aggregate for Licence {
    type Event = LicenceEvent;
    fn version(&self) -> u64 {
        self.version
    }
    fn apply(self, event: &LicenceEvent) -> Self {
        self.evolve(event)
    }
}

/// An account and the licence it belongs to (known from its first event).
#[derive(Debug, Clone, Default)]
pub struct AccountStream {
    /// From `AccessConfirmationIssued`.
    pub licence_id: Option<LicenceId>,
    /// The folded account.
    pub account: Account,
}

impl Aggregate for AccountStream {
    type Event = AccountEvent;
    fn version(&self) -> u64 {
        self.account.version
    }
    fn apply(mut self, event: &AccountEvent) -> Self {
        if let AccountEvent::AccessConfirmationIssued { licence_id, .. } = event {
            self.licence_id = Some(*licence_id);
        }
        self.account = self.account.evolve(event);
        self
    }
}

/// Why a command was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError<R> {
    /// The decider refused it.
    #[error("rejected")]
    Rejected(R),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Still conflicting after every attempt.
    #[error("too many concurrent changes to one stream")]
    Contention,
}

/// What a recorded command did.
#[derive(Debug)]
pub struct Executed<A: Aggregate> {
    /// State the decision was taken on.
    pub before: Arc<A>,
    /// State after the new events.
    pub after: Arc<A>,
    /// The new events (empty when the decision was to do nothing).
    pub events: Vec<A::Event>,
    /// The new events as stored.
    pub recorded: Vec<RecordedEvent>,
}

/// Folded states by stream name.
pub struct StateCache<A> {
    states: Mutex<HashMap<String, Arc<A>>>,
}

impl<A: Aggregate> Default for StateCache<A> {
    fn default() -> Self {
        Self {
            states: Mutex::new(HashMap::new()),
        }
    }
}

impl<A: Aggregate> StateCache<A> {
    fn get(&self, stream: &str) -> Arc<A> {
        let states = self
            .states
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        states.get(stream).cloned().unwrap_or_default()
    }

    fn put(&self, stream: &str, state: Arc<A>) {
        let mut states = self
            .states
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if states.len() >= CACHE_CAPACITY {
            states.clear();
        }
        let newer = states
            .get(stream)
            .is_none_or(|cached| cached.version() < state.version());
        if newer {
            states.insert(stream.to_owned(), state);
        }
    }
}

/// Access to the streams of every aggregate.
pub struct Streams {
    store: Arc<dyn EventStore>,
    /// Commands on one stream queue here (decide, append).
    locks: Vec<tokio::sync::Mutex<()>>,
    /// Loads of one stream queue here (read, fold), so they are single-flight.
    loading: Vec<tokio::sync::Mutex<()>>,
    metrics: Arc<Metrics>,
    /// Licence states.
    pub licences: StateCache<Licence>,
    /// Account states.
    pub accounts: StateCache<AccountStream>,
}

impl Streams {
    /// Streams over a store.
    pub fn new(store: Arc<dyn EventStore>, metrics: Arc<Metrics>) -> Self {
        Self {
            store,
            locks: (0..LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            loading: (0..LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            metrics,
            licences: StateCache::default(),
            accounts: StateCache::default(),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// The state of `stream`, caught up to its head. Concurrent loads of one
    /// stream are single-flight: the second waits for the first and then
    /// only reads what the first did not.
    pub async fn load<A: Aggregate>(
        &self,
        cache: &StateCache<A>,
        stream: &str,
    ) -> Result<Arc<A>, StoreError> {
        let _loading = stripe(&self.loading, stream).lock().await;
        let cached = cache.get(stream);
        let mut state: Option<A> = None;
        loop {
            let version = state.as_ref().map_or(cached.version(), A::version);
            let page = self.store.read_stream(stream, version, PAGE).await?;
            let done = page.len() < PAGE;
            if !page.is_empty() {
                let base = state.take().unwrap_or_else(|| (*cached).clone());
                state = Some(fold(base, &page)?);
            }
            if done {
                break;
            }
        }
        Ok(match state {
            Some(state) => {
                let state = Arc::new(state);
                cache.put(stream, state.clone());
                state
            }
            None => cached,
        })
    }

    /// Decides on fresh state and appends, retrying on conflicts.
    pub async fn execute<A, R>(
        &self,
        cache: &StateCache<A>,
        stream: &str,
        metadata: &Metadata,
        decide: impl FnMut(&A) -> Result<Vec<A::Event>, R>,
    ) -> Result<Executed<A>, ExecuteError<R>>
    where
        A: Aggregate,
    {
        self.execute_from(cache, stream, None, metadata, decide)
            .await
    }

    /// Like [`Streams::execute`], deciding first on `loaded`, a state the
    /// caller has just loaded, to save a read. That state is trusted only
    /// when the decision appends (the expected version then proves it was
    /// current); a refusal or an empty decision is taken again on a fresh
    /// load.
    pub async fn execute_from<A, R>(
        &self,
        cache: &StateCache<A>,
        stream: &str,
        loaded: Option<Arc<A>>,
        metadata: &Metadata,
        mut decide: impl FnMut(&A) -> Result<Vec<A::Event>, R>,
    ) -> Result<Executed<A>, ExecuteError<R>>
    where
        A: Aggregate,
    {
        let _queued = stripe(&self.locks, stream).lock().await;
        let mut loaded = loaded;
        for attempt in 0..MAX_ATTEMPTS {
            let (before, provisional) = match loaded.take() {
                Some(state) => (state, true),
                None => (self.load(cache, stream).await?, false),
            };
            let events = match decide(&before) {
                Ok(events) if !events.is_empty() => events,
                _ if provisional => continue,
                Ok(events) => {
                    return Ok(Executed {
                        after: before.clone(),
                        before,
                        events,
                        recorded: Vec::new(),
                    });
                }
                Err(rejection) => return Err(ExecuteError::Rejected(rejection)),
            };
            let new_events = events
                .iter()
                .map(|event| new_event(event, metadata))
                .collect::<Result<Vec<_>, _>>()?;
            match self
                .store
                .append(stream, ExpectedVersion::Exact(before.version()), new_events)
                .await
            {
                Ok(outcome) => {
                    let after = Arc::new(
                        events
                            .iter()
                            .fold((*before).clone(), |state, event| state.apply(event)),
                    );
                    cache.put(stream, after.clone());
                    return Ok(Executed {
                        before,
                        after,
                        events,
                        recorded: outcome.recorded,
                    });
                }
                Err(StoreError::WrongExpectedVersion { .. }) => {
                    self.metrics.conflicts.inc();
                    if !provisional {
                        tokio::time::sleep(backoff(attempt)).await;
                    }
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(ExecuteError::Contention)
    }

    /// Appends events that need no decision (attempt records) to a stream.
    pub async fn record<E: Serialize>(
        &self,
        stream: &str,
        event: &E,
        metadata: &Metadata,
    ) -> Result<(), StoreError> {
        let new = new_event(event, metadata)?;
        self.store
            .append(stream, ExpectedVersion::Any, vec![new])
            .await
            .map(|_| ())
    }
}

/// A random pause, growing with the attempts, so that two instances that
/// conflicted do not meet again in lockstep.
fn backoff(attempt: u32) -> Duration {
    use rand::RngExt;
    let ceiling = (2 * (u64::from(attempt) + 1)).min(MAX_BACKOFF_MS);
    Duration::from_millis(rand::rng().random_range(0..=ceiling))
}

/// The stripe of `locks` that guards `stream`.
fn stripe<'a>(locks: &'a [tokio::sync::Mutex<()>], stream: &str) -> &'a tokio::sync::Mutex<()> {
    let mut hasher = DefaultHasher::new();
    stream.hash(&mut hasher);
    let index = usize::try_from(hasher.finish() % locks.len() as u64).unwrap_or(0);
    &locks[index]
}

fn new_event<E: Serialize>(event: &E, metadata: &Metadata) -> Result<NewEvent, StoreError> {
    let (event_type, data) =
        codec::encode(event).map_err(|e| StoreError::Invalid(e.to_string()))?;
    Ok(NewEvent {
        event_id: Uuid::now_v7(),
        event_type,
        schema_version: SCHEMA_VERSION,
        data,
        metadata: metadata.clone(),
    })
}

/// Decodes a stored event of an aggregate.
pub fn decode<E: DeserializeOwned>(recorded: &RecordedEvent) -> Result<E, StoreError> {
    codec::decode(
        &recorded.event_type,
        recorded.schema_version,
        &recorded.data,
    )
    .map_err(|e| {
        StoreError::Corrupt(format!(
            "{} v{} at {}: {e}",
            recorded.event_type, recorded.version, recorded.stream
        ))
    })
}

fn fold<A: Aggregate>(mut state: A, events: &[RecordedEvent]) -> Result<A, StoreError> {
    for recorded in events {
        if recorded.version != state.version() + 1 {
            return Err(StoreError::Corrupt(format!(
                "stream {} jumps from version {} to {}",
                recorded.stream,
                state.version(),
                recorded.version
            )));
        }
        state = state.apply(&decode(recorded)?);
    }
    Ok(state)
}
