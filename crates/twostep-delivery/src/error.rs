//! Why a delivery failed. The `Display` text of every variant is short, names
//! no message body and no credential, and is meant to be stored in an event.

use std::{error::Error as _, time::Duration};

use crate::message::Channel;

/// A failed delivery, or a configuration that cannot deliver.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The configuration cannot work (bad URL, bad sender address…). The text
    /// never repeats a URL, which may hold credentials.
    #[error("delivery is misconfigured: {0}")]
    Misconfigured(String),

    /// The recipient is not a usable e-mail address or E.164 number.
    #[error("the {0} recipient is not a valid address")]
    InvalidRecipient(Channel),

    /// This courier does not handle that kind of message.
    #[error("this courier does not deliver {0}")]
    UnsupportedChannel(Channel),

    /// The e-mail could not be put together (missing or invalid headers).
    #[error("the e-mail could not be composed: {0}")]
    Compose(#[source] lettre::error::Error),

    /// The SMTP conversation failed: connection refused, TLS error, or the
    /// server answered with an error code.
    #[error("SMTP delivery failed: {0}")]
    Smtp(#[source] lettre::transport::smtp::Error),

    /// The SMS gateway answered with a status other than 2xx.
    #[error("the SMS gateway answered HTTP {status}")]
    GatewayStatus {
        /// The HTTP status code of the answer.
        status: u16,
    },

    /// The SMS gateway could not be reached, or the exchange broke off.
    #[error("the SMS gateway could not be reached: {0}")]
    GatewayUnreachable(String),

    /// The channel did not finish within the configured time.
    #[error("{channel} delivery timed out after {after:?}")]
    Timeout {
        /// The channel that was too slow.
        channel: Channel,
        /// The limit that was exceeded.
        after: Duration,
    },

    /// The file outbox could not be written.
    #[error("the outbox could not be written: {0}")]
    Outbox(#[from] std::io::Error),
}

impl DeliveryError {
    /// Wraps an HTTP client error, keeping only what is safe to show: the
    /// URL (which may carry credentials) is dropped and the causes are
    /// flattened into the text, as `reqwest`'s own text says little more than
    /// "error sending request".
    pub(crate) fn from_gateway(error: reqwest::Error, timeout: Duration) -> Self {
        if error.is_timeout() {
            return DeliveryError::Timeout {
                channel: Channel::Sms,
                after: timeout,
            };
        }
        let error = error.without_url();
        let mut text = error.to_string();
        let mut cause = error.source();
        while let Some(inner) = cause {
            let inner_text = inner.to_string();
            if !text.contains(&inner_text) {
                text.push_str(": ");
                text.push_str(&inner_text);
            }
            cause = inner.source();
        }
        DeliveryError::GatewayUnreachable(text)
    }
}
