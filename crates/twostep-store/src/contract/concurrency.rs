//! Many writers at once: optimistic concurrency under contention.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::task::JoinSet;
use uuid::Uuid;

use super::Verdict;
use super::fixtures::{
    Context, fresh_stream, ids, new_event, positions_increase, versions, within,
};
use crate::ExpectedVersion::Exact;
use crate::{EventStore, StoreError, read_whole_stream};

/// 16 tasks × 50 appends to one stream, each with the version it last saw,
/// retrying on conflict: the stream ends with versions 1..=800, every
/// acknowledged event exactly once, positions increasing.
pub async fn concurrent_appends_to_one_stream_keep_versions_dense(
    store: Arc<dyn EventStore>,
) -> Verdict {
    const TASKS: usize = 16;
    const APPENDS: usize = 50;
    let stream = fresh_stream("contended");
    let mut tasks = JoinSet::new();
    for _ in 0..TASKS {
        let (store, stream) = (Arc::clone(&store), stream.clone());
        tasks.spawn(async move { append_with_retries(store.as_ref(), &stream, APPENDS).await });
    }
    let mut acknowledged = Vec::new();
    while let Some(joined) = within("contended appends", tasks.join_next()).await? {
        acknowledged.extend(joined.map_err(|err| format!("an appending task failed: {err}"))??);
    }
    let stored = read_whole_stream(store.as_ref(), &stream)
        .await
        .context("reading the stream back")?;
    let total = (TASKS * APPENDS) as u64;
    ensure_eq!(
        versions(&stored),
        (1..=total).collect::<Vec<_>>(),
        "versions of the contended stream"
    );
    positions_increase(&stored, "positions of the contended stream")?;
    let stored_ids: BTreeSet<Uuid> = ids(&stored).into_iter().collect();
    ensure_eq!(
        stored_ids.len(),
        stored.len(),
        "distinct ids stored (an id was stored twice)"
    );
    let acknowledged_ids: BTreeSet<Uuid> = acknowledged.iter().map(|(id, _)| *id).collect();
    ensure_eq!(
        acknowledged_ids,
        stored_ids,
        "ids acknowledged against ids stored"
    );
    for (id, version) in acknowledged {
        let at = version
            .checked_sub(1)
            .and_then(|v| usize::try_from(v).ok())
            .and_then(|index| stored.get(index))
            .map(|e| e.event_id);
        ensure_eq!(
            at,
            Some(id),
            "event stored at the version its append acknowledged ({version})"
        );
    }
    Ok(())
}

/// 32 tasks, each appending 25 times to a stream of its own: every event is
/// recorded, at a position no other event has.
pub async fn concurrent_appends_to_many_streams_are_all_recorded(
    store: Arc<dyn EventStore>,
) -> Verdict {
    const TASKS: usize = 32;
    const APPENDS: usize = 25;
    let mut tasks = JoinSet::new();
    for _ in 0..TASKS {
        let store = Arc::clone(&store);
        let stream = fresh_stream("many");
        tasks.spawn(async move {
            let acknowledged = append_with_retries(store.as_ref(), &stream, APPENDS).await?;
            let stored = read_whole_stream(store.as_ref(), &stream)
                .await
                .context("reading a stream back")?;
            let expected: Vec<_> = acknowledged.iter().map(|(id, _)| *id).collect();
            ensure_eq!(ids(&stored), expected, "events of {stream}");
            Ok::<_, String>(stored.into_iter().map(|e| e.position).collect::<Vec<_>>())
        });
    }
    let mut positions = BTreeSet::new();
    let mut count = 0;
    while let Some(joined) = within("appends to many streams", tasks.join_next()).await? {
        let stream_positions =
            joined.map_err(|err| format!("an appending task failed: {err}"))??;
        count += stream_positions.len();
        positions.extend(stream_positions);
    }
    ensure_eq!(count, TASKS * APPENDS, "events recorded");
    ensure_eq!(
        positions.len(),
        count,
        "distinct positions (two events share one)"
    );
    Ok(())
}

/// Appends `count` single events to `stream`, each expecting the version last
/// seen and retrying on conflict; the ids and versions acknowledged.
async fn append_with_retries(
    store: &dyn EventStore,
    stream: &str,
    count: usize,
) -> Result<Vec<(Uuid, u64)>, String> {
    let mut acknowledged = Vec::with_capacity(count);
    let mut seen = 0;
    for n in 0..count {
        let event = new_event(n as u64);
        loop {
            match store.append(stream, Exact(seen), vec![event.clone()]).await {
                Ok(outcome) => {
                    seen = outcome.stream_version;
                    acknowledged.push((event.event_id, seen));
                    break;
                }
                Err(StoreError::WrongExpectedVersion { actual, .. }) => {
                    ensure!(
                        actual != seen,
                        "append expecting version {seen} refused although the stream is there"
                    );
                    seen = actual;
                }
                Err(err) => return Err(format!("appending to {stream}: {err} ({err:?})")),
            }
        }
    }
    Ok(acknowledged)
}
