//! `SmtpCourier` against a real SMTP server on loopback.

mod support;

use std::time::{Duration, Instant};

use support::{
    closed_port, code_email, code_sms, crlf, decode_quoted_printable, header,
    long_confirmation_link, silent_server, smtp_server::SmtpServer, split_message,
};
use twostep_delivery::{Channel, Courier, DeliveryError, Email, Message, SmtpCourier};

const FROM: &str = "twostep <no-reply@twostep.localhost>";
const TIMEOUT: Duration = Duration::from_secs(2);

fn courier(url: &str) -> SmtpCourier {
    SmtpCourier::new(url, FROM, TIMEOUT).expect("a valid SMTP configuration")
}

/// The body of a received message, decoded if it was sent quoted-printable.
fn decoded_body(raw: &str) -> String {
    let (headers, body) = split_message(raw);
    match header(headers, "Content-Transfer-Encoding") {
        Some("quoted-printable") => decode_quoted_printable(body),
        _ => body.to_owned(),
    }
}

#[tokio::test]
async fn an_email_reaches_the_server_with_recipient_subject_and_body() {
    let server = SmtpServer::start();
    let email = code_email("ada@example.com");

    courier(&server.url())
        .deliver(&Message::Email(email.clone()))
        .await
        .expect("the server accepts the message");

    let received = server.wait_for(1);
    assert_eq!(received.len(), 1);
    let mail = &received[0];
    assert_eq!(mail.from, "no-reply@twostep.localhost");
    assert_eq!(mail.to, ["ada@example.com"]);
    let raw = mail.text();
    let (headers, _) = split_message(&raw);
    assert_eq!(header(headers, "To"), Some("ada@example.com"));
    assert_eq!(header(headers, "Subject"), Some("Your sign-in code"));
    assert_eq!(
        header(headers, "From"),
        Some("twostep <no-reply@twostep.localhost>")
    );
    assert!(decoded_body(&raw).starts_with(&crlf(&email.text)), "{raw}");
    assert!(raw.contains(&long_confirmation_link()), "{raw}");
}

#[tokio::test]
async fn a_non_ascii_body_travels_quoted_printable_and_decodes_to_the_same_text() {
    let server = SmtpServer::start();
    let email = Email {
        to: "zoe@example.com".into(),
        subject: "Votre code de connexion".into(),
        text: format!(
            "Votre code : 271828 — valable 10 minutes.\nLien : {}\n",
            long_confirmation_link()
        ),
    };

    courier(&server.url())
        .deliver(&Message::Email(email.clone()))
        .await
        .expect("the server accepts the message");

    let raw = server.wait_for(1)[0].text();
    let (headers, _) = split_message(&raw);
    assert_eq!(
        header(headers, "Content-Transfer-Encoding"),
        Some("quoted-printable")
    );
    assert!(raw.is_ascii(), "no 8BITMIME needed");
    assert!(decoded_body(&raw).starts_with(&crlf(&email.text)), "{raw}");
}

#[tokio::test]
async fn several_emails_sent_at_once_all_arrive() {
    let server = SmtpServer::start();
    let courier = courier(&server.url());

    let sends = (0..5).map(|n| {
        let courier = courier.clone();
        tokio::spawn(async move {
            let message = Message::Email(code_email(&format!("user{n}@example.com")));
            courier.deliver(&message).await
        })
    });
    for send in sends {
        send.await.expect("task ran").expect("delivered");
    }

    let mut recipients: Vec<String> = server
        .wait_for(5)
        .into_iter()
        .flat_map(|mail| mail.to)
        .collect();
    recipients.sort();
    let expected: Vec<String> = (0..5).map(|n| format!("user{n}@example.com")).collect();
    assert_eq!(recipients, expected);
}

#[tokio::test]
async fn a_server_that_is_down_fails_fast_without_revealing_the_body() {
    let email = code_email("ada@example.com");
    let started = Instant::now();

    let error = courier(&format!("smtp://{}", closed_port()))
        .deliver(&Message::Email(email.clone()))
        .await
        .expect_err("nobody listens");

    assert!(started.elapsed() < TIMEOUT, "took {:?}", started.elapsed());
    assert!(matches!(error, DeliveryError::Smtp(_)), "{error:?}");
    let text = error.to_string();
    assert!(text.starts_with("SMTP delivery failed"), "{text}");
    assert!(!text.contains("481516"), "{text}");
    assert!(!text.contains("token="), "{text}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let addr = silent_server().await;
    let timeout = Duration::from_millis(300);
    let courier = SmtpCourier::new(&format!("smtp://{addr}"), FROM, timeout).expect("valid");
    let started = Instant::now();

    let error = courier
        .deliver(&Message::Email(code_email("ada@example.com")))
        .await
        .expect_err("no greeting ever comes");

    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            error,
            DeliveryError::Timeout {
                channel: Channel::Email,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "e-mail delivery timed out after 300ms");
}

#[tokio::test]
async fn an_invalid_recipient_is_refused_before_connecting() {
    let courier = courier(&format!("smtp://{}", closed_port()));
    let mut email = code_email("ada@example.com");
    email.to = "ada at example dot com".into();

    let error = courier
        .deliver(&Message::Email(email))
        .await
        .expect_err("not an address");

    assert!(matches!(
        error,
        DeliveryError::InvalidRecipient(Channel::Email)
    ));
}

#[tokio::test]
async fn an_sms_is_not_for_the_smtp_courier() {
    let courier = courier(&format!("smtp://{}", closed_port()));

    let error = courier
        .deliver(&Message::Sms(code_sms("+32470123456", "123456")))
        .await
        .expect_err("SMTP carries e-mail only");

    assert!(matches!(
        error,
        DeliveryError::UnsupportedChannel(Channel::Sms)
    ));
}

#[test]
fn tls_urls_are_accepted_and_unknown_schemes_refused() {
    for url in [
        "smtps://mail.example.com",
        "smtp://mail.example.com:587?tls=required",
        "smtp://user:pass@mail.example.com:587?tls=opportunistic",
    ] {
        assert!(SmtpCourier::new(url, FROM, TIMEOUT).is_ok(), "{url}");
    }
    let refused = SmtpCourier::new("imap://user:hunter2@mail.example.com", FROM, TIMEOUT);
    let text = refused.err().map(|e| e.to_string()).expect("not SMTP");
    assert!(!text.contains("hunter2"), "{text}");
}
