//! How domain values are kept in SQLite columns: ids as 16-byte blobs,
//! instants as Unix nanoseconds (so time ranges are integer comparisons),
//! enums as their wire names. Reading back trusts nothing: a value that does
//! not fit is [`ProjectionError::Corrupt`].

use rusqlite::Row;
use rusqlite::types::ValueRef;
use serde::Serialize;
use time::OffsetDateTime;
use twostep_domain::{AlertKind, Channel, Timestamp};
use uuid::Uuid;

use crate::ProjectionError;

/// A count or position as SQLite's integer, saturating past `i64::MAX`.
pub(crate) fn to_sql_int(value: impl TryInto<i64>) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}

/// A stored integer that must not be negative.
pub(crate) fn from_sql_int(value: i64, what: &str) -> Result<u64, ProjectionError> {
    u64::try_from(value)
        .map_err(|_| ProjectionError::Corrupt(format!("{what} is negative ({value})")))
}

/// An instant as Unix nanoseconds, saturating outside the years 1677–2262.
pub(crate) fn instant(at: OffsetDateTime) -> i64 {
    let nanos = at.unix_timestamp_nanos();
    i64::try_from(nanos).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX })
}

/// A domain timestamp as Unix nanoseconds.
pub(crate) fn nanos(at: Timestamp) -> i64 {
    instant(at.instant())
}

/// Unix nanoseconds as a domain timestamp.
pub(crate) fn timestamp(nanos: i64) -> Result<Timestamp, ProjectionError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos))
        .map(Timestamp::new)
        .map_err(|err| ProjectionError::Corrupt(format!("instant {nanos}: {err}")))
}

/// An id as a column value.
pub(crate) fn id(uuid: &Uuid) -> &[u8] {
    uuid.as_bytes()
}

/// An optional id as a column value.
pub(crate) fn opt_id(uuid: Option<&Uuid>) -> Option<&[u8]> {
    uuid.map(id)
}

/// The id in column `index`.
pub(crate) fn get_id(row: &Row<'_>, index: usize) -> Result<Uuid, ProjectionError> {
    get_opt_id(row, index)?
        .ok_or_else(|| ProjectionError::Corrupt(format!("column {index} holds no id")))
}

/// The id, if any, in column `index`.
pub(crate) fn get_opt_id(row: &Row<'_>, index: usize) -> Result<Option<Uuid>, ProjectionError> {
    match row.get_ref(index)? {
        ValueRef::Null => Ok(None),
        ValueRef::Blob(bytes) => Uuid::from_slice(bytes)
            .map(Some)
            .map_err(|err| ProjectionError::Corrupt(format!("column {index} is not an id: {err}"))),
        other => Err(ProjectionError::Corrupt(format!(
            "column {index} holds {:?}, not an id",
            other.data_type()
        ))),
    }
}

/// The instant in column `index`.
pub(crate) fn get_timestamp(row: &Row<'_>, index: usize) -> Result<Timestamp, ProjectionError> {
    timestamp(row.get(index)?)
}

/// The instant, if any, in column `index`.
pub(crate) fn get_opt_timestamp(
    row: &Row<'_>,
    index: usize,
) -> Result<Option<Timestamp>, ProjectionError> {
    row.get::<_, Option<i64>>(index)?.map(timestamp).transpose()
}

/// A non-negative count in column `index`.
pub(crate) fn get_count(row: &Row<'_>, index: usize) -> Result<u32, ProjectionError> {
    let value: i64 = row.get(index)?;
    u32::try_from(value)
        .map_err(|_| ProjectionError::Corrupt(format!("column {index} holds the count {value}")))
}

/// The wire name of a unit enum variant (`wrong_password`, `codes`, `email`…),
/// as its serde form says: one spelling for events, rows and answers.
pub(crate) fn wire_name<T: Serialize>(value: &T) -> Option<String> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => Some(name),
        _ => None,
    }
}

/// Reads back a unit enum variant from its wire name.
pub(crate) fn from_wire_name<T: serde::de::DeserializeOwned>(
    name: &str,
    what: &str,
) -> Result<T, ProjectionError> {
    serde_json::from_value(serde_json::Value::String(name.to_owned()))
        .map_err(|_| ProjectionError::Corrupt(format!("{name:?} is not a {what}")))
}

/// A channel from its stored name.
pub(crate) fn channel(name: &str) -> Result<Channel, ProjectionError> {
    match name {
        "sms" => Ok(Channel::Sms),
        "email" => Ok(Channel::Email),
        other => Err(ProjectionError::Corrupt(format!(
            "{other:?} is not a channel"
        ))),
    }
}

/// An alert kind from its stored name.
pub(crate) fn alert_kind(name: &str) -> Result<AlertKind, ProjectionError> {
    from_wire_name(name, "security alert kind")
}
