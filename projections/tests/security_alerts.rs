//! The `security_alerts` read model: the trail of a licence, each alert
//! linked to the events that caused it.

mod support;

use support::{WRONG_CODE, World, at};
use twostep_domain::{AlertKind, Channel, LicenceEvent, PolicyPatch, Timestamp};
use twostep_projections::{AlertCause, AlertView};
use twostep_store::RecordedEvent;

fn cause(recorded: &RecordedEvent) -> AlertCause {
    AlertCause {
        stream: recorded.stream.clone(),
        version: recorded.version,
        event_id: Some(recorded.event_id),
        event_type: Some(recorded.event_type.clone()),
        recorded_at: Some(Timestamp::new(recorded.recorded_at)),
    }
}

fn alert_id(recorded: &RecordedEvent) -> uuid::Uuid {
    match support::licence_event(recorded) {
        LicenceEvent::SecurityAlertRaised(alert) => alert.alert_id,
        other => panic!("not an alert: {other:?}"),
    }
}

#[tokio::test]
async fn a_contact_change_alert_links_the_change() {
    let mut world = World::new().await;
    let acme = world.register("acme").await;
    world
        .enable("acme", Channel::Email, PolicyPatch::default())
        .await;
    let alice = world
        .create_user("acme", "alice", "alice@example.com", Some("+32470123456"))
        .await;
    let changed = world
        .update_user(
            "acme",
            "alice",
            Some("alice@new.example"),
            Some(Some("+32470999888")),
        )
        .await;
    let models = world.read_models("readmodels.sqlite3");
    models.catch_up(&world.store).await.expect("catch up");

    let alerts = models
        .security_alerts(acme, None, 100)
        .await
        .expect("alerts");
    let expected = AlertView {
        alert_id: alert_id(&changed[2]),
        kind: AlertKind::ContactChanged,
        user_id: alice.0,
        login: Some("alice".into()),
        raised_at: Timestamp::new(changed[2].recorded_at),
        position: changed[2].position,
        caused_by: vec![cause(&changed[0]), cause(&changed[1])],
    };
    assert_eq!(alerts, [expected]);
    let json = serde_json::to_value(&alerts[0]).expect("alerts serialise");
    assert_eq!(json["kind"], "contact_changed");
    assert_eq!(json["caused_by"][0]["event_type"], "UserEmailChanged");
}

#[tokio::test]
async fn causes_projected_in_earlier_batches_are_read_back_from_the_store() {
    let mut world = World::new().await;
    let acme = world.register("acme").await;
    let strict = PolicyPatch {
        max_failed_passwords: Some(3),
        ..PolicyPatch::default()
    };
    world.enable("acme", Channel::Email, strict).await;
    world
        .create_user("acme", "alice", "alice@example.com", None)
        .await;
    let models = world.read_models("readmodels.sqlite3");
    let mut attempts = Vec::new();
    for k in 1..=3 {
        attempts.extend(world.password("acme", "alice", false, at(k * 10)).await);
        // One catch-up per attempt: the lock's batch holds only its own append.
        models.catch_up(&world.store).await.expect("catch up");
    }
    let types: Vec<&str> = attempts.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "PasswordRejected",
            "PasswordRejected",
            "PasswordRejected",
            "AccountLocked",
            "SecurityAlertRaised"
        ]
    );

    let alerts = models
        .security_alerts(acme, None, 100)
        .await
        .expect("alerts");
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, AlertKind::AccountLockedByPasswords);
    assert_eq!(alerts[0].position, attempts[4].position);
    assert_eq!(
        alerts[0].caused_by,
        attempts[..4].iter().map(cause).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn alerts_are_filtered_by_time_limited_and_kept_per_licence() {
    let mut world = World::new().await;
    let acme = world.register("acme").await;
    let strict = PolicyPatch {
        max_failed_codes: Some(2),
        ..PolicyPatch::default()
    };
    world.enable("acme", Channel::Email, strict).await;
    world
        .create_user("acme", "alice", "alice@example.com", None)
        .await;
    let globex = world.register("globex").await;
    world
        .enable("globex", Channel::Email, PolicyPatch::default())
        .await;
    world
        .create_user("globex", "carol", "carol@example.com", None)
        .await;

    world.password("acme", "alice", true, at(0)).await;
    let first = world.code("acme", "alice", WRONG_CODE, at(10)).await;
    world.password("acme", "alice", true, at(20)).await;
    let second = world.code("acme", "alice", WRONG_CODE, at(30)).await;
    world.password("globex", "carol", true, at(0)).await;
    world.report_latest_code("globex", "carol", at(40)).await;

    let models = world.read_models("readmodels.sqlite3");
    models.catch_up(&world.store).await.expect("catch up");
    let acme_alerts = models
        .security_alerts(acme, None, 100)
        .await
        .expect("alerts");
    let kinds: Vec<AlertKind> = acme_alerts.iter().map(|a| a.kind).collect();
    assert_eq!(
        kinds,
        [
            AlertKind::WrongCodeAfterRightPassword,
            AlertKind::AccountLockedByCodes
        ]
    );
    assert_eq!(acme_alerts[0].caused_by, [cause(&first[0])]);
    assert_eq!(
        acme_alerts[1].caused_by,
        [cause(&first[0]), cause(&second[0]), cause(&second[1])]
    );
    assert!(
        acme_alerts
            .iter()
            .all(|a| a.login.as_deref() == Some("alice"))
    );

    let since_second = Timestamp::new(second[0].recorded_at);
    let later = models
        .security_alerts(acme, Some(since_second), 100)
        .await
        .expect("alerts");
    assert_eq!(later, acme_alerts[1..]);
    let limited = models.security_alerts(acme, None, 1).await.expect("alerts");
    assert_eq!(limited, acme_alerts[..1]);

    let globex_alerts = models
        .security_alerts(globex, None, 100)
        .await
        .expect("alerts");
    assert_eq!(globex_alerts.len(), 1);
    assert_eq!(globex_alerts[0].kind, AlertKind::UnrequestedCodeReported);
    assert_eq!(globex_alerts[0].login.as_deref(), Some("carol"));
    let types: Vec<Option<&str>> = globex_alerts[0]
        .caused_by
        .iter()
        .map(|c| c.event_type.as_deref())
        .collect();
    assert_eq!(types, [Some("CodeIssued"), Some("UnrequestedCodeReported")]);
}
