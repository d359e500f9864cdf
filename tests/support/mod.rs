// Harness of the end-to-end tests: the real `twostep` binary started on an
// ephemeral port with a fresh data directory, a real SMTP server
// (`mailin-embedded`) and an HTTP SMS receiver, both on loopback.

#![allow(
    dead_code,
    unused_imports,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used
)]

pub mod flows;
pub mod mail;
pub mod probes;
pub mod service;
pub mod sms;

pub use mail::{Mail, SmtpServer};
pub use service::{Reply, Service, ServiceOptions, StoredEvent};
pub use sms::SmsReceiver;

use std::time::Duration;

/// How long a test waits for a message to arrive.
pub const WAIT: Duration = Duration::from_secs(15);

/// The first run of `len` ASCII digits standing alone on a line or at the start of an SMS.
pub fn code_in(text: &str, len: usize) -> Option<String> {
    text.lines()
        .flat_map(|line| line.split(|c: char| !c.is_ascii_digit()))
        .find(|run| run.len() == len)
        .map(str::to_owned)
}

/// The value of a `name=` query parameter in a link of the text.
pub fn param_in(text: &str, name: &str) -> Option<String> {
    let start = text.find(&format!("{name}="))? + name.len() + 1;
    let value: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    (!value.is_empty()).then_some(value)
}

/// A password good enough for the service.
pub const PASSWORD: &str = "correct horse battery staple";
