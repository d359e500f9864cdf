//! Signed checkpoints of stream heads, for tamper evidence: an event in
//! [`CHECKPOINT_STREAM`] that names the last version and chain hash of every
//! stream that changed since the previous checkpoint, up to a global
//! position, signed with a key derived from the service secret. Removing the
//! tail of a stream below a checkpoint, or rewriting a stream's whole chain,
//! then disagrees with a signature only the service can make.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use twostep_store::chain::{last_event, write_canonical};
use twostep_store::{EventStore, ExpectedVersion, Metadata, NewEvent, Position, StoreError};
use uuid::Uuid;

use crate::crypto::ServiceKey;

/// The stream checkpoints are appended to.
pub const CHECKPOINT_STREAM: &str = "audit-checkpoints";

/// The event type of a checkpoint.
pub const CHECKPOINT_EVENT: &str = "CheckpointRecorded";

/// Schema version of [`CheckpointRecorded`].
pub const CHECKPOINT_SCHEMA_VERSION: u32 = 1;

/// Events read per page while collecting heads.
const PAGE: usize = 1_000;

/// The heads of the streams that changed up to a global position, signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CheckpointRecorded {
    /// The global position this checkpoint covers: every event at or below it.
    pub covers: u64,
    /// The position the previous checkpoint covered (0 for the first).
    pub previous: u64,
    /// The last version and chain hash, at `covers`, of each stream that
    /// changed after `previous`, by stream name.
    pub heads: Vec<StreamHead>,
    /// HMAC-SHA256 (hex) of the canonical text of the other fields, with the
    /// service's checkpoint key.
    pub mac: String,
}

/// One stream's head in a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StreamHead {
    /// Stream name.
    pub stream: String,
    /// Its last version at the checkpoint.
    pub version: u64,
    /// The chain hash of that version (hex).
    pub hash: String,
}

impl CheckpointRecorded {
    /// The text the MAC signs: the fields other than `mac`, canonically.
    pub fn signed_text(&self) -> String {
        let mut unsigned = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(fields) = unsigned.as_object_mut() {
            fields.remove("mac");
        }
        let mut text = String::new();
        write_canonical(&unsigned, &mut text);
        text
    }

    /// Whether `mac` is the service's signature of this checkpoint.
    pub fn is_signed_by(&self, key: &ServiceKey) -> bool {
        key.checkpoint_mac_matches(&self.signed_text(), &self.mac)
    }
}

/// Appends a checkpoint of every stream that changed since the last one, or
/// does nothing (`None`) when no event arrived since. Events without a chain
/// link (written before chaining) are not named.
pub async fn record_checkpoint(
    store: &dyn EventStore,
    key: &ServiceKey,
) -> Result<Option<CheckpointRecorded>, StoreError> {
    let last = last_event(store, CHECKPOINT_STREAM).await?;
    let (previous, last_version) = match &last {
        Some(event) => {
            let previous: CheckpointRecorded =
                serde_json::from_value(event.data.clone()).map_err(|err| {
                    StoreError::Corrupt(format!(
                        "checkpoint at position {} does not decode: {err}",
                        event.position
                    ))
                })?;
            (previous.covers, event.version)
        }
        None => (0, 0),
    };
    let until = store.head().await?;
    let heads = changed_heads(store, previous, until).await?;
    if heads.is_empty() {
        return Ok(None);
    }
    let mut checkpoint = CheckpointRecorded {
        covers: until,
        previous,
        heads: heads
            .into_iter()
            .map(|(stream, (version, hash, _))| StreamHead {
                stream,
                version,
                hash,
            })
            .collect(),
        mac: String::new(),
    };
    checkpoint.mac = key.checkpoint_mac(&checkpoint.signed_text());
    let event = NewEvent {
        event_id: Uuid::now_v7(),
        event_type: CHECKPOINT_EVENT.into(),
        schema_version: CHECKPOINT_SCHEMA_VERSION,
        data: serde_json::to_value(&checkpoint)
            .map_err(|err| StoreError::Invalid(err.to_string()))?,
        metadata: Metadata {
            correlation_id: Uuid::now_v7(),
            actor: "system".into(),
            ..Metadata::default()
        },
    };
    store
        .append(
            CHECKPOINT_STREAM,
            ExpectedVersion::Exact(last_version),
            vec![event],
        )
        .await?;
    Ok(Some(checkpoint))
}

/// The last (version, hash, position) of each chained stream (checkpoints
/// aside) with an event in `(after, until]`.
async fn changed_heads(
    store: &dyn EventStore,
    after: Position,
    until: Position,
) -> Result<BTreeMap<String, (u64, String, Position)>, StoreError> {
    let mut heads = BTreeMap::new();
    let mut cursor = after;
    while cursor < until {
        let page = store.read_all(cursor, PAGE).await?;
        let Some(last) = page.last() else { break };
        cursor = last.position;
        for event in page {
            if event.position > until || event.stream == CHECKPOINT_STREAM {
                continue;
            }
            if let Some(link) = event.metadata.chain {
                heads.insert(event.stream, (event.version, link.hash, event.position));
            }
        }
    }
    Ok(heads)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint() -> CheckpointRecorded {
        CheckpointRecorded {
            covers: 12,
            previous: 3,
            heads: vec![StreamHead {
                stream: "account-1".into(),
                version: 4,
                hash: "ab".repeat(32),
            }],
            mac: String::new(),
        }
    }

    #[test]
    fn signed_text_is_the_canonical_fields_without_the_mac() {
        let mut signed = checkpoint();
        signed.mac = "ff".into();
        assert_eq!(
            signed.signed_text(),
            format!(
                r#"{{"covers":12,"heads":[{{"hash":"{}","stream":"account-1","version":4}}],"previous":3}}"#,
                "ab".repeat(32)
            )
        );
    }

    #[test]
    fn a_checkpoint_verifies_only_under_its_key_and_unchanged() {
        let key = ServiceKey::new(&[7; 32]);
        let mut signed = checkpoint();
        signed.mac = key.checkpoint_mac(&signed.signed_text());
        assert!(signed.is_signed_by(&key));
        assert!(!signed.is_signed_by(&ServiceKey::new(&[8; 32])));
        let mut altered = signed.clone();
        altered.heads[0].version = 3;
        assert!(!altered.is_signed_by(&key));
    }
}
