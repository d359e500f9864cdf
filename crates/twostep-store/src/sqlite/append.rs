//! One append inside the writer's transaction: the idempotent-retry check,
//! the expected-version check, then the inserts. Runs under a savepoint the
//! writer rolls back if this fails, so a failure here writes nothing.

use rusqlite::{Connection, ErrorCode, OptionalExtension, params};
use time::OffsetDateTime;
use uuid::Uuid;

use super::rows::{self, db_error, from_sql_int, to_sql_int};
use crate::{AppendOutcome, ExpectedVersion, NewEvent, Position, RecordedEvent, StoreError};

/// One `EventStore::append` call, checked and serialised by the caller.
pub(super) struct Append {
    pub(super) stream: String,
    pub(super) expected: ExpectedVersion,
    /// Never empty.
    pub(super) events: Vec<PreparedEvent>,
}

/// An event with its JSON columns already serialised.
pub(super) struct PreparedEvent {
    event: NewEvent,
    data: String,
    metadata: String,
}

impl PreparedEvent {
    pub(super) fn new(event: NewEvent) -> Result<Self, StoreError> {
        let unserialisable = |err: serde_json::Error| {
            StoreError::Invalid(format!(
                "event {} cannot be serialised: {err}",
                event.event_id
            ))
        };
        let data = serde_json::to_string(&event.data).map_err(unserialisable)?;
        let metadata = serde_json::to_string(&event.metadata).map_err(unserialisable)?;
        Ok(Self {
            event,
            data,
            metadata,
        })
    }
}

/// Appends one request's events after global position `head`, advancing it.
pub(super) fn append_one(
    conn: &Connection,
    append: Append,
    head: &mut Position,
    recorded_at: OffsetDateTime,
    stamp: &str,
) -> Result<AppendOutcome, StoreError> {
    if let Some(retry) = recorded_retry(conn, &append)? {
        return Ok(retry);
    }
    let actual = rows::stream_version(conn, &append.stream)?;
    if !append.expected.admits(actual) {
        return Err(StoreError::WrongExpectedVersion {
            stream: append.stream,
            expected: append.expected,
            actual,
        });
    }
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO events (position, event_id, stream, version, event_type, schema_version, recorded_at, data, metadata)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .map_err(db_error)?;
    let mut version = actual;
    let mut recorded = Vec::with_capacity(append.events.len());
    for PreparedEvent {
        event,
        data,
        metadata,
    } in append.events
    {
        version += 1;
        *head += 1;
        let event_id = event.event_id;
        insert
            .execute(params![
                to_sql_int(*head),
                event_id.to_string(),
                append.stream,
                to_sql_int(version),
                event.event_type,
                event.schema_version,
                stamp,
                data,
                metadata,
            ])
            .map_err(|err| insert_error(conn, err, event_id))?;
        recorded.push(RecordedEvent {
            event_id,
            stream: append.stream.clone(),
            version,
            position: *head,
            event_type: event.event_type,
            schema_version: event.schema_version,
            recorded_at,
            data: event.data,
            metadata: event.metadata,
        });
    }
    Ok(AppendOutcome {
        stream_version: version,
        recorded,
    })
}

/// If `append` repeats events already stored — same ids, same stream, same
/// consecutive order — their recorded form (and the stream version right after
/// them, as the first append answered). If its first id is stored but this is
/// not such a repeat, `DuplicateEventId`.
fn recorded_retry(conn: &Connection, append: &Append) -> Result<Option<AppendOutcome>, StoreError> {
    let Some(first) = append.events.first().map(|e| e.event.event_id) else {
        return Ok(None);
    };
    let stored: Option<(String, i64)> = conn
        .prepare_cached("SELECT stream, version FROM events WHERE event_id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([first.to_string()], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .map_err(db_error)?;
    let Some((stream, version)) = stored else {
        return Ok(None);
    };
    if stream != append.stream {
        return Err(StoreError::DuplicateEventId(first));
    }
    let version = from_sql_int(version, "stream version")?;
    let recorded = rows::read_stream(
        conn,
        &stream,
        version.saturating_sub(1),
        append.events.len(),
    )?;
    let same_ids = recorded.len() == append.events.len()
        && recorded
            .iter()
            .zip(&append.events)
            .all(|(stored, new)| stored.event_id == new.event.event_id);
    if !same_ids {
        return Err(StoreError::DuplicateEventId(first));
    }
    let stream_version = recorded.last().map_or(version, |event| event.version);
    Ok(Some(AppendOutcome {
        stream_version,
        recorded,
    }))
}

/// An insert refused because its id is taken is `DuplicateEventId`.
fn insert_error(conn: &Connection, err: rusqlite::Error, event_id: Uuid) -> StoreError {
    if err.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) {
        let taken = conn
            .prepare_cached("SELECT 1 FROM events WHERE event_id = ?1")
            .and_then(|mut stmt| stmt.exists([event_id.to_string()]));
        if let Ok(true) = taken {
            return StoreError::DuplicateEventId(event_id);
        }
    }
    db_error(err)
}
