#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Credentials: a refused password step tells nothing about why, the
//! password reminder tells nothing about who exists, tokens are single-use,
//! setting a password closes the open challenge but never lifts a lock,
//! unknown logins are recorded without what was typed, every spelling of a
//! login is one account, unrequested codes can be reported, and the operator
//! and auditor tokens open exactly their endpoints.

use reqwest::Method;
use serde_json::{Value, json};
mod support;

use support::probes::{
    RawReply, audit_view, base64_std, base64url_decode, caught_up, confirmed_over_smtp,
    password_step_with, post_with,
};
use support::service::AUDITOR;
use support::{PASSWORD, Service, ServiceOptions, SmtpServer, code_in, param_in};

const LICENCE: &str = "Acme";

/// A service sending e-mail over SMTP, with the licence `Acme` on e-mail 2FA:
/// a new code at every password step, 3 wrong passwords lock for an hour.
async fn acme() -> (SmtpServer, Service) {
    let smtp = SmtpServer::start();
    let service = Service::start(ServiceOptions {
        smtp_url: Some(smtp.url()),
        ..Default::default()
    })
    .await;
    let policy =
        json!({ "resend_interval_seconds": 0, "max_failed_passwords": 3, "lock_seconds": 3600 });
    service.licence_with_2fa(LICENCE, "email", policy).await;
    (smtp, service)
}

fn email_of(login: &str) -> String {
    format!("{}@example.com", login.to_lowercase())
}

/// A user of Acme with `PASSWORD` set.
async fn user(service: &Service, smtp: &SmtpServer, login: &str) {
    confirmed_over_smtp(
        service,
        smtp,
        LICENCE,
        login,
        &email_of(login),
        None,
        PASSWORD,
    )
    .await;
}

async fn deactivate(service: &Service, login: &str) {
    let path = format!("/v1/licences/{LICENCE}/users/{login}");
    let reply = service
        .operator(Method::PUT, &path, Some(json!({ "active": false })))
        .await;
    assert_eq!(
        (reply.status, reply.body["active"].as_bool()),
        (200, Some(false)),
        "{}",
        reply.raw
    );
}

/// The password step; asserts it opened a challenge and returns its id.
async fn challenge(service: &Service, login: &str, password: &str) -> String {
    let step = service.password_step(LICENCE, login, password).await;
    assert_eq!(
        (step.status, step.body["status"].as_str()),
        (200, Some("code_sent")),
        "{}",
        step.raw
    );
    step.body["challenge_id"].as_str().unwrap().to_owned()
}

/// Sends a password reminder for `login` and returns the token of the reset
/// e-mail, which is message number `nth` to the user's address.
async fn reset_token(service: &Service, smtp: &SmtpServer, login: &str, nth: usize) -> String {
    let reply = service
        .post(
            "/v1/password/reminder",
            json!({ "licence": LICENCE, "login": login }),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.raw);
    let mail = smtp.nth_to(&email_of(login), nth).await;
    assert_eq!(mail.subject(), format!("Reset your password for {LICENCE}"));
    param_in(&mail.body(), "token").expect("a token= link in the reset e-mail")
}

fn confirm(token: &str, password: &str) -> Value {
    json!({ "token": token, "password": password })
}

fn lockout_path(login: &str) -> String {
    format!("/v1/licences/{LICENCE}/users/{login}/lockout")
}

/// Asserts that every reply is byte-identical (status, headers but `date`, body) to the first.
fn assert_all_identical(cases: &[(&str, RawReply)]) {
    let (first_name, first) = &cases[0];
    for (name, reply) in &cases[1..] {
        assert_eq!(reply.status, first.status, "{name} vs {first_name}");
        assert_eq!(
            reply.raw, first.raw,
            "{name} vs {first_name}: bodies differ"
        );
        assert_eq!(
            reply.headers, first.headers,
            "{name} vs {first_name}: headers differ"
        );
    }
}

#[tokio::test]
async fn every_refused_password_step_gets_the_same_answer() {
    let (smtp, service) = acme().await;
    user(&service, &smtp, "alice").await;
    user(&service, &smtp, "carol").await;
    deactivate(&service, "carol").await;
    let created = service
        .create_user(LICENCE, "dave", "dave@example.com", None)
        .await;
    assert_eq!(
        created.status, 201,
        "dave never sets a password: {}",
        created.raw
    );

    let long_ascii = "p".repeat(1025);
    let long_multibyte = "é".repeat(513); // 513 characters, 1026 bytes
    let attempts: [(&str, &str, &str, &str); 7] = [
        ("unknown licence", "Nowhere Inc", "alice", PASSWORD),
        ("unknown login", LICENCE, "nobody", PASSWORD),
        ("deactivated user", LICENCE, "carol", PASSWORD),
        ("no password set", LICENCE, "dave", PASSWORD),
        ("wrong password", LICENCE, "alice", "not the right password"),
        ("1025-byte password", LICENCE, "alice", &long_ascii),
        ("1026-byte password", LICENCE, "alice", &long_multibyte),
    ];
    let mut replies = Vec::new();
    for (name, licence, login, password) in attempts {
        replies.push((
            name,
            password_step_with(&service, licence, login, password, &[]).await,
        ));
    }
    let (_, first) = &replies[0];
    assert_eq!(first.status, 401, "{}", first.raw);
    assert_eq!(first.body["error"], "invalid_credentials", "{}", first.raw);
    assert_eq!(first.header("www-authenticate"), Some("Bearer"));
    assert_all_identical(&replies);

    // The refusals were all recorded, each as what it really was.
    let rejected: Vec<Value> = service
        .events_of("PasswordRejected")
        .into_iter()
        .map(|e| e.data["reason"].clone())
        .collect();
    assert_eq!(
        rejected,
        [
            json!("user_inactive"),
            json!("no_password_set"),
            json!("wrong_password")
        ]
    );
    assert_eq!(
        service.events_of("UnknownLoginAttempted").len(),
        2,
        "the unknown licence and the unknown login"
    );
    // Nothing but access e-mails left: no code was sent.
    assert_eq!(
        smtp.all().len(),
        3,
        "{:?}",
        smtp.all().iter().map(|m| m.subject()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn unknown_logins_are_recorded_without_what_was_typed() {
    let (smtp, service) = acme().await;
    user(&service, &smtp, "alice").await;
    let licence = service.auditor(&format!("/v1/licences/{LICENCE}")).await;
    assert_eq!(licence.status, 200, "{}", licence.raw);
    let licence_id = licence.body["licence_id"]
        .as_str()
        .unwrap()
        .replace('-', "");

    let typed = [
        "Mallory-Typed-This",
        " mallory-typed-this ",
        "ＭＡＬＬＯＲＹ-ＴＹＰＥＤ-ＴＨＩＳ",
        "Trudy-Typed-That",
    ];
    for login in typed {
        let reply = service.password_step(LICENCE, login, PASSWORD).await;
        assert_eq!(
            (reply.status, reply.body["error"].as_str()),
            (401, Some("invalid_credentials")),
            "{}",
            reply.raw
        );
    }
    let unknown_licence = service
        .password_step("Nowhere Inc", "Mallory-Typed-This", PASSWORD)
        .await;
    assert_eq!(unknown_licence.status, 401, "{}", unknown_licence.raw);

    let attempts = service.events_of("UnknownLoginAttempted");
    assert_eq!(attempts.len(), 5);
    for event in &attempts {
        let stored = format!("{} {}", event.data, event.metadata).to_lowercase();
        for word in [
            "mallory",
            "trudy",
            "ｍａｌｌｏｒｙ",
            "typed",
            "nowhere",
            PASSWORD,
        ] {
            assert!(!stored.contains(word), "the event keeps {word:?}: {stored}");
        }
        let digest = event.data["identifier_digest"].as_str().unwrap();
        assert!(
            digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()),
            "{digest}"
        );
    }
    let digests: Vec<&str> = attempts
        .iter()
        .map(|e| e.data["identifier_digest"].as_str().unwrap())
        .collect();
    assert_eq!(
        digests[0], digests[1],
        "two spellings of one login group together"
    );
    assert_eq!(
        digests[0], digests[2],
        "two spellings of one login group together"
    );
    assert_ne!(digests[0], digests[3], "another login is another group");
    assert_ne!(digests[0], digests[4], "another licence is another group");
    for event in &attempts[..4] {
        assert_eq!(event.stream, format!("attempts-{licence_id}"));
        assert_eq!(
            event.data["licence_id"]
                .as_str()
                .map(|id| id.replace('-', "")),
            Some(licence_id.clone())
        );
    }
    assert_eq!(attempts[4].stream, "attempts-unknown-licence");
    assert_eq!(attempts[4].data["licence_id"], Value::Null);

    // The history shows them, with no login.
    let history = audit_view(
        &service,
        &format!("/v1/licences/{LICENCE}/login-history?outcome=unknown_login"),
    )
    .await;
    let entries = history["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 4, "{history}");
    assert!(
        entries
            .iter()
            .all(|e| e["login"].is_null() && e["user_id"].is_null() && e["step"] == "password"),
        "{history}"
    );
}

#[tokio::test]
async fn every_spelling_of_a_login_reaches_the_same_counters() {
    let (smtp, service) = acme().await;
    user(&service, &smtp, "Alice").await;
    for spelling in ["alice", " ALICE", "ａｌｉｃｅ"] {
        let reply = service
            .password_step(LICENCE, spelling, "wrong password, again")
            .await;
        assert_eq!(reply.status, 401, "{spelling:?}: {}", reply.raw);
    }
    let counted: Vec<(String, Value)> = service
        .events_of("PasswordRejected")
        .into_iter()
        .map(|e| (e.stream, e.data["failed_passwords_in_a_row"].clone()))
        .collect();
    assert_eq!(counted.len(), 3);
    assert!(
        counted.iter().all(|(stream, _)| *stream == counted[0].0),
        "one account stream: {counted:?}"
    );
    assert_eq!(
        counted.iter().map(|(_, n)| n.clone()).collect::<Vec<_>>(),
        [json!(1), json!(2), json!(3)]
    );
    assert_eq!(
        service.events_of("AccountLocked").len(),
        1,
        "the third wrong password locks"
    );

    let lock = service.events_of("AccountLocked").remove(0);
    for spelling in ["alice", "ALICE", "ａｌｉｃｅ"] {
        let lockout = audit_view(&service, &lockout_path(spelling)).await;
        assert_eq!(lockout["locked"], true, "{spelling}: {lockout}");
        assert_eq!(
            lockout["failed_passwords_in_a_row"], 3,
            "{spelling}: {lockout}"
        );
        assert_eq!(lockout["lock_cause"], "passwords", "{spelling}: {lockout}");
        assert_eq!(
            lockout["locked_until"], lock.data["locked_until"],
            "{spelling}: {lockout}"
        );
    }
    let locked = service
        .password_step(LICENCE, "ＡＬＩＣＥ ", PASSWORD)
        .await;
    assert_eq!(
        (locked.status, locked.body["error"].as_str()),
        (423, Some("account_locked")),
        "{}",
        locked.raw
    );
    assert_eq!(locked.body["locked_until"], lock.data["locked_until"]);
}

#[tokio::test]
async fn the_password_reminder_tells_nothing_and_its_token_works_once() {
    let (smtp, service) = acme().await;
    user(&service, &smtp, "alice").await;

    let asks = [
        (LICENCE, "alice"),
        (LICENCE, "nobody"),
        ("Nowhere Inc", "alice"),
        (LICENCE, " ALICE "),
    ];
    let mut replies = Vec::new();
    for (licence, login) in asks {
        let body = json!({ "licence": licence, "login": login });
        replies.push((
            login,
            post_with(&service, "/v1/password/reminder", &body, &[]).await,
        ));
    }
    assert_eq!(replies[0].1.status, 202, "{}", replies[0].1.raw);
    assert_eq!(replies[0].1.body, json!({ "status": "accepted" }));
    assert_all_identical(&replies);

    // Exactly one reset e-mail: the second reminder to alice (another spelling) is throttled.
    let mail = smtp.nth_to("alice@example.com", 2).await;
    assert_eq!(mail.subject(), "Reset your password for Acme");
    let token = param_in(&mail.body(), "token").expect("a token= link in the reset e-mail");
    assert!(token.starts_with("tsp_"), "{token}");
    let resets = service.events_of("PasswordResetRequested");
    assert_eq!(
        resets.len(),
        1,
        "one reset for the existing login, none for the others"
    );

    for (what, weak) in [
        ("7 characters", "x".repeat(7)),
        ("257 characters", "x".repeat(257)),
        ("1025 bytes", "x".repeat(1025)),
    ] {
        let reply = service
            .post("/v1/access/confirm", confirm(&token, &weak))
            .await;
        assert_eq!(
            (reply.status, reply.body["error"].as_str()),
            (422, Some("weak_password")),
            "{what}: {}",
            reply.raw
        );
    }
    let new_password = "a brand new passphrase";
    let set = service
        .post("/v1/access/confirm", confirm(&token, new_password))
        .await;
    assert_eq!(
        (set.status, set.body["status"].as_str()),
        (200, Some("password_set")),
        "{}",
        set.raw
    );
    let again = service
        .post(
            "/v1/access/confirm",
            confirm(&token, "yet another passphrase"),
        )
        .await;
    assert_eq!(
        (again.status, again.body["error"].as_str()),
        (400, Some("invalid_token")),
        "single-use: {}",
        again.raw
    );
    let set_events = service.events_of("PasswordSet");
    assert_eq!(set_events.last().unwrap().data["via"], "password_reset");

    let old = service.password_step(LICENCE, "alice", PASSWORD).await;
    assert_eq!(
        (old.status, old.body["error"].as_str()),
        (401, Some("invalid_credentials")),
        "{}",
        old.raw
    );
    challenge(&service, "alice", new_password).await;

    let garbage = service
        .post(
            "/v1/access/confirm",
            confirm("tsp_not-a-token", new_password),
        )
        .await;
    assert_eq!(
        (garbage.status, garbage.body["error"].as_str()),
        (400, Some("invalid_token")),
        "{}",
        garbage.raw
    );
}

#[tokio::test]
async fn setting_a_password_closes_the_open_challenge_but_never_lifts_a_lock() {
    let (smtp, service) = acme().await;
    user(&service, &smtp, "erin").await;
    user(&service, &smtp, "frank").await;

    // erin: a code is on its way when the password changes.
    let challenge_id = challenge(&service, "erin", PASSWORD).await;
    let code = code_in(&smtp.nth_to("erin@example.com", 2).await.body(), 6).unwrap();
    let token = reset_token(&service, &smtp, "erin", 3).await;
    let set = service
        .post(
            "/v1/access/confirm",
            confirm(&token, "erin's new passphrase"),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.raw);
    let late = service.code_step(&challenge_id, &code).await;
    assert_eq!(
        (late.status, late.body["error"].as_str()),
        (401, Some("invalid_code")),
        "{}",
        late.raw
    );
    assert_eq!(late.body["next"], "password");
    let password_set = service.events_of("PasswordSet").into_iter().last().unwrap();
    let issued = service.events_of("CodeIssued").into_iter().last().unwrap();
    assert_eq!(
        password_set.data["closed_challenge"],
        issued.data["challenge_id"]
    );
    assert_eq!(password_set.data["voided_code"], issued.data["code_id"]);
    let rejected = service
        .events_of("CodeRejected")
        .into_iter()
        .last()
        .unwrap();
    assert_eq!(rejected.data["reason"], "challenge_not_open");
    assert_eq!(
        service.events_of("SessionStarted").len(),
        0,
        "setting a password never starts a session"
    );

    // frank: locked by wrong passwords, then resets his password.
    for _ in 0..3 {
        assert_eq!(
            service
                .password_step(LICENCE, "frank", "guessing frank's password")
                .await
                .status,
            401
        );
    }
    let locked = service.password_step(LICENCE, "frank", PASSWORD).await;
    assert_eq!(
        (locked.status, locked.body["error"].as_str()),
        (423, Some("account_locked")),
        "{}",
        locked.raw
    );
    let token = reset_token(&service, &smtp, "frank", 2).await;
    let new_password = "frank's new passphrase";
    let set = service
        .post("/v1/access/confirm", confirm(&token, new_password))
        .await;
    assert_eq!(set.status, 200, "{}", set.raw);
    let still = service.password_step(LICENCE, "frank", new_password).await;
    assert_eq!(
        (still.status, still.body["error"].as_str()),
        (423, Some("account_locked")),
        "{}",
        still.raw
    );
    assert_eq!(still.body["locked_until"], locked.body["locked_until"]);
    let lockout = audit_view(&service, &lockout_path("frank")).await;
    assert_eq!(
        (lockout["locked"].as_bool(), &lockout["locked_until"]),
        (Some(true), &locked.body["locked_until"]),
        "{lockout}"
    );
    assert_eq!(
        service.events_of("LockLifted").len() + service.events_of("LockExpired").len(),
        0
    );
}

#[tokio::test]
async fn an_unrequested_code_can_be_reported() {
    let (smtp, service) = acme().await;
    user(&service, &smtp, "alice").await;
    let challenge_id = challenge(&service, "alice", PASSWORD).await;
    let body = smtp.nth_to("alice@example.com", 2).await.body();
    let code = code_in(&body, 6).unwrap();
    let report = param_in(&body, "report").expect("a report= link in the code's message");
    assert!(report.starts_with("tsr_"), "{report}");

    let reported = service
        .post(
            "/v1/security/unrequested-code",
            json!({ "report_token": report }),
        )
        .await;
    assert_eq!(
        (reported.status, &reported.body),
        (202, &json!({ "status": "accepted" })),
        "{}",
        reported.raw
    );
    let used = service.code_step(&challenge_id, &code).await;
    assert_eq!(
        (used.status, used.body["error"].as_str()),
        (401, Some("invalid_code")),
        "a reported code is void: {}",
        used.raw
    );
    assert_eq!(
        service.events_of("CodeRejected").last().unwrap().data["reason"],
        "challenge_not_open"
    );

    let issued = service.events_of("CodeIssued").into_iter().last().unwrap();
    let report_event = service
        .events_of("UnrequestedCodeReported")
        .into_iter()
        .last()
        .unwrap();
    assert_eq!(report_event.data["code_id"], issued.data["code_id"]);
    assert_eq!(
        report_event.data["closed_challenge"],
        issued.data["challenge_id"]
    );

    let alerts = audit_view(&service, &format!("/v1/licences/{LICENCE}/security-alerts")).await;
    let alerts = alerts["alerts"].as_array().unwrap().clone();
    let reports: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["kind"] == "unrequested_code_reported")
        .collect();
    assert_eq!(reports.len(), 1, "{alerts:?}");
    assert_eq!(reports[0]["login"], "alice");
    let causes = reports[0]["caused_by"].as_array().unwrap();
    let cause_types: Vec<&str> = causes
        .iter()
        .map(|c| c["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(cause_types, ["CodeIssued", "UnrequestedCodeReported"]);
    assert_eq!(
        causes[0]["event_id"].as_str(),
        Some(issued.event_id.as_str())
    );
    assert_eq!(causes[0]["stream"].as_str(), Some(issued.stream.as_str()));
    assert_eq!(causes[0]["version"].as_i64(), Some(issued.version));
    assert_eq!(
        causes[1]["event_id"].as_str(),
        Some(report_event.event_id.as_str())
    );

    // The same report again changes nothing; a token of the right shape that
    // matches nothing gets the same answer; anything else is refused.
    let again = service
        .post(
            "/v1/security/unrequested-code",
            json!({ "report_token": report }),
        )
        .await;
    assert_eq!(
        (again.status, again.raw.as_str()),
        (202, reported.raw.as_str())
    );
    let forged = format!("tsr_{}", "A".repeat(86));
    let forged = service
        .post(
            "/v1/security/unrequested-code",
            json!({ "report_token": forged }),
        )
        .await;
    assert_eq!(
        (forged.status, forged.raw.as_str()),
        (202, reported.raw.as_str())
    );
    for garbage in ["garbage", "tsr_garbage", "", &code] {
        let reply = service
            .post(
                "/v1/security/unrequested-code",
                json!({ "report_token": garbage }),
            )
            .await;
        assert_eq!(
            (reply.status, reply.body["error"].as_str()),
            (400, Some("invalid_token")),
            "{garbage:?}: {}",
            reply.raw
        );
    }
    caught_up(&service).await;
    assert_eq!(service.events_of("UnrequestedCodeReported").len(), 1);
    let after = audit_view(&service, &format!("/v1/licences/{LICENCE}/security-alerts")).await;
    assert_eq!(
        after["alerts"].as_array().unwrap().len(),
        alerts.len(),
        "no second alert: {after}"
    );
}

#[tokio::test]
async fn operator_endpoints_need_the_operator_token_and_audit_endpoints_accept_the_auditor() {
    let (smtp, service) = acme().await;
    user(&service, &smtp, "alice").await;
    let operator_only: [(Method, &str, Value); 6] = [
        (Method::POST, "/v1/licences", json!({ "name": "Other" })),
        (
            Method::PUT,
            "/v1/licences/Acme/two-factor",
            json!({ "channel": "email" }),
        ),
        (Method::DELETE, "/v1/licences/Acme/two-factor", json!({})),
        (
            Method::POST,
            "/v1/licences/Acme/users",
            json!({ "login": "zed", "email": "zed@example.com" }),
        ),
        (
            Method::PUT,
            "/v1/licences/Acme/users/alice",
            json!({ "active": false }),
        ),
        (
            Method::DELETE,
            "/v1/licences/Acme/users/alice/lockout",
            json!({ "reason": "test" }),
        ),
    ];
    for (method, path, body) in &operator_only {
        let case = format!("{method} {path}");
        for bearer in [None, Some("not-a-token"), Some("")] {
            let reply = service
                .call(method.clone(), path, Some(body.clone()), bearer)
                .await;
            assert_eq!(
                (reply.status, reply.body["error"].as_str()),
                (401, Some("unauthorized")),
                "{case} with {bearer:?}: {}",
                reply.raw
            );
        }
        let reply = service
            .call(method.clone(), path, Some(body.clone()), Some(AUDITOR))
            .await;
        assert_eq!(
            (reply.status, reply.body["error"].as_str()),
            (403, Some("forbidden")),
            "{case} as auditor: {}",
            reply.raw
        );
    }
    // Nothing of the above happened.
    let licence = service.auditor("/v1/licences/Acme").await;
    assert_eq!(
        (
            licence.body["two_factor"].as_bool(),
            licence.body["users"].as_u64()
        ),
        (Some(true), Some(1)),
        "{}",
        licence.raw
    );
    assert_eq!(service.auditor("/v1/licences/Other").await.status, 404);
    assert_eq!(
        service.auditor("/v1/licences/Acme/users/alice").await.body["active"],
        true
    );

    let audit = [
        "/v1/licences/Acme",
        "/v1/licences/Acme/users/alice",
        "/v1/licences/Acme/users/alice/lockout",
        "/v1/licences/Acme/users/alice/active-code",
        "/v1/licences/Acme/login-history",
        "/v1/licences/Acme/security-alerts",
    ];
    for path in audit {
        for bearer in [None, Some("not-a-token")] {
            let reply = service.get(path, bearer).await;
            assert_eq!(
                (reply.status, reply.body["error"].as_str()),
                (401, Some("unauthorized")),
                "GET {path} with {bearer:?}: {}",
                reply.raw
            );
        }
        let reply = service.auditor(path).await;
        assert_eq!(reply.status, 200, "GET {path} as auditor: {}", reply.raw);
        let reply = service.operator(Method::GET, path, None).await;
        assert_eq!(reply.status, 200, "GET {path} as operator: {}", reply.raw);
    }
}

/// `ch_` + base64url of the bytes, as a client could forge one.
fn forged_handle(bytes: &[u8]) -> String {
    let text = base64_std(bytes).replace('+', "-").replace('/', "_");
    format!("ch_{}", text.trim_end_matches('='))
}

#[tokio::test]
async fn a_challenge_id_forged_from_public_names_is_refused_and_writes_nothing() {
    // User ids derive from the licence and login names, so anyone can build
    // the first half of a handle; the MAC keyed with the service secret is
    // what they cannot make.
    let (smtp, service) = acme().await;
    user(&service, &smtp, "alice").await;
    let genuine = challenge(&service, "alice", PASSWORD).await;
    let licence = twostep_domain::LicenceId::of("acme");
    let alice = twostep_domain::UserId::of(licence, "alice");
    let mallory = twostep_domain::UserId::of(licence, "mallory");
    let genuine_bytes = base64url_decode(genuine.strip_prefix("ch_").unwrap()).unwrap();
    let mut tampered = genuine_bytes.clone();
    tampered[40] ^= 1;
    let mut forged = Vec::new();
    for user in [alice, mallory] {
        let mut bytes = user.0.as_bytes().to_vec();
        bytes.extend_from_slice(&genuine_bytes[16..32]);
        bytes.extend_from_slice(&[0; 16]);
        forged.push(forged_handle(&bytes));
        forged.push(forged_handle(
            &[user.0.as_bytes().as_slice(), &[0; 32]].concat(),
        ));
    }
    forged.push(forged_handle(&tampered));
    forged.push(forged_handle(&genuine_bytes[..32]));

    let events_before = service.events().len();
    let mut answers = Vec::new();
    for handle in &forged {
        for code in ["x", "123456", "１２３４５６"] {
            let reply = service.code_step(handle, code).await;
            answers.push((reply.status, reply.raw.clone()));
        }
    }
    let first = answers[0].clone();
    assert_eq!(first.0, 401, "{}", first.1);
    assert!(first.1.contains("\"invalid_code\""), "{}", first.1);
    assert!(
        answers.iter().all(|a| *a == first),
        "every forged handle, whoever it names and whatever the code, gets the same 401: {answers:?}"
    );
    assert_eq!(
        service.events().len(),
        events_before,
        "nothing written to anyone's history"
    );

    // The genuine handle still works, and its malformed codes are still told apart.
    let malformed = service.code_step(&genuine, "x").await;
    assert_eq!(
        (malformed.status, malformed.body["error"].as_str()),
        (400, Some("malformed_code"))
    );
    let code = code_in(&smtp.nth_to(&email_of("alice"), 2).await.body(), 6).unwrap();
    assert_eq!(service.code_step(&genuine, &code).await.status, 200);
}

/// A session for `login` after a full login; returns (token, the code used).
async fn logged_in(
    service: &Service,
    smtp: &SmtpServer,
    login: &str,
    to: &str,
) -> (String, String) {
    let challenge = challenge(service, login, PASSWORD).await;
    let mail = smtp.nth_to(to, smtp.to(to).len()).await;
    let code = code_in(&mail.body(), 6).unwrap();
    let reply = service.code_step(&challenge, &code).await;
    assert_eq!(reply.status, 200, "{}", reply.raw);
    (
        reply.body["session_token"].as_str().unwrap().to_owned(),
        code,
    )
}

async fn session_status(service: &Service, token: &str) -> u16 {
    service.get("/v1/session", Some(token)).await.status
}

#[tokio::test]
async fn sessions_and_password_tokens_end_when_the_account_changes_hands() {
    let (smtp, service) = acme().await;
    user(&service, &smtp, "bob").await;
    let old = email_of("bob");
    let new = "bob@new.example.com";

    // A reset link sent to the old address dies with the address.
    let stale = reset_token(&service, &smtp, "bob", 2).await;
    let path = format!("/v1/licences/{LICENCE}/users/bob");
    let changed = service
        .operator(Method::PUT, &path, Some(json!({ "email": new })))
        .await;
    assert_eq!(changed.status, 200, "{}", changed.raw);
    let refused = service
        .post(
            "/v1/access/confirm",
            confirm(&stale, "an attacker's choice"),
        )
        .await;
    assert_eq!(
        (refused.status, refused.body["error"].as_str()),
        (400, Some("invalid_token")),
        "{}",
        refused.raw
    );

    // A new password ends every session, and the address on file is told.
    let (session, _) = logged_in(&service, &smtp, "bob", new).await;
    assert_eq!(session_status(&service, &session).await, 200);
    assert_eq!(
        service
            .post(
                "/v1/password/reminder",
                json!({ "licence": LICENCE, "login": "bob" })
            )
            .await
            .status,
        202
    );
    let reset = smtp.nth_to(new, smtp.to(new).len() + 1).await;
    let token = param_in(&reset.body(), "token").unwrap();
    let set = service
        .post(
            "/v1/access/confirm",
            confirm(&token, "a brand new password"),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.raw);
    assert_eq!(
        session_status(&service, &session).await,
        401,
        "the old session ended"
    );
    let notice = smtp.nth_to(new, smtp.to(new).len()).await;
    assert_eq!(
        notice.subject(),
        format!("Your password for {LICENCE} was changed")
    );
    assert!(
        smtp.to(&old)
            .iter()
            .all(|m| m.subject() != format!("Your password for {LICENCE} was changed")),
        "the notice goes to the address on file, not the old one"
    );

    // A deactivation ends sessions for good, even after reactivation.
    let challenge_after = service
        .password_step(LICENCE, "bob", "a brand new password")
        .await;
    assert_eq!(challenge_after.status, 200, "{}", challenge_after.raw);
    let mail = smtp.nth_to(new, smtp.to(new).len()).await;
    let code = code_in(&mail.body(), 6).unwrap();
    let second = service
        .code_step(
            challenge_after.body["challenge_id"].as_str().unwrap(),
            &code,
        )
        .await;
    let second = second.body["session_token"].as_str().unwrap().to_owned();
    deactivate(&service, "bob").await;
    assert_eq!(session_status(&service, &second).await, 401);
    let reactivated = service
        .operator(Method::PUT, &path, Some(json!({ "active": true })))
        .await;
    assert_eq!(reactivated.status, 200, "{}", reactivated.raw);
    assert_eq!(
        session_status(&service, &second).await,
        401,
        "a reactivation does not bring it back"
    );
}

#[tokio::test]
async fn reporting_the_code_of_a_session_ends_that_session() {
    let (smtp, service) = acme().await;
    user(&service, &smtp, "carol").await;
    let to = email_of("carol");
    let (session, _) = logged_in(&service, &smtp, "carol", &to).await;
    let mail = smtp.nth_to(&to, smtp.to(&to).len()).await;
    let report = param_in(&mail.body(), "report").unwrap();
    let reported = service
        .post(
            "/v1/security/unrequested-code",
            json!({ "report_token": report }),
        )
        .await;
    assert_eq!(reported.status, 202, "{}", reported.raw);
    assert_eq!(session_status(&service, &session).await, 401);
    let event = service.events_of("UnrequestedCodeReported");
    assert_eq!(event.len(), 1);
    assert_eq!(
        event[0].data["ended_sessions"].as_array().map(Vec::len),
        Some(1)
    );
}
