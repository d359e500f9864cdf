//! # twostep-delivery
//!
//! Getting a one-time code (or a link carrying a token) to a person. One trait,
//! [`Courier`], and one implementation per channel:
//!
//! - [`SmtpCourier`]: e-mail over SMTP (plain, STARTTLS or implicit TLS);
//! - [`SmsGateway`]: SMS through an HTTP gateway (JSON `POST {to, body}`);
//! - [`FileOutbox`]: both kinds written to files, for local runs and demos.
//!
//! [`build_courier`] picks the channels from a [`DeliveryConfig`] and returns
//! one courier that routes each [`Message`] to the right one.
//!
//! Message bodies carry secrets. Nothing in this crate logs them, puts them in
//! an error, or shows them in `Debug` output; a [`DeliveryError`]'s text is
//! short and safe to record in an event.

#![deny(missing_docs)]

mod compose;
mod config;
mod error;
mod message;
mod outbox;
mod routing;
mod sms_gateway;
mod smtp;

use async_trait::async_trait;

pub use config::{
    DEFAULT_FROM_ADDRESS, DEFAULT_TIMEOUT, DeliveryConfig, build_courier, without_secrets,
};
pub use error::DeliveryError;
pub use message::{Channel, Email, Message, Sms};
pub use outbox::FileOutbox;
pub use routing::ChannelRouter;
pub use sms_gateway::SmsGateway;
pub use smtp::SmtpCourier;

/// Something that can hand a [`Message`] over to the outside world.
///
/// `Ok(())` means the message left our hands (accepted by the SMTP server or
/// the SMS gateway, or written to the outbox), not that it reached the person.
#[async_trait]
pub trait Courier: Send + Sync + 'static {
    /// Deliver one message. Fails with a [`DeliveryError`] whose text never
    /// contains the message body.
    async fn deliver(&self, message: &Message) -> Result<(), DeliveryError>;
}
