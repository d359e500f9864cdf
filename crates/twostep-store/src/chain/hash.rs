//! The chain's hash: SHA-256 over a canonical encoding of an event's content
//! and the hash of the event before it in its stream.
//!
//! Canonical means the same bytes whatever a store did to the JSON it kept:
//! object keys sorted by their UTF-8 bytes at every depth, no whitespace,
//! strings escaped as `serde_json` escapes them, and numbers written as
//! `serde_json` writes the number it parsed (integers in decimal, other
//! numbers as the shortest text that reads back as the same `f64`). So a store
//! that reorders keys (PostgreSQL `jsonb`) or rewrites `1.5e-7` as
//! `0.00000015` still yields the same hash.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::{Metadata, RecordedEvent};

/// The previous hash of the first event of a stream: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Written before the canonical content, so a chain hash never equals a
/// hash made for another purpose.
const DOMAIN: &[u8] = b"twostep-chain/v1\n";

/// An event's link in its stream's hash chain, kept in its metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLink {
    /// Hash of the previous event of the stream ([`GENESIS`] for the first), hex.
    pub prev: String,
    /// Hash of this event's content and `prev`, hex.
    pub hash: String,
    /// When the chaining store linked it (RFC 3339, UTC): covered by `hash`,
    /// unlike the store's own `recorded_at`.
    pub at: String,
}

/// What the hash of an event covers, besides the previous hash.
#[derive(Debug, Clone, Copy)]
pub struct Content<'a> {
    /// Stream name.
    pub stream: &'a str,
    /// Version within the stream.
    pub version: u64,
    /// Event id.
    pub event_id: uuid::Uuid,
    /// Type name.
    pub event_type: &'a str,
    /// Schema version of the type.
    pub schema_version: u32,
    /// The event's fields.
    pub data: &'a Value,
    /// Who and why; its `chain` field is never hashed.
    pub metadata: &'a Metadata,
}

impl<'a> Content<'a> {
    /// The content of a stored event.
    pub fn of(event: &'a RecordedEvent) -> Self {
        Self {
            stream: &event.stream,
            version: event.version,
            event_id: event.event_id,
            event_type: &event.event_type,
            schema_version: event.schema_version,
            data: &event.data,
            metadata: &event.metadata,
        }
    }
}

/// The hash of `content` following `prev`, chained at `at` (`None` for an
/// event stored without a link: its hash is still defined, so a stream that
/// began before chaining links its old events into the chain too).
pub fn event_hash(content: Content<'_>, prev: &str, at: Option<&str>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN);
    hasher.update(canonical_content(content, prev, at).as_bytes());
    hex::encode(hasher.finalize())
}

/// The canonical text the hash is taken over.
pub fn canonical_content(content: Content<'_>, prev: &str, at: Option<&str>) -> String {
    let mut metadata = content.metadata.clone();
    metadata.chain = None;
    // A Metadata always serialises (plain strings, ids and options).
    let metadata = serde_json::to_value(&metadata).unwrap_or(Value::Null);
    let mut fields = serde_json::Map::new();
    fields.insert("stream".into(), content.stream.into());
    fields.insert("version".into(), content.version.into());
    fields.insert("event_id".into(), content.event_id.to_string().into());
    fields.insert("event_type".into(), content.event_type.into());
    fields.insert("schema_version".into(), content.schema_version.into());
    fields.insert("data".into(), content.data.clone());
    fields.insert("metadata".into(), metadata);
    fields.insert("prev".into(), prev.into());
    if let Some(at) = at {
        fields.insert("at".into(), at.into());
    }
    let mut text = String::new();
    write_canonical(&Value::Object(fields), &mut text);
    text
}

/// Appends the canonical encoding of `value` to `out`.
pub fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => out.push_str(&number.to_string()),
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(fields) => {
            let mut keys: Vec<&String> = fields.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                if let Some(field) = fields.get(key) {
                    write_canonical(field, out);
                }
            }
            out.push('}');
        }
    }
}

fn write_string(text: &str, out: &mut String) {
    // Serialising a str cannot fail.
    out.push_str(&serde_json::to_string(text).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use uuid::Uuid;

    use super::*;

    fn metadata() -> Metadata {
        Metadata {
            correlation_id: Uuid::from_u128(0xC0),
            causation_id: None,
            actor: "system".into(),
            client_ip: Some("203.0.113.7".into()),
            user_agent: None,
            chain: None,
        }
    }

    fn data() -> Value {
        json!({"b": [1, 0.1, 1.5e-7, u64::MAX, -42], "a": {"z": null, "é": "✓ \"q\""}})
    }

    fn content<'a>(data: &'a Value, metadata: &'a Metadata) -> Content<'a> {
        Content {
            stream: "user-1",
            version: 2,
            event_id: Uuid::from_u128(0xE1),
            event_type: "CodeIssued",
            schema_version: 1,
            data,
            metadata,
        }
    }

    #[test]
    fn canonical_text_sorts_keys_at_every_depth_and_omits_the_link() {
        let (data, mut metadata) = (data(), metadata());
        metadata.chain = Some(ChainLink {
            prev: GENESIS.into(),
            hash: "ff".into(),
            at: "x".into(),
        });
        let text = canonical_content(
            content(&data, &metadata),
            GENESIS,
            Some("2026-01-02T03:04:05Z"),
        );
        assert_eq!(
            text,
            concat!(
                r#"{"at":"2026-01-02T03:04:05Z","data":{"a":{"z":null,"é":"✓ \"q\""},"b":[1,0.1,1.5e-7,18446744073709551615,-42]},"#,
                r#""event_id":"00000000-0000-0000-0000-0000000000e1","event_type":"CodeIssued","#,
                r#""metadata":{"actor":"system","causation_id":null,"client_ip":"203.0.113.7","correlation_id":"00000000-0000-0000-0000-0000000000c0","user_agent":null},"#,
                r#""prev":"0000000000000000000000000000000000000000000000000000000000000000","schema_version":1,"stream":"user-1","version":2}"#
            )
        );
    }

    #[test]
    fn hash_of_a_fixed_event_is_stable() {
        let (data, metadata) = (data(), metadata());
        assert_eq!(
            event_hash(
                content(&data, &metadata),
                GENESIS,
                Some("2026-01-02T03:04:05Z")
            ),
            // Cross-checked: sha256(b"twostep-chain/v1\n" + the canonical text above) in Python.
            "cfb1c1ae61edff2701cd78d0dc58eefef349fb0f39d1f7ce19234adebda310bb"
        );
    }

    #[test]
    fn reordered_keys_and_rewritten_numbers_hash_the_same() {
        let metadata = metadata();
        let stored: Value = serde_json::from_str(
            r#"{"a": {"é": "✓ \"q\"", "z": null}, "b": [1, 0.1, 0.00000015, 18446744073709551615, -42]}"#,
        )
        .expect("json");
        let original = data();
        assert_eq!(
            event_hash(content(&stored, &metadata), GENESIS, None),
            event_hash(content(&original, &metadata), GENESIS, None)
        );
    }

    #[test]
    fn every_covered_field_changes_the_hash() {
        let (data, metadata) = (data(), metadata());
        let base = content(&data, &metadata);
        let hash = event_hash(base, GENESIS, Some("t"));
        let other_data = json!({"b": [2]});
        let mut other_metadata = metadata.clone();
        other_metadata.actor = "operator".into();
        let variants = [
            event_hash(
                Content {
                    stream: "user-2",
                    ..base
                },
                GENESIS,
                Some("t"),
            ),
            event_hash(Content { version: 3, ..base }, GENESIS, Some("t")),
            event_hash(
                Content {
                    event_id: Uuid::from_u128(1),
                    ..base
                },
                GENESIS,
                Some("t"),
            ),
            event_hash(
                Content {
                    event_type: "X",
                    ..base
                },
                GENESIS,
                Some("t"),
            ),
            event_hash(
                Content {
                    schema_version: 2,
                    ..base
                },
                GENESIS,
                Some("t"),
            ),
            event_hash(
                Content {
                    data: &other_data,
                    ..base
                },
                GENESIS,
                Some("t"),
            ),
            event_hash(
                Content {
                    metadata: &other_metadata,
                    ..base
                },
                GENESIS,
                Some("t"),
            ),
            event_hash(base, &"1".repeat(64), Some("t")),
            event_hash(base, GENESIS, Some("u")),
            event_hash(base, GENESIS, None),
        ];
        for variant in variants {
            assert_ne!(variant, hash);
        }
    }
}
