//! How domain events become stored `(type, data)` pairs and back. Every
//! event enum is adjacently tagged (`{"type": …, "data": …}`), so the type
//! name is the variant name and the data is the variant's fields.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde::de::value::MapDeserializer;
use serde_json::{Map, Value};

/// Schema version of every event type this build writes. When an event's
/// shape must change, a new version and an upcaster come with it.
pub const SCHEMA_VERSION: u32 = 1;

/// An event could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The event did not serialise to `{type, data}`.
    #[error("event did not encode to a type and data")]
    Shape,
    /// A stored event is of a schema version this build does not read.
    #[error("event {event_type} has schema version {found}, this build reads {SCHEMA_VERSION}")]
    UnknownSchemaVersion {
        /// Type name.
        event_type: String,
        /// Version found.
        found: u32,
    },
    /// JSON error.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// Splits an event into its type name and data.
pub fn encode<E: Serialize>(event: &E) -> Result<(String, Value), CodecError> {
    match serde_json::to_value(event)? {
        Value::Object(mut map) => {
            let Some(Value::String(event_type)) = map.remove("type") else {
                return Err(CodecError::Shape);
            };
            let data = map
                .remove("data")
                .unwrap_or_else(|| Value::Object(Map::new()));
            Ok((event_type, data))
        }
        _ => Err(CodecError::Shape),
    }
}

/// Rebuilds an event from its stored type name, schema version and data.
pub fn decode<E: DeserializeOwned>(
    event_type: &str,
    schema_version: u32,
    data: &Value,
) -> Result<E, CodecError> {
    if schema_version != SCHEMA_VERSION {
        return Err(CodecError::UnknownSchemaVersion {
            event_type: event_type.to_owned(),
            found: schema_version,
        });
    }
    // The tag goes first, so serde reads the data straight into the variant
    // instead of buffering it (as it must when `data` precedes `type`, which
    // is the order of a `serde_json::Map`).
    let tag = Value::String(event_type.to_owned());
    let entries = [("type", &tag), ("data", data)];
    let fields = MapDeserializer::<_, serde_json::Error>::new(entries.into_iter());
    Ok(E::deserialize(fields)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::licence::LicenceEvent;

    #[test]
    fn round_trips_type_and_data() -> Result<(), CodecError> {
        let event = LicenceEvent::TwoFactorDisabled {};
        let (event_type, data) = encode(&event)?;
        assert_eq!(event_type, "TwoFactorDisabled");
        assert_eq!(data, serde_json::json!({}));
        assert_eq!(
            decode::<LicenceEvent>(&event_type, SCHEMA_VERSION, &data)?,
            event
        );
        Ok(())
    }

    #[test]
    fn refuses_unknown_schema_versions() {
        let refused = decode::<LicenceEvent>("TwoFactorDisabled", 2, &serde_json::json!({}));
        assert!(matches!(
            refused,
            Err(CodecError::UnknownSchemaVersion { found: 2, .. })
        ));
    }
}
