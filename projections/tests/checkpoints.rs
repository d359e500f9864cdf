//! Checkpoints: projectors resume where they stopped, apply every event
//! exactly once, rebuild identically after a reset, skip what they cannot
//! decode, and live followers agree with a single catch-up.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::{World, at, busy_licence, busy_rounds, snapshot};
use twostep_projections::{Checkpoint, HistoryQuery, PROJECTORS, ProjectionError, ReadModels};
use twostep_store::{EventStore, ExpectedVersion, Metadata, NewEvent};
use uuid::Uuid;

const USERS: usize = 30;

/// Two licences, `users` + 4 users, about 10 events per user and round.
async fn busy_world(users: usize, rounds: std::ops::Range<u64>) -> World {
    let mut world = World::new().await.buffered();
    busy_licence(&mut world, "acme", users).await;
    busy_licence(&mut world, "globex", 4).await;
    busy_rounds(&mut world, "acme", users, rounds.clone()).await;
    busy_rounds(&mut world, "globex", 4, rounds).await;
    world.flush().await;
    world
}

/// Events that belong in some licence's history: account events and
/// attempts naming a licence.
async fn history_events(store: &Arc<dyn EventStore>) -> usize {
    let mut count = 0;
    let mut after = 0;
    loop {
        let events = store.read_all(after, 1_000).await.expect("read all");
        let Some(last) = events.last() else {
            return count;
        };
        after = last.position;
        count += events
            .iter()
            .filter(|e| e.stream.starts_with("account-"))
            .count();
    }
}

async fn single_pass(world: &World, name: &str) -> Arc<ReadModels> {
    let models = world.read_models(name);
    models.catch_up(&world.store).await.expect("catch up");
    models
}

async fn all_at(models: &ReadModels, position: u64) -> bool {
    let checkpoints = models.checkpoints().await.expect("checkpoints");
    checkpoints.iter().all(|c| c.position == position)
}

async fn wait_until_all_at(models: &ReadModels, position: u64) {
    for _ in 0..600 {
        if all_at(models, position).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the followers did not reach {position}: {:?}",
        models.checkpoints().await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_reach_the_head_and_every_history_row_is_there_once() {
    let world = busy_world(USERS, 0..8).await;
    let head = world.store.head().await.expect("head");
    assert!(head > 2_000, "several follower batches: {head}");
    let models = single_pass(&world, "readmodels.sqlite3").await;
    let expected: Vec<Checkpoint> = PROJECTORS
        .iter()
        .map(|name| Checkpoint {
            name,
            position: head,
        })
        .collect();
    assert_eq!(models.checkpoints().await.expect("checkpoints"), expected);
    let now = at(100_000);
    let snap = snapshot(&models, &world, now).await;
    let rows: usize = snap.histories.iter().map(Vec::len).sum();
    assert_eq!(rows, history_events(&world.store).await);
    let positions: std::collections::BTreeSet<u64> = snap
        .histories
        .iter()
        .flatten()
        .map(|e| e.position)
        .collect();
    assert_eq!(positions.len(), rows, "no position twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_after_a_restart_gives_what_one_pass_gives() {
    let mut world = World::new().await.buffered();
    busy_licence(&mut world, "acme", USERS).await;
    busy_rounds(&mut world, "acme", USERS, 0..3).await;
    world.flush().await;
    let resumed = single_pass(&world, "resumed.sqlite3").await;
    drop(resumed);

    busy_rounds(&mut world, "acme", USERS, 3..6).await;
    world.flush().await;
    let resumed = single_pass(&world, "resumed.sqlite3").await;
    let once = single_pass(&world, "once.sqlite3").await;
    let now = at(100_000);
    let snap = snapshot(&resumed, &world, now).await;
    assert_eq!(snap, snapshot(&once, &world, now).await);
    let rows: usize = snap.histories.iter().map(Vec::len).sum();
    assert_eq!(rows, history_events(&world.store).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_killed_at_any_moment_resume_exactly_once() {
    // More events than one catch-up transaction takes, so that a kill can
    // fall between two of them.
    let world = busy_world(110, 0..12).await;
    assert!(world.store.head().await.expect("head") > 12_000);
    let head = world.store.head().await.expect("head");
    let once = single_pass(&world, "once.sqlite3").await;
    let now = at(100_000);
    let expected = snapshot(&once, &world, now).await;
    let mut partial_kills = 0;
    // Kill the followers once the furthest of them has passed `reached`.
    for reached in [1, head / 3, head / 2, 2 * head / 3] {
        let models = world.read_models("killed.sqlite3");
        models.reset(&[]).await.expect("reset");
        let followers = models.spawn(Arc::clone(&world.store));
        loop {
            let furthest = models
                .checkpoints()
                .await
                .expect("checkpoints")
                .iter()
                .map(|c| c.position)
                .max();
            if furthest.unwrap_or(0) >= reached {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        for follower in &followers {
            follower.abort();
        }
        for follower in followers {
            let _ = follower.await;
        }
        let stopped_at = models.checkpoints().await.expect("checkpoints");
        if stopped_at.iter().any(|c| c.position < head) {
            partial_kills += 1;
        }
        drop(models);
        let reopened = world.read_models("killed.sqlite3");
        reopened.catch_up(&world.store).await.expect("catch up");
        assert!(all_at(&reopened, head).await);
        assert_eq!(
            snapshot(&reopened, &world, now).await,
            expected,
            "after a kill at {stopped_at:?}"
        );
    }
    assert!(
        partial_kills > 0,
        "at least one kill stopped a projector half-way"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_projector_rebuilds_identically() {
    let world = busy_world(USERS, 0..4).await;
    let head = world.store.head().await.expect("head");
    let models = single_pass(&world, "readmodels.sqlite3").await;
    let now = at(100_000);
    let before = snapshot(&models, &world, now).await;

    models.reset(&["login_history"]).await.expect("reset");
    let positions: Vec<(&str, u64)> = models
        .checkpoints()
        .await
        .expect("checkpoints")
        .iter()
        .map(|c| (c.name, c.position))
        .collect();
    assert_eq!(
        positions,
        [
            ("active_codes", head),
            ("lockout", head),
            ("security_alerts", head),
            ("login_history", 0)
        ]
    );
    let licence = world.licence_ids()[0];
    let emptied = models
        .login_history(licence, &HistoryQuery::default())
        .await
        .expect("history");
    assert!(emptied.entries.is_empty());
    assert_eq!(
        snapshot(&models, &world, now).await.lockouts,
        before.lockouts,
        "the others are untouched"
    );
    models.catch_up(&world.store).await.expect("catch up");
    assert_eq!(snapshot(&models, &world, now).await, before);

    models.reset(&[]).await.expect("reset all");
    assert!(all_at(&models, 0).await);
    models.catch_up(&world.store).await.expect("catch up");
    assert_eq!(snapshot(&models, &world, now).await, before);

    let refused = models.reset(&["lockout", "no_such_projector"]).await;
    assert!(
        matches!(refused, Err(ProjectionError::UnknownProjector(name)) if name == "no_such_projector")
    );
    assert!(all_at(&models, head).await, "nothing was dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_keep_up_with_new_events_and_with_a_reset_under_their_feet() {
    let mut world = World::new().await.buffered();
    busy_licence(&mut world, "acme", USERS).await;
    busy_rounds(&mut world, "acme", USERS, 0..2).await;
    world.flush().await;
    let models = world.read_models("followed.sqlite3");
    let followers = models.spawn(Arc::clone(&world.store));

    busy_rounds(&mut world, "acme", USERS, 2..5).await;
    world.flush().await;
    let head = world.store.head().await.expect("head");
    wait_until_all_at(&models, head).await;
    let now = at(100_000);
    let expected = snapshot(&*single_pass(&world, "once.sqlite3").await, &world, now).await;
    assert_eq!(snapshot(&models, &world, now).await, expected);

    // A reset and a catch-up while the followers run: nothing twice, nothing lost.
    models
        .reset(&["login_history", "security_alerts"])
        .await
        .expect("reset");
    models.catch_up(&world.store).await.expect("catch up");
    busy_rounds(&mut world, "acme", USERS, 5..6).await;
    world.flush().await;
    let head = world.store.head().await.expect("head");
    wait_until_all_at(&models, head).await;
    let expected = snapshot(&*single_pass(&world, "twice.sqlite3").await, &world, now).await;
    assert_eq!(snapshot(&models, &world, now).await, expected);
    for follower in followers {
        follower.abort();
    }
}

#[tokio::test]
async fn events_this_build_cannot_read_are_skipped_and_passed() {
    let mut world = World::new().await;
    let acme = world.register("acme").await;
    let alice = world
        .create_user("acme", "alice", "alice@example.com", None)
        .await;
    let odd = |event_type: &str, schema_version: u32| NewEvent {
        event_id: Uuid::new_v4(),
        event_type: event_type.into(),
        schema_version,
        data: serde_json::json!({ "something": "new" }),
        metadata: Metadata::default(),
    };
    let stream = alice.stream();
    world
        .store
        .append(
            &stream,
            ExpectedVersion::Any,
            vec![odd("LoginCelebrated", 1)],
        )
        .await
        .expect("append");
    world
        .store
        .append(
            &stream,
            ExpectedVersion::Any,
            vec![odd("PasswordRejected", 2)],
        )
        .await
        .expect("append");
    world
        .store
        .append(
            "licence-not-a-uuid",
            ExpectedVersion::Any,
            vec![odd("LicenceRegistered", 1)],
        )
        .await
        .expect("append");
    world
        .store
        .append(
            "some-other-stream",
            ExpectedVersion::Any,
            vec![odd("Whatever", 1)],
        )
        .await
        .expect("append");
    let head = world.store.head().await.expect("head");

    let models = single_pass(&world, "readmodels.sqlite3").await;
    assert!(all_at(&models, head).await);
    let entries = models
        .login_history(acme, &HistoryQuery::default())
        .await
        .expect("history")
        .entries;
    let outcomes: Vec<&str> = entries.iter().map(|e| e.outcome.as_str()).collect();
    assert_eq!(outcomes, ["access_confirmation_issued", "password_set"]);
    assert_eq!(
        models
            .lockout(alice, at(0))
            .await
            .expect("lockout")
            .failed_passwords_in_a_row,
        0
    );
}
