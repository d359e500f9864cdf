//! E-mail over SMTP, through `lettre`'s tokio transport.

use std::time::Duration;

use async_trait::async_trait;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor, message::Mailbox};

use crate::{
    Courier, DeliveryError, Email, Message,
    compose::{EightBit, compose, parse_sender},
    message::Channel,
};

/// Sends e-mails to an SMTP server, one connection per message.
///
/// The server is given as a URL, as `lettre` reads it:
/// - `smtp://host:port`: no TLS (a relay on the same host, tests);
/// - `smtp://host:port?tls=required`: STARTTLS, refused if not offered;
/// - `smtp://host:port?tls=opportunistic`: STARTTLS when offered;
/// - `smtps://host:port`: TLS from the first byte.
///
/// `user:password@` in the URL logs in (AUTH PLAIN or LOGIN); a path such as
/// `/mail.example.com` sets the name given in `EHLO`. Certificates are checked
/// against the operating system's trust store.
#[derive(Clone)]
pub struct SmtpCourier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
}

impl SmtpCourier {
    /// A courier for the server at `smtp_url`, sending from `from_address`,
    /// giving up on a message after `timeout`. Does not connect yet.
    pub fn new(
        smtp_url: &str,
        from_address: &str,
        timeout: Duration,
    ) -> Result<Self, DeliveryError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|error| {
                DeliveryError::Misconfigured(format!("the SMTP URL is not usable ({error})"))
            })?
            .timeout(Some(timeout))
            .build();
        Ok(Self {
            transport,
            from: parse_sender(from_address)?,
            timeout,
        })
    }

    /// Sends `email`. `Ok` means the server accepted it for delivery.
    pub async fn send_email(&self, email: &Email) -> Result<(), DeliveryError> {
        let message = compose(&self.from, email, EightBit::NotAllowed)?;
        // lettre's timeout bounds each read and write; this bounds the whole
        // conversation, so a server that answers slowly cannot stall a login.
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Ok(Ok(_response)) => Ok(()),
            Ok(Err(error)) if error.is_timeout() => Err(self.timed_out()),
            Ok(Err(error)) => Err(DeliveryError::Smtp(error)),
            Err(_elapsed) => Err(self.timed_out()),
        }
    }

    fn timed_out(&self) -> DeliveryError {
        DeliveryError::Timeout {
            channel: Channel::Email,
            after: self.timeout,
        }
    }
}

#[async_trait]
impl Courier for SmtpCourier {
    async fn deliver(&self, message: &Message) -> Result<(), DeliveryError> {
        match message {
            Message::Email(email) => self.send_email(email).await,
            Message::Sms(_) => Err(DeliveryError::UnsupportedChannel(Channel::Sms)),
        }
    }
}
