//! The whole SMS login: a licence whose users lack mobile numbers cannot
//! switch to SMS until the administrator completes them; then a user
//! confirms access by e-mail, enters the password, reads the code from the
//! SMS gateway and gets a session.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::flows::confirmed_user;
use support::{PASSWORD, Reply, Service, ServiceOptions, SmsReceiver, code_in};

const LICENCE: &str = "Telco";
const ALICE_MOBILE: &str = "+32470123456";
const DAVE_MOBILE: &str = "+32471987654";

async fn switch_to_sms(service: &Service) -> Reply {
    let path = format!("/v1/licences/{LICENCE}/two-factor");
    service
        .operator(Method::PUT, &path, Some(json!({ "channel": "sms" })))
        .await
}

async fn manage_user(service: &Service, login: &str, change: Value) -> Reply {
    let path = format!("/v1/licences/{LICENCE}/users/{login}");
    service.operator(Method::PUT, &path, Some(change)).await
}

fn sorted_users(refusal: &Reply) -> Vec<String> {
    let users = refusal.body["users"]
        .as_array()
        .unwrap_or_else(|| panic!("a users list: {}", refusal.raw));
    let mut users: Vec<String> = users
        .iter()
        .map(|u| u.as_str().unwrap().to_owned())
        .collect();
    users.sort();
    users
}

#[tokio::test]
async fn sms_needs_every_active_mobile_then_logs_in_with_a_texted_code() {
    let sms = SmsReceiver::start().await;
    let service = Service::start(ServiceOptions {
        sms_gateway_url: Some(sms.url()),
        ..Default::default()
    })
    .await;
    let registered = service
        .operator(
            Method::POST,
            "/v1/licences",
            Some(json!({ "name": LICENCE })),
        )
        .await;
    assert_eq!(registered.status, 201, "{}", registered.raw);

    confirmed_user(&service, LICENCE, "alice", "alice@example.com", None).await;
    for (login, mobile) in [
        ("bob", Some("+32470555111")),
        ("carol", None),
        ("dave", None),
    ] {
        let created = service
            .create_user(LICENCE, login, &format!("{login}@example.com"), mobile)
            .await;
        assert_eq!(created.status, 201, "{}", created.raw);
    }
    let deactivated = manage_user(&service, "carol", json!({ "active": false })).await;
    assert_eq!(
        (deactivated.status, &deactivated.body["active"]),
        (200, &json!(false)),
        "{}",
        deactivated.raw
    );

    // Only the active users without a mobile block the switch.
    let refused = switch_to_sms(&service).await;
    assert_eq!(
        (refused.status, refused.body["error"].as_str()),
        (409, Some("missing_mobile_numbers")),
        "{}",
        refused.raw
    );
    assert_eq!(sorted_users(&refused), ["alice", "dave"]);

    let completed = manage_user(&service, "alice", json!({ "mobile": ALICE_MOBILE })).await;
    assert_eq!(
        (completed.status, &completed.body["mobile"]),
        (200, &json!(ALICE_MOBILE)),
        "{}",
        completed.raw
    );
    let still_refused = switch_to_sms(&service).await;
    assert_eq!(still_refused.status, 409, "{}", still_refused.raw);
    assert_eq!(sorted_users(&still_refused), ["dave"]);
    assert_eq!(
        manage_user(&service, "dave", json!({ "mobile": DAVE_MOBILE }))
            .await
            .status,
        200
    );

    let switched = switch_to_sms(&service).await;
    assert_eq!(switched.status, 200, "{}", switched.raw);
    assert_eq!(
        (&switched.body["two_factor"], &switched.body["channel"]),
        (&json!(true), &json!("sms"))
    );

    // On an SMS licence every active user needs a valid mobile number.
    let reactivated = manage_user(&service, "carol", json!({ "active": true })).await;
    assert_eq!(
        (reactivated.status, reactivated.body["error"].as_str()),
        (422, Some("mobile_required")),
        "{}",
        reactivated.raw
    );
    let without = service
        .create_user(LICENCE, "erin", "erin@example.com", None)
        .await;
    assert_eq!(
        (without.status, without.body["error"].as_str()),
        (422, Some("mobile_required")),
        "{}",
        without.raw
    );
    let fixed_line = service
        .create_user(LICENCE, "erin", "erin@example.com", Some("+3222345678"))
        .await;
    assert_eq!(
        (fixed_line.status, fixed_line.body["error"].as_str()),
        (422, Some("invalid_field")),
        "{}",
        fixed_line.raw
    );
    assert_eq!(fixed_line.body["field"], "mobile");
    let with_mobile = service
        .create_user(LICENCE, "erin", "erin@example.com", Some("+32472000111"))
        .await;
    assert_eq!(
        with_mobile.status, 201,
        "the refused attempts created nothing: {}",
        with_mobile.raw
    );

    let step = service.password_step(LICENCE, "alice", PASSWORD).await;
    assert_eq!(
        (step.status, step.body["status"].as_str()),
        (200, Some("code_sent")),
        "{}",
        step.raw
    );
    assert_eq!(step.body["channel"], "sms");
    assert_eq!(step.body["destination"], "+3247*****56");
    let challenge = step.body["challenge_id"].as_str().unwrap();

    let text = sms.nth_to(ALICE_MOBILE, 1).await;
    assert_eq!(sms.to(ALICE_MOBILE).len(), 1, "one SMS: the code");
    assert!(text.contains("Someone knows your password"), "{text}");
    let code = code_in(&text, 6).expect("a 6-digit code in the SMS");
    assert!(text.starts_with(&code), "the code comes first: {text}");

    let session = service.code_step(challenge, &code).await;
    assert_eq!(
        (session.status, session.body["status"].as_str()),
        (200, Some("authenticated")),
        "{}",
        session.raw
    );
    let token = session.body["session_token"].as_str().unwrap();
    let who = service.get("/v1/session", Some(token)).await;
    assert_eq!(who.status, 200, "{}", who.raw);
    assert_eq!(
        (who.body["licence"].as_str(), who.body["login"].as_str()),
        (Some(LICENCE), Some("alice"))
    );
    assert_eq!(who.body["expires_at"], session.body["expires_at"]);

    let events = service.events();
    let second_factor: Vec<&Value> = events
        .iter()
        .filter(|e| e.event_type == "SessionStarted")
        .map(|e| &e.data["second_factor"])
        .collect();
    assert_eq!(second_factor, [&json!("sms")]);
}
