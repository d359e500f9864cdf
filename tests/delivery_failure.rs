//! Failed deliveries: the SMS gateway failing and the SMTP server
//! unreachable. A failed delivery is recorded as an event, the client gets a
//! clear 503, and a failed code does not count against the resend interval.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::flows::{confirmed_user, poll_auditor, poll_events};
use support::{PASSWORD, Reply, Service, ServiceOptions, SmsReceiver, code_in};

const LICENCE: &str = "Relay";
const LOGIN: &str = "alice";
const MOBILE: &str = "+32470123456";

/// A service whose SMS gateway is `sms`, with one confirmed user on an SMS 2FA licence.
async fn sms_service(sms: &SmsReceiver) -> Service {
    let service = Service::start(ServiceOptions {
        sms_gateway_url: Some(sms.url()),
        ..Default::default()
    })
    .await;
    service.licence_with_2fa(LICENCE, "sms", json!({})).await;
    confirmed_user(&service, LICENCE, LOGIN, "alice@example.com", Some(MOBILE)).await;
    service
}

fn assert_error(reply: &Reply, status: u16, error: &str) {
    assert_eq!(
        (reply.status, reply.body["error"].as_str()),
        (status, Some(error)),
        "{}",
        reply.raw
    );
}

/// Data of the `MessageDeliveryFailed` events carrying codes.
fn failed_codes(service: &Service) -> Vec<Value> {
    let failed = service.events_of("MessageDeliveryFailed");
    failed
        .into_iter()
        .filter(|e| e.data["purpose"] == "code")
        .map(|e| e.data)
        .collect()
}

#[tokio::test]
async fn a_failed_sms_is_a_503_and_does_not_hold_back_the_next_code() {
    let sms = SmsReceiver::start().await;
    let service = sms_service(&sms).await;

    sms.fail(true);
    let failed = service.password_step(LICENCE, LOGIN, PASSWORD).await;
    assert_error(&failed, 503, "delivery_failed");
    let recorded = failed_codes(&service);
    assert_eq!(recorded.len(), 1, "the failure is an event");
    assert_eq!(
        (&recorded[0]["channel"], &recorded[0]["destination"]),
        (&json!("sms"), &json!("+3247*****56"))
    );
    assert_eq!(recorded[0]["code_failures_in_a_row"], 1);
    let issued = service.events_of("CodeIssued");
    assert_eq!(
        recorded[0]["reference"], issued[0].data["code_id"],
        "it names the code that failed"
    );

    // Within the default resend interval of 60 s, yet a new code is sent.
    sms.fail(false);
    let step = service.password_step(LICENCE, LOGIN, PASSWORD).await;
    assert_eq!(
        (step.status, step.body["status"].as_str()),
        (200, Some("code_sent")),
        "{}",
        step.raw
    );
    assert_eq!(service.events_of("CodeIssued").len(), 2);
    let text = sms.nth_to(MOBILE, 1).await;
    assert_eq!(sms.to(MOBILE).len(), 1, "the failed SMS never arrived");
    let code = code_in(&text, 6).unwrap();
    let session = service
        .code_step(step.body["challenge_id"].as_str().unwrap(), &code)
        .await;
    assert_eq!(
        (session.status, session.body["status"].as_str()),
        (200, Some("authenticated")),
        "{}",
        session.raw
    );
}

#[tokio::test]
async fn three_failed_sms_in_a_row_raise_a_security_alert() {
    let sms = SmsReceiver::start().await;
    let service = sms_service(&sms).await;

    sms.fail(true);
    for _ in 0..3 {
        assert_error(
            &service.password_step(LICENCE, LOGIN, PASSWORD).await,
            503,
            "delivery_failed",
        );
    }
    let in_a_row: Vec<Value> = failed_codes(&service)
        .iter()
        .map(|f| f["code_failures_in_a_row"].clone())
        .collect();
    assert_eq!(in_a_row, [json!(1), json!(2), json!(3)]);

    let alerts = service.events_of("SecurityAlertRaised");
    let raised: Vec<&Value> = alerts.iter().map(|e| &e.data["kind"]).collect();
    assert_eq!(raised, [&json!("repeated_delivery_failures")]);
    let failure_versions: Vec<Value> = service
        .events_of("MessageDeliveryFailed")
        .iter()
        .map(|e| json!(e.version))
        .collect();
    assert_eq!(
        alerts[0].data["caused_by"],
        json!(failure_versions),
        "the alert links the three failures"
    );

    let path = format!("/v1/licences/{LICENCE}/security-alerts");
    let trail = poll_auditor(&service, &path, |b| {
        b["alerts"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    let trail = trail["alerts"].as_array().unwrap();
    assert_eq!(trail.len(), 1, "{trail:?}");
    assert_eq!(
        (&trail[0]["kind"], &trail[0]["login"]),
        (&json!("repeated_delivery_failures"), &json!(LOGIN))
    );
    assert_eq!(trail[0]["alert_id"], alerts[0].data["alert_id"]);
    let causes: Vec<&Value> = trail[0]["caused_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["event_type"])
        .collect();
    assert_eq!(causes, [&json!("MessageDeliveryFailed"); 3]);
}

/// An SMTP URL on a loopback port nothing listens on.
fn closed_smtp_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("smtp://127.0.0.1:{port}")
}

#[tokio::test]
async fn an_unreachable_smtp_server_fails_the_e_mail_not_the_request() {
    let service = Service::start(ServiceOptions {
        smtp_url: Some(closed_smtp_url()),
        ..Default::default()
    })
    .await;
    service.licence_with_2fa(LICENCE, "email", json!({})).await;

    let created = service
        .create_user(LICENCE, LOGIN, "alice@example.com", None)
        .await;
    assert_eq!(created.status, 201, "{}", created.raw);
    assert_eq!(
        (&created.body["login"], &created.body["access_confirmation"]),
        (&json!(LOGIN), &json!("failed"))
    );
    let failed = service.events_of("MessageDeliveryFailed");
    let purposes: Vec<&Value> = failed.iter().map(|e| &e.data["purpose"]).collect();
    assert_eq!(purposes, [&json!("access_confirmation")]);

    let reminder = service
        .post(
            "/v1/password/reminder",
            json!({ "licence": LICENCE, "login": LOGIN }),
        )
        .await;
    assert_eq!(reminder.status, 202, "{}", reminder.raw);
    let unknown = service
        .post(
            "/v1/password/reminder",
            json!({ "licence": LICENCE, "login": "nobody" }),
        )
        .await;
    assert_eq!(
        (unknown.status, &unknown.raw),
        (202, &reminder.raw),
        "the same answer for an unknown login"
    );
    // The reminder works in the background; its e-mail fails too, and says so.
    poll_events(&service, "a failed password reset e-mail", |events| {
        events.iter().any(|e| {
            e.event_type == "MessageDeliveryFailed" && e.data["purpose"] == "password_reset"
        })
    })
    .await;
}
