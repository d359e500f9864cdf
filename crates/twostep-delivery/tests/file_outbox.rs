//! `FileOutbox` on a temporary directory.

mod support;

use std::{collections::BTreeSet, fs, path::PathBuf, sync::Arc};

use serde_json::Value;
use support::{code_email, code_sms, header, long_confirmation_link, split_message};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use twostep_delivery::{Channel, Courier, DeliveryError, FileOutbox, Message};

const FROM: &str = "twostep <no-reply@twostep.localhost>";

fn outbox() -> (tempfile::TempDir, FileOutbox) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let outbox = FileOutbox::new(dir.path().join("outbox"), FROM).expect("valid sender");
    (dir, outbox)
}

fn files_in(dir: PathBuf) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("the directory exists")
        .map(|entry| {
            entry
                .expect("readable entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

fn sms_lines(outbox: &FileOutbox) -> Vec<Value> {
    fs::read_to_string(outbox.sms_log())
        .expect("the SMS log exists")
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect()
}

#[tokio::test]
async fn an_email_becomes_an_eml_file_whose_code_and_link_can_be_grepped() {
    let (_dir, outbox) = outbox();

    outbox
        .deliver(&Message::Email(code_email("ada@example.com")))
        .await
        .expect("written");

    let names = files_in(outbox.email_dir());
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].ends_with(".eml"), "{names:?}");
    let raw = fs::read_to_string(outbox.email_dir().join(&names[0])).expect("UTF-8 file");
    assert!(raw.contains("481516"), "{raw}");
    assert!(raw.contains(&long_confirmation_link()), "{raw}");
    let (headers, _) = split_message(&raw);
    assert_eq!(header(headers, "To"), Some("ada@example.com"));
    assert_eq!(header(headers, "Subject"), Some("Your sign-in code"));
    assert!(header(headers, "Date").is_some());
    assert!(header(headers, "Message-ID").is_some());
}

#[tokio::test]
async fn a_non_ascii_email_stays_readable_in_the_file() {
    let (_dir, outbox) = outbox();
    let mut email = code_email("zoe@example.com");
    email.text = "Votre code : 271828 — valable 10 minutes.".into();

    let path = outbox.write_email(&email).await.expect("written");

    let raw = fs::read_to_string(path).expect("UTF-8 file");
    assert!(
        raw.contains("Votre code : 271828 — valable 10 minutes."),
        "{raw}"
    );
}

#[tokio::test]
async fn email_files_list_in_the_order_they_were_written() {
    let (_dir, outbox) = outbox();

    let mut written = Vec::new();
    for n in 0..5 {
        let path = outbox
            .write_email(&code_email(&format!("user{n}@example.com")))
            .await
            .expect("written");
        written.push(
            path.file_name()
                .expect("a file")
                .to_string_lossy()
                .into_owned(),
        );
    }

    assert_eq!(files_in(outbox.email_dir()), written);
    let name = &written[0];
    assert_eq!(&name[8..9], "T", "{name}");
    assert_eq!(&name[22..24], "Z-", "{name}");
}

#[tokio::test]
async fn no_temporary_file_is_left_behind() {
    let (_dir, outbox) = outbox();

    for _ in 0..3 {
        outbox
            .deliver(&Message::Email(code_email("ada@example.com")))
            .await
            .expect("written");
    }

    let names = files_in(outbox.email_dir());
    assert_eq!(names.len(), 3);
    assert!(names.iter().all(|name| !name.starts_with('.')), "{names:?}");
}

#[tokio::test]
async fn an_sms_becomes_a_json_line_with_to_body_and_sent_at() {
    let (_dir, outbox) = outbox();
    let before = OffsetDateTime::now_utc();

    outbox
        .deliver(&Message::Sms(code_sms("+32470123456", "161803")))
        .await
        .expect("written");

    let lines = sms_lines(&outbox);
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert_eq!(line["to"], "+32470123456");
    assert_eq!(line["body"], "twostep code: 161803");
    let sent_at = line["sent_at"].as_str().expect("a string");
    let sent_at = OffsetDateTime::parse(sent_at, &Rfc3339).expect("RFC 3339");
    assert!(sent_at >= before - time::Duration::seconds(1));
    assert_eq!(line.as_object().map(|fields| fields.len()), Some(3));
}

#[tokio::test]
async fn fifty_sms_delivered_at_once_give_fifty_whole_lines() {
    let (_dir, outbox) = outbox();
    let outbox = Arc::new(outbox);

    let deliveries: Vec<_> = (0..50)
        .map(|n| {
            let outbox = outbox.clone();
            tokio::spawn(async move {
                let code = format!("{n:06}");
                outbox
                    .deliver(&Message::Sms(code_sms("+32470123456", &code)))
                    .await
            })
        })
        .collect();
    for delivery in deliveries {
        delivery.await.expect("task ran").expect("written");
    }

    let lines = sms_lines(&outbox);
    assert_eq!(lines.len(), 50);
    let bodies: BTreeSet<String> = lines
        .iter()
        .map(|line| line["body"].as_str().expect("a body").to_owned())
        .collect();
    let expected: BTreeSet<String> = (0..50).map(|n| format!("twostep code: {n:06}")).collect();
    assert_eq!(bodies, expected);
}

#[tokio::test]
async fn bodies_with_newlines_and_quotes_stay_on_one_line() {
    let (_dir, outbox) = outbox();
    let mut sms = code_sms("+32470123456", "1");
    sms.body = "line one\nline \"two\"\r\n".into();

    outbox
        .deliver(&Message::Sms(sms.clone()))
        .await
        .expect("written");

    assert_eq!(sms_lines(&outbox)[0]["body"], sms.body.as_str());
}

#[tokio::test]
async fn a_number_that_is_not_e164_writes_nothing() {
    let (_dir, outbox) = outbox();

    let error = outbox
        .deliver(&Message::Sms(code_sms("0470123456", "161803")))
        .await
        .expect_err("not E.164");

    assert!(matches!(
        error,
        DeliveryError::InvalidRecipient(Channel::Sms)
    ));
    assert!(!outbox.sms_log().exists());
}

#[tokio::test]
async fn an_outbox_that_cannot_be_written_says_so_without_the_body() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let blocker = dir.path().join("not-a-directory");
    fs::write(&blocker, b"").expect("a plain file");
    let outbox = FileOutbox::new(&blocker, FROM).expect("valid sender");

    let error = outbox
        .deliver(&Message::Email(code_email("ada@example.com")))
        .await
        .expect_err("a file is in the way");

    assert!(matches!(error, DeliveryError::Outbox(_)), "{error:?}");
    assert!(!error.to_string().contains("481516"));
}
