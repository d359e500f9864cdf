//! The embedded store: one SQLite database file, no server to install.
//!
//! - **Writes** go through one dedicated writer thread that owns the only
//!   write connection and commits appends in groups: it drains every pending
//!   request (up to [`MAX_BATCH`]), runs each under its own savepoint inside
//!   one `BEGIN IMMEDIATE` transaction, and commits once — one fsync for the
//!   whole group. A request that fails (wrong expected version, duplicate id)
//!   rolls back to its savepoint and writes nothing; the others still commit.
//! - **Reads** run on a small pool of read-only connections inside
//!   `spawn_blocking`; WAL lets them proceed while the writer commits.
//! - **Durability**: `journal_mode=WAL` with `synchronous=FULL`, so a commit
//!   is on disk before any append of its group is acknowledged.

mod append;
mod heads;
mod readers;
mod rows;
mod schema;
mod writer;

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use async_trait::async_trait;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot, watch};

use self::append::{Append, PreparedEvent};
use self::heads::KnownHeads;
use self::readers::Readers;
use self::writer::AppendRequest;
use crate::{
    AppendOutcome, EventStore, ExpectedVersion, NewEvent, Position, RecordedEvent, StoreError,
};

/// The most append requests the writer commits in one transaction.
pub const MAX_BATCH: usize = 256;

/// How many append requests may wait for the writer before callers wait too.
const QUEUE_CAPACITY: usize = 4 * MAX_BATCH;

/// How many read-only connections may run queries at the same time.
const MAX_READERS: usize = 4;

/// The embedded event store. Cheap to clone: clones share one writer thread
/// and one reader pool. Dropping the last clone waits for the writer to finish
/// the group it holds and closes the file.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    readers: Arc<Readers>,
    /// Stream heads this store knows nothing follows; `None` when another
    /// process may be writing (read-only stores).
    heads: Option<Arc<KnownHeads>>,
    /// Held while a writing store is open: one process writes the file.
    _lock: Option<File>,
    requests: Option<mpsc::Sender<AppendRequest>>,
    writer: Option<JoinHandle<()>>,
    /// Kept here too so that watchers never see the channel close while a
    /// handle is alive, even if the writer thread died.
    committed: watch::Sender<Position>,
}

impl SqliteStore {
    /// Opens the database file at `path`, creating it and its schema if
    /// missing, and starts the writer thread. Blocks on file I/O: call it at
    /// start-up or inside `spawn_blocking`.
    ///
    /// The file is locked (`<path>.lock`) for as long as the store is open:
    /// a second store on the same file, in this process or another, is
    /// refused, so the writer and the known stream heads stay exact.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let lock = lock_file(path)?;
        let mut conn = schema::open_writer(path)?;
        schema::migrate(&mut conn)?;
        let head = rows::head(&conn)?;
        let (committed, _) = watch::channel(head);
        let (requests, queue) = mpsc::channel(QUEUE_CAPACITY);
        let heads = Arc::new(KnownHeads::default());
        let writer = spawn_writer(conn, queue, committed.clone(), heads.clone())?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                readers: Arc::new(Readers::new(path, MAX_READERS)),
                heads: Some(heads),
                _lock: Some(lock),
                requests: Some(requests),
                writer: Some(writer),
                committed,
            }),
        })
    }

    /// Opens an existing database file for reading only, without taking its
    /// lock: for commands that read the log while `twostep serve` runs on
    /// it. Appends are refused, and `watch` never moves.
    pub fn open_read_only(path: &Path) -> Result<SqliteStore, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Unavailable(format!(
                "no event store at {} (is --data-dir right?)",
                path.display()
            )));
        }
        let conn = schema::open_reader(path)?;
        let head = rows::head(&conn)?;
        drop(conn);
        let (committed, _) = watch::channel(head);
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                readers: Arc::new(Readers::new(path, MAX_READERS)),
                heads: None,
                _lock: None,
                requests: None,
                writer: None,
                committed,
            }),
        })
    }
}

/// Takes the exclusive lock of the database file, or says who holds it.
fn lock_file(path: &Path) -> Result<File, StoreError> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|err| {
            StoreError::Unavailable(format!(
                "cannot open {}: {err}",
                lock_path.to_string_lossy()
            ))
        })?;
    match lock.try_lock() {
        Ok(()) => Ok(lock),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Unavailable(format!(
            "{} is already open in another store (another twostep process on this data directory?)",
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(err)) => Err(StoreError::Unavailable(format!(
            "cannot lock {}: {err}",
            lock_path.to_string_lossy()
        ))),
    }
}

fn spawn_writer(
    conn: Connection,
    queue: mpsc::Receiver<AppendRequest>,
    notify: watch::Sender<Position>,
    heads: Arc<KnownHeads>,
) -> Result<JoinHandle<()>, StoreError> {
    std::thread::Builder::new()
        .name("twostep-sqlite-writer".into())
        .spawn(move || writer::run(conn, queue, notify, &heads))
        .map_err(|err| StoreError::Unavailable(format!("cannot start the writer thread: {err}")))
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Readers close first so that the writer's connection is the last one:
        // SQLite then checkpoints the WAL into the database file and removes it.
        self.readers.close();
        drop(self.requests.take());
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!("the sqlite writer thread panicked");
        }
    }
}

#[async_trait]
impl EventStore for SqliteStore {
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
        // Serialising here, on the caller's task, keeps that work off the
        // single writer thread.
        let events = events
            .into_iter()
            .map(PreparedEvent::new)
            .collect::<Result<Vec<_>, _>>()?;
        let (reply, answer) = oneshot::channel();
        let request = AppendRequest {
            append: Append {
                stream: stream.to_owned(),
                expected,
                events,
            },
            reply,
        };
        let requests = self
            .inner
            .requests
            .as_ref()
            .ok_or_else(|| StoreError::Invalid("this store was opened read-only".into()))?;
        requests.send(request).await.map_err(|_| writer_stopped())?;
        answer.await.map_err(|_| writer_stopped())?
    }

    async fn read_stream(
        &self,
        stream: &str,
        after_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let heads = self.inner.heads.as_deref();
        if limit == 0 || heads.is_some_and(|h| h.nothing_after(stream, after_version)) {
            return Ok(Vec::new());
        }
        let owned = stream.to_owned();
        let events = self
            .inner
            .readers
            .run(move |conn| rows::read_stream(conn, &owned, after_version, limit))
            .await?;
        if let Some(heads) = heads
            && events.len() < limit
        {
            let head = events.last().map_or(after_version, |e| e.version);
            heads.record(stream, head);
        }
        Ok(events)
    }

    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner
            .readers
            .run(move |conn| rows::read_all(conn, after, limit))
            .await
    }

    async fn head(&self) -> Result<Position, StoreError> {
        self.inner.readers.run(rows::head).await
    }

    fn watch(&self) -> watch::Receiver<Position> {
        self.inner.committed.subscribe()
    }

    fn kind(&self) -> &'static str {
        "sqlite"
    }
}

fn writer_stopped() -> StoreError {
    StoreError::Unavailable("the sqlite writer thread has stopped".into())
}
