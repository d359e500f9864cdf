//! `SmsGateway` against an HTTP receiver on loopback.

mod support;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::json;
use support::{closed_port, code_email, code_sms, silent_server, sms_receiver::SmsReceiver};
use twostep_delivery::{Channel, Courier, DeliveryError, Message, SmsGateway};

const TIMEOUT: Duration = Duration::from_secs(2);

fn gateway(url: &str) -> SmsGateway {
    SmsGateway::new(url, TIMEOUT).expect("a valid gateway URL")
}

#[tokio::test]
async fn an_sms_is_posted_as_json_with_to_and_body() {
    let receiver = SmsReceiver::accepting().await;

    gateway(&receiver.url())
        .deliver(&Message::Sms(code_sms("+32470123456", "314159")))
        .await
        .expect("the gateway takes it");

    assert_eq!(
        receiver.received(),
        [json!({"to": "+32470123456", "body": "twostep code: 314159"})]
    );
}

#[tokio::test]
async fn a_gateway_error_gives_the_status_and_not_the_body() {
    let receiver = SmsReceiver::answering(StatusCode::INTERNAL_SERVER_ERROR).await;

    let error = gateway(&receiver.url())
        .deliver(&Message::Sms(code_sms("+32470123456", "314159")))
        .await
        .expect_err("the gateway failed");

    assert!(
        matches!(error, DeliveryError::GatewayStatus { status: 500 }),
        "{error:?}"
    );
    let text = error.to_string();
    assert_eq!(text, "the SMS gateway answered HTTP 500");
    assert_eq!(receiver.received().len(), 1, "the request did reach it");
}

#[tokio::test]
async fn a_refusal_is_an_error_too() {
    let receiver = SmsReceiver::answering(StatusCode::UNPROCESSABLE_ENTITY).await;

    let error = gateway(&receiver.url())
        .deliver(&Message::Sms(code_sms("+32470123456", "314159")))
        .await
        .expect_err("the gateway refused");

    assert!(matches!(
        error,
        DeliveryError::GatewayStatus { status: 422 }
    ));
}

#[tokio::test]
async fn an_unreachable_gateway_fails_without_revealing_body_or_credentials() {
    let url = format!("http://sender:hunter2@{}/sms?api_key=s3cr3t", closed_port());
    let started = Instant::now();

    let error = gateway(&url)
        .deliver(&Message::Sms(code_sms("+32470123456", "314159")))
        .await
        .expect_err("nobody listens");

    assert!(started.elapsed() < TIMEOUT, "took {:?}", started.elapsed());
    assert!(
        matches!(error, DeliveryError::GatewayUnreachable(_)),
        "{error:?}"
    );
    let text = error.to_string();
    for secret in ["314159", "hunter2", "s3cr3t", "127.0.0.1"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

#[tokio::test]
async fn a_gateway_that_never_answers_times_out() {
    let addr = silent_server().await;
    let timeout = Duration::from_millis(300);
    let gateway = SmsGateway::new(&format!("http://{addr}/sms"), timeout).expect("valid");
    let started = Instant::now();

    let error = gateway
        .deliver(&Message::Sms(code_sms("+32470123456", "314159")))
        .await
        .expect_err("no answer ever comes");

    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            error,
            DeliveryError::Timeout {
                channel: Channel::Sms,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_number_that_is_not_e164_is_refused_before_posting() {
    let receiver = SmsReceiver::accepting().await;

    let error = gateway(&receiver.url())
        .deliver(&Message::Sms(code_sms("0470 12 34 56", "314159")))
        .await
        .expect_err("not E.164");

    assert!(matches!(
        error,
        DeliveryError::InvalidRecipient(Channel::Sms)
    ));
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn an_email_is_not_for_the_sms_gateway() {
    let error = gateway(&format!("http://{}/sms", closed_port()))
        .deliver(&Message::Email(code_email("ada@example.com")))
        .await
        .expect_err("the gateway carries SMS only");

    assert!(matches!(
        error,
        DeliveryError::UnsupportedChannel(Channel::Email)
    ));
}

#[test]
fn only_http_urls_are_gateways() {
    assert!(SmsGateway::new("https://sms.example.com/send", TIMEOUT).is_ok());
    for url in ["ftp://sms.example.com", "sms.example.com/send", "http://"] {
        assert!(
            matches!(
                SmsGateway::new(url, TIMEOUT),
                Err(DeliveryError::Misconfigured(_))
            ),
            "{url}"
        );
    }
}
