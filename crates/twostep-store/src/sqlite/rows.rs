//! Reading events back: the queries, and turning a stored row into a
//! [`RecordedEvent`] without trusting anything the file says.

use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, Params, Row};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::{Metadata, Position, RecordedEvent, StoreError};

/// A query of whole events: the columns [`decode`] expects, in its order.
macro_rules! select_events {
    ($rest:literal) => {
        concat!(
            "SELECT position, event_id, stream, version, event_type, schema_version, recorded_at, data, metadata ",
            "FROM events ",
            $rest
        )
    };
}

/// Events of `stream` after `after_version`, oldest first.
pub(super) fn read_stream(
    conn: &Connection,
    stream: &str,
    after_version: u64,
    limit: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let sql = select_events!("WHERE stream = ?1 AND version > ?2 ORDER BY version LIMIT ?3");
    let events = query(
        conn,
        sql,
        (stream, to_sql_int(after_version), to_sql_int(limit)),
    )?;
    // Versions are dense by construction; a gap means the file was damaged.
    let mut expected = after_version;
    for event in &events {
        expected = expected.saturating_add(1);
        if event.version != expected {
            return Err(StoreError::Corrupt(format!(
                "stream {stream} has version {} where version {expected} should be",
                event.version
            )));
        }
    }
    Ok(events)
}

/// Events after position `after`, in global order.
pub(super) fn read_all(
    conn: &Connection,
    after: Position,
    limit: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let sql = select_events!("WHERE position > ?1 ORDER BY position LIMIT ?2");
    query(conn, sql, (to_sql_int(after), to_sql_int(limit)))
}

/// The position of the last event (0 when there is none).
pub(super) fn head(conn: &Connection) -> Result<Position, StoreError> {
    let head: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(position), 0) FROM events")
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
        .map_err(db_error)?;
    from_sql_int(head, "head position")
}

/// The version of `stream` (0 when it does not exist).
pub(super) fn stream_version(conn: &Connection, stream: &str) -> Result<u64, StoreError> {
    let version: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(version), 0) FROM events WHERE stream = ?1")
        .and_then(|mut stmt| stmt.query_row([stream], |row| row.get(0)))
        .map_err(db_error)?;
    from_sql_int(version, "stream version")
}

fn query(
    conn: &Connection,
    sql: &str,
    params: impl Params,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(db_error)?;
    let mut rows = stmt.query(params).map_err(db_error)?;
    let mut events = Vec::new();
    while let Some(row) = rows.next().map_err(db_error)? {
        events.push(decode(row)?);
    }
    Ok(events)
}

/// One row of [`select_events`] as an event; anything unexpected is `Corrupt`.
fn decode(row: &Row<'_>) -> Result<RecordedEvent, StoreError> {
    let position = from_sql_int(integer(row, 0, "position")?, "position")?;
    let at = |what: &str| format!("{what} of the event at position {position}");
    let event_id =
        Uuid::parse_str(text(row, 1, "event_id")?).map_err(|err| corrupt(&at("event id"), err))?;
    let recorded_at = OffsetDateTime::parse(text(row, 6, "recorded_at")?, &Rfc3339)
        .map_err(|err| corrupt(&at("recorded_at"), err))?;
    let data =
        serde_json::from_str(text(row, 7, "data")?).map_err(|err| corrupt(&at("data"), err))?;
    let metadata: Metadata = serde_json::from_str(text(row, 8, "metadata")?)
        .map_err(|err| corrupt(&at("metadata"), err))?;
    let schema_version = integer(row, 5, "schema_version")?;
    Ok(RecordedEvent {
        event_id,
        stream: text(row, 2, "stream")?.to_owned(),
        version: from_sql_int(integer(row, 3, "version")?, &at("version"))?,
        position,
        event_type: text(row, 4, "event_type")?.to_owned(),
        schema_version: u32::try_from(schema_version)
            .map_err(|err| corrupt(&at("schema version"), err))?,
        recorded_at,
        data,
        metadata,
    })
}

fn integer(row: &Row<'_>, index: usize, column: &str) -> Result<i64, StoreError> {
    match row.get_ref(index).map_err(db_error)? {
        ValueRef::Integer(value) => Ok(value),
        other => Err(StoreError::Corrupt(format!(
            "column {column} holds {:?}, not an integer",
            other.data_type()
        ))),
    }
}

fn text<'row>(row: &'row Row<'_>, index: usize, column: &str) -> Result<&'row str, StoreError> {
    match row.get_ref(index).map_err(db_error)? {
        ValueRef::Text(bytes) => std::str::from_utf8(bytes).map_err(|err| corrupt(column, err)),
        other => Err(StoreError::Corrupt(format!(
            "column {column} holds {:?}, not text",
            other.data_type()
        ))),
    }
}

fn corrupt(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {err}"))
}

/// A count or position as SQLite's integer; values past `i64::MAX` saturate,
/// which is harmless in every bound they are used for.
pub(super) fn to_sql_int(value: impl TryInto<i64>) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}

/// A stored integer that must not be negative.
pub(super) fn from_sql_int(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} is negative ({value})")))
}

/// A SQLite failure as a store error: damage is `Corrupt`, the rest is
/// `Unavailable` (worth retrying).
pub(super) fn db_error(err: rusqlite::Error) -> StoreError {
    match err.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            StoreError::Corrupt(err.to_string())
        }
        _ => StoreError::Unavailable(err.to_string()),
    }
}
