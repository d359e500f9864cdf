//! The PostgreSQL store: one `events` table in a schema of the operator's
//! choosing, shared by every `twostep serve` instance pointed at it.
//!
//! - **Appends** run one at a time per process on a dedicated connection,
//!   each in its own transaction under an advisory lock that serialises the
//!   appends of every instance on the same schema (see [`append`]): the
//!   global order is the commit order and has no gap that fills in later.
//! - **Reads** share a second connection (the driver pipelines them).
//! - **Followers** are woken by LISTEN/NOTIFY on a third connection, with a
//!   poll of the head every second as the fallback (see [`listen`]).
//! - Connections that drop are opened again on next use.
//!
//! Connection string: `postgres://user[:password]@host[:port]/database`
//! with libpq-style parameters, plus `schema=name` (default `public`), which
//! this adapter strips and turns into the connection's `search_path`; the
//! schema and its tables are created and migrated at start.

mod append;
mod listen;
mod rows;
mod schema;
mod target;

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

use self::append::PreparedEvent;
use self::rows::Session;
use self::target::Target;
use crate::{
    AppendOutcome, EventStore, ExpectedVersion, NewEvent, Position, RecordedEvent, StoreError,
};

pub use self::target::DEFAULT_SCHEMA;

/// The PostgreSQL event store. Cheap to clone: clones share connections.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    target: Target,
    /// The appending connection; held for the whole of an append.
    writer: Mutex<Option<Session>>,
    /// The reading connection, shared by concurrent reads.
    reader: Mutex<Option<Arc<Session>>>,
    committed: watch::Sender<Position>,
    listener: JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl PostgresStore {
    /// Connects to the store at `url`, creating or migrating its schema, and
    /// starts listening for commits. Must run inside a tokio runtime.
    pub async fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let target = Target::parse(url)?;
        let client = target.connect().await?;
        schema::migrate(&client, &target).await?;
        let reader = Session::prepare(client).await?;
        let head = reader.head().await?;
        let writer = Session::prepare(target.connect().await?).await?;
        let (committed, _) = watch::channel(head);
        let listener = listen::spawn(target.clone(), committed.clone());
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                target,
                writer: Mutex::new(Some(writer)),
                reader: Mutex::new(Some(Arc::new(reader))),
                committed,
                listener,
            }),
        })
    }

    /// `host:port/database`, for logs (never the password).
    pub fn label(&self) -> String {
        format!(
            "{} schema {}",
            self.inner.target.label(),
            self.inner.target.schema()
        )
    }

    /// Drops the schema named by `url` and everything in it, if it exists:
    /// for tests and for tearing a deployment down. Refuses `public`.
    pub async fn drop_schema(url: &str) -> Result<(), StoreError> {
        let target = Target::parse(url)?;
        let client = target.connect().await?;
        schema::drop_schema(&client, &target).await
    }

    async fn reader(&self) -> Result<Arc<Session>, StoreError> {
        let mut slot = self.inner.reader.lock().await;
        if let Some(session) = slot.as_ref().filter(|s| !s.is_closed()) {
            return Ok(Arc::clone(session));
        }
        let session = Arc::new(Session::prepare(self.inner.target.connect().await?).await?);
        *slot = Some(Arc::clone(&session));
        Ok(session)
    }
}

#[async_trait]
impl EventStore for PostgresStore {
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError> {
        if stream.is_empty() {
            return Err(StoreError::Invalid("the stream name is empty".into()));
        }
        if events.is_empty() {
            return Err(StoreError::Invalid(format!(
                "no events to append to stream {stream}"
            )));
        }
        let events = events
            .into_iter()
            .map(PreparedEvent::new)
            .collect::<Result<Vec<_>, _>>()?;
        let mut slot = self.inner.writer.lock().await;
        if slot.as_ref().is_none_or(Session::is_closed) {
            *slot = None;
            *slot = Some(Session::prepare(self.inner.target.connect().await?).await?);
        }
        let session = slot
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("no postgres connection".into()))?;
        let channel = self.inner.target.channel();
        let outcome = append::append(session, &channel, stream, expected, events).await?;
        drop(slot);
        if let Some(last) = outcome.recorded.last() {
            listen::announce(&self.inner.committed, last.position);
        }
        Ok(outcome)
    }

    async fn read_stream(
        &self,
        stream: &str,
        after_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.reader()
            .await?
            .read_stream(stream, after_version, limit)
            .await
    }

    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.reader().await?.read_all(after, limit).await
    }

    async fn head(&self) -> Result<Position, StoreError> {
        self.reader().await?.head().await
    }

    fn watch(&self) -> watch::Receiver<Position> {
        self.inner.committed.subscribe()
    }

    fn kind(&self) -> &'static str {
        "postgres"
    }
}
