//! JSON Schemas of the stored events, one per event type: the envelope every
//! adapter stores (id, stream, version, position, type, schema version, time,
//! metadata) around the type's own `data`. Generated from the domain types,
//! so `schemas/events/*.json` is checked against this by a test.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use twostep_domain::codec::SCHEMA_VERSION;
use twostep_domain::{AccountEvent, AttemptEvent, LicenceEvent};

use crate::checkpoints::{CHECKPOINT_EVENT, CheckpointRecorded};

/// The one stream checkpoints are written to.
const CHECKPOINT_STREAM_PATTERN: &str = "^audit-checkpoints$";

/// Which streams an event type is written to.
fn streams_of(prefix: &str) -> &'static str {
    match prefix {
        "licence" => "^licence-[0-9a-f]{32}$",
        "account" => "^account-[0-9a-f]{32}$",
        _ => "^attempts-([0-9a-f]{32}|unknown-licence)$",
    }
}

/// One event type as found in the enums: its data schema, the stream
/// patterns it is written to, and the definitions it may refer to.
struct Variant {
    data: Value,
    streams: Vec<&'static str>,
    defs: Map<String, Value>,
}

/// Schemas of every event type, by type name. A type written to several kinds
/// of streams (`SecurityAlertRaised`) accepts each of them.
pub fn event_schemas() -> BTreeMap<String, Value> {
    let mut variants: BTreeMap<String, Variant> = BTreeMap::new();
    for (prefix, root) in [
        ("licence", schemars::schema_for!(LicenceEvent).to_value()),
        ("account", schemars::schema_for!(AccountEvent).to_value()),
        ("attempts", schemars::schema_for!(AttemptEvent).to_value()),
    ] {
        let defs = root
            .get("$defs")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let cases = root
            .get("oneOf")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for case in cases {
            let Some(name) = case
                .pointer("/properties/type/const")
                .and_then(Value::as_str)
            else {
                continue;
            };
            let data = case
                .pointer("/properties/data")
                .cloned()
                .unwrap_or_else(|| json!({ "type": "object" }));
            let entry = variants.entry(name.to_owned()).or_insert_with(|| Variant {
                data,
                streams: Vec::new(),
                defs: Map::new(),
            });
            entry.streams.push(streams_of(prefix));
            entry.defs.extend(defs.clone());
        }
    }
    variants.insert(CHECKPOINT_EVENT.to_owned(), checkpoint_variant());
    variants
        .into_iter()
        .map(|(name, Variant { data, streams, defs })| {
            let stream = if streams.len() == 1 {
                json!({ "type": "string", "pattern": streams[0] })
            } else {
                json!({ "type": "string", "anyOf": streams.iter().map(|p| json!({ "pattern": p })).collect::<Vec<_>>() })
            };
            let schema = envelope(&name, stream, data, defs);
            (name, schema)
        })
        .collect()
}

/// The signed checkpoint (`CheckpointRecorded`), written by the service to
/// its own stream rather than by a domain aggregate.
fn checkpoint_variant() -> Variant {
    let mut data = schemars::schema_for!(CheckpointRecorded).to_value();
    let defs = data
        .as_object_mut()
        .and_then(|object| {
            object.remove("$schema");
            object.remove("title");
            object.remove("$defs")
        })
        .and_then(|defs| defs.as_object().cloned())
        .unwrap_or_default();
    Variant {
        data,
        streams: vec![CHECKPOINT_STREAM_PATTERN],
        defs,
    }
}

/// Names of the `$defs` that `value` refers to, directly or through other definitions.
fn referenced(value: &Value, defs: &Map<String, Value>, found: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(object) => {
            let name = object
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/$defs/"));
            if let Some((name, def)) = name
                .and_then(|n| defs.get(n).map(|d| (n, d)))
                .filter(|(n, _)| !found.contains_key(*n))
            {
                found.insert(name.to_owned(), def.clone());
                referenced(def, defs, found);
            }
            object.values().for_each(|v| referenced(v, defs, found));
        }
        Value::Array(items) => items.iter().for_each(|v| referenced(v, defs, found)),
        _ => {}
    }
}

fn envelope(name: &str, stream: Value, data: Value, all_defs: Map<String, Value>) -> Value {
    let mut used = BTreeMap::new();
    referenced(&data, &all_defs, &mut used);
    let defs: Map<String, Value> = used.into_iter().collect();
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("https://twostep.dev/schemas/events/{name}.json"),
        "title": name,
        "description": format!("A stored `{name}` event (schema version {SCHEMA_VERSION}): the envelope every event store adapter keeps, with the event's own fields in `data`."),
        "type": "object",
        "required": ["event_id", "stream", "version", "position", "event_type", "schema_version", "recorded_at", "data", "metadata"],
        "additionalProperties": false,
        "properties": {
            "event_id": { "type": "string", "format": "uuid" },
            "stream": stream,
            "version": { "type": "integer", "minimum": 1 },
            "position": { "type": "integer", "minimum": 1 },
            "event_type": { "const": name },
            "schema_version": { "const": SCHEMA_VERSION },
            "recorded_at": { "type": "string", "format": "date-time" },
            "data": data,
            "metadata": {
                "type": "object",
                "required": ["correlation_id", "causation_id", "actor", "client_ip", "user_agent"],
                "additionalProperties": false,
                "properties": {
                    "correlation_id": { "type": "string", "format": "uuid" },
                    "causation_id": { "type": ["string", "null"], "format": "uuid" },
                    "actor": { "type": "string", "pattern": "^(anonymous|operator|auditor|system|user:[0-9a-f-]{36})$" },
                    "client_ip": { "type": ["string", "null"] },
                    "user_agent": { "type": ["string", "null"], "maxLength": 256 },
                    "chain": {
                        "description": "The event's link in its stream's hash chain (absent on events stored before chaining).",
                        "type": "object",
                        "required": ["prev", "hash", "at"],
                        "additionalProperties": false,
                        "properties": {
                            "prev": { "type": "string", "pattern": "^[0-9a-f]{64}$" },
                            "hash": { "type": "string", "pattern": "^[0-9a-f]{64}$" },
                            "at": { "type": "string", "format": "date-time" }
                        }
                    }
                }
            }
        }
    });
    if let Some(object) = schema.as_object_mut().filter(|_| !defs.is_empty()) {
        object.insert("$defs".to_owned(), Value::Object(defs));
    }
    schema
}
