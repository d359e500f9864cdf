#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The whole e-mail login, from licence creation through access confirmation
//! to a session, with codes over real SMTP and through the file outbox.

use reqwest::Method;
use serde_json::json;
mod support;

use support::{PASSWORD, Service, ServiceOptions, SmtpServer, code_in, param_in};

#[tokio::test]
async fn email_login_over_smtp_end_to_end() {
    let smtp = SmtpServer::start();
    let service = Service::start(ServiceOptions {
        smtp_url: Some(smtp.url()),
        ..Default::default()
    })
    .await;
    service.licence_with_2fa("Acme", "email", json!({})).await;

    let created = service
        .create_user("Acme", "Alice", "alice@example.com", None)
        .await;
    assert_eq!(created.status, 201, "{}", created.raw);
    assert_eq!(created.body["login"], "Alice");
    assert_eq!(created.body["access_confirmation"], "sent");

    let confirmation = smtp.nth_to("alice@example.com", 1).await;
    assert_eq!(confirmation.subject(), "Your access to Acme");
    let token =
        param_in(&confirmation.body(), "token").expect("a token= link in the access e-mail");
    let confirmed = service
        .post(
            "/v1/access/confirm",
            json!({ "token": token, "password": PASSWORD }),
        )
        .await;
    assert_eq!(
        (confirmed.status, confirmed.body["status"].as_str()),
        (200, Some("password_set")),
        "{}",
        confirmed.raw
    );
    let reused = service
        .post(
            "/v1/access/confirm",
            json!({ "token": token, "password": PASSWORD }),
        )
        .await;
    assert_eq!(
        (reused.status, reused.body["error"].as_str()),
        (400, Some("invalid_token")),
        "the token is single-use"
    );

    // Another spelling of the licence and the login is the same account.
    let step = service.password_step("ＡＣＭＥ", " alice ", PASSWORD).await;
    assert_eq!(step.status, 200, "{}", step.raw);
    assert_eq!(step.body["status"], "code_sent");
    assert_eq!(step.body["channel"], "email");
    assert_eq!(step.body["destination"], "a***@example.com");
    let challenge = step.body["challenge_id"].as_str().unwrap().to_owned();

    let message = smtp.nth_to("alice@example.com", 2).await;
    let body = message.body();
    assert!(body.contains("someone else knows your password"), "{body}");
    assert!(
        param_in(&body, "report").is_some_and(|t| t.starts_with("tsr_")),
        "a report link: {body}"
    );
    let code = code_in(&body, 6).expect("a 6-digit code in the message");

    let session = service.code_step(&challenge, &code).await;
    assert_eq!(session.status, 200, "{}", session.raw);
    assert_eq!(session.body["status"], "authenticated");
    let token = session.body["session_token"].as_str().unwrap().to_owned();

    let who = service.get("/v1/session", Some(&token)).await;
    assert_eq!(who.status, 200, "{}", who.raw);
    assert_eq!(who.body["licence"], "Acme");
    assert_eq!(who.body["login"], "Alice");
    assert_eq!(who.body["expires_at"], session.body["expires_at"]);

    let again = service.code_step(&challenge, &code).await;
    assert_eq!(
        (again.status, again.body["error"].as_str()),
        (401, Some("invalid_code")),
        "a spent code never works twice"
    );
    assert_eq!(again.body["next"], "password");

    let logout = service
        .call(Method::DELETE, "/v1/session", None, Some(&token))
        .await;
    assert_eq!(logout.status, 204, "{}", logout.raw);
    let after = service.get("/v1/session", Some(&token)).await;
    assert_eq!(
        (after.status, after.body["error"].as_str()),
        (401, Some("unauthenticated"))
    );
}

#[tokio::test]
async fn email_login_through_the_file_outbox() {
    let service = Service::start(ServiceOptions::default()).await;
    service
        .licence_with_2fa("Outbox Ltd", "email", json!({}))
        .await;
    let created = service
        .create_user("Outbox Ltd", "bob", "bob@example.com", None)
        .await;
    assert_eq!(created.status, 201, "{}", created.raw);

    let outbox = service.data_dir.join("outbox").join("email");
    let read_all = || -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(&outbox)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect()
    };
    let mails = read_all();
    assert_eq!(mails.len(), 1, "one access e-mail");
    assert!(mails[0].contains("To: bob@example.com"), "{}", mails[0]);
    let token = param_in(&mails[0], "token").unwrap();
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

    let step = service.password_step("Outbox Ltd", "bob", PASSWORD).await;
    assert_eq!(step.body["status"], "code_sent", "{}", step.raw);
    let mails = read_all();
    assert_eq!(mails.len(), 2);
    let code = code_in(mails[1].split_once("\r\n\r\n").unwrap().1, 6).unwrap();
    let session = service
        .code_step(step.body["challenge_id"].as_str().unwrap(), &code)
        .await;
    assert_eq!(session.status, 200, "{}", session.raw);
}
