//! A batch of stored events, decoded once for every projector that reads it.
//!
//! The stream name says which aggregate wrote an event and so how to decode
//! it: `licence-{id}`, `account-{user id}`, `attempts-{licence id}` and
//! `attempts-unknown-licence`. An event this build cannot decode (unknown
//! type or schema version, bad data) is logged with `tracing::warn!` and
//! skipped: projectors still advance their checkpoint past it, so one odd
//! event never stops the read models, and a rebuild skips it the same way.

use std::collections::HashMap;

use twostep_domain::codec;
use twostep_domain::identity::UNKNOWN_LICENCE_ATTEMPTS_STREAM;
use twostep_domain::{AccountEvent, AttemptEvent, LicenceEvent, LicenceId, UserId};
use twostep_store::{EventStore, Position, RecordedEvent, StoreError};
use uuid::Uuid;

/// Stream versions spanned by one range read when resolving alert causes;
/// causes further apart are read one by one.
const MAX_CAUSE_SPAN: u64 = 256;

/// What a stored event says.
pub(crate) enum Fact {
    /// An event of the licence stream of `licence`.
    Licence {
        /// From the stream name.
        licence: LicenceId,
        /// The decoded event.
        event: LicenceEvent,
    },
    /// An event of the account stream of `user`.
    Account {
        /// From the stream name.
        user: UserId,
        /// The decoded event.
        event: AccountEvent,
    },
    /// A password step that named no known user.
    Attempt {
        /// From the stream name (`None` for `attempts-unknown-licence`).
        licence: Option<LicenceId>,
        /// The decoded event.
        event: AttemptEvent,
    },
    /// An event no projector reads, or one this build cannot decode (logged).
    Skipped,
}

/// A stored event and what it says.
pub(crate) struct Decoded {
    /// As stored.
    pub recorded: RecordedEvent,
    /// As decoded.
    pub fact: Fact,
}

/// Id and type of an event named by its stream and version.
#[derive(Debug, Clone)]
pub(crate) struct EventRef {
    /// The event's id.
    pub event_id: Uuid,
    /// The event's type name.
    pub event_type: String,
    /// When the store recorded it.
    pub recorded_at: twostep_domain::Timestamp,
}

/// Consecutive events of the global order, decoded.
pub(crate) struct Batch {
    /// The position the events were read after.
    pub after: Position,
    /// The events, in global order.
    pub events: Vec<Decoded>,
    /// Events that security alerts of this batch name as their causes, by
    /// (stream, version); filled by [`Batch::resolve_causes`].
    pub causes: HashMap<(String, u64), EventRef>,
    /// Whether [`Batch::resolve_causes`] ran.
    pub resolved: bool,
}

impl Batch {
    /// Decodes events read after position `after`.
    pub(crate) fn decode(after: Position, events: Vec<RecordedEvent>) -> Batch {
        let events = events
            .into_iter()
            .map(|recorded| Decoded {
                fact: fact_of(&recorded),
                recorded,
            })
            .collect();
        Batch {
            after,
            events,
            causes: HashMap::new(),
            resolved: false,
        }
    }

    /// Position of the last event, if any.
    pub(crate) fn last_position(&self) -> Option<Position> {
        self.events.last().map(|e| e.recorded.position)
    }

    /// Index of the first event after `position`.
    pub(crate) fn first_after(&self, position: Position) -> usize {
        self.events
            .partition_point(|e| e.recorded.position <= position)
    }

    /// Looks up the id and type of every event a security alert of this
    /// batch names: first among the batch's own events (an alert is usually
    /// appended with its causes), then with one stream read per alert.
    pub(crate) async fn resolve_causes(
        &mut self,
        store: &dyn EventStore,
    ) -> Result<(), StoreError> {
        let alerts: Vec<(String, Vec<u64>)> = self
            .events
            .iter()
            .filter_map(|e| {
                alert_causes(&e.fact).map(|versions| (e.recorded.stream.clone(), versions.to_vec()))
            })
            .collect();
        self.resolved = true;
        if alerts.is_empty() {
            return Ok(());
        }
        let in_batch: HashMap<(&str, u64), &RecordedEvent> = self
            .events
            .iter()
            .map(|e| {
                (
                    (e.recorded.stream.as_str(), e.recorded.version),
                    &e.recorded,
                )
            })
            .collect();
        let mut missing: Vec<(String, Vec<u64>)> = Vec::new();
        for (stream, versions) in alerts {
            let mut absent = Vec::new();
            for version in versions {
                match in_batch.get(&(stream.as_str(), version)) {
                    Some(recorded) => {
                        self.causes
                            .insert((stream.clone(), version), event_ref(recorded));
                    }
                    None => absent.push(version),
                }
            }
            if !absent.is_empty() {
                missing.push((stream, absent));
            }
        }
        for (stream, versions) in missing {
            for recorded in read_versions(store, &stream, &versions).await? {
                if versions.contains(&recorded.version) {
                    self.causes
                        .insert((stream.clone(), recorded.version), event_ref(&recorded));
                }
            }
        }
        Ok(())
    }
}

/// The versions a security alert names, if `fact` is one.
fn alert_causes(fact: &Fact) -> Option<&[u64]> {
    match fact {
        Fact::Licence {
            event: LicenceEvent::SecurityAlertRaised(alert),
            ..
        }
        | Fact::Account {
            event: AccountEvent::SecurityAlertRaised(alert),
            ..
        } => Some(&alert.caused_by),
        _ => None,
    }
}

fn event_ref(recorded: &RecordedEvent) -> EventRef {
    EventRef {
        event_id: recorded.event_id,
        event_type: recorded.event_type.clone(),
        recorded_at: twostep_domain::Timestamp::new(recorded.recorded_at),
    }
}

/// The events of `stream` at `versions` (those that exist): one range read
/// when they are close together, one read each otherwise.
async fn read_versions(
    store: &dyn EventStore,
    stream: &str,
    versions: &[u64],
) -> Result<Vec<RecordedEvent>, StoreError> {
    let wanted: Vec<u64> = versions.iter().copied().filter(|v| *v > 0).collect();
    let (Some(first), Some(last)) = (wanted.iter().min().copied(), wanted.iter().max().copied())
    else {
        return Ok(Vec::new());
    };
    let span = last - first + 1;
    if span <= MAX_CAUSE_SPAN {
        return store
            .read_stream(
                stream,
                first - 1,
                usize::try_from(span).unwrap_or(usize::MAX),
            )
            .await;
    }
    let mut found = Vec::new();
    for version in wanted {
        found.extend(store.read_stream(stream, version - 1, 1).await?);
    }
    Ok(found)
}

/// Which aggregate wrote an event, from its stream name.
enum Origin {
    Licence(LicenceId),
    Account(UserId),
    Attempts(Option<LicenceId>),
    Other,
}

fn origin(stream: &str) -> Option<Origin> {
    let id = |rest: &str| Uuid::try_parse(rest).ok();
    if let Some(rest) = stream.strip_prefix("licence-") {
        return id(rest).map(|id| Origin::Licence(LicenceId(id)));
    }
    if let Some(rest) = stream.strip_prefix("account-") {
        return id(rest).map(|id| Origin::Account(UserId(id)));
    }
    if stream == UNKNOWN_LICENCE_ATTEMPTS_STREAM {
        return Some(Origin::Attempts(None));
    }
    if let Some(rest) = stream.strip_prefix("attempts-") {
        return id(rest).map(|id| Origin::Attempts(Some(LicenceId(id))));
    }
    Some(Origin::Other)
}

/// What `recorded` says (logged and [`Fact::Skipped`] when it cannot be decoded).
pub(crate) fn fact_of(recorded: &RecordedEvent) -> Fact {
    let decoded = match origin(&recorded.stream) {
        None => Err("the stream name does not hold a valid id".to_owned()),
        Some(Origin::Other) => return Fact::Skipped,
        Some(Origin::Licence(licence)) => {
            decode(recorded).map(|event| Fact::Licence { licence, event })
        }
        Some(Origin::Account(user)) => decode(recorded).map(|event| Fact::Account { user, event }),
        Some(Origin::Attempts(licence)) => {
            decode(recorded).map(|event| Fact::Attempt { licence, event })
        }
    };
    decoded.unwrap_or_else(|error| {
        tracing::warn!(
            position = recorded.position,
            stream = %recorded.stream,
            event_type = %recorded.event_type,
            schema_version = recorded.schema_version,
            %error,
            "skipping an event the read models cannot decode"
        );
        Fact::Skipped
    })
}

fn decode<E: serde::de::DeserializeOwned>(recorded: &RecordedEvent) -> Result<E, String> {
    codec::decode(
        &recorded.event_type,
        recorded.schema_version,
        &recorded.data,
    )
    .map_err(|err| err.to_string())
}
