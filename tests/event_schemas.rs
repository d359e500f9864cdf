//! Every event type the service writes has a JSON Schema in
//! `schemas/events/`, the committed schemas are the generated ones, and
//! every event a whole scripted run writes validates against its schema.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use support::{PASSWORD, Service, ServiceOptions, SmsReceiver, StoredEvent, code_in, param_in};

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas/events")
}

fn json_files(dir: &Path) -> Vec<(String, Value)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (
                name,
                serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap(),
            )
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

#[test]
fn committed_schemas_equal_the_generated_ones() {
    let generated = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_twostep-under-test"))
        .args(["schemas", "--out"])
        .arg(generated.path())
        .status()
        .unwrap();
    assert!(status.success());
    let fresh = json_files(generated.path());
    let committed = json_files(&schema_dir());
    let names =
        |files: &[(String, Value)]| files.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&committed),
        names(&fresh),
        "event types differ: run `cargo run -- schemas`"
    );
    for ((name, old), (_, new)) in committed.iter().zip(&fresh) {
        assert!(
            old == new,
            "schemas/events/{name}.json is stale: run `cargo run -- schemas`"
        );
    }
}

fn outbox_mails(service: &Service) -> Vec<String> {
    let dir = service.data_dir.join("outbox").join("email");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect()
}

async fn wait_for_mails(service: &Service, count: usize) -> Vec<String> {
    for _ in 0..500 {
        let mails = outbox_mails(service);
        if mails.len() >= count {
            return mails;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("fewer than {count} e-mails in the outbox");
}

fn envelope(event: &StoredEvent) -> Value {
    json!({
        "event_id": event.event_id,
        "stream": event.stream,
        "version": event.version,
        "position": event.position,
        "event_type": event.event_type,
        "schema_version": event.schema_version,
        "recorded_at": event.recorded_at,
        "data": event.data,
        "metadata": event.metadata,
    })
}

/// Drives the service through every kind of event and returns it.
async fn whole_run(sms: &SmsReceiver) -> Service {
    let service = Service::start(ServiceOptions {
        sms_gateway_url: Some(sms.url()),
        ..Default::default()
    })
    .await;
    let policy = json!({ "max_failed_codes": 2, "max_failed_passwords": 2, "lock_seconds": 1, "resend_interval_seconds": 1, "code_ttl_seconds": 60 });
    service.licence_with_2fa("Schemas", "email", policy).await;
    assert_eq!(
        service
            .create_user(
                "Schemas",
                "alice",
                "alice@example.com",
                Some("+32470123456")
            )
            .await
            .status,
        201
    );
    let token = param_in(&wait_for_mails(&service, 1).await[0], "token").unwrap();
    assert_eq!(
        service
            .post(
                "/v1/access/confirm",
                json!({ "token": token, "password": PASSWORD })
            )
            .await
            .status,
        200
    );
    assert_eq!(
        service
            .post(
                "/v1/password/reminder",
                json!({ "licence": "Schemas", "login": "alice" })
            )
            .await
            .status,
        202
    );
    wait_for_mails(&service, 2).await;
    assert_eq!(
        service
            .password_step("Schemas", "mallory", PASSWORD)
            .await
            .status,
        401
    );

    // Locked by passwords, refused while locked, lock expires.
    for _ in 0..2 {
        assert_eq!(
            service
                .password_step("Schemas", "alice", "wrong password!")
                .await
                .status,
            401
        );
    }
    assert_eq!(
        service
            .password_step("Schemas", "alice", PASSWORD)
            .await
            .status,
        423
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    // A wrong code, then a new code and a session, then logout.
    let step = service.password_step("Schemas", "alice", PASSWORD).await;
    assert_eq!(step.body["status"], "code_sent", "{}", step.raw);
    let wrong = service
        .code_step(step.body["challenge_id"].as_str().unwrap(), "000000")
        .await;
    assert_eq!(wrong.status, 401);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let step = service.password_step("Schemas", "alice", PASSWORD).await;
    assert_eq!(step.body["status"], "code_sent", "{}", step.raw);
    let mails = wait_for_mails(&service, 4).await;
    let code = code_in(mails[3].split_once("\r\n\r\n").unwrap().1, 6).unwrap();
    let session = service
        .code_step(step.body["challenge_id"].as_str().unwrap(), &code)
        .await;
    assert_eq!(session.status, 200, "{}", session.raw);
    let token = session.body["session_token"].as_str().unwrap();
    assert_eq!(
        service
            .call(Method::DELETE, "/v1/session", None, Some(token))
            .await
            .status,
        204
    );

    // Report an unrequested code.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(
        service
            .password_step("Schemas", "alice", PASSWORD)
            .await
            .body["status"],
        "code_sent"
    );
    let mails = wait_for_mails(&service, 5).await;
    let report = param_in(&mails[4], "report").unwrap();
    assert_eq!(
        service
            .post(
                "/v1/security/unrequested-code",
                json!({ "report_token": report })
            )
            .await
            .status,
        202
    );

    // Lock again, lifted by an operator.
    for _ in 0..2 {
        assert_eq!(
            service
                .password_step("Schemas", "alice", "wrong password!")
                .await
                .status,
            401
        );
    }
    let lift = service
        .operator(
            Method::DELETE,
            "/v1/licences/Schemas/users/alice/lockout",
            Some(json!({ "reason": "called support" })),
        )
        .await;
    assert_eq!(lift.body["lifted"], true, "{}", lift.raw);

    // Manage users.
    let user = "/v1/licences/Schemas/users/alice";
    let changed = service
        .operator(
            Method::PUT,
            user,
            Some(json!({ "email": "alice@new.example.com", "mobile": "+32470999999" })),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.raw);
    assert_eq!(
        service
            .operator(Method::PUT, user, Some(json!({ "active": false })))
            .await
            .status,
        200
    );
    assert_eq!(
        service
            .operator(Method::PUT, user, Some(json!({ "active": true })))
            .await
            .status,
        200
    );

    // SMS with a failing gateway, then 2FA off.
    let sms_on = service
        .operator(
            Method::PUT,
            "/v1/licences/Schemas/two-factor",
            Some(json!({ "channel": "sms" })),
        )
        .await;
    assert_eq!(sms_on.status, 200, "{}", sms_on.raw);
    sms.fail(true);
    let failed = service.password_step("Schemas", "alice", PASSWORD).await;
    assert_eq!(
        (failed.status, failed.body["error"].as_str()),
        (503, Some("delivery_failed")),
        "{}",
        failed.raw
    );
    assert_eq!(
        service
            .operator(Method::DELETE, "/v1/licences/Schemas/two-factor", None)
            .await
            .status,
        200
    );
    service
}

#[tokio::test]
async fn every_event_written_validates_against_its_schema() {
    let sms = SmsReceiver::start().await;
    let mut service = whole_run(&sms).await;
    // A clean stop signs a last audit checkpoint (`CheckpointRecorded`).
    service.stop();
    let schemas: Vec<(String, Value)> = json_files(&schema_dir());
    let mut seen = BTreeSet::new();
    for event in service.events() {
        let schema = &schemas
            .iter()
            .find(|(name, _)| *name == event.event_type)
            .unwrap_or_else(|| {
                panic!("no schema for event type {}", event.event_type);
            })
            .1;
        let validator = jsonschema::validator_for(schema).unwrap();
        let instance = envelope(&event);
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{} at position {} does not match its schema: {errors:?}\n{instance:#}",
            event.event_type,
            event.position
        );
        seen.insert(event.event_type.clone());
    }
    let all: BTreeSet<String> = schemas.into_iter().map(|(name, _)| name).collect();
    let missing: Vec<_> = all.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "the run wrote no event of these types: {missing:?}"
    );
}
