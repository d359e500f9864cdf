//! What a courier carries. `Debug` is written by hand so that a body (a code,
//! a link with a token) can never end up in a log line through `{:?}`.

use std::fmt;

/// A message to send. Bodies contain secrets (codes, links with tokens): never
/// log them, never put them in an error.
#[derive(Clone, PartialEq, Eq)]
pub enum Message {
    /// An e-mail.
    Email(Email),
    /// A text message.
    Sms(Sms),
}

/// An e-mail with a plain-text UTF-8 body.
#[derive(Clone, PartialEq, Eq)]
pub struct Email {
    /// Recipient address, e.g. `ada@example.com` or `Ada <ada@example.com>`.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body, UTF-8. Secret.
    pub text: String,
}

/// A text message.
#[derive(Clone, PartialEq, Eq)]
pub struct Sms {
    /// Recipient phone number in E.164 form, e.g. `+32470123456`.
    pub to: String,
    /// Text of the message. Secret.
    pub body: String,
}

/// The kind of channel a message travels through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// E-mail.
    Email,
    /// SMS.
    Sms,
}

impl Message {
    /// The channel this message needs.
    pub fn channel(&self) -> Channel {
        match self {
            Message::Email(_) => Channel::Email,
            Message::Sms(_) => Channel::Sms,
        }
    }
}

impl From<Email> for Message {
    fn from(email: Email) -> Self {
        Message::Email(email)
    }
}

impl From<Sms> for Message {
    fn from(sms: Sms) -> Self {
        Message::Sms(sms)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Channel::Email => "e-mail",
            Channel::Sms => "SMS",
        })
    }
}

const REDACTED: &str = "<redacted>";

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Message::Email(email) => f.debug_tuple("Email").field(email).finish(),
            Message::Sms(sms) => f.debug_tuple("Sms").field(sms).finish(),
        }
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Email")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("text", &REDACTED)
            .finish()
    }
}

impl fmt::Debug for Sms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sms")
            .field("to", &self.to)
            .field("body", &REDACTED)
            .finish()
    }
}

/// Whether `number` has the shape of an E.164 number: `+`, then 2 to 15
/// digits, the first not 0. Whether the number exists is the gateway's job.
pub(crate) fn is_e164(number: &str) -> bool {
    let Some(digits) = number.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_body() {
        let email = Message::Email(Email {
            to: "ada@example.com".into(),
            subject: "Your code".into(),
            text: "555777".into(),
        });
        let sms = Message::Sms(Sms {
            to: "+32470123456".into(),
            body: "246802".into(),
        });

        let shown = format!("{email:?} {sms:?} {email:#?}");

        assert!(!shown.contains("555777"), "{shown}");
        assert!(!shown.contains("246802"), "{shown}");
        assert!(shown.contains("ada@example.com"));
    }

    #[test]
    fn e164_numbers_are_told_from_other_strings() {
        assert!(is_e164("+32470123456"));
        assert!(is_e164("+14155552671"));
        assert!(!is_e164("32470123456"));
        assert!(!is_e164("+0470123456"));
        assert!(!is_e164("+32 470 12 34 56"));
        assert!(!is_e164("+1234567890123456"));
        assert!(!is_e164("+"));
    }
}
