//! Pure conversions between our store's terms and KurrentDB's.
//!
//! - A stream's **version** (our count, 1-based: the `n`-th event has version
//!   `n`) is KurrentDB's **revision** + 1 (revisions are 0-based).
//! - A **position** is the event's commit position in `$all`. Positions are
//!   unique and increase in commit order, but they are byte offsets in the
//!   server's log: **not dense** (consecutive events are hundreds of bytes
//!   apart). Position 0 is before everything (no event sits at offset 0).

use ::kurrentdb::{CurrentRevision, Position as LogPosition, StreamPosition, StreamState};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{ExpectedVersion, Metadata, Position, RecordedEvent, StoreError};

/// The server keeps positions and revisions as signed 64-bit numbers:
/// anything beyond can hold no event.
pub const LARGEST: u64 = i64::MAX as u64;

/// Our expectation as the client's stream state.
pub fn stream_state(expected: ExpectedVersion) -> StreamState {
    match expected {
        ExpectedVersion::Any => StreamState::Any,
        ExpectedVersion::NoStream | ExpectedVersion::Exact(0) => StreamState::NoStream,
        ExpectedVersion::StreamExists => StreamState::StreamExists,
        ExpectedVersion::Exact(version) => StreamState::StreamRevision(version - 1),
    }
}

/// The version of the event at `revision`.
pub fn version_of(revision: u64) -> u64 {
    revision.saturating_add(1)
}

/// The stream's version when the server reports its current revision.
pub fn actual_version(current: CurrentRevision) -> u64 {
    match current {
        CurrentRevision::NoStream => 0,
        CurrentRevision::Current(revision) => version_of(revision),
    }
}

/// The first revision to read for the events after `version`: the event
/// with version `version + 1` sits at revision `version`. `None` when no
/// event can be there.
pub fn first_revision_after(version: u64) -> Option<u64> {
    (version < LARGEST).then_some(version)
}

/// Where a forward read of `$all` starts for the events after `after`.
/// KurrentDB reads `$all` from a position inclusively, so the caller still
/// drops the event at `after` itself. `None` when no event can follow.
pub fn all_from(after: Position) -> Option<StreamPosition<LogPosition>> {
    match after {
        0 => Some(StreamPosition::Start),
        after if after >= LARGEST => None,
        after => Some(StreamPosition::Position(LogPosition {
            commit: after,
            prepare: after,
        })),
    }
}

/// Our position of an event at `position` in `$all`.
pub fn position_of(position: LogPosition) -> Position {
    position.commit
}

/// What we keep in the event's metadata, next to KurrentDB's own: the
/// correlation and causation ids under the names KurrentDB's projections
/// understand (`$correlationId`, `$causationId`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireMetadata {
    /// Our `Metadata::correlation_id`.
    #[serde(rename = "$correlationId")]
    pub correlation_id: Uuid,
    /// Our `Metadata::causation_id`.
    #[serde(
        rename = "$causationId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub causation_id: Option<Uuid>,
    /// Version of the event type's schema.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// Who caused the event.
    pub actor: String,
    /// The client's address.
    #[serde(rename = "clientIp")]
    pub client_ip: Option<String>,
    /// The client's `User-Agent`.
    #[serde(rename = "userAgent")]
    pub user_agent: Option<String>,
    /// Our `Metadata::chain`: the event's link in its stream's hash chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<crate::chain::ChainLink>,
}

impl WireMetadata {
    /// The metadata written with an event.
    pub fn new(metadata: &Metadata, schema_version: u32) -> WireMetadata {
        WireMetadata {
            correlation_id: metadata.correlation_id,
            causation_id: metadata.causation_id,
            schema_version,
            actor: metadata.actor.clone(),
            client_ip: metadata.client_ip.clone(),
            user_agent: metadata.user_agent.clone(),
            chain: metadata.chain.clone(),
        }
    }

    /// Our metadata and the schema version.
    pub fn into_parts(self) -> (Metadata, u32) {
        (
            Metadata {
                correlation_id: self.correlation_id,
                causation_id: self.causation_id,
                actor: self.actor,
                client_ip: self.client_ip,
                user_agent: self.user_agent,
                chain: self.chain,
            },
            self.schema_version,
        )
    }
}

/// An event as the server returned it, reduced to what we map.
pub struct ServerEvent<'a> {
    /// Its id.
    pub id: Uuid,
    /// Its stream.
    pub stream: &'a str,
    /// Its revision in the stream.
    pub revision: u64,
    /// Its position in `$all`.
    pub position: LogPosition,
    /// Its type.
    pub event_type: &'a str,
    /// The JSON data, as stored.
    pub data: &'a [u8],
    /// Our metadata JSON, as stored.
    pub custom_metadata: &'a [u8],
    /// When the server committed it, in nanoseconds since the Unix epoch.
    pub created_unix_nanos: i128,
}

/// Our recorded event from the server's.
pub fn recorded(event: ServerEvent<'_>) -> Result<RecordedEvent, StoreError> {
    let corrupt = |what: &str, err: &dyn std::fmt::Display| {
        StoreError::Corrupt(format!(
            "{what} of event {} (revision {} of {}): {err}",
            event.id, event.revision, event.stream
        ))
    };
    let wire: WireMetadata =
        serde_json::from_slice(event.custom_metadata).map_err(|err| corrupt("metadata", &err))?;
    let data = serde_json::from_slice(event.data).map_err(|err| corrupt("data", &err))?;
    let recorded_at = OffsetDateTime::from_unix_timestamp_nanos(event.created_unix_nanos)
        .map_err(|err| corrupt("timestamp", &err))?;
    let (metadata, schema_version) = wire.into_parts();
    Ok(RecordedEvent {
        event_id: event.id,
        stream: event.stream.to_owned(),
        version: version_of(event.revision),
        position: position_of(event.position),
        event_type: event.event_type.to_owned(),
        schema_version,
        recorded_at,
        data,
        metadata,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn expected_versions_map_to_stream_states() {
        assert_eq!(stream_state(ExpectedVersion::Any), StreamState::Any);
        assert_eq!(
            stream_state(ExpectedVersion::NoStream),
            StreamState::NoStream
        );
        assert_eq!(
            stream_state(ExpectedVersion::Exact(0)),
            StreamState::NoStream
        );
        assert_eq!(
            stream_state(ExpectedVersion::StreamExists),
            StreamState::StreamExists
        );
        assert_eq!(
            stream_state(ExpectedVersion::Exact(1)),
            StreamState::StreamRevision(0)
        );
        assert_eq!(
            stream_state(ExpectedVersion::Exact(42)),
            StreamState::StreamRevision(41)
        );
    }

    #[test]
    fn revisions_are_versions_minus_one() {
        assert_eq!(version_of(0), 1);
        assert_eq!(version_of(799), 800);
        assert_eq!(version_of(u64::MAX), u64::MAX);
        assert_eq!(actual_version(CurrentRevision::NoStream), 0);
        assert_eq!(actual_version(CurrentRevision::Current(0)), 1);
        assert_eq!(actual_version(CurrentRevision::Current(3)), 4);
        assert_eq!(first_revision_after(0), Some(0));
        assert_eq!(first_revision_after(4), Some(4));
        assert_eq!(first_revision_after(LARGEST - 1), Some(LARGEST - 1));
        assert_eq!(first_revision_after(LARGEST), None);
        assert_eq!(first_revision_after(u64::MAX), None);
    }

    #[test]
    fn positions_are_commit_positions() {
        assert_eq!(all_from(0), Some(StreamPosition::Start));
        assert_eq!(
            all_from(1_234),
            Some(StreamPosition::Position(LogPosition {
                commit: 1_234,
                prepare: 1_234
            }))
        );
        assert_eq!(all_from(LARGEST), None);
        assert_eq!(all_from(u64::MAX), None);
        assert_eq!(
            position_of(LogPosition {
                commit: 98_765,
                prepare: 98_765
            }),
            98_765
        );
    }

    #[test]
    fn metadata_round_trips_under_kurrentdb_names() {
        let metadata = Metadata {
            correlation_id: Uuid::from_u128(1),
            causation_id: Some(Uuid::from_u128(2)),
            actor: "user:7".into(),
            client_ip: Some("203.0.113.7".into()),
            user_agent: None,
            chain: None,
        };
        let wire = WireMetadata::new(&metadata, 3);
        let json = serde_json::to_value(&wire).expect("serialises");
        assert_eq!(
            json,
            json!({
                "$correlationId": "00000000-0000-0000-0000-000000000001",
                "$causationId": "00000000-0000-0000-0000-000000000002",
                "schemaVersion": 3,
                "actor": "user:7",
                "clientIp": "203.0.113.7",
                "userAgent": null,
            })
        );
        let back: WireMetadata = serde_json::from_value(json).expect("deserialises");
        assert_eq!(back.into_parts(), (metadata, 3));
    }

    #[test]
    fn server_events_map_to_recorded_events() {
        let metadata = br#"{"$correlationId":"00000000-0000-0000-0000-000000000001","schemaVersion":1,"actor":"system","clientIp":null,"userAgent":null}"#;
        let event = recorded(ServerEvent {
            id: Uuid::from_u128(9),
            stream: "licence-abc",
            revision: 4,
            position: LogPosition {
                commit: 4_096,
                prepare: 4_096,
            },
            event_type: "LicenceIssued",
            data: br#"{"big":18446744073709551615,"f":0.1}"#,
            custom_metadata: metadata,
            created_unix_nanos: 1_700_000_000_123_456_789,
        })
        .expect("maps");
        assert_eq!(event.version, 5);
        assert_eq!(event.position, 4_096);
        assert_eq!(event.stream, "licence-abc");
        assert_eq!(event.schema_version, 1);
        assert_eq!(event.data, json!({"big": u64::MAX, "f": 0.1}));
        assert_eq!(event.metadata.causation_id, None);
        assert_eq!(
            event.recorded_at.unix_timestamp_nanos(),
            1_700_000_000_123_456_789
        );
        assert!(event.recorded_at.offset().is_utc());
    }

    #[test]
    fn events_without_our_metadata_are_corrupt() {
        let result = recorded(ServerEvent {
            id: Uuid::from_u128(9),
            stream: "licence-abc",
            revision: 0,
            position: LogPosition::start(),
            event_type: "LicenceIssued",
            data: b"{}",
            custom_metadata: b"",
            created_unix_nanos: 0,
        });
        assert!(matches!(result, Err(StoreError::Corrupt(_))));
    }
}
