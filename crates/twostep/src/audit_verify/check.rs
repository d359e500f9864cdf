//! The checks themselves, fed one stored event at a time in global order:
//! each stream's chain, and each checkpoint's signature and heads. No I/O.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;

use twostep_app::checkpoints::{CHECKPOINT_EVENT, CHECKPOINT_STREAM, CheckpointRecorded};
use twostep_app::crypto::ServiceKey;
use twostep_store::chain::{Content, GENESIS, event_hash};
use twostep_store::{Position, RecordedEvent};

/// Recent (version, hash) pairs kept per stream to check checkpoint heads
/// that later events have already passed.
const RECENT: usize = 64;

/// One break in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The stream (empty when the event could not be read at all).
    pub stream: String,
    /// The version within the stream, when known.
    pub version: Option<u64>,
    /// The global position, when known.
    pub position: Option<Position>,
    /// What is wrong.
    pub what: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BREAK")?;
        if !self.stream.is_empty() {
            write!(f, " stream {}", self.stream)?;
        }
        if let Some(version) = self.version {
            write!(f, " version {version}")?;
        }
        if let Some(position) = self.position {
            write!(f, " position {position}")?;
        }
        write!(f, ": {}", self.what)
    }
}

/// A gap in a stream's versions, waiting to be filled by a later (reordered)
/// event or reported as missing at the end.
#[derive(Debug)]
struct Gap {
    from: u64,
    to: u64,
    /// The event that came after the gap.
    next_version: u64,
    next_position: Position,
}

#[derive(Debug)]
struct StreamState {
    /// Highest version seen.
    version: u64,
    /// Hash of that version.
    hash: String,
    chained: bool,
    /// The highest version already reported broken: the link after it is
    /// not reported again.
    flagged: u64,
    gaps: Vec<Gap>,
    recent: VecDeque<(u64, String)>,
}

/// A checkpoint head older than [`RECENT`] versions when its checkpoint was
/// read: checked against the store afterwards.
#[derive(Debug, Clone)]
pub struct Deferred {
    /// The stream.
    pub stream: String,
    /// The version the checkpoint names.
    pub version: u64,
    /// The hash it names.
    pub hash: String,
    /// Where the checkpoint is.
    pub checkpoint_position: Position,
}

/// The running verification.
pub struct Verifier {
    key: ServiceKey,
    streams: HashMap<String, StreamState>,
    /// Breaks found so far.
    pub findings: Vec<Finding>,
    /// Events checked.
    pub events: u64,
    /// Events stored without a link (before chaining began).
    pub unchained: u64,
    /// Checkpoints checked.
    pub checkpoints: u64,
    /// Heads to check against the store at the end.
    pub deferred: Vec<Deferred>,
}

impl Verifier {
    /// A verification with the service's key.
    pub fn new(key: ServiceKey) -> Self {
        Self {
            key,
            streams: HashMap::new(),
            findings: Vec::new(),
            events: 0,
            unchained: 0,
            checkpoints: 0,
            deferred: Vec::new(),
        }
    }

    /// Streams seen.
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }

    fn report(&mut self, event: &RecordedEvent, what: String) {
        self.findings.push(Finding {
            stream: event.stream.clone(),
            version: Some(event.version),
            position: Some(event.position),
            what,
        });
    }

    /// An event that could not be read back at all.
    pub fn unreadable(&mut self, position: Position, why: String) {
        self.findings.push(Finding {
            stream: String::new(),
            version: None,
            position: Some(position),
            what: format!("stored event cannot be read (content altered): {why}"),
        });
    }

    /// Checks the next event of the global order.
    pub fn check(&mut self, event: &RecordedEvent) {
        self.events += 1;
        let state = self
            .streams
            .entry(event.stream.clone())
            .or_insert_with(|| StreamState {
                version: 0,
                hash: GENESIS.into(),
                chained: false,
                flagged: 0,
                gaps: Vec::new(),
                recent: VecDeque::new(),
            });
        let mut found = Vec::new();
        let in_order = event.version == state.version + 1;
        let after_a_break = state.version > 0 && state.flagged == state.version;
        if event.version > state.version + 1 {
            state.gaps.push(Gap {
                from: state.version + 1,
                to: event.version - 1,
                next_version: event.version,
                next_position: event.position,
            });
        } else if event.version <= state.version {
            let filled = state
                .gaps
                .iter()
                .position(|g| g.from <= event.version && event.version <= g.to);
            match filled {
                Some(index) => {
                    let gap = state.gaps.remove(index);
                    if gap.from < event.version {
                        state.gaps.push(Gap {
                            to: event.version - 1,
                            ..gap
                        });
                    }
                    if event.version < gap.to {
                        state.gaps.push(Gap {
                            from: event.version + 1,
                            ..gap
                        });
                    }
                    found.push(format!(
                        "events reordered: stored after version {} (position {}), which should follow it",
                        gap.next_version, gap.next_position
                    ));
                }
                None => found.push(format!(
                    "version {} appears twice in the stream",
                    event.version
                )),
            }
        }
        let hash = match &event.metadata.chain {
            Some(link) => {
                state.chained = true;
                let computed = event_hash(Content::of(event), &link.prev, Some(&link.at));
                if computed != link.hash {
                    found.push("content altered: the event does not match its own hash".into());
                } else if in_order && !after_a_break && link.prev != state.hash {
                    found.push(format!(
                        "chain broken: its previous-hash does not match version {}",
                        state.version
                    ));
                }
                link.hash.clone()
            }
            None => {
                self.unchained += 1;
                if state.chained {
                    found.push("unchained event after chained ones".into());
                }
                event_hash(Content::of(event), &state.hash, None)
            }
        };
        if event.version > state.version {
            state.version = event.version;
            state.hash = hash.clone();
        }
        if !found.is_empty() {
            state.flagged = state.flagged.max(event.version);
        }
        state.recent.push_back((event.version, hash));
        if state.recent.len() > RECENT {
            state.recent.pop_front();
        }
        for what in found {
            self.report(event, what);
        }
        if event.stream == CHECKPOINT_STREAM && event.event_type == CHECKPOINT_EVENT {
            self.check_checkpoint(event);
        }
    }

    fn check_checkpoint(&mut self, event: &RecordedEvent) {
        self.checkpoints += 1;
        let checkpoint: CheckpointRecorded = match serde_json::from_value(event.data.clone()) {
            Ok(checkpoint) => checkpoint,
            Err(err) => {
                self.report(event, format!("checkpoint does not decode: {err}"));
                return;
            }
        };
        if !checkpoint.is_signed_by(&self.key) {
            self.report(
                event,
                "bad checkpoint signature (altered, forged, or signed with another service secret)"
                    .into(),
            );
            return;
        }
        for head in checkpoint.heads {
            let Some(state) = self.streams.get(&head.stream) else {
                self.findings.push(Finding {
                    stream: head.stream.clone(),
                    version: Some(head.version),
                    position: None,
                    what: format!(
                        "stream truncated below a checkpoint: the checkpoint at position {} names version {}, the log holds no event of the stream before it",
                        event.position, head.version
                    ),
                });
                continue;
            };
            if state.version < head.version {
                let what = format!(
                    "stream truncated below a checkpoint: the checkpoint at position {} names version {}, the stream ends at version {} before it",
                    event.position, head.version, state.version
                );
                self.findings.push(Finding {
                    stream: head.stream.clone(),
                    version: Some(head.version),
                    position: None,
                    what,
                });
                continue;
            }
            match state.recent.iter().rev().find(|(v, _)| *v == head.version) {
                Some((_, hash)) if *hash == head.hash => {}
                Some(_) => self.findings.push(Finding {
                    stream: head.stream.clone(),
                    version: Some(head.version),
                    position: None,
                    what: format!(
                        "rewritten after a checkpoint: the checkpoint at position {} names another hash for this version",
                        event.position
                    ),
                }),
                None => self.deferred.push(Deferred {
                    stream: head.stream,
                    version: head.version,
                    hash: head.hash,
                    checkpoint_position: event.position,
                }),
            }
        }
    }

    /// Reports the gaps no later event filled.
    pub fn finish(&mut self) {
        let mut missing = BTreeMap::new();
        for (stream, state) in &self.streams {
            for gap in &state.gaps {
                missing.insert((stream.clone(), gap.from), gap_finding(stream, gap));
            }
        }
        self.findings.extend(missing.into_values());
    }
}

fn gap_finding(stream: &str, gap: &Gap) -> Finding {
    let versions = if gap.from == gap.to {
        format!("version {} is", gap.from)
    } else {
        format!("versions {}–{} are", gap.from, gap.to)
    };
    Finding {
        stream: stream.to_owned(),
        version: Some(gap.from),
        position: None,
        what: format!(
            "event missing: {versions} absent before version {} (position {})",
            gap.next_version, gap.next_position
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::OffsetDateTime;
    use twostep_app::checkpoints::StreamHead;
    use twostep_store::Metadata;
    use twostep_store::chain::ChainLink;
    use uuid::Uuid;

    use super::*;

    fn key() -> ServiceKey {
        ServiceKey::new(&[5; 32])
    }

    /// Version `version` of `stream` at `position`, linked after `prev`.
    fn linked(
        stream: &str,
        version: u64,
        position: u64,
        data: serde_json::Value,
        prev: &str,
    ) -> RecordedEvent {
        let mut event = RecordedEvent {
            event_id: Uuid::from_u128(u128::from(position)),
            stream: stream.into(),
            version,
            position,
            event_type: "Fact".into(),
            schema_version: 1,
            recorded_at: OffsetDateTime::UNIX_EPOCH,
            data,
            metadata: Metadata::default(),
        };
        let at = "2026-01-01T00:00:00Z";
        let hash = event_hash(Content::of(&event), prev, Some(at));
        event.metadata.chain = Some(ChainLink {
            prev: prev.into(),
            hash,
            at: at.into(),
        });
        event
    }

    fn hash_of(event: &RecordedEvent) -> String {
        event
            .metadata
            .chain
            .as_ref()
            .map(|l| l.hash.clone())
            .unwrap_or_default()
    }

    fn checkpoint(position: u64, heads: Vec<StreamHead>, key: &ServiceKey) -> RecordedEvent {
        let mut data = CheckpointRecorded {
            covers: position - 1,
            previous: 0,
            heads,
            mac: String::new(),
        };
        data.mac = key.checkpoint_mac(&data.signed_text());
        let mut event = linked(
            CHECKPOINT_STREAM,
            1,
            position,
            serde_json::to_value(&data).unwrap_or_default(),
            GENESIS,
        );
        event.event_type = CHECKPOINT_EVENT.into();
        let link_hash = event_hash(Content::of(&event), GENESIS, Some("2026-01-01T00:00:00Z"));
        if let Some(link) = event.metadata.chain.as_mut() {
            link.hash = link_hash;
        }
        event
    }

    fn findings(events: &[RecordedEvent]) -> Vec<String> {
        let mut verifier = Verifier::new(key());
        for event in events {
            verifier.check(event);
        }
        verifier.finish();
        verifier.findings.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_stream_rechained_after_a_checkpoint_is_caught_by_the_checkpoint() {
        let first = linked("s", 1, 1, json!({"n": 1}), GENESIS);
        let second = linked("s", 2, 2, json!({"n": 2}), &hash_of(&first));
        let head = StreamHead {
            stream: "s".into(),
            version: 2,
            hash: hash_of(&second),
        };
        let signed = checkpoint(3, vec![head], &key());
        assert_eq!(
            findings(&[first.clone(), second, signed.clone()]),
            Vec::<String>::new()
        );

        // The attacker rewrites version 2 and recomputes its hash: the chain adds up.
        let forged = linked("s", 2, 2, json!({"n": 3}), &hash_of(&first));
        assert_eq!(
            findings(&[first, forged, signed]),
            vec![
                "BREAK stream s version 2: rewritten after a checkpoint: the checkpoint at position 3 names another hash for this version"
            ]
        );
    }

    #[test]
    fn an_unchained_event_after_chained_ones_is_reported() {
        let first = linked("s", 1, 1, json!({"n": 1}), GENESIS);
        let mut second = linked("s", 2, 2, json!({"n": 2}), &hash_of(&first));
        second.metadata.chain = None;
        assert_eq!(
            findings(&[first, second]),
            vec!["BREAK stream s version 2 position 2: unchained event after chained ones"]
        );
    }
}
