//! Reading: paging a stream, the global order, the head and its watch.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::task::JoinSet;

use super::Verdict;
use super::fixtures::{
    Context, fresh_stream, ids, new_events, positions_increase, read_all_until, versions, within,
};
use crate::ExpectedVersion::{Any, Exact, NoStream};
use crate::{EventStore, Position, RecordedEvent, read_whole_stream};

/// `read_stream` returns the events after a version, oldest first, at most
/// `limit` of them, so a reader pages forwards through a stream.
pub async fn reads_stream_forwards_with_paging(store: Arc<dyn EventStore>) -> Verdict {
    let stream = fresh_stream("paging");
    let mut appended = Vec::new();
    for (expected, count) in [(NoStream, 1), (Exact(1), 4), (Exact(5), 5)] {
        appended.extend(
            store
                .append(&stream, expected, new_events(count))
                .await
                .context("appending")?
                .recorded,
        );
    }
    let mut paged = Vec::new();
    let mut after = 0;
    for expected in [
        vec![1, 2, 3],
        vec![4, 5, 6],
        vec![7, 8, 9],
        vec![10],
        vec![],
    ] {
        let page = store
            .read_stream(&stream, after, 3)
            .await
            .context("reading a page")?;
        ensure_eq!(
            versions(&page),
            expected,
            "versions of the page after version {after}"
        );
        after = page.last().map_or(after, |e| e.version);
        paged.extend(page);
    }
    ensure_eq!(paged, appended, "events read page by page");

    let middle = store
        .read_stream(&stream, 4, 100)
        .await
        .context("reading after version 4")?;
    ensure_eq!(
        versions(&middle),
        (5..=10).collect::<Vec<_>>(),
        "versions after version 4"
    );
    let none = store
        .read_stream(&stream, 0, 0)
        .await
        .context("reading with limit 0")?;
    ensure!(
        none.is_empty(),
        "a limit of 0 returned {} events",
        none.len()
    );
    let past = store
        .read_stream(&stream, 10, 5)
        .await
        .context("reading past the end")?;
    ensure!(
        past.is_empty(),
        "reading after the last version returned {} events",
        past.len()
    );
    let beyond = store
        .read_stream(&stream, u64::MAX, usize::MAX)
        .await
        .context("reading after the largest version")?;
    ensure!(
        beyond.is_empty(),
        "reading after version u64::MAX returned {} events",
        beyond.len()
    );
    let unknown = store
        .read_stream(&fresh_stream("paging-unknown"), 0, 10)
        .await
        .context("reading an unknown stream")?;
    ensure!(
        unknown.is_empty(),
        "an unknown stream returned {} events",
        unknown.len()
    );
    Ok(())
}

/// `read_all(after, …)` starts strictly after `after`: the event at `after`
/// itself is never returned again.
///
/// Positions need not be dense (KurrentDB's are byte offsets in its log), so
/// the position "just before" an event is the position of the event before
/// it in the global order, never `position - 1`: a store need only accept
/// 0, its head, and positions it returned.
pub async fn read_all_is_exclusive_of_position(store: Arc<dyn EventStore>) -> Verdict {
    let start = store.head().await.context("head")?;
    let stream = fresh_stream("exclusive");
    let mut mine: Vec<RecordedEvent> = Vec::new();
    for expected in [NoStream, Exact(1), Exact(2)] {
        mine.extend(
            store
                .append(&stream, expected, new_events(1))
                .await
                .context("appending")?
                .recorded,
        );
    }
    let [first, second, third] = mine.as_slice() else {
        return Err(format!(
            "three single-event appends recorded {} events",
            mine.len()
        ));
    };
    positions_increase(&mine, "positions of successive appends")?;

    let global = read_all_until(store.as_ref(), start, third.position).await?;
    for event in [first, second, third] {
        let before = global
            .iter()
            .take_while(|e| e.position < event.position)
            .last()
            .map_or(start, |e| e.position);
        let next = store
            .read_all(before, 1)
            .await
            .context("read_all from the event before an event")?;
        ensure_eq!(
            ids(&next),
            vec![event.event_id],
            "read_all(position {before} of the event before position {}, 1)",
            event.position
        );
    }
    let after_first = read_all_until(store.as_ref(), first.position, third.position).await?;
    ensure!(
        after_first.iter().all(|e| e.position > first.position),
        "read_all after {} returned an event at or before it",
        first.position
    );
    let mine_after: Vec<_> = after_first
        .into_iter()
        .filter(|e| e.stream == stream)
        .collect();
    ensure_eq!(
        ids(&mine_after),
        vec![second.event_id, third.event_id],
        "events read after the first one"
    );

    let after_last = store
        .read_all(third.position, 10)
        .await
        .context("read_all after the last event")?;
    ensure!(
        after_last.iter().all(|e| e.position > third.position),
        "read_all after {} went back",
        third.position
    );
    ensure!(
        after_last.iter().all(|e| e.stream != stream),
        "read_all after the last event returned one of ours"
    );
    let beyond = store
        .read_all(Position::MAX, usize::MAX)
        .await
        .context("read_all after the largest position")?;
    ensure!(
        beyond.is_empty(),
        "read_all after position u64::MAX returned {} events",
        beyond.len()
    );
    let none = store
        .read_all(start, 0)
        .await
        .context("read_all with limit 0")?;
    ensure!(
        none.is_empty(),
        "read_all with a limit of 0 returned {} events",
        none.len()
    );
    Ok(())
}

/// Appends racing over several streams: each stream's versions are dense,
/// its positions increase with its versions, and the global order, filtered
/// to one stream, is that stream.
pub async fn global_order_is_consistent_with_each_stream(store: Arc<dyn EventStore>) -> Verdict {
    const STREAMS: usize = 3;
    const TASKS: usize = 9;
    const APPENDS: u64 = 6;
    let start = store.head().await.context("head")?;
    let streams: Vec<String> = (0..STREAMS).map(|_| fresh_stream("global-order")).collect();
    let mut tasks = JoinSet::new();
    for task in 0..TASKS {
        let (store, stream) = (Arc::clone(&store), streams[task % STREAMS].clone());
        tasks.spawn(async move {
            let mut recorded = Vec::new();
            for n in 0..APPENDS {
                let outcome = store
                    .append(&stream, Any, new_events(1 + n % 2))
                    .await
                    .context("appending")?;
                recorded.extend(outcome.recorded);
            }
            Ok::<_, String>(recorded)
        });
    }
    let mut acknowledged = Vec::new();
    while let Some(joined) = within("racing appends", tasks.join_next()).await? {
        acknowledged.extend(joined.map_err(|err| format!("an appending task failed: {err}"))??);
    }
    let last = acknowledged
        .iter()
        .map(|e| e.position)
        .max()
        .unwrap_or(start);
    let global = read_all_until(store.as_ref(), start, last).await?;
    positions_increase(&global, "read_all")?;

    let mut by_stream: BTreeMap<&str, Vec<RecordedEvent>> = BTreeMap::new();
    for event in global.iter().filter(|e| streams.contains(&e.stream)) {
        by_stream
            .entry(event.stream.as_str())
            .or_default()
            .push(event.clone());
    }
    let mut total = 0;
    for stream in &streams {
        let stored = read_whole_stream(store.as_ref(), stream)
            .await
            .context("read_stream")?;
        let expected: Vec<u64> = (1..=stored.len() as u64).collect();
        ensure_eq!(versions(&stored), expected, "versions of {stream}");
        positions_increase(&stored, "positions within a stream")?;
        let in_global = by_stream.get(stream.as_str()).cloned().unwrap_or_default();
        ensure_eq!(in_global, stored, "{stream} as read_all orders it");
        total += stored.len();
    }
    ensure_eq!(
        total,
        acknowledged.len(),
        "events stored against events acknowledged"
    );
    Ok(())
}

/// After an append is acknowledged, `head` is at or past its last position
/// and the watch channel reaches it too, never passing the head.
pub async fn head_and_watch_follow_commits(store: Arc<dyn EventStore>) -> Verdict {
    let mut watch = store.watch();
    let outcome = store
        .append(&fresh_stream("head"), NoStream, new_events(2))
        .await
        .context("appending")?;
    let last = outcome.recorded.last().map_or(0, |e| e.position);
    let head = store.head().await.context("head")?;
    ensure!(
        head >= last,
        "head {head} is before the acknowledged position {last}"
    );
    within("the watch channel reaching the appended position", async {
        while *watch.borrow_and_update() < last {
            if watch.changed().await.is_err() {
                return Err("the watch channel closed".to_string());
            }
        }
        Ok(())
    })
    .await??;
    let seen = *watch.borrow();
    let head = store.head().await.context("head")?;
    ensure!(
        seen <= head,
        "the watch channel announced position {seen} beyond the head {head}"
    );
    Ok(())
}

/// A reader that has read a stream to its end (or found it empty) sees what
/// is appended afterwards: an adapter that remembers stream heads to skip
/// queries must never answer from a stale one.
pub async fn reads_see_appends_made_after_reading_to_the_end(
    store: Arc<dyn EventStore>,
) -> Verdict {
    let stream = fresh_stream("read-then-append");
    let before = store
        .read_stream(&stream, 0, 10)
        .await
        .context("reading an empty stream")?;
    if !before.is_empty() {
        return Err(format!("a fresh stream read back {} events", before.len()));
    }
    for round in 0..3u64 {
        let appended = store
            .append(&stream, Exact(round * 2), new_events(2))
            .await
            .context("appending")?
            .recorded;
        let read = store
            .read_stream(&stream, round * 2, 10)
            .await
            .context("reading after an append")?;
        if ids(&read) != ids(&appended) {
            return Err(format!(
                "after reading to version {}, then appending 2 events, the next read returned versions {:?}",
                round * 2,
                versions(&read)
            ));
        }
        let past_end = store
            .read_stream(&stream, round * 2 + 2, 10)
            .await
            .context("reading past the end")?;
        if !past_end.is_empty() {
            return Err(format!(
                "reading after the last version returned {:?}",
                versions(&past_end)
            ));
        }
    }
    Ok(())
}
