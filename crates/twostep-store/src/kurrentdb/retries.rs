//! Telling an idempotent retry from a conflict, from the tail of a stream.
//!
//! KurrentDB recognises a retried append itself only when it is sent with
//! the same expected revision (or within its id cache for `Any`). Our
//! contract is wider: the same events, in the same order, are a retry
//! whatever the expectation says. So when the server refuses an append for
//! its expected revision, we read the stream's tail and look for the batch.

use uuid::Uuid;

/// What the tail of a stream says about a batch of event ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// None of the ids is there.
    Absent,
    /// The whole batch is there, in order, starting at this index of the tail.
    Batch(usize),
    /// Some id is there, but not as this exact batch.
    Reused(Uuid),
}

/// Looks for `batch` in `tail` (the ids of a stream's last events, oldest first).
pub fn find(batch: &[Uuid], tail: &[Uuid]) -> Found {
    let Some(first) = batch.first() else {
        return Found::Absent;
    };
    if let Some(start) = tail.iter().position(|id| id == first)
        && tail.get(start..start + batch.len()) == Some(batch)
    {
        return Found::Batch(start);
    }
    batch
        .iter()
        .find(|id| tail.contains(id))
        .map_or(Found::Absent, |id| Found::Reused(*id))
}

/// The first id that appears twice in one batch.
pub fn repeated(batch: &[Uuid]) -> Option<Uuid> {
    let mut seen = std::collections::HashSet::with_capacity(batch.len());
    batch.iter().copied().find(|id| !seen.insert(*id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(ns: &[u128]) -> Vec<Uuid> {
        ns.iter().copied().map(Uuid::from_u128).collect()
    }

    #[test]
    fn a_stored_batch_is_found_where_it_starts() {
        assert_eq!(find(&ids(&[2, 3]), &ids(&[1, 2, 3, 4])), Found::Batch(1));
        assert_eq!(find(&ids(&[1, 2, 3]), &ids(&[1, 2, 3])), Found::Batch(0));
        assert_eq!(find(&ids(&[4]), &ids(&[1, 2, 3, 4])), Found::Batch(3));
    }

    #[test]
    fn new_ids_are_absent() {
        assert_eq!(find(&ids(&[7, 8]), &ids(&[1, 2, 3])), Found::Absent);
        assert_eq!(find(&ids(&[7]), &[]), Found::Absent);
        assert_eq!(find(&[], &ids(&[1])), Found::Absent);
    }

    #[test]
    fn reordered_or_mixed_batches_are_reuses() {
        assert_eq!(
            find(&ids(&[3, 2, 1]), &ids(&[1, 2, 3, 4])),
            Found::Reused(Uuid::from_u128(3))
        );
        assert_eq!(
            find(&ids(&[1, 2, 9]), &ids(&[1, 2, 3, 4])),
            Found::Reused(Uuid::from_u128(1))
        );
        assert_eq!(
            find(&ids(&[9, 2]), &ids(&[1, 2, 3])),
            Found::Reused(Uuid::from_u128(2))
        );
        assert_eq!(
            find(&ids(&[3, 4, 5]), &ids(&[1, 2, 3, 4])),
            Found::Reused(Uuid::from_u128(3))
        );
    }

    #[test]
    fn repeated_ids_in_a_batch_are_named() {
        assert_eq!(repeated(&ids(&[1, 2, 3])), None);
        assert_eq!(repeated(&ids(&[1, 2, 1])), Some(Uuid::from_u128(1)));
        assert_eq!(repeated(&[]), None);
    }
}
