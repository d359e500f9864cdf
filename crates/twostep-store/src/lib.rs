//! # twostep-store
//!
//! The one trait every event store adapter implements ([`EventStore`]): append
//! to a stream with an expected version (optimistic concurrency), read a
//! stream, read everything from a global position, and learn when new events
//! were committed. Adapters: [`sqlite::SqliteStore`] (embedded, the default) and
//! [`postgres::PostgresStore`] (shared by several instances) and
//! [`kurrentdb::KurrentStore`] (EventStoreDB/KurrentDB).
//! [`chain::ChainedStore`] wraps any adapter and links each stream's events
//! into a hash chain, for tamper evidence.
//! [`contract`] holds the suite of tests every adapter must pass.

#![deny(missing_docs)]

pub mod chain;
pub mod contract;
pub mod kurrentdb;
pub mod postgres;
pub mod sqlite;
mod subscription;

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::watch;
use uuid::Uuid;

pub use subscription::{Subscription, read_whole_stream};

/// Global position of an event in the store: 1 for the first event ever
/// appended, increasing with every event. Position 0 means "before everything".
pub type Position = u64;

/// The version an append expects the stream to be at. A stream's version is
/// the number of events in it: 0 for a stream that does not exist, and the
/// `n`-th event of a stream has version `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must not exist (version 0).
    NoStream,
    /// The stream must exist (version ≥ 1).
    StreamExists,
    /// The stream must be at exactly this version.
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream at `actual` satisfies this expectation.
    pub fn admits(self, actual: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::StreamExists => actual > 0,
            ExpectedVersion::Exact(expected) => actual == expected,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::StreamExists => f.write_str("stream exists"),
            ExpectedVersion::Exact(version) => write!(f, "version {version}"),
        }
    }
}

/// Who caused an event and in answer to what: carried by every event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Shared by every event of one request (the request id).
    pub correlation_id: Uuid,
    /// The event or command this one follows from.
    pub causation_id: Option<Uuid>,
    /// `anonymous`, `operator`, `auditor`, `user:{id}`, `system`.
    pub actor: String,
    /// The client's address, as the facade determined it.
    pub client_ip: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// The event's link in its stream's hash chain, set by [`chain::ChainedStore`]
    /// (absent on events appended without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<chain::ChainLink>,
}

/// An event to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Unique id; appending the same ids again is an idempotent no-op.
    pub event_id: Uuid,
    /// Type name (the domain variant name).
    pub event_type: String,
    /// Version of the type's schema.
    pub schema_version: u32,
    /// The event's fields.
    pub data: Value,
    /// Who and why.
    pub metadata: Metadata,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    /// Unique id.
    pub event_id: Uuid,
    /// Stream name.
    pub stream: String,
    /// Version within the stream (1-based).
    pub version: u64,
    /// Global position (1-based).
    pub position: Position,
    /// Type name.
    pub event_type: String,
    /// Version of the type's schema.
    pub schema_version: u32,
    /// When the store committed it (UTC).
    pub recorded_at: OffsetDateTime,
    /// The event's fields.
    pub data: Value,
    /// Who and why.
    pub metadata: Metadata,
}

/// What an append did.
#[derive(Debug, Clone, PartialEq)]
pub struct AppendOutcome {
    /// The stream's version after the append.
    pub stream_version: u64,
    /// The events as recorded (also when the append was an idempotent retry).
    pub recorded: Vec<RecordedEvent>,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The stream was not at the expected version; nothing was written.
    #[error("stream {stream} is at version {actual}, the append expected {expected}")]
    WrongExpectedVersion {
        /// The stream.
        stream: String,
        /// What the append expected.
        expected: ExpectedVersion,
        /// Where the stream actually is.
        actual: u64,
    },
    /// An event id is already used by a different event; nothing was written.
    #[error("event id {0} is already used by another event")]
    DuplicateEventId(Uuid),
    /// An argument the store cannot accept (empty stream name, empty batch…).
    #[error("invalid append: {0}")]
    Invalid(String),
    /// The store could not be reached or failed; the operation may be retried.
    #[error("event store unavailable: {0}")]
    Unavailable(String),
    /// A stored event could not be read back.
    #[error("stored event is corrupt: {0}")]
    Corrupt(String),
}

/// The event store: streams with optimistic concurrency and a global order.
///
/// Guarantees every adapter keeps (and [`contract`] checks):
/// - an append is atomic: all its events are written, or none;
/// - an append whose expectation does not hold writes nothing and fails with
///   [`StoreError::WrongExpectedVersion`];
/// - appending events whose ids are already stored, as the same events in the
///   same order, succeeds without writing (idempotent retry);
/// - positions are unique and increase in commit order, and `read_all` never
///   returns an event at a position before one it has already returned
///   (no "gap that fills in later");
/// - within a stream, positions increase with versions.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends `events` to `stream` if it is at `expected`.
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError>;

    /// Events of `stream` with a version above `after_version`, oldest first, at most `limit`.
    async fn read_stream(
        &self,
        stream: &str,
        after_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Events at a position above `after`, in global order, at most `limit`.
    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// The position of the last committed event (0 when empty).
    async fn head(&self) -> Result<Position, StoreError>;

    /// A receiver that changes whenever this process learns of newly
    /// committed events (its value is a position at or below the head).
    /// Adapters without push notification poll.
    fn watch(&self) -> watch::Receiver<Position>;

    /// A short label for logs and `/readyz` (`sqlite`, `postgres`, `kurrentdb`).
    fn kind(&self) -> &'static str;
}
