//! What this process knows of each stream's head, so that catching a cached
//! state up to its stream costs no query when nothing was appended since.
//!
//! The invariant: a stream's recorded value is never below its real head
//! once a commit is acknowledged. The writer records every commit before it
//! answers; readers record what they saw (the last version of a short page,
//! or the version they read after when nothing followed it), and values only
//! ever grow. A value above the real head (a hash collision, a read past the
//! end) only sends a later read to the database. This holds because only
//! this process writes the file: [`super::SqliteStore::open`] locks it.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

/// Heads by a 64-bit hash of the stream name (16 bytes a stream; a
/// collision only makes both streams read from the database more often).
#[derive(Debug, Default)]
pub(super) struct KnownHeads {
    heads: Mutex<HashMap<u64, u64>>,
}

fn key(stream: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    stream.hash(&mut hasher);
    hasher.finish()
}

impl KnownHeads {
    /// Records that `stream` is at `version` or beyond.
    pub(super) fn record(&self, stream: &str, version: u64) {
        let mut heads = self
            .heads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let head = heads.entry(key(stream)).or_insert(version);
        *head = (*head).max(version);
    }

    /// Whether nothing can follow `after_version` in `stream`.
    pub(super) fn nothing_after(&self, stream: &str, after_version: u64) -> bool {
        let heads = self
            .heads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        heads
            .get(&key(stream))
            .is_some_and(|head| after_version >= *head)
    }
}
