//! The `lockout` read model: counters as the account counts them, and locks
//! that end by themselves at query time.

mod support;

use std::sync::Arc;

use support::{WRONG_CODE, World, at, types};
use twostep_domain::{Channel, PolicyPatch, UserId};
use twostep_projections::{LockoutView, ReadModels};

fn three_strikes() -> PolicyPatch {
    PolicyPatch {
        max_failed_passwords: Some(3),
        max_failed_codes: Some(3),
        lock_seconds: Some(900),
        ..PolicyPatch::default()
    }
}

async fn acme_with_alice() -> (World, UserId) {
    let mut world = World::new().await;
    world.register("acme").await;
    world.enable("acme", Channel::Email, three_strikes()).await;
    let alice = world
        .create_user("acme", "alice", "alice@example.com", None)
        .await;
    (world, alice)
}

async fn projected(world: &World) -> Arc<ReadModels> {
    let models = world.read_models("readmodels.sqlite3");
    models.catch_up(&world.store).await.expect("catch up");
    models
}

fn unlocked(failed_codes_in_a_row: u32, failed_passwords_in_a_row: u32) -> LockoutView {
    LockoutView {
        locked: false,
        locked_until: None,
        lock_cause: None,
        failed_codes_in_a_row,
        failed_passwords_in_a_row,
    }
}

#[tokio::test]
async fn an_unknown_user_has_clean_counters() {
    let (world, _) = acme_with_alice().await;
    let models = projected(&world).await;
    let nobody = World::user_id("acme", "nobody");
    assert_eq!(
        models.lockout(nobody, at(0)).await.expect("lockout"),
        unlocked(0, 0)
    );
}

#[tokio::test]
async fn wrong_passwords_count_then_lock_until_the_lock_ends_at_query_time() {
    let (mut world, alice) = acme_with_alice().await;
    world.password("acme", "alice", false, at(10)).await;
    world.password("acme", "alice", false, at(20)).await;
    let models = projected(&world).await;
    assert_eq!(
        models.lockout(alice, at(25)).await.expect("lockout"),
        unlocked(0, 2)
    );

    let locking = world.password("acme", "alice", false, at(30)).await;
    assert_eq!(
        types(&locking),
        ["PasswordRejected", "AccountLocked", "SecurityAlertRaised"]
    );
    models.catch_up(&world.store).await.expect("catch up");
    let locked = LockoutView {
        locked: true,
        locked_until: Some(at(930)),
        lock_cause: Some("passwords".into()),
        failed_codes_in_a_row: 0,
        failed_passwords_in_a_row: 3,
    };
    assert_eq!(
        models.lockout(alice, at(100)).await.expect("lockout"),
        locked
    );
    assert_eq!(
        models.lockout(alice, at(929)).await.expect("lockout"),
        locked
    );
    // No event says the lock ended (LockExpired is written at the next
    // command), but at its end it has.
    assert_eq!(
        models.lockout(alice, at(930)).await.expect("lockout"),
        unlocked(0, 0)
    );

    let next = world.password("acme", "alice", true, at(1_000)).await;
    assert_eq!(
        types(&next),
        ["LockExpired", "ChallengeOpened", "CodeIssued"]
    );
    models.catch_up(&world.store).await.expect("catch up");
    assert_eq!(
        models.lockout(alice, at(1_000)).await.expect("lockout"),
        unlocked(0, 0)
    );
}

#[tokio::test]
async fn a_right_password_resets_wrong_passwords_but_not_wrong_codes() {
    let (mut world, alice) = acme_with_alice().await;
    world.password("acme", "alice", true, at(0)).await;
    world.code("acme", "alice", WRONG_CODE, at(10)).await;
    world.password("acme", "alice", false, at(20)).await;
    world.password("acme", "alice", false, at(30)).await;
    let models = projected(&world).await;
    assert_eq!(
        models.lockout(alice, at(40)).await.expect("lockout"),
        unlocked(1, 2)
    );

    world.password("acme", "alice", true, at(40)).await;
    models.catch_up(&world.store).await.expect("catch up");
    assert_eq!(
        models.lockout(alice, at(40)).await.expect("lockout"),
        unlocked(1, 0)
    );

    let code = world.right_code("acme", "alice");
    world.code("acme", "alice", &code, at(45)).await;
    models.catch_up(&world.store).await.expect("catch up");
    assert_eq!(
        models.lockout(alice, at(45)).await.expect("lockout"),
        unlocked(0, 0)
    );
}

#[tokio::test]
async fn wrong_codes_lock_and_an_operator_lifts_the_lock() {
    let (mut world, alice) = acme_with_alice().await;
    for k in 0..3u64 {
        world.password("acme", "alice", true, at(k * 100)).await;
        world
            .code("acme", "alice", WRONG_CODE, at(k * 100 + 10))
            .await;
    }
    let models = projected(&world).await;
    let locked = LockoutView {
        locked: true,
        locked_until: Some(at(210 + 900)),
        lock_cause: Some("codes".into()),
        failed_codes_in_a_row: 3,
        failed_passwords_in_a_row: 0,
    };
    assert_eq!(
        models.lockout(alice, at(300)).await.expect("lockout"),
        locked
    );

    // While locked: a wrong password does not count, a right one is refused
    // (and resets the wrong-password streak).
    world.password("acme", "alice", false, at(310)).await;
    let refused = world.password("acme", "alice", true, at(320)).await;
    assert_eq!(types(&refused), ["LoginRefusedWhileLocked"]);
    models.catch_up(&world.store).await.expect("catch up");
    assert_eq!(
        models.lockout(alice, at(320)).await.expect("lockout"),
        locked
    );

    let lifted = world
        .lift_lock("acme", "alice", "called the help desk", at(400))
        .await;
    assert_eq!(types(&lifted), ["LockLifted"]);
    models.catch_up(&world.store).await.expect("catch up");
    assert_eq!(
        models.lockout(alice, at(400)).await.expect("lockout"),
        unlocked(0, 0)
    );
}
