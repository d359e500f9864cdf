//! One append, in its own transaction, under the store's append lock.
//!
//! The lock (`pg_advisory_xact_lock`, keyed by the schema) is taken first and
//! held until commit, so appends to one store commit one after another and
//! each assigns its positions as `MAX(position) + 1…` after the previous one
//! committed: positions increase in commit order, and a reader can never see
//! a position before one still to be committed (no gap that fills in later).

use time::OffsetDateTime;
use tokio_postgres::error::SqlState;

use super::rows::{Session, from_sql, to_sql};
use super::target::pg_error;
use crate::{AppendOutcome, ExpectedVersion, NewEvent, Position, RecordedEvent, StoreError};

/// First key of the append lock; the second is the schema's hash.
const APPEND_LOCK: i32 = 0x7477_6170; // "twap"

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

/// Runs one append on `session` (which the caller holds alone) in a
/// transaction, committing on success and rolling back on any failure.
pub(super) async fn append(
    session: &Session,
    channel: &str,
    stream: &str,
    expected: ExpectedVersion,
    events: Vec<PreparedEvent>,
) -> Result<AppendOutcome, StoreError> {
    let client = &session.client;
    client.batch_execute("BEGIN").await.map_err(pg_error)?;
    match append_in_transaction(session, channel, stream, expected, events).await {
        Ok(outcome) => {
            client.batch_execute("COMMIT").await.map_err(pg_error)?;
            Ok(outcome)
        }
        Err(err) => {
            if let Err(rollback) = client.batch_execute("ROLLBACK").await {
                tracing::warn!(error = %rollback, "rolling back a failed postgres append failed");
            }
            Err(err)
        }
    }
}

async fn append_in_transaction(
    session: &Session,
    channel: &str,
    stream: &str,
    expected: ExpectedVersion,
    events: Vec<PreparedEvent>,
) -> Result<AppendOutcome, StoreError> {
    let client = &session.client;
    client
        .execute(
            "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))",
            &[&APPEND_LOCK],
        )
        .await
        .map_err(pg_error)?;
    if let Some(retry) = recorded_retry(session, stream, &events).await? {
        return Ok(retry);
    }
    let row = client
        .query_one(&session.stream_version, &[&stream])
        .await
        .map_err(pg_error)?;
    let actual = from_sql(row.try_get(0).map_err(pg_error)?, "stream version")?;
    if !expected.admits(actual) {
        return Err(StoreError::WrongExpectedVersion {
            stream: stream.to_owned(),
            expected,
            actual,
        });
    }
    let mut head: Position = session.head().await?;
    // PostgreSQL keeps microseconds: the answer carries what reads will show.
    let now = OffsetDateTime::now_utc();
    let recorded_at = now
        .replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now);
    let mut version = actual;
    let mut recorded = Vec::with_capacity(events.len());
    for PreparedEvent {
        event,
        data,
        metadata,
    } in events
    {
        version += 1;
        head += 1;
        let schema_version = i64::from(event.schema_version);
        client
            .execute(
                &session.insert,
                &[
                    &to_sql(head),
                    &event.event_id,
                    &stream,
                    &to_sql(version),
                    &event.event_type,
                    &schema_version,
                    &recorded_at,
                    &data,
                    &metadata,
                ],
            )
            .await
            .map_err(|err| insert_error(err, event.event_id))?;
        recorded.push(RecordedEvent {
            event_id: event.event_id,
            stream: stream.to_owned(),
            version,
            position: head,
            event_type: event.event_type,
            schema_version: event.schema_version,
            recorded_at,
            data: event.data,
            metadata: event.metadata,
        });
    }
    // Delivered to listeners when (and only if) the transaction commits.
    client
        .execute("SELECT pg_notify($1, $2)", &[&channel, &head.to_string()])
        .await
        .map_err(pg_error)?;
    Ok(AppendOutcome {
        stream_version: version,
        recorded,
    })
}

/// If the events repeat ones already stored — same ids, same stream, same
/// consecutive order — their recorded form. If the first id is stored but
/// this is not such a repeat, `DuplicateEventId`.
async fn recorded_retry(
    session: &Session,
    stream: &str,
    events: &[PreparedEvent],
) -> Result<Option<AppendOutcome>, StoreError> {
    let Some(first) = events.first().map(|e| e.event.event_id) else {
        return Ok(None);
    };
    let Some(row) = session
        .client
        .query_opt(&session.find_event, &[&first])
        .await
        .map_err(pg_error)?
    else {
        return Ok(None);
    };
    let stored_stream: String = row.try_get(0).map_err(pg_error)?;
    if stored_stream != stream {
        return Err(StoreError::DuplicateEventId(first));
    }
    let version = from_sql(row.try_get(1).map_err(pg_error)?, "stream version")?;
    let recorded = session
        .read_stream(stream, version.saturating_sub(1), events.len())
        .await?;
    let same_ids = recorded.len() == events.len()
        && recorded
            .iter()
            .zip(events)
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
fn insert_error(err: tokio_postgres::Error, event_id: uuid::Uuid) -> StoreError {
    let on_event_id = err
        .as_db_error()
        .and_then(|db| db.constraint())
        .is_some_and(|constraint| constraint == "events_event_id_key");
    if err.code() == Some(&SqlState::UNIQUE_VIOLATION) && on_event_id {
        StoreError::DuplicateEventId(event_id)
    } else {
        pg_error(err)
    }
}
