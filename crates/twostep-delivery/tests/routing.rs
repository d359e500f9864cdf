//! `build_courier`: each channel goes to its transport when one is configured,
//! to the file outbox otherwise.

mod support;

use std::{fs, path::Path};

use support::{code_email, code_sms, sms_receiver::SmsReceiver, smtp_server::SmtpServer};
use twostep_delivery::{DeliveryConfig, Message, build_courier};

fn email_files(outbox: &Path) -> usize {
    fs::read_dir(outbox.join("email")).map_or(0, |entries| entries.count())
}

fn sms_lines(outbox: &Path) -> usize {
    fs::read_to_string(outbox.join("sms.jsonl")).map_or(0, |log| log.lines().count())
}

#[tokio::test]
async fn without_transports_everything_goes_to_the_outbox() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let courier = build_courier(&DeliveryConfig::outbox_only(dir.path())).expect("valid");

    courier
        .deliver(&Message::Email(code_email("ada@example.com")))
        .await
        .expect("written");
    courier
        .deliver(&Message::Sms(code_sms("+32470123456", "123456")))
        .await
        .expect("written");

    assert_eq!(email_files(dir.path()), 1);
    assert_eq!(sms_lines(dir.path()), 1);
}

#[tokio::test]
async fn with_smtp_emails_go_to_the_server_and_sms_to_the_outbox() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = SmtpServer::start();
    let config = DeliveryConfig {
        smtp_url: Some(server.url()),
        ..DeliveryConfig::outbox_only(dir.path())
    };
    let courier = build_courier(&config).expect("valid");

    courier
        .deliver(&Message::Email(code_email("ada@example.com")))
        .await
        .expect("sent");
    courier
        .deliver(&Message::Sms(code_sms("+32470123456", "123456")))
        .await
        .expect("written");

    assert_eq!(server.wait_for(1).len(), 1);
    assert_eq!(email_files(dir.path()), 0);
    assert_eq!(sms_lines(dir.path()), 1);
}

#[tokio::test]
async fn with_a_gateway_sms_go_to_it_and_emails_to_the_outbox() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let receiver = SmsReceiver::accepting().await;
    let config = DeliveryConfig {
        sms_gateway_url: Some(receiver.url()),
        ..DeliveryConfig::outbox_only(dir.path())
    };
    let courier = build_courier(&config).expect("valid");

    courier
        .deliver(&Message::Email(code_email("ada@example.com")))
        .await
        .expect("written");
    courier
        .deliver(&Message::Sms(code_sms("+32470123456", "123456")))
        .await
        .expect("sent");

    assert_eq!(receiver.received().len(), 1);
    assert_eq!(email_files(dir.path()), 1);
    assert_eq!(sms_lines(dir.path()), 0);
}
