//! The queries of a session, prepared once per connection, and turning a
//! row into a [`RecordedEvent`] without trusting what it holds.

use tokio_postgres::{Client, Row, Statement};
use uuid::Uuid;

use super::target::pg_error;
use crate::{Metadata, Position, RecordedEvent, StoreError};

/// The columns [`decode`] expects, in its order.
macro_rules! select_events {
    ($rest:literal) => {
        concat!(
            "SELECT position, event_id, stream, version, event_type, schema_version, recorded_at, data::text, metadata::text ",
            "FROM events ",
            $rest
        )
    };
}

/// One connection and its prepared statements.
pub(super) struct Session {
    pub(super) client: Client,
    read_stream: Statement,
    read_all: Statement,
    head: Statement,
    pub(super) stream_version: Statement,
    pub(super) find_event: Statement,
    pub(super) insert: Statement,
}

impl Session {
    pub(super) async fn prepare(client: Client) -> Result<Session, StoreError> {
        let prepare = |sql: &'static str| client.prepare(sql);
        let read_stream = prepare(select_events!(
            "WHERE stream = $1 AND version > $2 ORDER BY version LIMIT $3"
        ))
        .await
        .map_err(pg_error)?;
        let read_all = prepare(select_events!(
            "WHERE position > $1 ORDER BY position LIMIT $2"
        ))
        .await
        .map_err(pg_error)?;
        let head = prepare("SELECT COALESCE(MAX(position), 0) FROM events")
            .await
            .map_err(pg_error)?;
        let stream_version =
            prepare("SELECT COALESCE(MAX(version), 0) FROM events WHERE stream = $1")
                .await
                .map_err(pg_error)?;
        let find_event = prepare("SELECT stream, version FROM events WHERE event_id = $1")
            .await
            .map_err(pg_error)?;
        let insert = prepare(
            "INSERT INTO events (position, event_id, stream, version, event_type, schema_version, recorded_at, data, metadata)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::json, $9::text::json)",
        )
        .await
        .map_err(pg_error)?;
        Ok(Session {
            client,
            read_stream,
            read_all,
            head,
            stream_version,
            find_event,
            insert,
        })
    }

    pub(super) fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Events of `stream` after `after_version`, oldest first.
    pub(super) async fn read_stream(
        &self,
        stream: &str,
        after_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = self
            .client
            .query(
                &self.read_stream,
                &[&stream, &to_sql(after_version), &to_sql(limit)],
            )
            .await
            .map_err(pg_error)?;
        let events = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
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
    pub(super) async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = self
            .client
            .query(&self.read_all, &[&to_sql(after), &to_sql(limit)])
            .await
            .map_err(pg_error)?;
        rows.iter().map(decode).collect()
    }

    /// The position of the last event (0 when there is none).
    pub(super) async fn head(&self) -> Result<Position, StoreError> {
        let row = self
            .client
            .query_one(&self.head, &[])
            .await
            .map_err(pg_error)?;
        from_sql(column(&row, 0, "head")?, "head position")
    }
}

/// One row of [`select_events`] as an event; anything unexpected is `Corrupt`.
fn decode(row: &Row) -> Result<RecordedEvent, StoreError> {
    let position = from_sql(column(row, 0, "position")?, "position")?;
    let at = |what: &str| format!("{what} of the event at position {position}");
    let event_id: Uuid = column(row, 1, "event_id")?;
    let data: String = column(row, 7, "data")?;
    let metadata: String = column(row, 8, "metadata")?;
    let data = serde_json::from_str(&data).map_err(|err| corrupt(&at("data"), err))?;
    let metadata: Metadata =
        serde_json::from_str(&metadata).map_err(|err| corrupt(&at("metadata"), err))?;
    let schema_version: i64 = column(row, 5, "schema_version")?;
    Ok(RecordedEvent {
        event_id,
        stream: column(row, 2, "stream")?,
        version: from_sql(column(row, 3, "version")?, &at("version"))?,
        position,
        event_type: column(row, 4, "event_type")?,
        schema_version: u32::try_from(schema_version)
            .map_err(|err| corrupt(&at("schema version"), err))?,
        recorded_at: column(row, 6, "recorded_at")?,
        data,
        metadata,
    })
}

fn column<'row, T: tokio_postgres::types::FromSql<'row>>(
    row: &'row Row,
    index: usize,
    name: &str,
) -> Result<T, StoreError> {
    row.try_get(index)
        .map_err(|err| corrupt(&format!("column {name}"), err))
}

fn corrupt(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {err}"))
}

/// A count or position as PostgreSQL's `bigint`; values past `i64::MAX`
/// saturate, which is harmless in every bound they are used for.
pub(super) fn to_sql(value: impl TryInto<i64>) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}

/// A stored integer that must not be negative.
pub(super) fn from_sql(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} is negative ({value})")))
}
