//! The `login_history` read model: one entry per account or attempt event,
//! filed under its licence, described as step and outcome, cursor-paged.

mod support;

use std::sync::Arc;

use support::{WRONG_CODE, World, at, whole_history};
use twostep_domain::{Channel, LicenceId, PolicyPatch, Timestamp};
use twostep_projections::{HistoryEntry, HistoryQuery, ReadModels};
use twostep_store::RecordedEvent;
use uuid::Uuid;

/// acme (e-mail codes): alice fails, retries and logs in, then out; bob logs
/// in; someone tries an unknown login. globex (no 2FA): carol logs in.
/// Somebody tries a licence nobody registered.
struct Story {
    world: World,
    models: Arc<ReadModels>,
    acme: LicenceId,
    globex: LicenceId,
    /// alice's events after her creation, as recorded.
    alice_login: Vec<RecordedEvent>,
}

async fn story() -> Story {
    let mut world = World::new().await;
    let acme = world.register("acme").await;
    world
        .enable("acme", Channel::Email, PolicyPatch::default())
        .await;
    world
        .create_user("acme", "alice", "alice@example.com", None)
        .await;
    world
        .create_user("acme", "bob", "bob@example.com", None)
        .await;
    let globex = world.register("globex").await;
    world
        .create_user("globex", "carol", "carol@example.com", None)
        .await;

    let mut alice = Vec::new();
    alice.extend(world.password("acme", "alice", false, at(10)).await);
    alice.extend(world.password("acme", "alice", true, at(20)).await);
    alice.extend(world.code_delivery("acme", "alice", true, at(21)).await);
    alice.extend(world.code("acme", "alice", WRONG_CODE, at(30)).await);
    alice.extend(world.password("acme", "alice", true, at(40)).await);
    let code = world.right_code("acme", "alice");
    alice.extend(world.code("acme", "alice", &code, at(50)).await);
    alice.extend(world.logout("acme", "alice", at(60)).await);
    world.login("acme", "bob", at(70)).await;
    world.unknown_login(Some("acme")).await;
    world.password("globex", "carol", true, at(80)).await;
    world.unknown_login(None).await;

    let models = world.read_models("readmodels.sqlite3");
    models.catch_up(&world.store).await.expect("catch up");
    Story {
        world,
        models,
        acme,
        globex,
        alice_login: alice,
    }
}

fn steps(entries: &[HistoryEntry]) -> Vec<(&str, &str)> {
    entries
        .iter()
        .map(|e| (e.step.as_str(), e.outcome.as_str()))
        .collect()
}

fn everything() -> HistoryQuery {
    HistoryQuery {
        limit: 1_000,
        ..HistoryQuery::default()
    }
}

#[tokio::test]
async fn each_login_step_reads_as_a_step_and_an_outcome() {
    let s = story().await;
    let alice = World::user_id("acme", "alice");
    let query = HistoryQuery {
        user: Some(alice),
        ..everything()
    };
    let page = s
        .models
        .login_history(s.acme, &query)
        .await
        .expect("history");
    assert_eq!(page.next_after, None);
    assert_eq!(
        steps(&page.entries),
        [
            ("credentials", "access_confirmation_issued"),
            ("credentials", "password_set"),
            ("password", "invalid_credentials"),
            ("password", "code_sent"),
            ("code", "code_issued"),
            ("delivery", "delivered"),
            ("code", "invalid_code"),
            ("alert", "alert_raised"),
            ("password", "code_already_sent"),
            ("code", "code_accepted"),
            ("session", "authenticated"),
            ("session", "logged_out"),
        ]
    );
    let reasons: Vec<Option<&str>> = page.entries.iter().map(|e| e.reason.as_deref()).collect();
    assert_eq!(
        reasons,
        [
            None,
            Some("access_confirmation"),
            Some("wrong_password"),
            None,
            None,
            None,
            Some("wrong_code"),
            Some("wrong_code_after_right_password"),
            None,
            None,
            None,
            None
        ]
    );
    assert!(
        page.entries
            .iter()
            .all(|e| e.login.as_deref() == Some("alice") && e.user_id == Some(alice.0))
    );
}

#[tokio::test]
async fn entries_carry_the_event_and_its_metadata() {
    let s = story().await;
    let alice = World::user_id("acme", "alice");
    let query = HistoryQuery {
        user: Some(alice),
        ..everything()
    };
    let entries = s
        .models
        .login_history(s.acme, &query)
        .await
        .expect("history")
        .entries;
    let after_creation = &entries[2..];
    assert_eq!(after_creation.len(), s.alice_login.len());
    for (entry, recorded) in after_creation.iter().zip(&s.alice_login) {
        assert_eq!(entry.position, recorded.position);
        assert_eq!(entry.event_id, recorded.event_id);
        assert_eq!(entry.event_type, recorded.event_type);
        assert_eq!(entry.at, Timestamp::new(recorded.recorded_at));
        assert_eq!(entry.client_ip, recorded.metadata.client_ip);
        assert_eq!(entry.user_agent, recorded.metadata.user_agent);
        assert_eq!(entry.correlation_id, Some(recorded.metadata.correlation_id));
    }
    let issued = entries
        .iter()
        .find(|e| e.outcome == "code_issued")
        .expect("a code_issued entry");
    let opened = entries
        .iter()
        .find(|e| e.outcome == "code_sent")
        .expect("a code_sent entry");
    assert_eq!(issued.channel.as_deref(), Some("email"));
    assert_eq!(issued.destination.as_deref(), Some("a***@example.com"));
    assert_eq!(issued.challenge_id, opened.challenge_id);
    assert_eq!(issued.code_id, opened.code_id);
    assert!(issued.code_id.is_some() && issued.challenge_id.is_some());
    let delivered = entries
        .iter()
        .find(|e| e.outcome == "delivered")
        .expect("a delivered entry");
    assert_eq!(delivered.code_id, issued.code_id);
    let session = entries
        .iter()
        .find(|e| e.outcome == "authenticated")
        .expect("an authenticated entry");
    assert_eq!(session.channel.as_deref(), Some("email"));
    let json = serde_json::to_value(issued).expect("entries serialise");
    assert_eq!(json["at"], serde_json::json!(issued.at.rfc3339()));
}

#[tokio::test]
async fn histories_are_per_licence_and_unknown_logins_are_filed_under_theirs() {
    let s = story().await;
    let acme = s
        .models
        .login_history(s.acme, &everything())
        .await
        .expect("history")
        .entries;
    let logins: std::collections::BTreeSet<Option<&str>> =
        acme.iter().map(|e| e.login.as_deref()).collect();
    assert_eq!(
        logins,
        [None, Some("alice"), Some("bob")].into_iter().collect()
    );
    let unknown: Vec<&HistoryEntry> = acme
        .iter()
        .filter(|e| e.outcome == "unknown_login")
        .collect();
    assert_eq!(unknown.len(), 1);
    assert_eq!(
        (unknown[0].step.as_str(), unknown[0].user_id),
        ("password", None)
    );

    let globex = s
        .models
        .login_history(s.globex, &everything())
        .await
        .expect("history")
        .entries;
    assert_eq!(
        steps(&globex),
        [
            ("credentials", "access_confirmation_issued"),
            ("credentials", "password_set"),
            ("session", "authenticated")
        ]
    );
    assert_eq!(globex[2].channel, None, "no second factor without 2FA");
    let positions: Vec<u64> = acme.iter().chain(&globex).map(|e| e.position).collect();
    let head = s.world.store.head().await.expect("head");
    assert!(
        !positions.contains(&head),
        "the attempt on an unknown licence is in no history"
    );
}

#[tokio::test]
async fn pages_follow_the_cursor_without_gaps_or_repeats() {
    let s = story().await;
    let all = s
        .models
        .login_history(s.acme, &everything())
        .await
        .expect("history")
        .entries;
    assert!(all.windows(2).all(|w| w[0].position < w[1].position));
    for limit in [1, 3, 7, all.len(), all.len() + 1] {
        let paged = whole_history(
            &s.models,
            s.acme,
            HistoryQuery {
                limit,
                ..HistoryQuery::default()
            },
        )
        .await;
        assert_eq!(paged, all, "pages of {limit}");
    }
    let first = s
        .models
        .login_history(
            s.acme,
            &HistoryQuery {
                limit: 3,
                ..HistoryQuery::default()
            },
        )
        .await
        .expect("history");
    assert_eq!(first.next_after, Some(all[2].position));
    let exact = HistoryQuery {
        limit: all.len(),
        ..HistoryQuery::default()
    };
    let full = s
        .models
        .login_history(s.acme, &exact)
        .await
        .expect("history");
    assert_eq!(
        full.next_after,
        Some(all[all.len() - 1].position),
        "a full page may have more"
    );
    let after_last = HistoryQuery {
        after: full.next_after,
        ..exact
    };
    let empty = s
        .models
        .login_history(s.acme, &after_last)
        .await
        .expect("history");
    assert_eq!((empty.entries.len(), empty.next_after), (0, None));
}

#[tokio::test]
async fn filters_combine_by_user_time_and_outcome() {
    let s = story().await;
    let all = s
        .models
        .login_history(s.acme, &everything())
        .await
        .expect("history")
        .entries;
    let bob = World::user_id("acme", "bob");

    let failures = HistoryQuery {
        outcome: Some("invalid_credentials".into()),
        ..everything()
    };
    let found = s
        .models
        .login_history(s.acme, &failures)
        .await
        .expect("history")
        .entries;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].login.as_deref(), Some("alice"));

    let bobs_sessions = HistoryQuery {
        user: Some(bob),
        outcome: Some("authenticated".into()),
        ..everything()
    };
    let found = s
        .models
        .login_history(s.acme, &bobs_sessions)
        .await
        .expect("history")
        .entries;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].login.as_deref(), Some("bob"));

    // Times are the store's: pick the instants of two entries as bounds.
    let from = all
        .iter()
        .find(|e| e.outcome == "code_already_sent")
        .expect("an entry")
        .at;
    let to = all
        .iter()
        .find(|e| e.outcome == "logged_out")
        .expect("an entry")
        .at;
    let window = HistoryQuery {
        from: Some(from),
        to: Some(to),
        ..everything()
    };
    let found = s
        .models
        .login_history(s.acme, &window)
        .await
        .expect("history")
        .entries;
    let expected: Vec<HistoryEntry> = all
        .iter()
        .filter(|e| e.at >= from && e.at < to)
        .cloned()
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(found, expected);
    assert!(found.iter().all(|e| e.outcome != "logged_out" || e.at < to));

    let unknown_outcome = HistoryQuery {
        outcome: Some("no_such_outcome".into()),
        ..everything()
    };
    let page = s
        .models
        .login_history(s.acme, &unknown_outcome)
        .await
        .expect("history");
    assert_eq!((page.entries.len(), page.next_after), (0, None));
    let nothing = HistoryQuery {
        limit: 0,
        ..everything()
    };
    assert!(
        s.models
            .login_history(s.acme, &nothing)
            .await
            .expect("history")
            .entries
            .is_empty()
    );

    let nobody = HistoryQuery {
        user: Some(World::user_id("acme", "nobody")),
        ..everything()
    };
    assert!(
        s.models
            .login_history(s.acme, &nobody)
            .await
            .expect("history")
            .entries
            .is_empty()
    );
    let elsewhere = s
        .models
        .login_history(LicenceId(Uuid::nil()), &everything())
        .await
        .expect("history");
    assert!(elsewhere.entries.is_empty());
}

#[tokio::test]
async fn locks_resets_and_reports_are_in_the_history() {
    let mut world = World::new().await;
    let acme = world.register("acme").await;
    let strict = PolicyPatch {
        max_failed_passwords: Some(2),
        ..PolicyPatch::default()
    };
    world.enable("acme", Channel::Email, strict).await;
    world
        .create_user("acme", "alice", "alice@example.com", None)
        .await;
    world.password("acme", "alice", false, at(10)).await;
    world.password("acme", "alice", false, at(20)).await;
    world
        .lift_lock("acme", "alice", "verified by phone", at(30))
        .await;
    world.password("acme", "alice", true, at(40)).await;
    world.code_delivery("acme", "alice", false, at(41)).await;
    world.password("acme", "alice", true, at(200)).await;
    world.report_latest_code("acme", "alice", at(210)).await;
    world.reset_password("acme", "alice", at(220)).await;
    let models = world.read_models("readmodels.sqlite3");
    models.catch_up(&world.store).await.expect("catch up");
    let entries = models
        .login_history(acme, &everything())
        .await
        .expect("history")
        .entries;
    let described: Vec<(&str, &str, Option<&str>)> = entries
        .iter()
        .map(|e| (e.step.as_str(), e.outcome.as_str(), e.reason.as_deref()))
        .collect();
    assert_eq!(
        described[2..],
        [
            ("password", "invalid_credentials", Some("wrong_password")),
            ("password", "invalid_credentials", Some("wrong_password")),
            ("lock", "locked", Some("passwords")),
            ("alert", "alert_raised", Some("account_locked_by_passwords")),
            ("lock", "lock_lifted", Some("verified by phone")),
            ("password", "code_sent", None),
            ("code", "code_issued", None),
            (
                "delivery",
                "delivery_failed",
                Some("smtp: 550 mailbox unavailable")
            ),
            ("password", "code_sent", None),
            ("code", "code_issued", None),
            ("alert", "unrequested_code_reported", None),
            ("alert", "alert_raised", Some("unrequested_code_reported")),
            ("credentials", "password_reset_requested", None),
            ("credentials", "password_set", Some("password_reset")),
        ]
    );
}
