//! Turning an [`Email`] into an RFC 5322 message, for both the SMTP courier
//! and the file outbox, so that the outbox shows exactly what SMTP would send
//! (up to the transfer encoding of non-ASCII bodies, see [`EightBit`]).

use lettre::message::{Body, Mailbox, SinglePart, header::ContentTransferEncoding};

use crate::{DeliveryError, Email, message::Channel};

/// RFC 5322 §2.1.1: a line is at most 998 characters, CRLF excluded.
const MAX_LINE_BYTES: usize = 998;

/// Whether a body that is not pure ASCII may travel as raw UTF-8 (`8bit`).
///
/// A file is read by people and tools such as `grep`, so the outbox allows it.
/// SMTP does not: a relay without `8BITMIME` would refuse the message, so
/// non-ASCII bodies are sent quoted-printable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EightBit {
    Allowed,
    NotAllowed,
}

/// Parses the configured sender, e.g. `twostep <no-reply@twostep.localhost>`.
pub(crate) fn parse_sender(from_address: &str) -> Result<Mailbox, DeliveryError> {
    from_address.parse().map_err(|_| {
        DeliveryError::Misconfigured("the sender (from) address is not a valid mailbox".into())
    })
}

/// Builds the message: `From`, `To`, `Subject`, `Date`, `Message-ID`, and a
/// single `text/plain; charset=utf-8` part.
pub(crate) fn compose(
    from: &Mailbox,
    email: &Email,
    eight_bit: EightBit,
) -> Result<lettre::Message, DeliveryError> {
    let to: Mailbox = email
        .to
        .parse()
        .map_err(|_| DeliveryError::InvalidRecipient(Channel::Email))?;
    lettre::Message::builder()
        .from(from.clone())
        .to(to)
        .subject(email.subject.as_str())
        .message_id(None)
        .singlepart(SinglePart::plain(readable_body(&email.text, eight_bit)))
        .map_err(DeliveryError::Compose)
}

/// Encodes the body so that it stays readable in the raw message whenever the
/// standards allow: a code or a `…?token=…` link must be findable with `grep`.
///
/// `lettre` would pick quoted-printable as soon as a line passes 76
/// characters, which turns `token=` into `token=3D` and cuts long links with
/// soft line breaks. RFC 5322 allows lines up to 998 characters, so text whose
/// lines fit is sent as it is (`7bit`, or `8bit` where allowed); only longer
/// lines, NUL bytes, or non-ASCII text that may not go as `8bit` fall back to
/// quoted-printable.
fn readable_body(text: &str, eight_bit: EightBit) -> Body {
    let text = with_crlf_line_endings(text);
    let fits = !text.contains('\0') && text.split("\r\n").all(|line| line.len() <= MAX_LINE_BYTES);
    match (fits, text.is_ascii(), eight_bit) {
        (true, true, _) => {
            Body::dangerous_pre_encoded(text.into_bytes(), ContentTransferEncoding::SevenBit)
        }
        (true, false, EightBit::Allowed) => {
            Body::dangerous_pre_encoded(text.into_bytes(), ContentTransferEncoding::EightBit)
        }
        _ => Body::new_with_encoding(text, ContentTransferEncoding::QuotedPrintable)
            // Quoted-printable can encode anything; the fallback is never taken.
            .unwrap_or_else(Body::new),
    }
}

/// Normalises `\n`, `\r` and `\r\n` line endings to `\r\n`, as a message on
/// the wire and in an `.eml` file must have.
fn with_crlf_line_endings(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', "\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender() -> Mailbox {
        parse_sender("twostep <no-reply@twostep.localhost>").expect("valid in this test")
    }

    fn email(text: &str) -> Email {
        Email {
            to: "ada@example.com".into(),
            subject: "Your code".into(),
            text: text.into(),
        }
    }

    fn formatted(text: &str, eight_bit: EightBit) -> String {
        let message = compose(&sender(), &email(text), eight_bit).expect("valid in this test");
        String::from_utf8(message.formatted()).expect("valid in this test")
    }

    #[test]
    fn a_long_link_stays_whole_and_literal() {
        let link = format!(
            "https://twostep.localhost/confirm?token={}",
            "a1B2".repeat(50)
        );
        let raw = formatted(&format!("Confirm here:\n{link}\n"), EightBit::NotAllowed);

        assert!(raw.contains("Content-Transfer-Encoding: 7bit"), "{raw}");
        assert!(raw.contains(&link), "{raw}");
    }

    #[test]
    fn line_endings_become_crlf() {
        let raw = formatted("one\ntwo\rthree\r\nfour", EightBit::Allowed);

        assert!(raw.contains("\r\n\r\none\r\ntwo\r\nthree\r\nfour"), "{raw}");
    }

    #[test]
    fn non_ascii_text_is_raw_utf8_in_the_outbox_and_quoted_printable_over_smtp() {
        let text = "Votre code : 123456 — valable 10 minutes.";

        let for_file = formatted(text, EightBit::Allowed);
        let for_smtp = formatted(text, EightBit::NotAllowed);

        assert!(
            for_file.contains("Content-Transfer-Encoding: 8bit"),
            "{for_file}"
        );
        assert!(for_file.contains(text), "{for_file}");
        assert!(
            for_smtp.contains("Content-Transfer-Encoding: quoted-printable"),
            "{for_smtp}"
        );
        assert!(for_smtp.contains("123456"), "{for_smtp}");
        assert!(for_smtp.is_ascii());
    }

    #[test]
    fn a_line_longer_than_rfc_5322_allows_falls_back_to_quoted_printable() {
        let raw = formatted(&"x".repeat(MAX_LINE_BYTES + 1), EightBit::Allowed);

        assert!(
            raw.contains("Content-Transfer-Encoding: quoted-printable"),
            "{raw}"
        );
        assert!(raw.lines().all(|line| line.len() <= MAX_LINE_BYTES));
    }

    #[test]
    fn the_body_is_plain_text_in_utf8() {
        let raw = formatted("123456", EightBit::Allowed);

        assert!(
            raw.contains("Content-Type: text/plain; charset=utf-8"),
            "{raw}"
        );
        assert!(raw.contains("MIME-Version: 1.0"), "{raw}");
    }

    #[test]
    fn a_recipient_that_is_not_an_address_is_refused() {
        let mut bad = email("123456");
        bad.to = "not an address".into();

        let refused = compose(&sender(), &bad, EightBit::Allowed);

        assert!(matches!(
            refused,
            Err(DeliveryError::InvalidRecipient(Channel::Email))
        ));
    }

    #[test]
    fn a_sender_that_is_not_a_mailbox_is_a_misconfiguration() {
        assert!(matches!(
            parse_sender("no-reply"),
            Err(DeliveryError::Misconfigured(_))
        ));
    }
}
