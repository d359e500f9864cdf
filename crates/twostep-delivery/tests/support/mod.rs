//! Real counterparts on loopback for the delivery tests: an SMTP server, an
//! SMS gateway, and helpers to read what they received.

#![allow(dead_code)] // each test file uses part of this module

pub mod sms_receiver;
pub mod smtp_server;

use std::net::{SocketAddr, TcpListener};

use twostep_delivery::{Email, Sms};

/// A loopback address where nothing listens: connecting is refused at once.
pub fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address")
}

/// A loopback server that accepts connections and never says a word: the
/// SMTP greeting or the HTTP answer never comes.
pub async fn silent_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((connection, _)) = listener.accept().await {
            held.push(connection);
        }
    });
    addr
}

/// A link as long as a real confirmation link, far past 76 characters.
pub fn long_confirmation_link() -> String {
    let link = format!(
        "https://twostep.localhost/confirm?token={}",
        "Zm9vYmFyYmF6cXV4".repeat(10)
    );
    assert!(link.len() >= 200);
    link
}

/// An e-mail like the ones the service sends: a code and a link.
pub fn code_email(to: &str) -> Email {
    Email {
        to: to.into(),
        subject: "Your sign-in code".into(),
        text: format!(
            "Your code is 481516. It expires in 10 minutes.\n\nNot you? Tell us: {}\n",
            long_confirmation_link()
        ),
    }
}

/// A text message with a code.
pub fn code_sms(to: &str, code: &str) -> Sms {
    Sms {
        to: to.into(),
        body: format!("twostep code: {code}"),
    }
}

/// The header block and body of a raw RFC 5322 message.
pub fn split_message(raw: &str) -> (&str, &str) {
    raw.split_once("\r\n\r\n")
        .expect("a blank line between headers and body")
}

/// The value of header `name` in a header block (first occurrence, unfolded).
pub fn header<'a>(headers: &'a str, name: &str) -> Option<&'a str> {
    headers.split("\r\n").find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// Decodes a quoted-printable body (RFC 2045 §6.7): `=XX` escapes and `=`
/// soft line breaks.
pub fn decode_quoted_printable(encoded: &str) -> String {
    let bytes = encoded.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' if bytes[i + 1..].starts_with(b"\r\n") => i += 3,
            b'=' if bytes[i + 1..].starts_with(b"\n") => i += 2,
            b'=' => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ASCII escape");
                decoded.push(u8::from_str_radix(hex, 16).expect("hexadecimal escape"));
                i += 3;
            }
            byte => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(decoded).expect("UTF-8 text")
}

/// `text` with the CRLF line endings a message carries.
pub fn crlf(text: &str) -> String {
    text.replace('\n', "\r\n")
}
